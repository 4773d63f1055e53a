import { describe, expect, it } from "vitest";
import { GcsFramer, replyLines } from "./framer.ts";

describe("GcsFramer", () => {
  it("a bare LF ends a reply; SPACE+LF continues it", () => {
    const f = new GcsFramer();
    expect(f.push(Buffer.from("1=1.0 \n2=2.0"))).toEqual([]);
    expect(f.pending).toBeGreaterThan(0);
    expect(f.push(Buffer.from(" \n3=3.0\n"))).toEqual(["1=1.0 \n2=2.0 \n3=3.0"]);
    expect(f.pending).toBe(0);
  });

  it("byte-by-byte delivery and several replies in one chunk", () => {
    const f = new GcsFramer();
    const out: string[] = [];
    for (const b of Buffer.from("a \nb\nc\n")) out.push(...f.push(Buffer.from([b])));
    expect(out).toEqual(["a \nb", "c"]);
    expect(f.push(Buffer.from("x\ny \nz\n"))).toEqual(["x", "y \nz"]);
  });

  it("keeps non-ASCII bytes (the #7 reply 0xB1)", () => {
    const f = new GcsFramer();
    const [r] = f.push(Buffer.from([0xb1, 0x0a]));
    expect(r.charCodeAt(0)).toBe(0xb1);
  });

  it("replyLines strips the continuation spaces", () => {
    expect(replyLines("1 \n2 \n3")).toEqual(["1", "2", "3"]);
  });
});

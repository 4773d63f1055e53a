import { describe, expect, it } from "vitest";
import { Packr } from "msgpackr";
import { encodeAck, encodeTrig } from "../runtime/protocol/fast-codec.ts";
import { decodeFromDirector, decodeFromPlayer, encode, ProtocolError } from "../runtime/protocol/codec.ts";
import { PROTOCOL_VERSION } from "../runtime/protocol/messages.ts";

// the general codec's settings (runtime/protocol/codec.ts): the fast path must write the same bytes and read the same values
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
const INTS = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 31, 2 ** 32 - 1];
const RUNS = ["r1-abc", "r12-" + "x".repeat(40), "r3-ü€", "r4-" + "y".repeat(190)];

describe("trigger-path MessagePack (fast-codec)", () => {
  it("writes an ack byte for byte as msgpackr does", () => {
    for (const run of RUNS)
      for (const x of INTS)
        for (const pending of [false, true]) {
          const h = { v: PROTOCOL_VERSION, type: "ack", run, trig: x, lvl: x % 7, seq: x + 1 < 2 ** 32 ? x + 1 : x, ok: true, ...(pending ? { pending: true } : {}) };
          expect(encodeAck(h.run, h.trig, h.lvl, h.seq, pending).equals(packr.pack(h))).toBe(true);
        }
  });

  it("writes a trig byte for byte as msgpackr does (whole and fractional simulated times), params through the general codec", () => {
    for (const run of RUNS)
      for (const x of INTS)
        for (const t of [0, 1, 12.5, 1e-9, 5e9, 2 ** 40, -1, -100, -40_000, -(2 ** 31), -0]) {
          const h = { v: PROTOCOL_VERSION, type: "trig", run, trig: x, lvl: 2, seq: x, params: {}, t };
          expect(encodeTrig(run, x, 2, x, {}, t).equals(packr.pack(h))).toBe(true);
        }
    const withParams = encodeTrig("r1", 5, 0, 9, { x: 1.5, name: "p" }, 0.25);
    expect(decodeFromDirector([withParams])).toEqual({ v: PROTOCOL_VERSION, type: "trig", run: "r1", trig: 5, lvl: 0, seq: 9, params: { x: 1.5, name: "p" }, t: 0.25 });
    // numbers beyond the fast path's range are still encoded exactly
    expect(packr.unpack(encodeAck("r1", 2 ** 40, 0, 1, false))).toMatchObject({ trig: 2 ** 40 });
  });

  it("the general decoders read what the fast encoders write, and still refuse what is wrong", () => {
    const ack = encodeAck("r1", 3, 0, 4, true);
    expect(decodeFromPlayer([Buffer.from("id"), ack], 1)).toEqual({ msg: { v: PROTOCOL_VERSION, type: "ack", run: "r1", trig: 3, lvl: 0, seq: 4, ok: true, pending: true } });
    const bad = decodeFromPlayer([Buffer.from("id"), encode({ v: PROTOCOL_VERSION, type: "ack", run: "r1", trig: 1.5, lvl: 0, seq: 4, ok: true })], 1);
    expect(bad).toBeInstanceOf(ProtocolError);
    expect((bad as ProtocolError).message).toContain("'trig'");
    const ver = decodeFromDirector([encode({ v: 99, type: "trig" })]);
    expect((ver as ProtocolError).kind).toBe("badVersion");
  });
});

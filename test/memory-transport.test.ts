import { describe, expect, it } from "vitest";
import { MemoryDealer, MemoryRouter } from "../runtime/transport/memory.ts";
import { PlayerRouter, playerDealer } from "../runtime/transport/select.ts";

/** Messages as they arrive, awaited one by one (no timers). */
function inbox() {
  const got: Buffer[][] = [];
  const waiters: Array<(f: Buffer[]) => void> = [];
  return {
    push(f: Buffer[]) {
      const w = waiters.shift();
      if (w) w(f);
      else got.push(f);
    },
    next(): Promise<Buffer[]> {
      const f = got.shift();
      return f ? Promise.resolve(f) : new Promise((r) => waiters.push(r));
    },
  };
}

let n = 0;
const endpoint = () => `inproc://memory-transport-test-${process.pid}-${n++}`;

describe("in-memory inproc:// transport (runtime/transport/memory.ts)", () => {
  it("a DEALER that connects before the bind is served once the ROUTER binds, in order; the ROUTER prefixes the routing id and replies reach the right DEALER", async () => {
    const ep = endpoint();
    const r = new MemoryRouter();
    const rIn = inbox();
    r.onMessage((f) => rIn.push(f));
    const a = new MemoryDealer();
    const b = new MemoryDealer();
    const aIn = inbox();
    const bIn = inbox();
    a.onMessage((f) => aIn.push(f));
    b.onMessage((f) => bIn.push(f));
    a.connect(ep);
    a.send(["first", Buffer.from([1, 2, 3])]);
    a.send(["second"]);
    expect(await r.bind(ep)).toBe(ep);
    b.connect(ep);
    b.send(["from b"]);
    const m1 = await rIn.next();
    expect(m1.slice(1).map((x) => [...x])).toEqual([[...Buffer.from("first")], [1, 2, 3]]);
    expect((await rIn.next())[1].toString()).toBe("second");
    const mb = await rIn.next();
    expect(mb[1].toString()).toBe("from b");
    expect(m1[0].length).toBe(7);
    expect(m1[0].equals(mb[0])).toBe(false);
    r.send([mb[0], "to b"]);
    r.send([m1[0], "to a"]);
    r.send([Buffer.from("nobody"), "dropped"]); // unknown routing id: dropped, not thrown
    expect((await bIn.next()).map(String)).toEqual(["to b"]);
    expect((await aIn.next()).map(String)).toEqual(["to a"]);
    await expect(new MemoryRouter().bind(ep)).rejects.toThrow(/already in use/);
    a.close();
    b.close();
    r.close();
  });

  it("each frame is copied on send: the sender may reuse its buffer, and the receiver owns a whole ArrayBuffer it may transfer", async () => {
    const ep = endpoint();
    const r = new MemoryRouter();
    const rIn = inbox();
    r.onMessage((f) => rIn.push(f));
    await r.bind(ep);
    const d = new MemoryDealer();
    d.connect(ep);
    const frame = new Uint16Array(40_000).fill(7);
    d.send([Buffer.from("hdr"), Buffer.from(frame.buffer)]);
    frame.fill(9); // reused at once by the sender
    const m = await rIn.next();
    const got = new Uint16Array(m[2].buffer, m[2].byteOffset, m[2].length / 2);
    expect(got.every((v) => v === 7)).toBe(true);
    expect(m[2].byteOffset).toBe(0);
    expect(m[2].buffer.byteLength).toBe(80_000);
    d.close();
    r.close();
  });

  it("delivery is never re-entrant: a handler that sends gets its answer on a later turn", async () => {
    const ep = endpoint();
    const r = new MemoryRouter();
    let depth = 0;
    let maxDepth = 0;
    r.onMessage((f) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      r.send([f[0], f[1]]);
      depth--;
    });
    await r.bind(ep);
    const d = new MemoryDealer();
    let count = 0;
    const done = new Promise<void>((res) =>
      d.onMessage((f) => {
        if (++count < 100) d.send([f[0]]);
        else res();
      }),
    );
    d.connect(ep);
    d.send(["ping"]);
    await done;
    expect(maxDepth).toBe(1);
    d.close();
    r.close();
  });

  it("a DEALER whose ROUTER closed waits for the next bind on the same endpoint (a restarted Director)", async () => {
    const ep = endpoint();
    const r1 = new MemoryRouter();
    await r1.bind(ep);
    const d = new MemoryDealer();
    d.connect(ep);
    r1.close();
    d.send(["while away"]);
    const r2 = new MemoryRouter();
    const rIn = inbox();
    r2.onMessage((f) => rIn.push(f));
    await r2.bind(ep);
    expect((await rIn.next())[1].toString()).toBe("while away");
    d.close();
    r2.close();
  });

  it("the Director's PlayerRouter serves inproc:// in memory and tcp:// on ZMTP in one socket; playerDealer picks the memory DEALER for inproc://", async () => {
    const pr = new PlayerRouter({ transport: "zmtp", linger: 0, sendTimeout: 0 });
    pr.onMessage((f) => pr.send([f[0], "echo", ...f.slice(1)]));
    const ep = await pr.bind(endpoint());
    const d = playerDealer(ep, {});
    expect(d.transport).toBe("memory");
    const dIn = inbox();
    d.onMessage((f) => dIn.push(f));
    d.connect(ep);
    d.send(["x"]);
    expect((await dIn.next()).map(String)).toEqual(["echo", "x"]);
    d.close();
    pr.close();
  });
});

/** Wire-protocol robustness and security against a real Director: malformed frames, versions, stale replies, CURVE. */
import { afterEach, describe, expect, it } from "vitest";
import * as zmq from "zeromq";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { Director } from "../runtime/director/director.ts";
import { encode } from "../runtime/protocol/codec.ts";
import { newKeyPair } from "../runtime/transport/curve.ts";
import { Player, fromAction } from "../runtime/player/player.ts";
import { killAll, readLog, startPlayer, tempDir, until } from "./helpers/procs.ts";

const unpack = (b: Buffer) => new Packr({ useRecords: false, mapsAsObjects: true }).unpack(b) as Record<string, unknown>;
let director: Director | undefined;
const socks: zmq.Socket[] = [];
afterEach(async () => {
  killAll();
  for (const s of socks.splice(0)) s.close();
  await director?.close();
  director = undefined;
});

function rawPeer(endpoint: string): zmq.Dealer {
  const d = new zmq.Dealer({ linger: 0, receiveTimeout: 3000 });
  d.connect(endpoint);
  socks.push(d);
  return d;
}

const hello = (name: string, extra: Record<string, unknown> = {}) => ({
  v: 1, type: "hello", name, level: 0, streams: [{ name: "value", dtype: "float64", shape: [], role: "signal" }],
  device: { kind: "test", model: "raw", simulated: true }, instance: "x1", pid: 1, host: "test", join: "next-trigger", ...extra,
});

describe("protocol robustness", () => {
  it("malformed frames and wrong versions are rejected, counted and answered; the Director keeps working", async () => {
    director = new Director();
    const ep = await director.start();
    const raw = rawPeer(ep.player);
    await raw.send(Buffer.from([0xc1, 0xff, 0x00])); // not msgpack
    expect(unpack((await raw.receive())[0])).toMatchObject({ type: "error" });
    await raw.send(encode([1, 2, 3])); // not a map
    await raw.receive();
    await raw.send(encode({ type: "hello" })); // no version
    await raw.receive();
    await raw.send(encode(hello("old", { v: 7 }))); // future version
    const rej = unpack((await raw.receive())[0]);
    expect(rej.type).toBe("reject");
    expect(rej.reason).toContain("unsupported protocol version 7");
    await raw.send(encode({ v: 1, type: "launch-missiles" })); // unknown type
    expect(String(unpack((await raw.receive())[0]).reason)).toContain("unknown message type");
    await raw.send(encode(hello("x", { level: "zero" }))); // bad field type
    expect(String(unpack((await raw.receive())[0]).reason)).toContain("'level'");
    await raw.send(encode({ v: 1, type: "ack", run: "r", trig: 1, lvl: 0, seq: 1, ok: true })); // not registered
    expect(String(unpack((await raw.receive())[0]).reason)).toContain("send 'hello' first");
    await raw.send([encode(hello("bad-frames")), Buffer.alloc(8)]); // extra frame
    await raw.receive();
    const c = director.counters;
    expect(c.malformed).toBe(6);
    expect(c.badVersion).toBe(1);
    expect(c.unknownPeer).toBe(1);
    expect(director.registry.all()).toEqual([]);
    // still fully working
    const log = join(tempDir(), "a.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log } });
    const r = await director.run({ triggers: 3, require: ["a"] });
    expect(r.status).toBe("completed");
  });

  it("stale and duplicated acks are recognised and ignored; data is validated against the declaration and the run", async () => {
    director = new Director();
    const ep = await director.start();
    const raw = rawPeer(ep.player);
    await raw.send(encode(hello("manual")));
    expect(unpack((await raw.receive())[0]).type).toBe("welcome");
    const accepted: Array<[string, number]> = [];
    const sink = {
      open: async () => {}, addStream: () => {}, accept: (_p: string, s: string, t: number) => void accepted.push([s, t]), noteTrigger: () => {},
      hasCapacity: () => true, whenCapacity: async () => {}, missing: () => 0, close: async () => ({}),
    };
    const run = director.run({ triggers: 2, require: ["manual"], sink });
    const next = async (type: string) => {
      for (;;) {
        const m = unpack((await raw.receive())[0]);
        if (m.type === type) return m;
      }
    };
    const pre = await next("pre");
    await raw.send(encode({ v: 1, type: "ready", run: pre.run, seq: pre.seq, ok: true }));
    const t1 = await next("trig");
    expect(t1.trig).toBe(1);
    // a reply with the wrong seq (e.g. to an earlier request) does not complete the level
    await raw.send(encode({ v: 1, type: "ack", run: t1.run, trig: 1, lvl: 0, seq: (t1.seq as number) - 1, ok: true }));
    // data: undeclared stream, wrong shape, wrong size, trigger outside the run, then a good one
    const row = (r: Record<string, unknown> = {}) => ({ stream: "value", dtype: "float64", shape: [], ...r });
    const data = (h: Record<string, unknown>, rows: object[], payloads: Buffer[]) => raw.send([encode({ v: 1, type: "data", run: t1.run, trig: 1, rows, ...h }), ...payloads]);
    await data({}, [row({ stream: "nope" })], [Buffer.alloc(8)]);
    await data({}, [row({ shape: [2] })], [Buffer.alloc(16)]);
    await data({}, [row()], [Buffer.alloc(4)]);
    await data({ trig: 99 }, [row()], [Buffer.alloc(8)]);
    await data({}, [row(), row()], [Buffer.alloc(8)]); // 2 rows declared, 1 payload
    await data({}, [row()], [Buffer.alloc(8)]);
    await raw.send(encode({ v: 1, type: "ack", run: t1.run, trig: 1, lvl: 0, seq: t1.seq, ok: true }));
    await raw.send(encode({ v: 1, type: "ack", run: t1.run, trig: 1, lvl: 0, seq: t1.seq, ok: true })); // duplicate
    const t2 = await next("trig");
    expect(t2.trig).toBe(2);
    expect(t2.seq).not.toBe(t1.seq);
    await raw.send(encode({ v: 1, type: "ack", run: t2.run, trig: 2, lvl: 0, seq: t2.seq, ok: true }));
    const post = await next("post");
    await raw.send(encode({ v: 1, type: "done", run: post.run, seq: post.seq, ok: true }));
    const r = await run;
    expect(r.status).toBe("completed");
    expect(director.counters.stale).toBe(2);
    expect(director.counters.rejectedData).toBe(3); // undeclared, shape mismatch, outside the run
    expect(director.counters.malformed).toBe(2); // payload size does not match the header; rows vs frames
    expect(accepted).toEqual([["value", 1]]);
  });

  it("players register during a run without disturbing it, even in a burst", async () => {
    director = new Director();
    const ep = await director.start();
    const log = join(tempDir(), "a.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 5 } });
    const run = director.run({ triggers: 60, require: ["a"] });
    await until(() => readLog(log).length > 10, 10_000, "run started");
    // a burst of registrations (and one re-registration) from raw peers while triggers flow
    for (let i = 0; i < 20; i++) {
      const raw = rawPeer(ep.player);
      await raw.send(encode(hello(`burst${i % 10}`, { join: "next-run", instance: `i${i}` })));
    }
    const r = await run;
    expect(r.status).toBe("completed");
    expect(r.triggers).toBe(60);
    expect(director.registry.all().length).toBe(11);
  });
});

describe("a Player facing a misbehaving Director", () => {
  it("malformed frames, wrong versions and unknown types are dropped and counted; the Player keeps working", async () => {
    const router = new zmq.Router({ linger: 0 });
    socks.push(router);
    await router.bind("tcp://127.0.0.1:*");
    const acts: number[] = [];
    const player = new Player({ name: "p", level: 0, director: router.lastEndpoint!, registerTimeoutMs: 5000, behaviour: fromAction((t) => void acts.push(t)) });
    const started = player.start();
    const [id, helloFrame] = await router.receive();
    expect(unpack(helloFrame).type).toBe("hello");
    await router.send([id, Buffer.from([0xc1, 0xc1])]); // not msgpack
    await router.send([id, encode({ v: 99, type: "welcome" })]); // future version
    await router.send([id, encode({ v: 1, type: "self-destruct" })]); // unknown type
    await router.send([id, encode({ v: 1, type: "trig", run: "r", trig: "one" })]); // bad field
    await router.send([id, encode({ v: 1, type: "welcome", name: "p", session: "s", hbInterval: 500, hbTimeout: 3000 })]);
    await started;
    expect(player.counters.malformed).toBe(4);
    await router.send([id, encode({ v: 1, type: "pre", run: "r", seq: 1, config: {}, t: 0 })]);
    await router.send([id, encode({ v: 1, type: "trig", run: "r", trig: 1, lvl: 0, seq: 2, params: {}, t: 0 })]);
    const replies: Record<string, unknown>[] = [];
    while (!replies.some((m) => m.type === "ack")) {
      const [, f] = await router.receive();
      replies.push(unpack(f));
    }
    expect(replies.find((m) => m.type === "ready")).toMatchObject({ run: "r", seq: 1, ok: true });
    expect(replies.find((m) => m.type === "ack")).toMatchObject({ run: "r", trig: 1, lvl: 0, seq: 2, ok: true });
    expect(acts).toEqual([1]);
    await player.close();
  });
});

describe("CURVE authentication", () => {
  it("with CURVE on, an authorised player works and a player without an authorised key can neither register nor push data", async () => {
    const server = newKeyPair();
    const good = newKeyPair();
    const bad = newKeyPair();
    director = new Director({ curve: { ...server, authorizedKeys: [good.publicKey] } });
    const ep = await director.start();
    const pushes: number[] = [];
    const mk = (name: string, keys: { publicKey: string; secretKey: string } | undefined) =>
      new Player({
        name, level: 0, director: ep.player, registerTimeoutMs: 1500,
        curve: keys ? { serverKey: server.publicKey, ...keys } : undefined,
        behaviour: fromAction((t, _p, ctx) => { pushes.push(t); ctx.push("v", t); }, [{ name: "v", dtype: "float64", shape: [], role: "signal" }]),
      });
    const intruder = mk("intruder", bad);
    await expect(intruder.start()).rejects.toThrow(/no answer from the Director/);
    const plain = mk("plaintext", undefined);
    await expect(plain.start()).rejects.toThrow(/no answer from the Director/);
    expect(director.registry.get("intruder")).toBeUndefined();
    const ok = mk("ok", good);
    await ok.start();
    const r = await director.run({ triggers: 3, require: ["ok"] });
    expect(r.status).toBe("completed");
    expect(director.registry.all().map((p) => p.name)).toEqual(["ok"]);
    await ok.close();
  });

  it("the same over real processes: donki player with the authorised key works", async () => {
    const server = newKeyPair();
    const good = newKeyPair();
    director = new Director({ curve: { ...server, authorizedKeys: [good.publicKey] } });
    const ep = await director.start();
    const log = join(tempDir(), "a.log");
    await startPlayer({
      name: "secure", level: 0, director: ep.player, opts: { log },
      extra: ["--curve-server-key", server.publicKey, "--curve-public-key", good.publicKey, "--curve-secret-key", good.secretKey],
    });
    const r = await director.run({ triggers: 4, require: ["secure"] });
    expect(r.status).toBe("completed");
    expect(readLog(log).filter((l) => l.event === "end").length).toBe(4);
  });
});

/**
 * donki's own ZMTP 3.x transport (runtime/transport/zmtp/) against real libzmq peers over real TCP: pyzmq
 * (/usr/bin/python3 with zmq) and zeromq.js, both directions; multipart, empty and long frames (> 255 B, several
 * MB), oversize frames disconnected, unknown routing ids dropped, a DEALER that reconnects and delivers what it
 * queued after the peer restarts, a non-ZMTP peer thrown out. No timing is asserted: every wait is for an event,
 * bounded by the test's timeout.
 */
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { connect as netConnect } from "node:net";
import * as zmq from "zeromq";
import { ZmtpRouter } from "../runtime/transport/zmtp/router.ts";
import { ZmtpDealer } from "../runtime/transport/zmtp/dealer.ts";
import { FrameDecoder, encodeMessage, FLAG_MORE } from "../runtime/transport/zmtp/codec.ts";
import { chosenTransport, playerDealer, PlayerRouter } from "../runtime/transport/select.ts";
import { parseTcpEndpoint } from "../runtime/transport/socket.ts";

const PY = "/usr/bin/python3";
const hasPyzmq = spawnSync(PY, ["-c", "import zmq"], { stdio: "ignore" }).status === 0;

/** A queue of received messages with an awaitable next(). */
function inbox() {
  const got: Buffer[][] = [];
  const waiters: Array<() => void> = [];
  return {
    push(f: Buffer[]) {
      got.push(f);
      waiters.splice(0).forEach((w) => w());
    },
    async next(): Promise<Buffer[]> {
      while (!got.length) await new Promise<void>((r) => waiters.push(r));
      return got.shift()!;
    },
    get size() {
      return got.length;
    },
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

const big = (n: number, seed: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

describe("ZMTP codec", () => {
  it("decodes frames split at every byte boundary and long frames, and refuses a frame over the limit from its header", () => {
    const msg = encodeMessage(["a", Buffer.alloc(0), big(300, 1), big(70_000, 2)]);
    const wire = Buffer.concat(msg);
    for (const step of [1, 2, 7, 9, 1000, wire.length]) {
      const frames: Array<[number, Buffer]> = [];
      const d = new FrameDecoder((f, b) => frames.push([f, Buffer.from(b)]));
      for (let i = 0; i < wire.length; i += step) d.push(wire.subarray(i, i + step));
      expect(frames.map(([f]) => f & FLAG_MORE)).toEqual([1, 1, 1, 0]);
      expect(frames[0][1].toString()).toBe("a");
      expect(frames[1][1].length).toBe(0);
      expect(frames[2][1].equals(big(300, 1))).toBe(true);
      expect(frames[3][1].equals(big(70_000, 2))).toBe(true);
    }
    const d = new FrameDecoder(() => {}, 1000);
    expect(() => d.push(Buffer.concat(encodeMessage([Buffer.alloc(1001)])).subarray(0, 9))).toThrow(/over the limit of 1000/);
  });

  it("decodes from one reused read buffer (net's onread): frames and partial frames survive the buffer being overwritten", () => {
    const wire = Buffer.concat([...encodeMessage(["a", Buffer.alloc(0), big(300, 1), big(70_000, 2)]), ...encodeMessage(["tail"])]);
    for (const step of [1, 2, 7, 9, 1000, 65_536]) {
      const frames: Buffer[] = [];
      // frames kept as delivered (no copy here): the decoder must not hand out views of the reused buffer
      const d = new FrameDecoder((_f, b) => frames.push(b));
      const readBuf = Buffer.alloc(65_536);
      for (let i = 0; i < wire.length; i += step) {
        const n = wire.copy(readBuf, 0, i, Math.min(i + step, wire.length));
        d.push(readBuf.subarray(0, n), true);
        readBuf.fill(0xee); // the next read overwrites it
      }
      expect(frames.map((b) => b.length)).toEqual([1, 0, 300, 70_000, 4]);
      expect(frames[0].toString()).toBe("a");
      expect(frames[2].equals(big(300, 1))).toBe(true);
      expect(frames[3].equals(big(70_000, 2))).toBe(true);
      expect(frames[4].toString()).toBe("tail");
    }
  });

  it("endpoints: tcp://HOST:PORT, * and 0 for bind only, [IPv6]", () => {
    expect(parseTcpEndpoint("tcp://127.0.0.1:*", true)).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseTcpEndpoint("tcp://*:5570", true)).toEqual({ host: "0.0.0.0", port: 5570 });
    expect(parseTcpEndpoint("tcp://[::1]:5570", false)).toEqual({ host: "::1", port: 5570 });
    expect(() => parseTcpEndpoint("tcp://127.0.0.1:*", false)).toThrow(/connect needs a host and a port/);
    expect(() => parseTcpEndpoint("ipc:///tmp/x", true)).toThrow(/expected tcp:\/\/HOST:PORT/);
    expect(chosenTransport(undefined, { DONKI_TRANSPORT: "zeromq" })).toBe("zeromq");
    expect(() => chosenTransport(undefined, { DONKI_TRANSPORT: "nanomsg" })).toThrow(/DONKI_TRANSPORT='nanomsg'/);
  });
});

describe("ZMTP transport against libzmq peers", () => {
  it.skipIf(!hasPyzmq)("pyzmq DEALERs (one with an Identity) <-> ZmtpRouter: multipart, empty, 300 B and 5 MB frames echoed", async () => {
    const router = new ZmtpRouter({ maxMessageSize: 8 * 1024 * 1024 });
    const seen: string[] = [];
    router.onMessage((f) => {
      seen.push(f[0].toString("hex"));
      router.send(f); // echo to the sender, routed by its id
    });
    const ep = await router.bind("tcp://127.0.0.1:*");
    const script = `
import sys, zmq
ctx = zmq.Context()
def frames(seed):
    return [b"hello", b"", bytes((i * 31 + seed) & 255 for i in range(300)), bytes(range(256)) * (5 * 4096)]
for ident in (None, b"py-player-7"):
    d = ctx.socket(zmq.DEALER)
    d.linger = 0
    d.rcvtimeo = 20000
    if ident: d.setsockopt(zmq.IDENTITY, ident)
    d.connect(sys.argv[1])
    for k in range(3):
        d.send_multipart(frames(k))
        back = d.recv_multipart()
        assert back == frames(k), [len(x) for x in back]
    d.close()
print("ok")
`;
    const py = spawn(PY, ["-c", script, ep], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    py.stdout.on("data", (b) => (out += b));
    const code = await new Promise((r) => py.on("exit", r));
    router.close();
    expect(out.trim()).toBe("ok");
    expect(code).toBe(0);
    // a generated id (6 bytes, 0x00-prefixed) for the first, the announced Identity for the second
    expect(seen[0]).toMatch(/^007a[0-9a-f]{8}$/);
    expect(seen.at(-1)).toBe(Buffer.from("py-player-7").toString("hex"));
  }, 60_000);

  it("zeromq.js ROUTER <-> ZmtpDealer and zeromq.js DEALER <-> ZmtpRouter: multipart, long frames, replies routed", async () => {
    // libzmq ROUTER, our DEALER
    const r = new zmq.Router({ linger: 0 });
    await r.bind("tcp://127.0.0.1:*");
    const d = new ZmtpDealer({ routingId: Buffer.from("ts-dealer") });
    const dIn = inbox();
    d.onMessage((f) => dIn.push(f));
    d.connect(r.lastEndpoint!);
    const payload = big(3 * 1024 * 1024 + 17, 5);
    d.send(["x", "", payload]);
    const [id, a, b, c] = await r.receive();
    expect(id.toString()).toBe("ts-dealer");
    expect([a.toString(), b.length, c.equals(payload)]).toEqual(["x", 0, true]);
    await r.send([id, "reply", big(1000, 3)]);
    const back = await dIn.next();
    expect(back[0].toString()).toBe("reply");
    expect(back[1].equals(big(1000, 3))).toBe(true);
    d.close();
    r.close();

    // libzmq DEALER, our ROUTER
    const router = new ZmtpRouter();
    const rIn = inbox();
    router.onMessage((f) => rIn.push(f));
    const ep = await router.bind("tcp://127.0.0.1:*");
    const zd = new zmq.Dealer({ linger: 0 });
    zd.connect(ep);
    await zd.send(["one", big(256, 1)]);
    const m = await rIn.next();
    expect(m.length).toBe(3);
    expect(m[2].equals(big(256, 1))).toBe(true);
    router.send([m[0], "two"]);
    expect((await zd.receive()).map(String)).toEqual(["two"]);
    // a message for a routing id nobody has is dropped, as libzmq's ROUTER does
    router.send([Buffer.from("nobody"), "lost"]);
    expect(router.dropped).toBe(1);
    zd.close();
    router.close();
  }, 60_000);

  it("a frame over maxMessageSize disconnects the peer before the frame is delivered; a libzmq DEALER reconnects and goes on", async () => {
    const router = new ZmtpRouter({ maxMessageSize: 64 * 1024 });
    const rIn = inbox();
    router.onMessage((f) => rIn.push(f));
    const ep = await router.bind("tcp://127.0.0.1:*");
    const zd = new zmq.Dealer({ linger: 0 });
    zd.connect(ep);
    await zd.send("first");
    expect((await rIn.next())[1].toString()).toBe("first");
    await zd.send(Buffer.alloc(64 * 1024 + 1));
    await until(() => router.disconnected === 1);
    expect(router.lastDisconnectReason).toMatch(/too large/);
    // libzmq reconnects by itself; a later message within the limit arrives (the oversize one never did)
    for (let i = 0; rIn.size === 0; i++) {
      await zd.send(`after-${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = await rIn.next();
    expect(after[1].toString()).toMatch(/^after-/);
    expect(after[1].length).toBeLessThan(100);
    zd.close();
    router.close();
  }, 60_000);

  it.skipIf(!hasPyzmq)("pyzmq refuses our oversize frame the same way (its ZMQ_MAXMSGSIZE): the peer's limit is honoured both ways", async () => {
    // our DEALER sends to a pyzmq ROUTER with maxmsgsize 1000: the message is dropped with the connection, the next
    // small one arrives after our DEALER reconnects
    const script = `
import sys, zmq
ctx = zmq.Context()
r = ctx.socket(zmq.ROUTER)
r.setsockopt(zmq.MAXMSGSIZE, 1000)
r.linger = 0
port = r.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
r.rcvtimeo = 30000
m = r.recv_multipart()
print(len(m[1]), m[1][:5].decode("latin1"), flush=True)
`;
    const py = spawn(PY, ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    py.stdout.on("data", (b: Buffer) => (out += b));
    py.stderr.on("data", (b: Buffer) => (err += b));
    const lines = () => out.split("\n").filter(Boolean);
    await until(() => lines().length >= 1);
    const d = new ZmtpDealer();
    d.connect(`tcp://127.0.0.1:${lines()[0]}`);
    d.send([Buffer.alloc(5000, 0x41)]);
    await until(() => d.connections >= 2);
    d.send(["small"]);
    const code = await new Promise((r) => py.on("exit", r));
    d.close();
    expect(err).toBe("");
    expect(lines()[1]).toBe("5 small");
    expect(code).toBe(0);
  }, 60_000);

  it("ZmtpDealer queues while the peer is away and delivers after it restarts on the same port (reconnect with backoff)", async () => {
    let r = new zmq.Router({ linger: 0 });
    await r.bind("tcp://127.0.0.1:*");
    const ep = r.lastEndpoint!;
    const d = new ZmtpDealer();
    d.connect(ep);
    d.send(["before"]);
    const [, m0] = await r.receive();
    expect(m0.toString()).toBe("before");
    r.close();
    await until(() => !d.connected);
    d.send(["while-away-1"]);
    d.send(["while-away-2", big(100_000, 9)]);
    expect(d.queued).toBe(2);
    // the peer comes back on the same port (ZeroMQ may take a moment to release it)
    r = new zmq.Router({ linger: 0 });
    for (let i = 0; ; i++) {
      try {
        await r.bind(ep);
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    const a = await r.receive();
    const b = await r.receive();
    expect(a[1].toString()).toBe("while-away-1");
    expect(b[1].toString()).toBe("while-away-2");
    expect(b[2].equals(big(100_000, 9))).toBe(true);
    expect(d.connections).toBe(2);
    d.close();
    r.close();
  }, 60_000);

  it("a peer that does not speak ZMTP is disconnected; the ROUTER keeps serving others", async () => {
    const router = new ZmtpRouter();
    const rIn = inbox();
    router.onMessage((f) => rIn.push(f));
    const ep = await router.bind("tcp://127.0.0.1:*");
    const { port } = parseTcpEndpoint(ep, false);
    const raw = netConnect({ host: "127.0.0.1", port });
    raw.on("error", () => {});
    raw.resume(); // read, so the end from the ROUTER is seen
    raw.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise((r) => raw.on("close", r));
    expect(router.lastDisconnectReason).toMatch(/not a ZMTP peer/);
    const zd = new zmq.Dealer({ linger: 0 });
    zd.connect(ep);
    await zd.send("still here");
    expect((await rIn.next())[1].toString()).toBe("still here");
    zd.close();
    router.close();
  }, 60_000);

  it("PlayerRouter: tcp:// on ZMTP and inproc:// in memory in one socket, each reply back through the socket it came from", async () => {
    const pr = new PlayerRouter({ transport: "zmtp", linger: 0, sendTimeout: 0 });
    expect(pr.transport).toBe("zmtp");
    pr.onMessage((f) => pr.send([f[0], "echo", ...f.slice(1)]));
    const tcp = await pr.bind("tcp://127.0.0.1:*");
    const inproc = await pr.bind("inproc://zmtp-transport-test");
    const viaTcp = playerDealer(tcp, {});
    const viaInproc = playerDealer(inproc, {});
    expect([viaTcp.transport, viaInproc.transport]).toEqual(["zmtp", "memory"]);
    const tIn = inbox();
    const iIn = inbox();
    viaTcp.onMessage((f) => tIn.push(f));
    viaInproc.onMessage((f) => iIn.push(f));
    viaTcp.connect(tcp);
    viaInproc.connect(inproc);
    viaTcp.send(["t"]);
    viaInproc.send(["i"]);
    expect((await tIn.next()).map(String)).toEqual(["echo", "t"]);
    expect((await iIn.next()).map(String)).toEqual(["echo", "i"]);
    viaTcp.close();
    viaInproc.close();
    pr.close();
    // CURVE settings force zeromq.js whatever was asked
    const curved = new PlayerRouter({ transport: "zmtp", curveServer: { publicKey: "x", secretKey: "y", zapDomain: "z" } });
    expect(curved.transport).toBe("zeromq");
    curved.close();
  }, 60_000);
});

describe("ZMTP ROUTER against hostile or mismatched peers", () => {
  /** A raw TCP peer: sends `bytes`, resolves with what it received when the ROUTER closes the connection. */
  async function rawPeer(ep: string, bytes: Buffer[]): Promise<Buffer> {
    const { port } = parseTcpEndpoint(ep, false);
    const raw = netConnect({ host: "127.0.0.1", port });
    const got: Buffer[] = [];
    raw.on("data", (b: Buffer) => got.push(b));
    raw.on("error", () => {});
    for (const b of bytes) raw.write(b);
    await new Promise((r) => raw.on("close", r));
    return Buffer.concat(got);
  }
  const greeting = (major = 3, mechanism = "NULL") => {
    const g = Buffer.alloc(64);
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = major;
    g[11] = 1;
    g.write(mechanism, 12, "latin1");
    return g;
  };
  const readyDealer = () => {
    const name = Buffer.from("Socket-Type");
    const body = Buffer.concat([Buffer.from([5]), Buffer.from("READY"), Buffer.from([name.length]), name, Buffer.from([0, 0, 0, 6]), Buffer.from("DEALER")]);
    return Buffer.concat([Buffer.from([0x04, body.length]), body]);
  };

  it("each violation closes that connection with the reason (ERROR command where the greeting got through); the ROUTER keeps serving", async () => {
    const router = new ZmtpRouter({ maxMessageSize: 1000, handshakeTimeoutMs: 300 });
    const rIn = inbox();
    router.onMessage((f) => rIn.push(f));
    const ep = await router.bind("tcp://127.0.0.1:*");
    const cases: Array<[string, Buffer[], RegExp]> = [
      ["ZMTP 2.0 greeting", [greeting(2)], /only ZMTP 3\.0 and later/],
      ["CURVE client to a NULL socket", [greeting(3, "CURVE")], /mechanism CURVE not supported/],
      ["a message before READY", [greeting(), Buffer.from([0x00, 0x01, 0x41])], /before the ZMTP handshake/],
      ["a PUB peer", [greeting(), (() => {
        const n = Buffer.from("Socket-Type");
        const body = Buffer.concat([Buffer.from([5]), Buffer.from("READY"), Buffer.from([n.length]), n, Buffer.from([0, 0, 0, 3]), Buffer.from("PUB")]);
        return Buffer.concat([Buffer.from([0x04, body.length]), body]);
      })()], /peer socket type 'PUB' cannot talk to a ROUTER/],
      ["a long frame announcing 2^62 bytes", [greeting(), readyDealer(), Buffer.from([0x02, 0x40, 0, 0, 0, 0, 0, 0, 0])], /too large/],
      ["a command of 1 MB", [greeting(), Buffer.concat([Buffer.from([0x06]), Buffer.from([0, 0, 0, 0, 0, 0x10, 0, 0])])], /command of 1048576 bytes/],
      ["malformed READY metadata", [greeting(), Buffer.from([0x04, 0x08, 5, 0x52, 0x45, 0x41, 0x44, 0x59, 3, 0x41])], /malformed READY metadata/],
      ["a greeting and then silence", [greeting()], /no ZMTP handshake within 300 ms/],
      ["a half greeting and then silence", [greeting().subarray(0, 20)], /no ZMTP handshake within 300 ms/],
    ];
    for (const [what, bytes, reason] of cases) {
      const before = router.disconnected;
      const got = await rawPeer(ep, bytes);
      await until(() => router.disconnected > before);
      expect(router.lastDisconnectReason, what).toMatch(reason);
      expect(got.subarray(0, 1)[0], what).toBe(0xff); // our greeting went out first
    }
    // the ERROR command carries the reason to a peer that got through the greeting
    const got = await rawPeer(ep, [greeting(), readyDealer(), Buffer.from([0x02, 0, 0, 0, 0, 0, 0, 0x07, 0xd0])]);
    expect(got.toString("latin1")).toMatch(/ERROR.*too large/);
    expect(rIn.size).toBe(0);
    // and a well-behaved peer is served
    const zd = new zmq.Dealer({ linger: 0 });
    zd.connect(ep);
    await zd.send("fine");
    expect((await rIn.next())[1].toString()).toBe("fine");
    expect(router.peerCount).toBe(1);
    zd.close();
    router.close();
  }, 60_000);

  it("random bytes after a valid handshake never crash the ROUTER", async () => {
    const router = new ZmtpRouter({ maxMessageSize: 4096, handshakeTimeoutMs: 300 });
    const rIn = inbox();
    router.onMessage((f) => rIn.push(f));
    const ep = await router.bind("tcp://127.0.0.1:*");
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let k = 0; k < 30; k++) {
      const junk = Buffer.alloc(200 + k * 10);
      for (let i = 0; i < junk.length; i++) junk[i] = rnd();
      const { port } = parseTcpEndpoint(ep, false);
      const raw = netConnect({ host: "127.0.0.1", port });
      raw.on("error", () => {});
      raw.resume();
      raw.write(Buffer.concat([greeting(), readyDealer(), junk]));
      // a peer whose junk happens to parse stays connected: close it from our side
      setTimeout(() => raw.destroy(), 50);
      await new Promise((r) => raw.on("close", r));
    }
    await until(() => router.peerCount === 0);
    const zd = new zmq.Dealer({ linger: 0 });
    zd.connect(ep);
    await zd.send("alive");
    for (;;) {
      const m = await rIn.next();
      if (m[1]?.toString() === "alive") break; // messages the junk happened to form are delivered, then ours
    }
    zd.close();
    router.close();
  }, 60_000);
});

describe("Director and players across transports (real scans)", () => {
  const hasPyClient = hasPyzmq && spawnSync(PY, ["-c", "import msgpack"], { stdio: "ignore" }).status === 0;

  it.skipIf(!hasPyClient)("a Director on ZMTP runs a scan with a Python player (pyzmq) and a TypeScript player on zeromq.js, every trigger acted on", async () => {
    const { Director } = await import("../runtime/director/director.ts");
    const { Player, fromAction } = await import("../runtime/player/player.ts");
    const { pythonEnv } = await import("../runtime/cli/python.ts");
    const d = new Director({ transport: "zmtp" });
    const ep = await d.start();
    const py = spawn(PY, ["-m", "donki_player", "--name", "py", "--level", "0", "--director", ep.player, "--script", "bench/empty_player.py"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...pythonEnv(), DONKI_LOG: "warn" },
    });
    let acted = 0;
    const ts = new Player({ name: "ts", level: 1, director: ep.player, transport: "zeromq", behaviour: fromAction(() => void acted++) });
    try {
      await ts.start();
      const r = await d.run({ triggers: 200, require: ["py", "ts"] });
      expect(r.status).toBe("completed");
      expect(acted).toBe(200);
    } finally {
      await ts.stop();
      py.kill("SIGTERM");
      await new Promise((res) => (py.exitCode !== null ? res(null) : py.on("exit", res)));
      await d.close();
    }
  }, 120_000);

  it("a Director on zeromq.js runs a scan with TypeScript players on ZMTP, data rows of 1 MB included", async () => {
    const { Director } = await import("../runtime/director/director.ts");
    const { Player } = await import("../runtime/player/player.ts");
    const d = new Director({ transport: "zeromq" });
    const ep = await d.start();
    // a sink that checks every row of 1 MB arrived whole, with the value its trigger gave it
    const rows = new Set<number>();
    let bad = 0;
    const sink: import("../runtime/director/sink.ts").DataSink = {
      open: async () => {},
      addStream: () => {},
      accept: (_player, _stream, trig, payload) => {
        if (payload.length !== 1024 * 1024 || payload[0] !== (trig & 0xff) || payload[payload.length - 1] !== (trig & 0xff)) bad++;
        rows.add(trig);
      },
      noteTrigger: () => {},
      hasCapacity: () => true,
      whenCapacity: async () => {},
      missing: (last) => last - rows.size,
      close: async () => {},
    };
    const players = [0, 1].map(
      (lvl) =>
        new Player({
          name: `z${lvl}`,
          level: lvl,
          director: ep.player,
          transport: "zmtp",
          behaviour: {
            streams: lvl === 1 ? [{ name: "frame", dtype: "uint8", shape: [1024, 1024], role: "signal" }] : [],
            action: (trig, _p, ctx) => {
              if (lvl === 1) ctx.push("frame", new Uint8Array(1024 * 1024).fill(trig & 0xff));
            },
          },
        }),
    );
    try {
      await Promise.all(players.map((p) => p.start()));
      const r = await d.run({ triggers: 30, require: ["z0", "z1"], sink });
      expect(r.status).toBe("completed");
      expect([rows.size, bad]).toEqual([30, 0]);
    } finally {
      await Promise.all(players.map((p) => p.stop()));
      await d.close();
    }
  }, 120_000);
});

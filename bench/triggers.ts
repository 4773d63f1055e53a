/**
 * Trigger rate of the Director with empty-action players (each a separate process), against references measured
 * in the same run, rounds interleaved: Node `net` TCP ping-pong between two processes (the wire's limit:
 * 1 / (levels x round trip)), donki's own ZMTP (ROUTER/DEALER over node:net), zeromq.js PAIR, pyzmq PAIR (when
 * /usr/bin/python3 has zmq), bare zeromq.js with the same topology; donki with its player sockets on ZMTP and on
 * zeromq.js in the same rounds; the original DonkiOrchestra's figures beside them.
 *   node --import tsx bench/triggers.ts [--triggers N] [--rtt-samples N] [--rounds N] [--no-python] [--directions]
 * --directions adds the measured alternatives of issue 17 in the same rounds: bare same topology on libzmq via
 * koffi (bench/libzmq-koffi.ts) and with a PUB trigger broadcast (bench/zmq-pub-peer.ts).
 *   node --import tsx bench/triggers.ts --python-only [--triggers N] [--rounds N]   (Python player beside the TS one)
 *   node --import tsx bench/triggers.ts --transport-cpu [--triggers N] [--rounds N]   (1 player, ZMTP beside
 *   zeromq.js: rate and CPU per trigger of the player and the Director)
 */
import * as zmq from "zeromq";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startNetEchoPeer } from "./net-echo.ts";
import { join, dirname } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { pythonEnv, resolvePython } from "../runtime/cli/python.ts";
import { LibzmqSocket, ZMQ } from "./libzmq-koffi.ts";
import type { TransportKind } from "../runtime/transport/socket.ts";
import { chosenTransport } from "../runtime/transport/select.ts";
import { ZmtpRouter } from "../runtime/transport/zmtp/router.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

export async function measureRoundTrip(samples = 20_000): Promise<RoundTrip> {
  const s = new zmq.Pair({ linger: 0 });
  await s.bind("tcp://127.0.0.1:*");
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "zmq-echo-peer.ts"), s.lastEndpoint!], { stdio: "inherit", cwd: ROOT });
  const msg = Buffer.alloc(64, 1);
  for (let i = 0; i < 2000; i++) {
    await s.send(msg);
    await s.receive();
  }
  const t = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const a = process.hrtime.bigint();
    await s.send(msg);
    await s.receive();
    t[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  await s.send(Buffer.from([0]));
  await new Promise((r) => child.on("exit", r));
  s.close();
  t.sort();
  return { medianUs: t[Math.floor(samples / 2)], p99Us: t[Math.floor(samples * 0.99)] };
}

/**
 * The same topology with bare zeromq.js (a ROUTER walking levels of DEALER echo peers, one process per peer, no
 * protocol at all): what the transport itself achieves with this fan-out on this machine.
 */
export async function bareLevels(levels: number[], rounds: number): Promise<number> {
  const r = new zmq.Router({ linger: 0 });
  await r.bind("tcp://127.0.0.1:*");
  const procs = levels.map(() => spawn(process.execPath, ["--import", "tsx", join(HERE, "zmq-levels-peer.ts"), r.lastEndpoint!], { stdio: "inherit", cwd: ROOT }));
  const ids: Buffer[] = [];
  while (ids.length < levels.length) ids.push((await r.receive())[0]);
  const groups = [...new Set(levels)].sort((a, b) => a - b).map((l) => ids.filter((_, i) => levels[i] === l));
  const msg = Buffer.alloc(64, 1);
  const warm = Math.floor(rounds / 5);
  let t0 = 0;
  for (let t = 0; t < rounds; t++) {
    if (t === warm) t0 = performance.now();
    for (const g of groups) {
      for (const id of g) await r.send([id, msg]);
      for (let j = 0; j < g.length; j++) await r.receive();
    }
  }
  const rate = (rounds - warm) / ((performance.now() - t0) / 1000);
  for (const id of ids) await r.send([id, Buffer.alloc(0)]);
  await Promise.all(procs.map((p) => new Promise((res) => p.on("exit", res))));
  r.close();
  return rate;
}

/**
 * Ping-pong on donki's own ZMTP over node:net (runtime/transport/zmtp/): a ZmtpRouter here, a ZmtpDealer echo peer
 * in another process; callback-driven at both ends, the same ZMTP framing as libzmq on the wire.
 */
export async function measureZmtpRoundTrip(samples = 20_000): Promise<RoundTrip> {
  const r = new ZmtpRouter();
  let onMsg: (f: Buffer[]) => void = () => {};
  r.onMessage((f) => onMsg(f));
  const ep = await r.bind("tcp://127.0.0.1:*");
  const ready = new Promise<Buffer>((res) => (onMsg = (f) => res(f[0]))); // the peer's "ready"
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "zmtp-echo-peer.ts"), ep], { stdio: "inherit", cwd: ROOT });
  const exited = new Promise((res) => child.on("exit", res));
  const id = await ready;
  const msg = Buffer.alloc(64, 1);
  const warm = 2000;
  const t = new Float64Array(samples);
  let i = -warm;
  let a = 0n;
  await new Promise<void>((done) => {
    onMsg = () => {
      if (i >= 0) t[i] = Number(process.hrtime.bigint() - a) / 1000;
      if (++i === samples) return done();
      a = process.hrtime.bigint();
      r.send([id, msg]);
    };
    a = process.hrtime.bigint();
    r.send([id, msg]);
  });
  r.send([id, Buffer.from([0])]);
  await exited;
  r.close();
  t.sort();
  return { medianUs: t[Math.floor(samples / 2)], p99Us: t[Math.floor(samples * 0.99)] };
}

/** PAIR ping-pong on libzmq via koffi, event-loop driven (runtime/transport/libzmq.ts: no promise per message). */
export async function measureLibzmqRoundTrip(samples = 20_000): Promise<RoundTrip> {
  const s = new LibzmqSocket(ZMQ.PAIR, { syncWaitMs: Number(process.env.DONKI_SYNC_WAIT_MS ?? 1) });
  s.bind("tcp://127.0.0.1:*");
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "libzmq-peer.ts"), "pair", s.lastEndpoint], { stdio: "inherit", cwd: ROOT });
  const msg = Buffer.alloc(64, 1);
  const warm = 2000;
  const t = new Float64Array(samples);
  let i = -warm;
  let a = 0n;
  await new Promise<void>((res) => (s.onMessage = () => res())); // the peer's "ready"
  await new Promise<void>((done) => {
    s.onMessage = () => {
      if (i >= 0) t[i] = Number(process.hrtime.bigint() - a) / 1000;
      if (++i === samples) return done();
      a = process.hrtime.bigint();
      s.send([msg]);
    };
    a = process.hrtime.bigint();
    s.send([msg]);
  });
  s.send([Buffer.from([0])]);
  await new Promise((r) => child.on("exit", r));
  s.close();
  t.sort();
  return { medianUs: t[Math.floor(samples / 2)], p99Us: t[Math.floor(samples * 0.99)] };
}

/** PAIR ping-pong on libzmq via koffi with both main threads blocked in zmq_recv: libzmq from Node without the event loop. */
export async function measureKoffiBlockingRoundTrip(samples = 20_000): Promise<RoundTrip> {
  const s = new LibzmqSocket(ZMQ.PAIR);
  // the main thread blocks in libzmq here: bounded, so a peer that never comes fails the measurement instead of
  // hanging the process
  s.setInt(ZMQ.RCVTIMEO, 10_000);
  s.setInt(ZMQ.SNDTIMEO, 10_000);
  s.bind("tcp://127.0.0.1:*", false);
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "libzmq-peer.ts"), "pair-blocking", s.lastEndpoint], { stdio: "inherit", cwd: ROOT });
  const exited = new Promise((r) => child.on("exit", r));
  const msg = Buffer.alloc(64, 1);
  const t = new Float64Array(samples);
  for (let i = 0; i < 2000; i++) {
    s.sendBlocking(msg); // blocks until the peer is connected
    s.recvBlocking();
  }
  for (let i = 0; i < samples; i++) {
    const a = process.hrtime.bigint();
    s.sendBlocking(msg);
    s.recvBlocking();
    t[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  s.sendBlocking(Buffer.from([0]));
  await exited;
  s.close();
  t.sort();
  return { medianUs: t[Math.floor(samples / 2)], p99Us: t[Math.floor(samples * 0.99)] };
}

/** bareLevels on libzmq via koffi: the same ROUTER walking levels of DEALER echo peers, no promise per message. */
export async function bareLevelsLibzmq(levels: number[], rounds: number): Promise<number> {
  const r = new LibzmqSocket(ZMQ.ROUTER, { syncWaitMs: Number(process.env.DONKI_SYNC_WAIT_MS ?? 1) });
  r.bind("tcp://127.0.0.1:*");
  const procs = levels.map(() => spawn(process.execPath, ["--import", "tsx", join(HERE, "libzmq-peer.ts"), "dealer", r.lastEndpoint], { stdio: "inherit", cwd: ROOT }));
  const ids: Buffer[] = [];
  let wake: (() => void) | null = null;
  let got = 0;
  r.onMessage = (f) => {
    if (ids.length < levels.length) ids.push(f[0]);
    else got++;
    wake?.();
  };
  const until = (cond: () => boolean) => (cond() ? Promise.resolve() : new Promise<void>((res) => (wake = () => cond() && ((wake = null), res()))));
  await until(() => ids.length === levels.length);
  const groups = [...new Set(levels)].sort((a, b) => a - b).map((l) => ids.filter((_, i) => levels[i] === l));
  const msg = Buffer.alloc(64, 1);
  const warm = Math.floor(rounds / 5);
  let t0 = 0;
  for (let t = 0; t < rounds; t++) {
    if (t === warm) t0 = performance.now();
    for (const g of groups) {
      got = 0;
      for (const id of g) r.send([id, msg]);
      await until(() => got === g.length);
    }
  }
  const rate = (rounds - warm) / ((performance.now() - t0) / 1000);
  for (const id of ids) r.send([id, Buffer.alloc(0)]);
  await Promise.all(procs.map((p) => new Promise((res) => p.on("exit", res))));
  r.close();
  return rate;
}

/**
 * The trigger-broadcast direction, bare zeromq.js: per level ONE PUB send (topic = the level) reaches every peer of
 * the level, the acks come back on a ROUTER. The same topology and peers-per-process as bareLevels.
 */
export async function bareLevelsPub(levels: number[], rounds: number): Promise<number> {
  const r = new zmq.Router({ linger: 0 });
  const pub = new zmq.Publisher({ linger: 0 });
  await r.bind("tcp://127.0.0.1:*");
  await pub.bind("tcp://127.0.0.1:*");
  const procs = levels.map((l) => spawn(process.execPath, ["--import", "tsx", join(HERE, "zmq-pub-peer.ts"), r.lastEndpoint!, pub.lastEndpoint!, String(l)], { stdio: "inherit", cwd: ROOT }));
  for (let i = 0; i < levels.length; i++) await r.receive(); // "ready"
  const order = [...new Set(levels)].sort((a, b) => a - b);
  const count = new Map(order.map((l) => [l, levels.filter((x) => x === l).length]));
  // subscriptions travel asynchronously (slow joiner): probe each level until all its peers answered one probe
  for (const l of order) {
    for (let answered = 0; answered < count.get(l)!; ) {
      await pub.send(Buffer.from([l, 0xfe]));
      const deadline = performance.now() + 20;
      answered = 0;
      while (performance.now() < deadline && answered < count.get(l)!) {
        r.receiveTimeout = 5;
        try {
          await r.receive();
          answered++;
        } catch {
          /* timeout */
        }
      }
    }
    // drain late answers to the probes
    r.receiveTimeout = 50;
    try {
      for (;;) await r.receive();
    } catch {
      /* drained */
    }
  }
  r.receiveTimeout = -1;
  const warm = Math.floor(rounds / 5);
  let t0 = 0;
  for (let t = 0; t < rounds; t++) {
    if (t === warm) t0 = performance.now();
    for (const l of order) {
      const msg = Buffer.alloc(64, 1);
      msg[0] = l;
      await pub.send(msg);
      for (let j = 0; j < count.get(l)!; j++) await r.receive();
    }
  }
  const rate = (rounds - warm) / ((performance.now() - t0) / 1000);
  await pub.send(Buffer.from([255]));
  await Promise.all(procs.map((p) => new Promise((res) => p.on("exit", res))));
  r.close();
  pub.close();
  return rate;
}

export interface TriggerBenchRow {
  config: string;
  players: number;
  levels: number;
  /** donki on the default transport (runtime/transport/select.ts), median of the rounds. */
  triggersPerS: number;
  /** The transport of triggersPerS. */
  transport?: TransportKind;
  /** donki with the player sockets on donki's own ZMTP over node:net, and on zeromq.js: medians, same rounds. */
  zmtpPerS?: number;
  zeromqPerS?: number;
  /** The wire's limit: 1 / (levels x Node `net` TCP round trip), same run. */
  limitPerS: number;
  ratio: number;
  /** Bare zeromq.js with the same topology (no protocol), median of the rounds. */
  barePerS: number;
  /** The original DonkiOrchestra (Python 3 port, pyzmq) measured on this machine (issue 17). */
  original?: number;
  /** Directions (--directions): bare same topology on libzmq via koffi, and with a PUB trigger broadcast. */
  bareKoffiPerS?: number;
  barePubPerS?: number;
  /** donki of every round on the default transport (interleaved with bare zeromq.js and the other transport). */
  roundsPerS?: number[];
  /** Per round: donki on ZMTP / donki on zeromq.js. */
  zmtpOverZeromq?: number[];
  /** The player is the Python client (clients/python/donki_player), not the TypeScript one. */
  python?: boolean;
  /** Python row: the TypeScript player measured in runs interleaved with the Python player's. */
  besideTs?: Awaited<ReturnType<typeof pythonBesideTs>>;
}

export interface RoundTrip {
  medianUs: number;
  p99Us: number;
}

/**
 * Node `net` TCP ping-pong between two processes: what the loopback wire and two event loops cost per round trip,
 * with no messaging library at all. The measuring side is callback-driven (no promise per message).
 */
export async function measureNetRoundTrip(samples = 20_000): Promise<RoundTrip> {
  const { sock, child, msg, stop } = await startNetEchoPeer();
  const warm = 2000;
  const t = new Float64Array(samples);
  let i = -warm;
  let got = 0;
  let a = 0n;
  await new Promise<void>((done) => {
    sock.on("data", (b: Buffer) => {
      got += b.length;
      if (got < msg.length) return; // a message split by TCP (not seen on loopback, handled anyway)
      got -= msg.length;
      if (i >= 0) t[i] = Number(process.hrtime.bigint() - a) / 1000;
      if (++i === samples) return done();
      a = process.hrtime.bigint();
      sock.write(msg);
    });
    a = process.hrtime.bigint();
    sock.write(msg);
  });
  await stop();
  t.sort();
  return { medianUs: t[Math.floor(samples / 2)], p99Us: t[Math.floor(samples * 0.99)] };
}

/** pyzmq PAIR ping-pong between two Python processes (bench/pyzmq_pair.py); null without /usr/bin/python3 + zmq. */
export function measurePyzmqPair(samples = 20_000, python = "/usr/bin/python3"): Promise<RoundTrip | null> {
  return new Promise((res) => {
    const c = spawn(python, [join(HERE, "pyzmq_pair.py"), String(samples)], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.on("error", () => res(null));
    c.on("exit", (code) => {
      try {
        res(code === 0 ? (JSON.parse(out) as RoundTrip) : null);
      } catch {
        res(null);
      }
    });
  });
}

async function startPlayers(endpoint: string, levels: number[], python?: string, transport?: TransportKind): Promise<ChildProcess[]> {
  const procs: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  levels.forEach((lvl, i) => {
    const args = ["--name", `p${i}`, "--level", String(lvl), "--director", endpoint];
    const c = python
      ? spawn(python, ["-m", "donki_player", ...args, "--script", join(HERE, "empty_player.py")], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...pythonEnv(), DONKI_LOG: "warn" } })
      : spawn(process.execPath, [...(process.env.DONKI_BENCH_PLAYER_NODE_ARGS ?? "").split(" ").filter(Boolean), join(ROOT, "bin/donki.mjs"), "player", ...args, "--script", join(HERE, "empty-player.ts")], {
          stdio: ["ignore", "pipe", "inherit"],
          env: { ...process.env, DONKI_LOG: "warn", ...(transport ? { DONKI_TRANSPORT: transport } : {}) },
        });
    procs.push(c);
    ready.push(
      new Promise((res, rej) => {
        c.stdout!.on("data", (b: Buffer) => b.toString().includes("registered") && res());
        c.on("exit", (code) => rej(new Error(`player exited early (${code})`)));
      }),
    );
  });
  await Promise.all(ready);
  return procs;
}

/**
 * One donki run of N triggers with empty-action players on `levels`: triggers/s after warm-up. `transport` carries
 * the player sockets of the Director and of every player (default: the default transport, or DONKI_TRANSPORT).
 */
export async function donkiLevels(levels: number[], N: number, transport?: TransportKind): Promise<number> {
  const d = new Director({ transport });
  const ep = await d.start();
  const procs = await startPlayers(ep.player, levels, undefined, transport);
  const warm = Math.min(2000, Math.floor(N / 5));
  let tWarm = 0;
  let tEnd = 0;
  try {
    const r = await d.run({
      triggers: N,
      require: levels.map((_, i) => `p${i}`),
      onTrigger: (t) => {
        if (t === warm) tWarm = performance.now();
        if (t === N) tEnd = performance.now();
      },
    });
    if (r.status !== "completed") throw new Error(`benchmark run on levels [${levels}]: ${r.status} ${r.message ?? ""}`);
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : p.on("exit", res)))));
    await d.close();
  }
  return (N - warm) / ((tEnd - tWarm) / 1000);
}

/** The original DonkiOrchestra ported to Python 3 (pyzmq 24, libzmq 4.3.4), measured on this 2-core machine (issue 17). */
export const ORIGINAL = { one: 10_229, threeL0: 2_197, three012: 1_275, six: 552 };

const TOPOLOGIES: Array<{ config: string; levels: number[]; original: number }> = [
  { config: "1 player, level 0", levels: [0], original: ORIGINAL.one },
  { config: "3 players, level 0", levels: [0, 0, 0], original: ORIGINAL.threeL0 },
  { config: "3 players, levels 0,1,2", levels: [0, 1, 2], original: ORIGINAL.three012 },
  { config: "6 players, 2 per level 0,1,2", levels: [0, 0, 1, 1, 2, 2], original: ORIGINAL.six },
];

export interface TriggerBench {
  rounds: number;
  /** Medians over the rounds of each reference's median round trip (us). */
  net: RoundTrip;
  zmqPair: RoundTrip;
  /** donki's own ZMTP over node:net, ROUTER <-> DEALER echo (runtime/transport/zmtp/). */
  zmtp: RoundTrip;
  pyzmqPair: RoundTrip | null;
  /** libzmq through koffi, both main threads blocked in zmq_recv (no event loop): what libzmq costs from Node. */
  koffiBlockingPair: RoundTrip;
  /** libzmq through koffi driven by the event loop (bench/libzmq-koffi.ts), with --directions. */
  koffiEventLoopPair?: RoundTrip;
  rows: TriggerBenchRow[];
}

/**
 * Every reference and donki in one run, `rounds` times interleaved (net, zeromq.js PAIR, pyzmq PAIR, then per
 * topology bare zeromq.js and donki), medians of the rounds.
 */
export async function benchTriggers(opts: { triggers?: number; rttSamples?: number; rounds?: number; python?: boolean; directions?: boolean; log?: (s: string) => void } = {}): Promise<TriggerBench> {
  const N = opts.triggers ?? 20_000;
  const R = opts.rounds ?? 3;
  const S = opts.rttSamples ?? 20_000;
  const log = opts.log ?? ((s: string) => console.log(s));
  const net: RoundTrip[] = [];
  const zp: RoundTrip[] = [];
  const zt: RoundTrip[] = [];
  const pz: RoundTrip[] = [];
  const kb: RoundTrip[] = [];
  const ke: RoundTrip[] = [];
  const koffiBare = TOPOLOGIES.map(() => [] as number[]);
  const pubBare = TOPOLOGIES.map(() => [] as number[]);
  const donkiZmtp = TOPOLOGIES.map(() => [] as number[]);
  const donkiZmq = TOPOLOGIES.map(() => [] as number[]);
  const def = chosenTransport();
  const donki = def === "zmtp" ? donkiZmtp : donkiZmq;
  const bare = TOPOLOGIES.map(() => [] as number[]);
  for (let r = 0; r < R; r++) {
    net.push(await measureNetRoundTrip(S));
    zp.push(await measureRoundTrip(S));
    zt.push(await measureZmtpRoundTrip(S));
    const p = await measurePyzmqPair(S);
    if (p) pz.push(p);
    kb.push(await measureKoffiBlockingRoundTrip(S));
    if (opts.directions) ke.push(await measureLibzmqRoundTrip(S));
    log(
      `round ${r + 1}/${R}: round trips net ${net[r].medianUs.toFixed(1)} us, donki ZMTP ${zt[r].medianUs.toFixed(1)} us, zeromq.js PAIR ${zp[r].medianUs.toFixed(1)} us, pyzmq PAIR ${p ? p.medianUs.toFixed(1) + " us" : "n/a (no /usr/bin/python3 with zmq)"}, ` +
        `libzmq via koffi blocking ${kb[r].medianUs.toFixed(1)} us${opts.directions ? `, libzmq via koffi event loop ${ke[r].medianUs.toFixed(1)} us` : ""}`,
    );
    for (let i = 0; i < TOPOLOGIES.length; i++) {
      const c = TOPOLOGIES[i];
      bare[i].push(await bareLevels(c.levels, Math.min(N, 10_000)));
      // both transports in the same round, the order alternating between rounds (both see the same load)
      if (r % 2 === 0) {
        donkiZmtp[i].push(await donkiLevels(c.levels, N, "zmtp"));
        donkiZmq[i].push(await donkiLevels(c.levels, N, "zeromq"));
      } else {
        donkiZmq[i].push(await donkiLevels(c.levels, N, "zeromq"));
        donkiZmtp[i].push(await donkiLevels(c.levels, N, "zmtp"));
      }
      let extra = "";
      if (opts.directions) {
        koffiBare[i].push(await bareLevelsLibzmq(c.levels, Math.min(N, 10_000)));
        pubBare[i].push(await bareLevelsPub(c.levels, Math.min(N, 10_000)));
        extra = `   bare koffi ${koffiBare[i][r].toFixed(0).padStart(6)}/s   bare PUB broadcast ${pubBare[i][r].toFixed(0).padStart(6)}/s`;
      }
      log(
        `  ${c.config.padEnd(30)} donki on ZMTP ${donkiZmtp[i][r].toFixed(0).padStart(6)}/s   donki on zeromq.js ${donkiZmq[i][r].toFixed(0).padStart(6)}/s (ZMTP x${(donkiZmtp[i][r] / donkiZmq[i][r]).toFixed(2)})   bare zeromq.js ${bare[i][r].toFixed(0).padStart(6)}/s${extra}`,
      );
    }
  }
  const mrt = (xs: RoundTrip[]): RoundTrip => ({ medianUs: median(xs.map((x) => x.medianUs)), p99Us: median(xs.map((x) => x.p99Us)) });
  const res: TriggerBench = { rounds: R, net: mrt(net), zmqPair: mrt(zp), zmtp: mrt(zt), pyzmqPair: pz.length ? mrt(pz) : null, koffiBlockingPair: mrt(kb), koffiEventLoopPair: ke.length ? mrt(ke) : undefined, rows: [] };
  log(
    `\nround trips between two processes, medians of ${R} rounds: Node net TCP ${res.net.medianUs.toFixed(1)} us (the limit), ` +
      `donki ZMTP ROUTER/DEALER ${res.zmtp.medianUs.toFixed(1)} us (x${(res.zmtp.medianUs / res.net.medianUs).toFixed(2)}), ` +
      `zeromq.js PAIR ${res.zmqPair.medianUs.toFixed(1)} us (x${(res.zmqPair.medianUs / res.net.medianUs).toFixed(2)}), ` +
      `pyzmq PAIR ${res.pyzmqPair ? `${res.pyzmqPair.medianUs.toFixed(1)} us (x${(res.pyzmqPair.medianUs / res.net.medianUs).toFixed(2)})` : "n/a"}, ` +
      `libzmq via koffi, blocking ${res.koffiBlockingPair.medianUs.toFixed(1)} us (x${(res.koffiBlockingPair.medianUs / res.net.medianUs).toFixed(2)})` +
      (res.koffiEventLoopPair ? `, libzmq via koffi, event loop ${res.koffiEventLoopPair.medianUs.toFixed(1)} us (x${(res.koffiEventLoopPair.medianUs / res.net.medianUs).toFixed(2)})` : ""),
  );
  log(`donki on the default transport (${def}); ZMTP/zeromq.js: donki on each transport, same rounds`);
  log(`${"topology".padEnd(30)} ${"limit".padStart(7)} ${"zmq.js PAIR".padStart(11)} ${"pyzmq PAIR".padStart(10)} ${"bare".padStart(7)} ${"donki".padStart(7)}  donki/limit  donki/bare  original  donki/original  ${"on ZMTP".padStart(7)} ${"zmq.js".padStart(7)} ZMTP/zmq.js`);
  for (let i = 0; i < TOPOLOGIES.length; i++) {
    const c = TOPOLOGIES[i];
    const nLevels = new Set(c.levels).size;
    const per = (rt: RoundTrip | null) => (rt ? 1e6 / (nLevels * rt.medianUs) : NaN);
    const limit = per(res.net);
    const row: TriggerBenchRow = {
      config: c.config,
      players: c.levels.length,
      levels: nLevels,
      triggersPerS: median(donki[i]),
      transport: def,
      zmtpPerS: median(donkiZmtp[i]),
      zeromqPerS: median(donkiZmq[i]),
      limitPerS: limit,
      ratio: median(donki[i]) / limit,
      barePerS: median(bare[i]),
      original: c.original,
      roundsPerS: donki[i],
      zmtpOverZeromq: donkiZmtp[i].map((x, k) => x / donkiZmq[i][k]),
    };
    if (opts.directions) {
      row.bareKoffiPerS = median(koffiBare[i]);
      row.barePubPerS = median(pubBare[i]);
    }
    res.rows.push(row);
    const f = (x: number, w = 7) => (Number.isFinite(x) ? x.toFixed(0) : "n/a").padStart(w);
    log(
      `${c.config.padEnd(30)} ${f(limit)} ${f(per(res.zmqPair), 11)} ${f(per(res.pyzmqPair), 10)} ${f(row.barePerS)} ${f(row.triggersPerS)}  ${row.ratio.toFixed(2).padStart(11)} ${(row.triggersPerS / row.barePerS).toFixed(2).padStart(11)}  ${f(c.original, 8)}  ${(row.triggersPerS / c.original).toFixed(2).padStart(14)}  ${f(row.zmtpPerS!)} ${f(row.zeromqPerS!)} ${median(row.zmtpOverZeromq!).toFixed(2).padStart(11)}` +
        (opts.directions ? `   bare koffi ${f(row.bareKoffiPerS!)} (x${(row.bareKoffiPerS! / row.barePerS).toFixed(2)} of bare)   bare PUB ${f(row.barePubPerS!)} (x${(row.barePubPerS! / row.barePerS).toFixed(2)})` : ""),
    );
  }
  // the same topology "1 player, level 0" with a Python player (clients/python/donki_player)
  if (opts.python !== false) {
    let python: string | undefined;
    try {
      python = resolvePython([{ name: "p0", level: 0, device: "python:bench/empty_player.py", settings: {}, host: "local", join: "next-trigger" }]).get("p0");
    } catch (e) {
      log(`Python player row skipped: ${(e as Error).message}`);
    }
    if (python) {
      const cmp = await pythonBesideTs(N, python, R);
      const limit = res.rows[0].limitPerS;
      res.rows.push({ config: "1 Python player, level 0", python: true, players: 1, levels: 1, triggersPerS: cmp.python.perS, limitPerS: limit, ratio: cmp.python.perS / limit, barePerS: res.rows[0].barePerS, original: ORIGINAL.one, besideTs: cmp });
      log(
        `${"1 Python player, level 0".padEnd(30)} ${cmp.python.perS.toFixed(0).padStart(7)} triggers/s   TypeScript player, runs interleaved with it: ${cmp.ts.perS.toFixed(0)} triggers/s   ` +
          `Python/TS ${(cmp.python.perS / cmp.ts.perS).toFixed(2)}   player CPU per trigger: Python ${cmp.python.cpuUs.toFixed(0)} us, TS ${cmp.ts.cpuUs.toFixed(0)} us (medians of ${cmp.rounds})`,
      );
    }
  }
  return res;
}

/** CPU time (user + system, all threads) a process has used so far, microseconds (Linux /proc). */
function cpuUs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(")")[1].trim().split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/**
 * One run of N triggers with one player at level 0: rate after warm-up, the player's CPU per trigger (all its
 * threads) and the Director's (this process, all threads).
 */
async function onePlayerRun(N: number, python?: string, transport?: TransportKind): Promise<{ perS: number; cpuUs: number; directorCpuUs: number }> {
  const d = new Director({ transport });
  const ep = await d.start();
  const [proc] = await startPlayers(ep.player, [0], python, transport);
  const warm = Math.min(2000, Math.floor(N / 5));
  let tWarm = 0;
  let tEnd = 0;
  let cpu0 = 0;
  let cpu1 = 0;
  let dcpu0 = 0;
  let dcpu1 = 0;
  const r = await d.run({
    triggers: N,
    require: ["p0"],
    onTrigger: (t) => {
      if (t === warm) {
        tWarm = performance.now();
        cpu0 = cpuUs(proc.pid!);
        dcpu0 = cpuUs(process.pid);
      }
      if (t === N) {
        tEnd = performance.now();
        cpu1 = cpuUs(proc.pid!);
        dcpu1 = cpuUs(process.pid);
      }
    },
  });
  proc.kill("SIGTERM");
  await new Promise((res) => (proc.exitCode !== null ? res(null) : proc.on("exit", res)));
  await d.close();
  if (r.status !== "completed") throw new Error(`benchmark run (${python ? "Python" : "TypeScript"} player): ${r.status} ${r.message ?? ""}`);
  return { perS: (N - warm) / ((tEnd - tWarm) / 1000), cpuUs: (cpu1 - cpu0) / (N - warm), directorCpuUs: (dcpu1 - dcpu0) / (N - warm) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The Python player beside the TypeScript one in topology "1 player, level 0": runs alternate (TS, Python, TS,
 * Python ...) so both see the same machine load; medians of the rates and of the player's CPU per trigger.
 */
export async function pythonBesideTs(N: number, python: string, rounds = 3): Promise<{ rounds: number; ts: { perS: number; cpuUs: number }; python: { perS: number; cpuUs: number } }> {
  const ts: Array<{ perS: number; cpuUs: number }> = [];
  const py: Array<{ perS: number; cpuUs: number }> = [];
  for (let i = 0; i < rounds; i++) {
    ts.push(await onePlayerRun(N));
    py.push(await onePlayerRun(N, python));
  }
  const m = (a: Array<{ perS: number; cpuUs: number }>) => ({ perS: median(a.map((x) => x.perS)), cpuUs: median(a.map((x) => x.cpuUs)) });
  return { rounds, ts: m(ts), python: m(py) };
}

/**
 * donki on ZMTP beside donki on zeromq.js, 1 player at level 0, runs alternating: rate, and CPU per trigger of the
 * player process and of the Director process (all threads: zeromq.js's I/O thread included). CPU per trigger is
 * what the machine's load disturbs least.
 */
export async function transportCpu(N: number, rounds = 3, log: (s: string) => void = console.log) {
  const runs: Record<TransportKind, Array<Awaited<ReturnType<typeof onePlayerRun>>>> = { zmtp: [], zeromq: [] };
  for (let i = 0; i < rounds; i++) {
    for (const t of i % 2 ? (["zeromq", "zmtp"] as const) : (["zmtp", "zeromq"] as const)) {
      const r = await onePlayerRun(N, undefined, t);
      runs[t].push(r);
      log(`  ${t.padEnd(6)} ${r.perS.toFixed(0).padStart(6)} triggers/s   CPU per trigger: player ${r.cpuUs.toFixed(1)} us, Director ${r.directorCpuUs.toFixed(1)} us`);
    }
  }
  const m = (t: TransportKind) => ({ perS: median(runs[t].map((x) => x.perS)), playerCpuUs: median(runs[t].map((x) => x.cpuUs)), directorCpuUs: median(runs[t].map((x) => x.directorCpuUs)) });
  const res = { rounds, zmtp: m("zmtp"), zeromq: m("zeromq") };
  log(
    `medians of ${rounds}: ZMTP ${res.zmtp.perS.toFixed(0)}/s, zeromq.js ${res.zeromq.perS.toFixed(0)}/s (x${(res.zmtp.perS / res.zeromq.perS).toFixed(2)}); ` +
      `CPU per trigger, player ${res.zmtp.playerCpuUs.toFixed(1)} vs ${res.zeromq.playerCpuUs.toFixed(1)} us, Director ${res.zmtp.directorCpuUs.toFixed(1)} vs ${res.zeromq.directorCpuUs.toFixed(1)} us`,
  );
  return res;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  if (process.argv.includes("--transport-cpu")) {
    await transportCpu(arg("--triggers") ?? 20_000, arg("--rounds") ?? 3);
  } else if (process.argv.includes("--python-only")) {
    const python = resolvePython([{ name: "p0", level: 0, device: "python:bench/empty_player.py", settings: {}, host: "local", join: "next-trigger" }]).get("p0")!;
    const c = await pythonBesideTs(arg("--triggers") ?? 20_000, python, arg("--rounds") ?? 3);
    console.log(JSON.stringify(c));
  } else await benchTriggers({ triggers: arg("--triggers"), rttSamples: arg("--rtt-samples"), rounds: arg("--rounds"), python: !process.argv.includes("--no-python"), directions: process.argv.includes("--directions") });
}

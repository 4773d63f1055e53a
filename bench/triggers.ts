/**
 * Trigger rate of the Director with empty-action players (each a separate process), against references measured
 * in the same run, rounds interleaved: Node `net` TCP ping-pong between two processes (the wire's limit:
 * 1 / (levels x round trip)), zeromq.js PAIR, pyzmq PAIR (when /usr/bin/python3 has zmq), bare zeromq.js with the
 * same topology; the original DonkiOrchestra's figures beside them.
 *   node --import tsx bench/triggers.ts [--triggers N] [--rtt-samples N] [--rounds N] [--no-python]
 *   node --import tsx bench/triggers.ts --python-only [--triggers N] [--rounds N]   (Python player beside the TS one)
 */
import * as zmq from "zeromq";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { pythonEnv, resolvePython } from "../runtime/cli/python.ts";

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

export interface TriggerBenchRow {
  config: string;
  players: number;
  levels: number;
  /** donki, median of the rounds. */
  triggersPerS: number;
  /** The wire's limit: 1 / (levels x Node `net` TCP round trip), same run. */
  limitPerS: number;
  ratio: number;
  /** Bare zeromq.js with the same topology (no protocol), median of the rounds. */
  barePerS: number;
  /** The original DonkiOrchestra (Python 3 port, pyzmq) measured on this machine (issue 17). */
  original?: number;
  /** donki of every round (interleaved with bare zeromq.js). */
  roundsPerS?: number[];
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
  const server = createServer({ noDelay: true });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as AddressInfo).port;
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "net-echo-peer.ts"), `127.0.0.1:${port}`], { stdio: "inherit", cwd: ROOT });
  const sock = await new Promise<Socket>((res) => server.once("connection", res));
  sock.setNoDelay(true);
  const msg = Buffer.alloc(64, 1);
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
  sock.write(Buffer.from([0]));
  await new Promise((r) => child.on("exit", r));
  sock.destroy();
  server.close();
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

async function startPlayers(endpoint: string, levels: number[], python?: string): Promise<ChildProcess[]> {
  const procs: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  levels.forEach((lvl, i) => {
    const args = ["--name", `p${i}`, "--level", String(lvl), "--director", endpoint];
    const c = python
      ? spawn(python, ["-m", "donki_player", ...args, "--script", join(HERE, "empty_player.py")], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...pythonEnv(), DONKI_LOG: "warn" } })
      : spawn(process.execPath, [join(ROOT, "bin/donki.mjs"), "player", ...args, "--script", join(HERE, "empty-player.ts")], {
          stdio: ["ignore", "pipe", "inherit"],
          env: { ...process.env, DONKI_LOG: "warn" },
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

/** One donki run of N triggers with empty-action players on `levels`: triggers/s after warm-up. */
export async function donkiLevels(levels: number[], N: number): Promise<number> {
  const d = new Director();
  const ep = await d.start();
  const procs = await startPlayers(ep.player, levels);
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
  pyzmqPair: RoundTrip | null;
  rows: TriggerBenchRow[];
}

/**
 * Every reference and donki in one run, `rounds` times interleaved (net, zeromq.js PAIR, pyzmq PAIR, then per
 * topology bare zeromq.js and donki), medians of the rounds.
 */
export async function benchTriggers(opts: { triggers?: number; rttSamples?: number; rounds?: number; python?: boolean; log?: (s: string) => void } = {}): Promise<TriggerBench> {
  const N = opts.triggers ?? 20_000;
  const R = opts.rounds ?? 3;
  const S = opts.rttSamples ?? 20_000;
  const log = opts.log ?? ((s: string) => console.log(s));
  const net: RoundTrip[] = [];
  const zp: RoundTrip[] = [];
  const pz: RoundTrip[] = [];
  const donki = TOPOLOGIES.map(() => [] as number[]);
  const bare = TOPOLOGIES.map(() => [] as number[]);
  for (let r = 0; r < R; r++) {
    net.push(await measureNetRoundTrip(S));
    zp.push(await measureRoundTrip(S));
    const p = await measurePyzmqPair(S);
    if (p) pz.push(p);
    log(`round ${r + 1}/${R}: round trips net ${net[r].medianUs.toFixed(1)} us, zeromq.js PAIR ${zp[r].medianUs.toFixed(1)} us, pyzmq PAIR ${p ? p.medianUs.toFixed(1) + " us" : "n/a (no /usr/bin/python3 with zmq)"}`);
    for (let i = 0; i < TOPOLOGIES.length; i++) {
      const c = TOPOLOGIES[i];
      bare[i].push(await bareLevels(c.levels, Math.min(N, 10_000)));
      donki[i].push(await donkiLevels(c.levels, N));
      log(`  ${c.config.padEnd(30)} donki ${donki[i][r].toFixed(0).padStart(6)}/s   bare zeromq.js ${bare[i][r].toFixed(0).padStart(6)}/s`);
    }
  }
  const mrt = (xs: RoundTrip[]): RoundTrip => ({ medianUs: median(xs.map((x) => x.medianUs)), p99Us: median(xs.map((x) => x.p99Us)) });
  const res: TriggerBench = { rounds: R, net: mrt(net), zmqPair: mrt(zp), pyzmqPair: pz.length ? mrt(pz) : null, rows: [] };
  log(
    `\nround trips between two processes, medians of ${R} rounds: Node net TCP ${res.net.medianUs.toFixed(1)} us (the limit), ` +
      `zeromq.js PAIR ${res.zmqPair.medianUs.toFixed(1)} us (x${(res.zmqPair.medianUs / res.net.medianUs).toFixed(2)}), ` +
      `pyzmq PAIR ${res.pyzmqPair ? `${res.pyzmqPair.medianUs.toFixed(1)} us (x${(res.pyzmqPair.medianUs / res.net.medianUs).toFixed(2)})` : "n/a"}`,
  );
  log(`${"topology".padEnd(30)} ${"limit".padStart(7)} ${"zmq.js PAIR".padStart(11)} ${"pyzmq PAIR".padStart(10)} ${"bare".padStart(7)} ${"donki".padStart(7)}  donki/limit  donki/bare  original  donki/original`);
  for (let i = 0; i < TOPOLOGIES.length; i++) {
    const c = TOPOLOGIES[i];
    const nLevels = new Set(c.levels).size;
    const per = (rt: RoundTrip | null) => (rt ? 1e6 / (nLevels * rt.medianUs) : NaN);
    const limit = per(res.net);
    const row: TriggerBenchRow = { config: c.config, players: c.levels.length, levels: nLevels, triggersPerS: median(donki[i]), limitPerS: limit, ratio: median(donki[i]) / limit, barePerS: median(bare[i]), original: c.original, roundsPerS: donki[i] };
    res.rows.push(row);
    const f = (x: number, w = 7) => (Number.isFinite(x) ? x.toFixed(0) : "n/a").padStart(w);
    log(
      `${c.config.padEnd(30)} ${f(limit)} ${f(per(res.zmqPair), 11)} ${f(per(res.pyzmqPair), 10)} ${f(row.barePerS)} ${f(row.triggersPerS)}  ${row.ratio.toFixed(2).padStart(11)} ${(row.triggersPerS / row.barePerS).toFixed(2).padStart(11)}  ${f(c.original, 8)}  ${(row.triggersPerS / c.original).toFixed(2).padStart(14)}`,
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

/** One run of N triggers with one player at level 0: rate after warm-up, and the player's CPU per trigger. */
async function onePlayerRun(N: number, python?: string): Promise<{ perS: number; cpuUs: number }> {
  const d = new Director();
  const ep = await d.start();
  const [proc] = await startPlayers(ep.player, [0], python);
  const warm = Math.min(2000, Math.floor(N / 5));
  let tWarm = 0;
  let tEnd = 0;
  let cpu0 = 0;
  let cpu1 = 0;
  const r = await d.run({
    triggers: N,
    require: ["p0"],
    onTrigger: (t) => {
      if (t === warm) {
        tWarm = performance.now();
        cpu0 = cpuUs(proc.pid!);
      }
      if (t === N) {
        tEnd = performance.now();
        cpu1 = cpuUs(proc.pid!);
      }
    },
  });
  proc.kill("SIGTERM");
  await new Promise((res) => (proc.exitCode !== null ? res(null) : proc.on("exit", res)));
  await d.close();
  if (r.status !== "completed") throw new Error(`benchmark run (${python ? "Python" : "TypeScript"} player): ${r.status} ${r.message ?? ""}`);
  return { perS: (N - warm) / ((tEnd - tWarm) / 1000), cpuUs: (cpu1 - cpu0) / (N - warm) };
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

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  if (process.argv.includes("--python-only")) {
    const python = resolvePython([{ name: "p0", level: 0, device: "python:bench/empty_player.py", settings: {}, host: "local", join: "next-trigger" }]).get("p0")!;
    const c = await pythonBesideTs(arg("--triggers") ?? 20_000, python, arg("--rounds") ?? 3);
    console.log(JSON.stringify(c));
  } else await benchTriggers({ triggers: arg("--triggers"), rttSamples: arg("--rtt-samples"), rounds: arg("--rounds"), python: !process.argv.includes("--no-python") });
}

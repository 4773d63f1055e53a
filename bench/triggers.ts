/**
 * Trigger rate of the Director with empty-action players (each a separate process), against the raw zeromq.js
 * PAIR round trip between two processes measured in the same run. Prints triggers/s and the ratio to the limit
 * 1 / (levels x round-trip).
 *   node --import tsx bench/triggers.ts [--triggers N] [--rtt-samples N]
 *   node --import tsx bench/triggers.ts --python-only [--triggers N] [--rounds N]   (Python player beside the TS one)
 */
import * as zmq from "zeromq";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { pythonEnv, resolvePython } from "../runtime/cli/python.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

export async function measureRoundTrip(samples = 20_000): Promise<{ medianUs: number; p99Us: number }> {
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
  triggersPerS: number;
  limitPerS: number;
  ratio: number;
  /** Bare zeromq.js with the same topology (no protocol), measured in the same run. */
  barePerS: number;
  original?: number;
  /** The player is the Python client (clients/python/donki_player), not the TypeScript one. */
  python?: boolean;
  /** Python row: the TypeScript player measured in runs interleaved with the Python player's. */
  besideTs?: Awaited<ReturnType<typeof pythonBesideTs>>;
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

export async function benchTriggers(opts: { triggers?: number; rttSamples?: number; log?: (s: string) => void } = {}): Promise<{ rtt: { medianUs: number; p99Us: number }; rows: TriggerBenchRow[] }> {
  const N = opts.triggers ?? 20_000;
  const log = opts.log ?? ((s: string) => console.log(s));
  const rtt = await measureRoundTrip(opts.rttSamples ?? 20_000);
  log(`raw zeromq.js PAIR round trip between two processes: median ${rtt.medianUs.toFixed(1)} us, p99 ${rtt.p99Us.toFixed(1)} us`);
  // the same topology with a Python player (clients/python/donki_player), when an interpreter with pyzmq is here
  let python: string | undefined;
  try {
    python = resolvePython([{ name: "p0", level: 0, device: "python:bench/empty_player.py", settings: {}, host: "local", join: "next-trigger" }]).get("p0");
  } catch (e) {
    log(`Python player row skipped: ${(e as Error).message}`);
  }
  const configs: Array<{ config: string; levels: number[]; original: number }> = [
    { config: "1 player, level 0", levels: [0], original: 9270 },
    { config: "3 players, level 0", levels: [0, 0, 0], original: 2370 },
    { config: "3 players, levels 0,1,2", levels: [0, 1, 2], original: 1190 },
    { config: "6 players, 2 per level 0,1,2", levels: [0, 0, 1, 1, 2, 2], original: 549 },
  ];
  const rows: TriggerBenchRow[] = [];
  for (const c of configs) {
    const d = new Director();
    const ep = await d.start();
    const procs = await startPlayers(ep.player, c.levels);
    const warm = Math.min(2000, Math.floor(N / 5));
    let tWarm = 0;
    let tEnd = 0;
    const r = await d.run({
      triggers: N,
      require: c.levels.map((_, i) => `p${i}`),
      onTrigger: (t) => {
        if (t === warm) tWarm = performance.now();
        if (t === N) tEnd = performance.now();
      },
    });
    if (r.status !== "completed") throw new Error(`benchmark run ${c.config}: ${r.status} ${r.message ?? ""}`);
    const rate = (N - warm) / ((tEnd - tWarm) / 1000);
    const nLevels = new Set(c.levels).size;
    const limit = 1e6 / (nLevels * rtt.medianUs);
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : p.on("exit", res)))));
    await d.close();
    const bare = await bareLevels(c.levels, Math.min(N, 10_000));
    rows.push({ config: c.config, players: c.levels.length, levels: nLevels, triggersPerS: rate, limitPerS: limit, ratio: rate / limit, barePerS: bare, original: c.original });
    log(
      `${c.config.padEnd(30)} ${rate.toFixed(0).padStart(7)} triggers/s   limit 1/(levels x rtt) ${limit.toFixed(0).padStart(6)}   ratio ${(rate / limit).toFixed(2)}   ` +
        `bare zeromq.js same topology ${bare.toFixed(0).padStart(6)} (donki/bare ${(rate / bare).toFixed(2)})   original ${c.original} (x${(rate / c.original).toFixed(1)})`,
    );
    if (c.levels.length === 1 && python) {
      const cmp = await pythonBesideTs(N, python, 3);
      rows.push({ config: "1 Python player, level 0", python: true, players: 1, levels: 1, triggersPerS: cmp.python.perS, limitPerS: limit, ratio: cmp.python.perS / limit, barePerS: bare, original: c.original, besideTs: cmp });
      log(
        `${"1 Python player, level 0".padEnd(30)} ${cmp.python.perS.toFixed(0).padStart(7)} triggers/s   TypeScript player, runs interleaved with it: ${cmp.ts.perS.toFixed(0)} triggers/s   ` +
          `Python/TS ${(cmp.python.perS / cmp.ts.perS).toFixed(2)}   player CPU per trigger: Python ${cmp.python.cpuUs.toFixed(0)} us, TS ${cmp.ts.cpuUs.toFixed(0)} us (medians of ${cmp.rounds})`,
      );
    }
  }
  return { rtt, rows };
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
  } else await benchTriggers({ triggers: arg("--triggers"), rttSamples: arg("--rtt-samples") });
}

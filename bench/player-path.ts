/**
 * Where donki's time goes on the trigger path, one side at a time (issue 17): a bare zeromq.js ROUTER that speaks
 * just enough of the protocol (welcome, pre, trig) to drive ONE donki Player process (the TypeScript player of
 * `donki player`, empty action), against the same ROUTER driving the bare DEALER echo peer, interleaved rounds.
 * The difference is what the Player adds. And the donki Director driving a bare protocol peer
 * (bench/bare-protocol-peer.ts: registers and acks, nothing else): what the Director adds. Then donki whole.
 *   node --import tsx bench/player-path.ts [--triggers N] [--rounds N]
 */
import * as zmq from "zeromq";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { encode } from "../runtime/protocol/codec.ts";
import { PROTOCOL_VERSION } from "../runtime/protocol/messages.ts";
import { bareLevels, donkiLevels } from "./triggers.ts";
import { Director } from "../runtime/director/director.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

/** CPU time (user + system, all threads) of a process so far, us (Linux /proc). */
function cpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(")")[1].trim().split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
}

/** The Player process's CPU per trigger in the last protocolRouterToPlayer run, us. */
export let lastCpuPerTrigger = NaN;

export async function protocolRouterToPlayer(N: number): Promise<number> {
  let cpu0 = 0;
  const r = new zmq.Router({ linger: 0, sendTimeout: 0 });
  await r.bind("tcp://127.0.0.1:*");
  const p = spawn(process.execPath, [...(process.env.DONKI_BENCH_PLAYER_NODE_ARGS ?? "").split(" ").filter(Boolean), join(ROOT, "bin/donki.mjs"), "player", "--name", "p0", "--level", "0", "--director", r.lastEndpoint!, "--script", join(HERE, "empty-player.ts")], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DONKI_LOG: "warn" },
  });
  const [id] = await r.receive(); // hello
  await r.send([id, encode({ v: PROTOCOL_VERSION, type: "welcome", name: "p0", session: "bench", hbInterval: 500, hbTimeout: 60_000 })]);
  const run = "r1-bench";
  await r.send([id, encode({ v: PROTOCOL_VERSION, type: "pre", run, seq: 1, config: {}, t: 0 })]);
  for (;;) {
    const f = await r.receive();
    if (f[1].includes(Buffer.from("ready"))) break; // heartbeats may come first
  }
  const warm = Math.floor(N / 5);
  let t0 = 0;
  const params = {};
  for (let t = 1; t <= N; t++) {
    if (t === warm) {
      t0 = performance.now();
      cpu0 = cpuUs(p.pid!);
    }
    await r.send([id, encode({ v: PROTOCOL_VERSION, type: "trig", run, trig: t, lvl: 0, seq: t + 1, params, t: 0 })]);
    for (;;) {
      const f = await r.receive();
      if (f[1].includes(Buffer.from("ack"))) break;
    }
  }
  const rate = (N - warm) / ((performance.now() - t0) / 1000);
  lastCpuPerTrigger = (cpuUs(p.pid!) - cpu0) / (N - warm);
  p.kill("SIGTERM");
  await new Promise((res) => p.on("exit", res));
  r.close();
  return rate;
}

/** The donki Director driving ONE bare protocol peer (bench/bare-protocol-peer.ts): what the Director costs. */
export async function directorToBarePeer(N: number): Promise<number> {
  const d = new Director();
  const ep = await d.start();
  const p = spawn(process.execPath, ["--import", "tsx", join(HERE, "bare-protocol-peer.ts"), ep.player, "p0"], { stdio: ["ignore", "pipe", "inherit"], cwd: ROOT });
  await new Promise<void>((res) => p.stdout!.on("data", (b: Buffer) => b.toString().includes("registered") && res()));
  const warm = Math.floor(N / 5);
  let tWarm = 0;
  let tEnd = 0;
  const r = await d.run({
    triggers: N,
    require: ["p0"],
    onTrigger: (t) => {
      if (t === warm) tWarm = performance.now();
      if (t === N) tEnd = performance.now();
    },
  });
  p.kill("SIGTERM");
  await new Promise((res) => (p.exitCode !== null ? res(null) : p.on("exit", res)));
  await d.close();
  if (r.status !== "completed") throw new Error(`directorToBarePeer: ${r.status} ${r.message ?? ""}`);
  return (N - warm) / ((tEnd - tWarm) / 1000);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (k: string, d: number) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const N = arg("--triggers", 10_000);
  const R = arg("--rounds", 3);
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  const e: number[] = [];
  for (let i = 0; i < R; i++) {
    a.push(await bareLevels([0], N));
    b.push(await protocolRouterToPlayer(N));
    c.push(await directorToBarePeer(N));
    e.push(await donkiLevels([0], N));
    console.log(`round ${i + 1}: donki Director -> bare protocol peer ${c[i].toFixed(0)}/s   donki Director -> donki Player ${e[i].toFixed(0)}/s`);
    console.log(`round ${i + 1}: bare ROUTER -> bare DEALER echo ${a[i].toFixed(0)}/s   bare ROUTER speaking the protocol -> donki Player ${b[i].toFixed(0)}/s (Player CPU ${lastCpuPerTrigger.toFixed(0)} us per trigger)`);
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
  console.log(`medians: bare echo ${med(a).toFixed(0)}/s, bare ROUTER -> donki Player ${med(b).toFixed(0)}/s (x${(med(b) / med(a)).toFixed(2)}), donki Director -> bare peer ${med(c).toFixed(0)}/s (x${(med(c) / med(a)).toFixed(2)}), donki ${med(e).toFixed(0)}/s (x${(med(e) / med(a)).toFixed(2)})`);
  process.exit(0);
}

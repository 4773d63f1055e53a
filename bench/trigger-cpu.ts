/**
 * CPU time per trigger of the Director (this process, all threads) and of one empty-action player (another process,
 * all threads, from /proc), 1 player at level 0 on the default transport. CPU per trigger is what the other work on
 * the machine disturbs least; the rate is printed beside it.
 *   node --import tsx bench/trigger-cpu.ts [--triggers N] [--players N]            one run, a JSON line
 *   node --import tsx bench/trigger-cpu.ts --ab DIR[,DIR...] [--rounds N] ...   this tree (A) and other
 *     checkouts of donki (B, C ...; e.g. `git archive main | tar -x -C /tmp/base` with node_modules linked), runs
 *     interleaved, the order rotating each round: before/after of changes under the same load. Ratios are to the
 *     last checkout, per round.
 *   --net adds the floor: CPU per round trip of a bare Node `net` ping-pong between two processes, same run.
 * Profiles: DONKI_BENCH_PLAYER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" for the player, `node --cpu-prof` for the
 * Director.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startNetEchoPeer } from "./net-echo.ts";
import { join, dirname, resolve } from "node:path";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

export interface TriggerCpu {
  triggers: number;
  perS: number;
  directorCpuUs: number;
  playerCpuUs: number;
}

/** CPU time (user + system, all threads) of a process so far, us (Linux /proc; clock ticks of 10 ms). */
function procCpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(")")[1].trim().split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
}

export async function triggerCpu(N = 20_000, players = 1): Promise<TriggerCpu> {
  const { Director } = await import("../runtime/director/director.ts");
  const d = new Director();
  const ep = await d.start();
  const procs = Array.from({ length: players }, (_, i) =>
    spawn(process.execPath, [...(process.env.DONKI_BENCH_PLAYER_NODE_ARGS ?? "").split(" ").filter(Boolean), join(ROOT, "bin/donki.mjs"), "player", "--name", `p${i}`, "--level", "0", "--director", ep.player, "--script", join(HERE, "empty-player.ts")], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, DONKI_LOG: "warn" },
    }),
  );
  await Promise.all(procs.map((c) => new Promise<void>((res, rej) => {
    c.stdout!.on("data", (b: Buffer) => b.toString().includes("registered") && res());
    c.on("exit", (code) => rej(new Error(`player exited early (${code})`)));
  })));
  const warm = Math.min(2000, Math.floor(N / 5));
  let t0 = 0, t1 = 0, p0 = 0, p1 = 0;
  let c0: NodeJS.CpuUsage = { user: 0, system: 0 };
  let c1: NodeJS.CpuUsage = { user: 0, system: 0 };
  const pcpu = () => procs.reduce((a, c) => a + procCpuUs(c.pid!), 0);
  const r = await d.run({
    triggers: N,
    require: procs.map((_, i) => `p${i}`),
    onTrigger: (t) => {
      if (t === warm) {
        t0 = performance.now();
        c0 = process.cpuUsage();
        p0 = pcpu();
      } else if (t === N) {
        t1 = performance.now();
        c1 = process.cpuUsage(c0);
        p1 = pcpu();
      }
    },
  });
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : p.on("exit", res)))));
  await d.close();
  if (r.status !== "completed") throw new Error(`run ${r.status}: ${r.message ?? ""}`);
  const n = N - warm;
  return { triggers: n, perS: n / ((t1 - t0) / 1000), directorCpuUs: (c1.user + c1.system) / n, playerCpuUs: (p1 - p0) / n / players };
}

/**
 * The floor: a Node `net` ping-pong of 64-byte messages between this process and bench/net-echo-peer.ts, CPU per
 * round trip on each side (what two event loops and the loopback TCP cost with no protocol at all).
 */
export async function netPingPongCpu(N = 40_000): Promise<{ usPerRoundTrip: number; serverCpuUs: number; peerCpuUs: number }> {
  const { sock, child, msg, stop } = await startNetEchoPeer();
  const warm = Math.floor(N / 8);
  let i = 0, p0 = 0, t0 = 0;
  let c0: NodeJS.CpuUsage = { user: 0, system: 0 };
  await new Promise<void>((done) => {
    sock.on("data", () => {
      if (++i === warm) {
        c0 = process.cpuUsage();
        p0 = procCpuUs(child.pid!);
        t0 = performance.now();
      }
      if (i === N) return done();
      sock.write(msg);
    });
    sock.write(msg);
  });
  const c = process.cpuUsage(c0);
  const n = N - warm;
  const r = { usPerRoundTrip: ((performance.now() - t0) * 1000) / n, serverCpuUs: (c.user + c.system) / n, peerCpuUs: (procCpuUs(child.pid!) - p0) / n };
  await stop();
  return r;
}

function runIn(root: string, N: number, players: number): Promise<TriggerCpu> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, ["--import", "tsx", join(root, "bench/trigger-cpu.ts"), "--triggers", String(N), "--players", String(players)], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.on("exit", (code) => (code === 0 ? res(JSON.parse(out.trim().split("\n").pop()!) as TriggerCpu) : rej(new Error(`${root}: exit ${code}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const N = Number(arg("--triggers") ?? 20_000);
  const players = Number(arg("--players") ?? 1);
  const other = arg("--ab");
  if (process.argv.includes("--net")) {
    const r = await netPingPongCpu();
    console.log(`Node net ping-pong: ${r.usPerRoundTrip.toFixed(1)} us per round trip; CPU per round trip: ${r.serverCpuUs.toFixed(1)} us (this side), ${r.peerCpuUs.toFixed(1)} us (echo peer)`);
  }
  if (!other) {
    console.log(JSON.stringify(await triggerCpu(N, players)));
    process.exit(0);
  }
  const R = Number(arg("--rounds") ?? 5);
  // this tree first, then the others; the order rotates every round so each sees the same load on average
  const roots = [ROOT, ...other.split(",").map((d) => resolve(d))];
  const got: TriggerCpu[][] = roots.map(() => []);
  for (let r = 0; r < R; r++) {
    const order = roots.map((_, i) => (i + r) % roots.length);
    if (r % 2) order.reverse();
    for (const k of order) {
      const x = await runIn(roots[k], N, players);
      got[k].push(x);
      console.log(`  ${String.fromCharCode(65 + k)} ${x.perS.toFixed(0).padStart(6)} triggers/s   CPU per trigger: Director ${x.directorCpuUs.toFixed(1)} us, player ${x.playerCpuUs.toFixed(1)} us`);
    }
  }
  for (let k = 0; k < roots.length; k++) {
    const g = got[k];
    // ratios to the last checkout (the baseline), taken within each round, then the median
    const b = got[roots.length - 1];
    const ratio = (f: (x: TriggerCpu) => number) => median(g.map((a, i) => f(a) / f(b[i]))).toFixed(3);
    console.log(
      `${String.fromCharCode(65 + k)} ${roots[k]}: medians of ${R}: ${median(g.map((x) => x.perS)).toFixed(0)} triggers/s, Director ${median(g.map((x) => x.directorCpuUs)).toFixed(1)} us, player ${median(g.map((x) => x.playerCpuUs)).toFixed(1)} us per trigger` +
        (k < roots.length - 1 ? `; per-round ratio to ${String.fromCharCode(64 + roots.length)}: rate x${ratio((x) => x.perS)}, Director CPU x${ratio((x) => x.directorCpuUs)}, player CPU x${ratio((x) => x.playerCpuUs)}` : " (baseline)"),
    );
  }
}

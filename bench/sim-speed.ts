/**
 * Virtual-time speed of the full twin endstation: the TWINMIC demo scenario (stage, temperature, camera, XRF, I/O,
 * players as separate processes, NeXus file written) as a 100 x 100 raster with 100 ms dwell. Prints the ratio
 * simulated duration / wall time.
 *   node --import tsx bench/sim-speed.ts [--points 100] [--in-process]
 * Also prints the CPU time per trigger of the Director (main thread, other threads) and of each player process
 * during the trigger loop (Linux /proc): what the machine's other load disturbs least.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { readFileSync } from "node:fs";
import { parseScenario } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { createLogger } from "../runtime/log.ts";
import * as catalogue from "../drivers/registry.ts";
import { cpuPerTrigger, cpuSnapshot, writesPerTrigger, type CpuSnapshot } from "./proc-cpu.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface SimSpeedResult {
  points: number;
  triggers: number;
  simulatedS: number;
  wallS: number;
  ratio: number;
  triggersPerS: number;
  fileMB: number;
  /** CPU ms per trigger during the trigger loop: the Director's main thread, its other threads, each player process. */
  cpuMsPerTrigger: Record<string, number>;
  /** Write system calls per trigger, by process (the Director's includes its writer thread's file writes). */
  writesPerTrigger: Record<string, number>;
}

export async function benchSimSpeed(opts: { points?: number; inProcess?: boolean; log?: (s: string) => void } = {}): Promise<SimSpeedResult> {
  const n = opts.points ?? 100;
  const log = opts.log ?? console.log;
  const path = join(ROOT, "scenarios/twinmic-raster.yaml");
  const def = parse(readFileSync(path, "utf8"));
  def.sequence.raster.x.points = n;
  def.sequence.raster.y.points = n;
  def.sequence.dwell = 0.1;
  def.title = `TWINMIC raster ${n} x ${n}, 100 ms dwell (benchmark)`;
  const sc = parseScenario(stringify(def), path);
  const out = mkdtempSync(join(tmpdir(), "donki-simspeed-"));
  try {
    // CPU snapshots when the trigger loop starts and when the last trigger is done (players still alive)
    let cpu0: CpuSnapshot | undefined, cpu1: CpuSnapshot | undefined, first = 1;
    const r = await runScenario(sc, {
      catalogue,
      log: createLogger("bench", "warn"),
      outDir: out,
      time: { mode: "virtual" },
      inProcess: opts.inProcess,
      onPlan: (p) => {
        first = p.firstTrigger;
        cpu0 = cpuSnapshot();
      },
      onProgress: (t, total) => {
        if (t === total) cpu1 = cpuSnapshot();
      },
    });
    if (r.result.status !== "completed") throw new Error(`sim-speed run ${r.result.status}: ${r.result.message}`);
    const { statSync } = await import("node:fs");
    const res: SimSpeedResult = {
      points: n * n,
      triggers: r.result.triggers,
      simulatedS: r.simulatedS,
      wallS: r.wallS,
      ratio: r.simulatedS / r.wallS,
      triggersPerS: r.result.triggers / r.wallS,
      fileMB: statSync(r.file!).size / 1e6,
      cpuMsPerTrigger: cpu0 && cpu1 ? cpuPerTrigger(cpu0, cpu1, r.result.triggers - first + 1) : {},
      writesPerTrigger: cpu0 && cpu1 ? writesPerTrigger(cpu0, cpu1, r.result.triggers - first + 1) : {},
    };
    const how = opts.inProcess ? "5 players in the Director's process, inproc transport" : "5 player processes";
    log(`${n}x${n} raster, 100 ms dwell, full twin endstation (${how}, NeXus file ${res.fileMB.toFixed(0)} MB): simulated ${res.simulatedS.toFixed(0)} s in ${res.wallS.toFixed(1)} s wall = ${res.ratio.toFixed(0)}x real time (${res.triggersPerS.toFixed(0)} triggers/s)`);
    const cpu = Object.entries(res.cpuMsPerTrigger);
    if (cpu.length) log(`  CPU ms per trigger: ${cpu.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}; total ${cpu.reduce((a, [, v]) => a + v, 0).toFixed(2)}`);
    const w = Object.entries(res.writesPerTrigger);
    if (w.length) log(`  write system calls per trigger: ${w.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
    if (process.env.DONKI_BENCH_THREADS && cpu0 && cpu1) {
      const a = cpu0, b = cpu1;
      log(`  per thread, ms per trigger: ${Object.entries(b.perThread).map(([t, v]) => [t, (v - (a.perThread[t] ?? 0)) / res.triggers] as const).filter(([, v]) => v > 0.01).map(([t, v]) => `${t} ${v.toFixed(2)}`).join(", ")}`);
    }
    return res;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--points");
  await benchSimSpeed({ points: i > 0 ? Number(process.argv[i + 1]) : undefined, inProcess: process.argv.includes("--in-process") });
}

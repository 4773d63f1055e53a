/**
 * The scaled clock's waits: how far from their instant they end, and what the precision costs in CPU.
 *
 * Two ScaledClocks (scale 0.5, as `donki run --time scale:0.5`) in one process, run in interleaved rounds: "coarse"
 * (a plain setTimeout per wait: the clock before) and "precise" (runtime/precise-wait.ts: the timer armed 1.5 ms early,
 * the rest polled). Each round chains the phases of one trigger of the demo raster with the iXon in frame transfer
 * (stage latency + move, temperature, exposure, read-out back to back: waits of 0.5 .. 100 ms of instrument time)
 * as a twin waits for them, and measures for every wait (end - planned instant) in instrument time, the chain's total
 * overrun, and the process's CPU time (process.cpuUsage) per wait. CPU time is what the machine's other load disturbs
 * least; lateness grows with the load (a process that is not scheduled cannot wake on time), so compare the variants
 * of one run, never across runs.
 *
 *   node --import tsx bench/precise-wait.ts [--rounds 6] [--triggers 40]
 */
import { ScaledClock } from "../runtime/clock.ts";
import { hostTimers, preciseWaitStats, type TimerSource } from "../runtime/precise-wait.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

/** One trigger's waits in instrument seconds (stage: 3 x 0.5 ms command latency around an 8.5 ms move; I/O 100.5 ms). */
const PHASES = [0.0005, 0.0085, 0.0005, 0.0005, 0.0001, 0.1, 0.0005, 0.019];

export interface PreciseWaitRow {
  variant: Variant;
  waits: number;
  /** Instrument milliseconds after the planned instant: median, 90th and 99th percentile, mean. */
  lateP50Ms: number;
  lateP90Ms: number;
  lateP99Ms: number;
  lateMeanMs: number;
  /** Overrun of the chained triggers against their plan, per trigger, instrument ms (what adds to a scan): mean. */
  overrunPerTriggerMs: number;
  /** The same, median and 90th percentile over the triggers (the load's spikes weigh less). */
  overrunP50Ms: number;
  overrunP90Ms: number;
  /** Process CPU (user + system) per wait, microseconds. */
  cpuPerWaitUs: number;
  /** CPU per second of waiting, in % of one core. */
  cpuPct: number;
}

async function runChain(clock: ScaledClock, triggers: number, late: number[], overruns: number[]): Promise<{ overrun: number; wallS: number }> {
  const w0 = performance.now();
  let overrun = 0;
  for (let k = 0; k < triggers; k++) {
    // each trigger starts from "now" (the Director's next trigger), its phases chain from the planned start
    const start = clock.now();
    let at = start;
    for (const d of PHASES) {
      at += d;
      await clock.sleepUntil(at);
      late.push(clock.now() - at);
    }
    overrun += clock.now() - at;
    overruns.push(clock.now() - at);
  }
  return { overrun, wallS: (performance.now() - w0) / 1000 };
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
};

type Variant = "coarse" | "precise" | "poll" | "block-0.1" | "one-block";
/**
 * precise: the clock as shipped (blocking steps of up to 0.5 ms); poll: the last stretch polled without blocking;
 * block-0.1: steps of 0.1 ms; one-block: blocked in one go (up to 2 ms of the event loop).
 */
const VARIANTS: Variant[] = ["coarse", "precise", "poll", "block-0.1", "one-block"];
function clockFor(v: Variant): ScaledClock {
  if (v === "coarse") return new ScaledClock(0.5, 0, { timers: "coarse" });
  const source: TimerSource = v === "poll" ? { ...hostTimers, block: undefined } : v === "one-block" ? { ...hostTimers, maxBlockMs: 2 } : v === "block-0.1" ? { ...hostTimers, maxBlockMs: 0.1 } : hostTimers;
  return new ScaledClock(0.5, 0, { timers: "precise", source });
}

export async function benchPreciseWait(o: { rounds?: number; triggers?: number } = {}): Promise<PreciseWaitRow[]> {
  const rounds = o.rounds ?? 6;
  const triggers = o.triggers ?? 40;
  const acc = Object.fromEntries(VARIANTS.map((v) => [v, { late: [] as number[], overruns: [] as number[], overrun: 0, cpuUs: 0, wallS: 0, n: 0 }])) as Record<Variant, { late: number[]; overruns: number[]; overrun: number; cpuUs: number; wallS: number; n: number }>;
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      const clock = clockFor(v);
      const c0 = process.cpuUsage();
      const res = await runChain(clock, triggers, acc[v].late, acc[v].overruns);
      const c = process.cpuUsage(c0);
      acc[v].cpuUs += c.user + c.system;
      acc[v].overrun += res.overrun;
      acc[v].wallS += res.wallS;
      acc[v].n += triggers;
    }
  }
  return VARIANTS.map((v) => {
    const a = acc[v];
    const ms = a.late.map((x) => x * 1000);
    return {
      variant: v,
      waits: a.late.length,
      lateP50Ms: q(ms, 0.5),
      lateP90Ms: q(ms, 0.9),
      lateP99Ms: q(ms, 0.99),
      lateMeanMs: ms.reduce((s, x) => s + x, 0) / ms.length,
      overrunPerTriggerMs: (a.overrun / a.n) * 1000,
      overrunP50Ms: q(a.overruns, 0.5) * 1000,
      overrunP90Ms: q(a.overruns, 0.9) * 1000,
      cpuPerWaitUs: a.cpuUs / a.late.length,
      cpuPct: (a.cpuUs / 1e6 / a.wallS) * 100,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchPreciseWait({ rounds: arg("rounds", 6), triggers: arg("triggers", 40) });
  console.log(`scaled clock (scale 0.5) waits of one demo trigger's phases, chained; instrument ms after the planned instant`);
  console.log("variant    waits   late p50   p90     p99     mean  | overrun/trigger mean  p50     p90   | CPU/wait  CPU % of a core");
  for (const r of rows)
    console.log(
      `${r.variant.padEnd(9)} ${String(r.waits).padStart(6)}  ${r.lateP50Ms.toFixed(3).padStart(7)} ${r.lateP90Ms.toFixed(3).padStart(7)} ${r.lateP99Ms.toFixed(3).padStart(7)} ${r.lateMeanMs.toFixed(3).padStart(7)} | ${r.overrunPerTriggerMs.toFixed(3).padStart(10)} ${r.overrunP50Ms.toFixed(3).padStart(7)} ${r.overrunP90Ms.toFixed(3).padStart(7)} | ${r.cpuPerWaitUs.toFixed(0).padStart(6)} us  ${r.cpuPct.toFixed(1).padStart(6)} %`,
    );
  const st = preciseWaitStats();
  console.log(`precise waits: ${st.waits} waits, ${st.timers} timers, ${st.polls} steps (${st.blocks} blocking) (${(st.polls / Math.max(1, st.waits)).toFixed(1)} per wait), polling ${(st.pollMs / Math.max(1, st.waits)).toFixed(3)} ms of host time per wait`);
}

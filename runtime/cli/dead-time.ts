/**
 * The dead-time report of a run: per player and phase, planned (the timing model, as `donki estimate` computes it
 * for the triggers the run took) beside actual (what the players reported, in instrument time), and the
 * efficiency (exposure / instrument time). Written into the file (/entry/dead_time, runtime/data/layout.ts) and
 * printed in the run summary.
 */
import type { DeadTimeActual } from "../director/dead-time.ts";
import type { DeadTimeReport } from "../data/types.ts";
import type { Estimate } from "./estimate.ts";
import { fmtDuration } from "./run.ts";

/**
 * `est`: the estimate of the run's triggers (null when there is none); `doneFraction`: the share of the estimated
 * triggers that were taken (a stopped run's plan is scaled to it); `wallS`: the trigger loop's wall time, the
 * instrument time on hardware (players report no simulated time there).
 */
export function deadTimeReport(est: Estimate | null, actual: DeadTimeActual, o: { doneFraction: number; wallS: number; overlap: Record<string, boolean> }): DeadTimeReport {
  const k = Math.max(0, Math.min(1, o.doneFraction));
  const simulated = actual.instrumentS > 0;
  const instrument = simulated ? actual.instrumentS : o.wallS;
  const exposures = Object.values(actual.players).map((p) => p.phases.exposure ?? 0);
  const exposure = simulated && exposures.length ? Math.max(...exposures) : null;
  const names = [...new Set([...Object.keys(est?.players ?? {}), ...Object.keys(actual.players)])];
  const players = names.map((name) => {
    const pl = est?.players[name];
    const ac = actual.players[name];
    const phases: DeadTimeReport["players"][number]["phases"] = {};
    // a positioner reports its move and settle as one (it waits for on-target): the plan's settle joins its move
    const plan = { ...(pl?.phases ?? {}) };
    if (plan.settle !== undefined && ac && ac.phases.settle === undefined && ac.phases.move !== undefined) {
      plan.move = (plan.move ?? 0) + plan.settle;
      delete plan.settle;
    }
    for (const ph of new Set([...Object.keys(plan), ...Object.keys(ac?.phases ?? {})])) {
      const p = plan[ph];
      const a = ac?.phases[ph];
      phases[ph] = { planned: pl ? (p ?? 0) * k : null, actual: simulated && ac ? (a ?? 0) : null };
    }
    return { name, level: pl?.level ?? ac?.level ?? -1, overlap: o.overlap[name] ?? pl?.overlap ?? false, phases };
  });
  players.sort((a, b) => a.level - b.level || (a.name < b.name ? -1 : 1));
  const plannedI = est ? est.totalS * k : null;
  const plannedE = est ? est.exposureS * k : null;
  return {
    instrumentS: { planned: plannedI, actual: instrument },
    exposureS: { planned: plannedE, actual: exposure },
    efficiency: { planned: plannedI && plannedE !== null ? plannedE / plannedI : null, actual: exposure !== null && instrument > 0 ? exposure / instrument : null },
    players,
  };
}

const pct = (x: number | null) => (x === null ? "?" : `${(100 * x).toFixed(1)} %`);
const dur = (x: number | null) => (x === null ? "?" : fmtDuration(x));

/** Summary lines: the efficiency, then per player the phases other than exposure, actual (planned). */
export function formatDeadTime(r: DeadTimeReport): string[] {
  const planned = `planned ${pct(r.efficiency.planned)} of ${dur(r.instrumentS.planned)}`;
  // without simulated time (hardware, --time real) the players report no phase times: say so instead of "?"
  const lines = [
    r.efficiency.actual === null
      ? `  efficiency: not measured (no phase times from the players in this time mode; ${dur(r.instrumentS.actual)} wall); ${planned}`
      : `  efficiency: ${pct(r.efficiency.actual)} of the instrument time exposing (${dur(r.exposureS.actual)} of ${dur(r.instrumentS.actual)}; ${planned})`,
  ];
  for (const p of r.players) {
    const parts = Object.entries(p.phases)
      .filter(([ph, v]) => ph !== "exposure" && ((v.actual ?? 0) > 0 || (v.planned ?? 0) > 0))
      .map(([ph, v]) => `${ph}${p.overlap && ph === "readout" ? " (overlapped)" : ""} ${dur(v.actual)} (planned ${dur(v.planned)})`);
    if (parts.length) lines.push(`    ${p.name.padEnd(12)} ${parts.join(", ")}`);
  }
  return lines;
}

/**
 * `donki estimate`: how long a scenario will take on the instrument, from the devices' timing models, with a
 * breakdown by level and phase (move, settle, exposure, readout, overhead, wait). Per trigger, a level lasts as
 * long as its slowest player; the scan lasts the sum over triggers and levels (the Director's sequencing rule).
 */
import type { LoadedScenario } from "../scenario/load.ts";
import { expandSequence } from "../scenario/sequence.ts";
import { fmtDuration } from "./run.ts";

export type PhaseTimes = Record<string, number>;
export interface EstimatorCatalogue {
  createEstimator(spec: { device: string; name: string; settings: Record<string, unknown>; seed: number; time: { mode: "virtual" } }): Promise<{ estimate(params: Record<string, unknown>): PhaseTimes | Promise<PhaseTimes> } | null>;
}

export interface LevelEstimate {
  level: number;
  players: string[];
  totalS: number;
  /** Phase times of the player that was the slowest, summed over triggers. */
  phases: PhaseTimes;
  /** How many triggers each player was the slowest of its level. */
  critical: Record<string, number>;
}

export interface Estimate {
  title: string;
  triggers: number;
  unbounded: boolean;
  describe: string;
  totalS: number;
  levels: LevelEstimate[];
  /** Players without a timing model (counted as taking no time). */
  unmodelled: string[];
}

/** For an unbounded scan, estimate this many triggers and report per-trigger time. */
const UNBOUNDED_SAMPLE = 100;

export async function estimateScenario(sc: LoadedScenario, cat: EstimatorCatalogue): Promise<Estimate> {
  const seq = expandSequence(sc.def.sequence);
  const players = sc.def.players.filter((p): p is typeof p & { level: number } => p.level !== undefined && p.level >= 0);
  const unmodelled: string[] = [];
  const est = new Map<string, { estimate(params: Record<string, unknown>): PhaseTimes | Promise<PhaseTimes> }>();
  for (const p of players) {
    const e = p.device.startsWith("script:") ? null : await cat.createEstimator({ device: p.device, name: p.name, settings: p.settings, seed: sc.def.seed, time: { mode: "virtual" } });
    if (e) est.set(p.name, e);
    else unmodelled.push(p.name);
  }
  const levelNums = [...new Set(players.map((p) => p.level))].sort((a, b) => a - b);
  const levels: LevelEstimate[] = levelNums.map((level) => ({ level, players: players.filter((p) => p.level === level).map((p) => p.name), totalS: 0, phases: {}, critical: {} }));
  const n = seq.count ?? UNBOUNDED_SAMPLE;
  for (let t = 1; t <= n; t++) {
    const tp = seq.params(t);
    for (const L of levels) {
      let best = -1;
      let bestName = "";
      let bestPhases: PhaseTimes = {};
      for (const name of L.players) {
        const e = est.get(name);
        if (!e) continue;
        // the same merge as the Director: point, then the level's, then the player's own parameters
        const ph = await e.estimate({ ...tp.point, ...tp.levels?.[L.level], ...tp.players?.[name] });
        const sum = Object.values(ph).reduce((a, b) => a + b, 0);
        if (sum > best) {
          best = sum;
          bestName = name;
          bestPhases = ph;
        }
      }
      if (best < 0) continue;
      L.totalS += best;
      L.critical[bestName] = (L.critical[bestName] ?? 0) + 1;
      for (const [k, v] of Object.entries(bestPhases)) L.phases[k] = (L.phases[k] ?? 0) + v;
    }
  }
  return { title: sc.def.title, triggers: n, unbounded: seq.count === null, describe: seq.describe, totalS: levels.reduce((a, l) => a + l.totalS, 0), levels, unmodelled };
}

export function formatEstimate(e: Estimate): string {
  const lines: string[] = [];
  lines.push(`${e.title}`);
  lines.push(`  ${e.describe}: ${e.unbounded ? `unbounded (estimated over ${e.triggers} triggers)` : `${e.triggers} triggers`}`);
  for (const l of e.levels) {
    const ph = Object.entries(l.phases)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${fmtDuration(v)}`)
      .join(", ");
    const crit = Object.entries(l.critical).sort((a, b) => b[1] - a[1]).map(([k, v]) => (l.players.length > 1 ? `${k} ${v}x` : k)).join(", ");
    lines.push(`  level ${l.level}  ${l.players.join(", ").padEnd(24)} ${fmtDuration(l.totalS).padStart(14)}   ${ph || "no time"}${l.players.length > 1 && crit ? `   (slowest: ${crit})` : ""}`);
  }
  lines.push(`  total ${e.unbounded ? "per trigger" : ""}  ${fmtDuration(e.unbounded ? e.totalS / e.triggers : e.totalS)}`);
  if (e.unmodelled.length) lines.push(`  (no timing model for: ${e.unmodelled.join(", ")}; counted as taking no time)`);
  return lines.join("\n");
}

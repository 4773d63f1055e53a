/**
 * `donki estimate`: how long a scenario will take on the instrument, from the devices' timing models, with a
 * breakdown by level and phase (move, settle, exposure, readout, overhead, wait). Per trigger, a level lasts as
 * long as its slowest player; the scan lasts the sum over triggers and levels (the Director's sequencing rule).
 */
import type { LoadedScenario } from "../scenario/load.ts";
import { expandSequence } from "../scenario/sequence.ts";
import { fmtDuration } from "./run.ts";
import { playerSettings } from "../scenario/schema.ts";

export type PhaseTimes = Record<string, number>;
/** A device's timing model. With `overlap`, the phase `readout` goes on after the acknowledgement (overlap). */
export interface PlayerEstimator {
  estimate(params: Record<string, unknown>, at?: { idleS: number }): PhaseTimes | Promise<PhaseTimes>;
  overlap?: boolean;
  /**
   * With `overlap`: the device can begin its next action as soon as this one acknowledged, while the read-out goes
   * on (a frame-transfer camera exposes its image area while the storage area reads out).
   */
  pipelined?: boolean;
}
export interface EstimatorCatalogue {
  createEstimator(spec: { device: string; name: string; settings: Record<string, unknown>; seed: number; time: { mode: "virtual" } }): Promise<PlayerEstimator | null>;
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
  /** Exposure time (the longest exposure of each trigger, summed) and its share of the total. */
  exposureS: number;
  efficiency: number;
  /** Per player: its level, whether it overlaps, and its phases summed over triggers (`wait`: busy from before). */
  players: Record<string, { level: number; overlap: boolean; pipelined?: boolean; phases: PhaseTimes }>;
  /** Read-out still under way after the last trigger's levels (overlap), included in totalS. */
  tailS: number;
  /**
   * What each player's action is expected to take at each estimated trigger (index trigger - 1): `ack` from the
   * start of its level to its acknowledgement (wait included), `readout` after it (overlap); `phases` names them.
   */
  expected: Record<string, { ack: Float64Array; readout: Float64Array; phases: string[] }>;
}

/** For an unbounded scan, estimate this many triggers and report per-trigger time. */
const UNBOUNDED_SAMPLE = 100;
/** Per-trigger expectations kept for deadlines (8 bytes x 2 per player and trigger). */
const EXPECT_KEEP = 1_000_000;

/**
 * The Director's sequencing rule, on the timing models: per trigger, a level starts when the previous one ended;
 * a player starts when the level starts or, if it overlaps, when its previous read-out has ended (`wait`); it
 * acknowledges after its phases except `readout` (overlap) or all of them; the level ends with its slowest ack.
 */
export async function estimateScenario(sc: LoadedScenario, cat: EstimatorCatalogue, maxTriggers?: number): Promise<Estimate> {
  const seq = expandSequence(sc.def.sequence);
  const players = sc.def.players.filter((p): p is typeof p & { level: number } => p.level !== undefined && p.level >= 0);
  const unmodelled: string[] = [];
  const est = new Map<string, PlayerEstimator>();
  for (const p of players) {
    const e = p.device.startsWith("script:") ? null : await cat.createEstimator({ device: p.device, name: p.name, settings: playerSettings(p), seed: sc.def.seed, time: { mode: "virtual" } });
    if (e) est.set(p.name, e);
    else unmodelled.push(p.name);
  }
  const levelNums = [...new Set(players.map((p) => p.level))].sort((a, b) => a - b);
  const levels: LevelEstimate[] = levelNums.map((level) => ({ level, players: players.filter((p) => p.level === level).map((p) => p.name), totalS: 0, phases: {}, critical: {} }));
  const perPlayer: Estimate["players"] = {};
  for (const p of players) {
    const e = est.get(p.name);
    perPlayer[p.name] = { level: p.level, overlap: e?.overlap === true, ...(e?.overlap && e.pipelined ? { pipelined: true } : {}), phases: {} };
  }
  const readyAt = new Map<string, number>();
  /** When each player's last action (its read-out included) ends. */
  const endAt = new Map<string, number>();
  const n = Math.min(seq.count ?? UNBOUNDED_SAMPLE, maxTriggers ?? Infinity);
  // per-trigger expectations for deadlines (bounded: longer scans reuse the largest of the first ones)
  const keep = Math.min(n, EXPECT_KEEP);
  const expected: Estimate["expected"] = {};
  for (const name of est.keys()) expected[name] = { ack: new Float64Array(keep), readout: new Float64Array(keep), phases: [] };
  let T = 0;
  let exposureS = 0;
  for (let t = 1; t <= n; t++) {
    const tp = seq.params(t);
    let exposure = 0;
    for (const L of levels) {
      let best = -1;
      let bestName = "";
      let bestPhases: PhaseTimes = {};
      for (const name of L.players) {
        const e = est.get(name);
        if (!e) continue;
        const ready = readyAt.get(name) ?? -Infinity;
        const begin = Math.max(T, ready);
        // the same merge as the Director: point, then the level's, then the player's own parameters
        const ph = { ...(await e.estimate({ ...tp.point, ...tp.levels?.[L.level], ...tp.players?.[name] }, { idleS: begin - ready })) };
        const after = e.overlap ? (ph.readout ?? 0) : 0;
        if (e.overlap) delete ph.readout;
        if (begin > T) ph.wait = begin - T;
        const sum = Object.values(ph).reduce((a, b) => a + b, 0);
        readyAt.set(name, T + sum + (e.overlap && e.pipelined ? 0 : after));
        endAt.set(name, T + sum + after);
        const x = expected[name];
        if (t <= keep) {
          x.ack[t - 1] = sum;
          x.readout[t - 1] = after;
          for (const k of Object.keys(ph)) if (!x.phases.includes(k)) x.phases.push(k);
        }
        const mine = perPlayer[name].phases;
        for (const [k, v] of Object.entries(ph)) mine[k] = (mine[k] ?? 0) + v;
        if (after) mine.readout = (mine.readout ?? 0) + after;
        exposure = Math.max(exposure, ph.exposure ?? 0);
        if (sum > best) {
          best = sum;
          bestName = name;
          bestPhases = ph;
        }
      }
      if (best < 0) continue;
      T += best;
      L.totalS += best;
      L.critical[bestName] = (L.critical[bestName] ?? 0) + 1;
      for (const [k, v] of Object.entries(bestPhases)) L.phases[k] = (L.phases[k] ?? 0) + v;
    }
    exposureS += exposure;
  }
  // the scan ends when the last read-out has ended
  const tailS = Math.max(0, ...[...endAt.values()].map((r) => r - T));
  const totalS = T + tailS;
  return { title: sc.def.title, triggers: n, unbounded: seq.count === null, describe: seq.describe, totalS, levels, unmodelled, exposureS, efficiency: totalS > 0 ? exposureS / totalS : 0, players: perPlayer, tailS, expected };
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
  const ov = Object.entries(e.players).filter(([, p]) => p.overlap).map(([n]) => n);
  const pipe = Object.entries(e.players).filter(([, p]) => p.pipelined).map(([n]) => n);
  if (ov.length) lines.push(`  overlap: ${ov.join(", ")} read out during the next trigger's lower levels${pipe.length ? ` (${pipe.join(", ")}: and during its own next exposure, frame transfer)` : ""}${e.tailS > 0 ? `; last read-out ${fmtDuration(e.tailS)}` : ""}`);
  lines.push(`  total ${e.unbounded ? "per trigger" : ""}  ${fmtDuration(e.unbounded ? e.totalS / e.triggers : e.totalS)}`);
  if (e.exposureS > 0) lines.push(`  efficiency ${(100 * e.efficiency).toFixed(1)} % (exposure ${fmtDuration(e.exposureS)} of ${fmtDuration(e.totalS)})`);
  if (e.unmodelled.length) lines.push(`  (no timing model for: ${e.unmodelled.join(", ")}; counted as taking no time)`);
  return lines.join("\n");
}

/**
 * Suspicious but legal forms of a scenario, reported as warnings at load (the scan still runs): a gap of more than
 * one level between the priority levels in use (0 -> 5, usually a typo for 0 -> 1). One missing level is the
 * usual layout (0 move, 1 temperature, 2 detectors, without a temperature player) and is not reported.
 */
import type { PlayerDefT } from "./schema.ts";

export interface ScenarioWarning {
  /** Index of the player the warning is about, and the field inside it. */
  player: number;
  field: Array<string | number>;
  message: string;
}

export function scenarioWarnings(players: PlayerDefT[]): ScenarioWarning[] {
  const out: ScenarioWarning[] = [];
  const active = players.map((p, i) => ({ p, i })).filter(({ p }) => p.level !== undefined && p.level >= 0);
  const levels = [...new Set(active.map(({ p }) => p.level as number))].sort((a, b) => a - b);
  levels.forEach((lvl, k) => {
    if (k === 0) return;
    const prev = levels[k - 1];
    if (lvl - prev <= 2) return;
    const first = active.find(({ p }) => p.level === lvl)!;
    const missing = `levels ${prev + 1}..${lvl - 1}`;
    out.push({
      player: first.i,
      field: ["level"],
      message: `level ${lvl} follows level ${prev}: no player has ${missing} (legal, levels act in order; a typo for ${prev + 1}?)`,
    });
  });
  return out;
}

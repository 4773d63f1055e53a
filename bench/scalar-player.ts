/** Benchmark player: pushes `n` float64 scalars per trigger (a detector's counters, positions, ROIs). */
import type { PlayerBehaviour } from "../runtime/player/player.ts";

export function createPlayer(o: Record<string, string>): PlayerBehaviour {
  const n = Number(o.n ?? 10);
  const names = Array.from({ length: n }, (_, i) => `s${i}`);
  return {
    streams: names.map((name) => ({ name, dtype: "float64" as const, shape: [], role: "signal" as const })),
    action(trig, _p, ctx) {
      for (let i = 0; i < n; i++) ctx.push(names[i]!, trig + i);
    },
  };
}

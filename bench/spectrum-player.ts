/** Benchmark player: per trigger four float64 scalars and one 2048-bin uint32 spectrum (an XRF player's shape). */
import type { PlayerBehaviour } from "../runtime/player/player.ts";

export function createPlayer(): PlayerBehaviour {
  const names = ["a", "b", "c", "d"];
  const spectrum = new Uint32Array(2048).fill(1);
  return {
    streams: [...names.map((n) => ({ name: n, dtype: "float64" as const, shape: [], units: "counts", role: "signal" as const })), { name: "spectrum", dtype: "uint32", shape: [2048], units: "counts", role: "signal" }],
    action(trig, _p, ctx) {
      for (const n of names) ctx.push(n, new Float64Array([trig]));
      ctx.push("spectrum", new Uint32Array(spectrum));
    },
  };
}

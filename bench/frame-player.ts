/** Benchmark player: pushes one 1300x1340 uint16 frame per trigger (a fresh buffer each time). */
import type { PlayerBehaviour } from "../runtime/player/player.ts";

export function createPlayer(o: Record<string, string>): PlayerBehaviour {
  const H = Number(o.height ?? 1300);
  const W = Number(o.width ?? 1340);
  const template = new Uint16Array(H * W);
  for (let i = 0; i < template.length; i++) template[i] = (i * 2654435761) >>> 20;
  return {
    streams: [{ name: "frame", dtype: "uint16", shape: [H, W], units: "counts", role: "signal" }],
    action(trig, _p, ctx) {
      const f = new Uint16Array(template); // one copy: the pushed buffer must not change after the push
      f[0] = trig;
      ctx.push("frame", f);
    },
  };
}

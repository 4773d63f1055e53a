import type { IoCounter } from "../devices/io.ts";
import type { PlayerBehaviour } from "../player/player.ts";
import type { StreamDecl, StreamRole } from "../protocol/messages.ts";
import { num, startTiming, type DevicePlayerBase } from "./common.ts";

export interface IoPlayerOptions extends DevicePlayerBase {
  device: IoCounter;
  /** Gate time when the trigger has no dwell parameter (seconds). */
  gateS?: number;
  gateParam?: string;
  /** Channels whose role is "monitor" (I0); the others are "signal". Default: the first channel. */
  monitors?: string[];
}

/** Counts for the trigger's dwell time; one scalar stream per channel (e.g. I0 and It). */
export function ioPlayer(o: IoPlayerOptions): PlayerBehaviour {
  const ch = o.device.channels();
  const monitors = new Set(o.monitors ?? ch.slice(0, 1));
  const streams: StreamDecl[] = ch.map((c) => ({ name: c, dtype: "float64", shape: [], units: o.device.units(), role: (monitors.has(c) ? "monitor" : "signal") as StreamRole }));
  const gateParam = o.gateParam ?? "dwell";
  return {
    streams,
    device: { kind: "io", model: o.device.info().model, simulated: o.device.info().simulated },
    async setup() {
      await o.device.connect();
    },
    async action(trig, params, ctx) {
      o.hooks?.beforeAction?.(trig, params, ctx);
      const timing = startTiming(o.clock, ctx.t);
      const gate = num(params, gateParam) ?? o.gateS ?? 0.1;
      const r = await o.device.count(gate, ctx.signal);
      for (let i = 0; i < ch.length; i++) ctx.push(ch[i], r.values[i]);
      return { dt: timing() };
    },
    async close() {
      await o.device.close();
    },
  };
}

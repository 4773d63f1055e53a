import type { IoCounter } from "../devices/io.ts";
import type { PlayerBehaviour } from "../player/player.ts";
import type { StreamDecl, StreamRole } from "../protocol/messages.ts";
import { num, startTiming, type DevicePlayerBase } from "./common.ts";

/** How the player derives the `transmission` stream from two of the device's channels. */
export interface TransmissionOptions {
  /** Incident-flux channel (default "I0"). */
  incident?: string;
  /** Transmitted-flux channel (default "It"). */
  transmitted?: string;
  /**
   * It/I0 (dark-subtracted) with nothing in the beam, the ratio of the two detectors' efficiencies:
   * transmission = (It/I0) / emptyBeamRatio, so a blank support membrane reads exp(-mu t) < 1.
   */
  emptyBeamRatio: number;
  /** Dark counts per second per channel, subtracted before the ratio (default 0). */
  darkCps?: Record<string, number>;
}

export interface IoPlayerOptions extends DevicePlayerBase {
  device: IoCounter;
  /** Gate time when the trigger has no dwell parameter (seconds). */
  gateS?: number;
  gateParam?: string;
  /** Channels whose role is "monitor" (I0); the others are "signal". Default: the first channel. */
  monitors?: string[];
  /** Derive a scalar `transmission` stream (dimensionless) from I0 and It. */
  transmission?: TransmissionOptions;
}

/**
 * Incident counts below this many standard deviations of their own dark counts mean no beam: the
 * transmission of that trigger is undefined (NaN), never a ratio of two noises.
 */
const NO_BEAM_SIGMAS = 10;

/** Transmission from dark-subtracted counts (NaN when the incident channel saw no beam). */
export function transmissionOf(i0: number, it: number, gateS: number, t: TransmissionOptions, incident: string, transmitted: string): number {
  const d0 = (t.darkCps?.[incident] ?? 0) * gateS;
  const dt = (t.darkCps?.[transmitted] ?? 0) * gateS;
  const n0 = i0 - d0;
  if (!(n0 > NO_BEAM_SIGMAS * Math.sqrt(Math.max(1, d0)))) return NaN;
  return (it - dt) / n0 / t.emptyBeamRatio;
}

/** Counts for the trigger's dwell time; one scalar stream per channel (e.g. I0 and It), plus `transmission`. */
export function ioPlayer(o: IoPlayerOptions): PlayerBehaviour {
  const ch = o.device.channels();
  const monitors = new Set(o.monitors ?? ch.slice(0, 1));
  const streams: StreamDecl[] = ch.map((c) => ({ name: c, dtype: "float64", shape: [], units: o.device.units(), role: (monitors.has(c) ? "monitor" : "signal") as StreamRole }));
  const tr = o.transmission;
  const incident = tr?.incident ?? "I0";
  const transmitted = tr?.transmitted ?? "It";
  const iI = ch.indexOf(incident);
  const iT = ch.indexOf(transmitted);
  if (tr) {
    if (iI < 0 || iT < 0) throw new Error(`io player: transmission needs channels '${incident}' and '${transmitted}' (device has ${ch.join(", ")})`);
    if (!(Number.isFinite(tr.emptyBeamRatio) && tr.emptyBeamRatio > 0)) throw new Error(`io player: emptyBeamRatio must be a positive number, got ${tr.emptyBeamRatio}`);
    streams.push({ name: "transmission", dtype: "float64", shape: [], units: "1", role: "signal" });
  }
  const gateParam = o.gateParam ?? "dwell";
  return {
    streams,
    device: { kind: "io", model: o.device.info().model, simulated: o.device.info().simulated },
    async setup() {
      await o.device.connect();
    },
    async action(trig, params, ctx) {
      o.hooks?.beforeAction?.(trig, params, ctx);
      const timing = startTiming(o.clock, ctx.t, ctx.receivedAt);
      const gate = num(params, gateParam) ?? o.gateS ?? 0.1;
      const r = await o.device.count(gate, ctx.signal);
      for (let i = 0; i < ch.length; i++) ctx.push(ch[i], r.values[i]);
      if (tr) ctx.push("transmission", transmissionOf(r.values[iI], r.values[iT], r.gateS, tr, incident, transmitted));
      const dt = timing();
      // the gate is the exposure, the rest (arming, read-back) overhead
      return { dt, phases: dt === undefined ? undefined : { exposure: Math.min(gate, dt), overhead: Math.max(0, dt - gate) } };
    },
    async close() {
      await o.device.close();
    },
  };
}

import type { AreaDetector, AreaDetectorSettings, ExposureEnd } from "../devices/area-detector.ts";
import type { PlayerBehaviour } from "../player/player.ts";
import type { StreamDecl } from "../protocol/messages.ts";
import { num, startTiming, type DevicePlayerBase, setupSettings } from "./common.ts";

export interface AreaDetectorPlayerOptions extends DevicePlayerBase {
  /** A connected, configured detector (the frame shape is declared from its settings). */
  device: AreaDetector;
  /** Trigger parameter that sets the exposure (seconds), default "dwell". */
  exposureParam?: string;
  /** Keep frames (false = only the per-frame sum, for fast mapping). */
  frames?: boolean;
  /** Cool to this set-point during setup and wait until stable (clock seconds). */
  cooling?: { setpointC: number; waitS?: number };
  /**
   * "readout": acknowledge when the exposure is over (the sample may move while the frame is read out), then push
   * the frame; the next trigger waits in the Player until the read-out is done, unless the sensor's image area is
   * free (frame transfer: the next exposure runs during this read-out). "none": acknowledge after the read-out
   * (default).
   */
  overlap?: "readout" | "none";
}

/** Acquires one frame per trigger; pushes the frame and its sum (the transmission signal of a raster). */
export function areaDetectorPlayer(o: AreaDetectorPlayerOptions): PlayerBehaviour {
  const s = o.device.settings();
  const h = Math.floor(s.roi.height / s.binning.y);
  const w = Math.floor(s.roi.width / s.binning.x);
  const keepFrames = o.frames ?? true;
  const streams: StreamDecl[] = [
    { name: "sum", dtype: "float64", shape: [], units: "counts", role: "signal" },
    // pixels clipped by the full well or the ADC in this frame: saturation is flagged, never silent
    { name: "saturated", dtype: "float64", shape: [], units: "count", role: "signal" },
  ];
  if (keepFrames) streams.unshift({ name: "frame", dtype: "uint16", shape: [h, w], units: "counts", role: "signal" });
  const expParam = o.exposureParam ?? "dwell";
  const overlap = o.overlap === "readout";
  /** The exposure last asked for (the device quantises it, so its settings need not equal the request). */
  let asked: number | undefined;
  return {
    streams,
    device: { kind: "area-detector", model: o.device.info().model, simulated: o.device.info().simulated },
    async setup(config, ctx) {
      await o.device.connect();
      const c = setupSettings(config) as Partial<AreaDetectorSettings>;
      if (Object.keys(c).length) await o.device.configure(c);
      const now = o.device.settings();
      if (Math.floor(now.roi.height / now.binning.y) !== h || Math.floor(now.roi.width / now.binning.x) !== w)
        throw new Error(`detector settings at setup give ${now.roi.width / now.binning.x}x${now.roi.height / now.binning.y} frames, but the player declared ${w}x${h}; restart the player with the new settings`);
      if (o.cooling) {
        await o.device.setCooling(true, o.cooling.setpointC);
        if (o.cooling.waitS) await o.device.waitCooled(o.cooling.waitS, ctx.signal);
      }
    },
    async action(trig, params, ctx) {
      o.hooks?.beforeAction?.(trig, params, ctx);
      const timing = startTiming(o.clock, ctx.t, ctx.receivedAt);
      const exp = num(params, expParam);
      if (exp !== undefined && exp !== asked && exp !== o.device.settings().exposureS) await o.device.configure({ exposureS: exp });
      if (exp !== undefined) asked = exp;
      const exposureS = o.device.settings().exposureS;
      const onExposureEnd = (e?: ExposureEnd) => {
        // clear cycles (if any) and the exposure are over: the rest is read-out
        timing.mark("exposure");
        const ph = timing.phases();
        if (ph && ph.exposure > exposureS) {
          ph.overhead = (ph.overhead ?? 0) + ph.exposure - exposureS;
          ph.exposure = exposureS;
        }
        if (!overlap) return;
        // frame transfer: the next trigger's exposure may start while this frame reads out of the storage area
        const next = e?.imageAreaFree === true;
        ctx.release({ dt: timing(), phases: ph }, { next });
        if (next) timing.readyNow();
        timing.restart();
      };
      const f = await o.device.acquire(ctx.signal, { onExposureEnd, continuous: overlap });
      timing.mark("readout");
      const sum = sumFrame(f.data);
      if (keepFrames) ctx.push("frame", f.data);
      ctx.push("sum", sum);
      ctx.push("saturated", f.saturated ?? countFullScale(f.data, 2 ** o.device.sensor().bitDepth - 1));
      return { dt: timing(), phases: timing.phases() };
    },
    async close() {
      await o.device.close();
    },
  };
}

function countFullScale(d: Uint16Array, full: number): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] >= full) n++;
  return n;
}

/** Sum of a frame's pixels (kept out of the async action so that V8 optimises the loop on its own). */
function sumFrame(d: Uint16Array): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  const n = d.length - (d.length % 4);
  for (let i = 0; i < n; i += 4) {
    a += d[i];
    b += d[i + 1];
    c += d[i + 2];
    e += d[i + 3];
  }
  for (let i = n; i < d.length; i++) a += d[i];
  return a + b + c + e;
}

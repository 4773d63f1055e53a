import type { Mca, McaSettings } from "../devices/mca.ts";
import type { PlayerBehaviour } from "../player/player.ts";
import type { StreamDecl } from "../protocol/messages.ts";
import { num, startTiming, type DevicePlayerBase, setupSettings } from "./common.ts";

export interface McaPlayerOptions extends DevicePlayerBase {
  /** A connected, configured spectrometer (bins declared from its settings). */
  device: Mca;
  /** Trigger parameter with the acquisition (dwell) time in seconds, default "dwell". */
  timeParam?: string;
  /** Regions of interest in eV, e.g. { Fe: [660, 750] }: each becomes a scalar stream roi_<name> (an element map). */
  rois?: Record<string, [number, number]>;
  /**
   * "readout": acknowledge when the dwell is over (mapping mode: the spectrum closes on the trigger and the next
   * dwell may start at once), then push the spectrum; "none": acknowledge after the transfer (default).
   */
  overlap?: "readout" | "none";
}

/** Acquires one spectrum per trigger; pushes spectrum, statistics and ROI sums. */
export function mcaPlayer(o: McaPlayerOptions): PlayerBehaviour {
  const bins = o.device.settings().bins;
  const rois = Object.entries(o.rois ?? {});
  for (const [name, [lo, hi]] of rois) {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`MCA ROI name '${name}' must be letters, digits or _`);
    if (!(lo < hi)) throw new Error(`MCA ROI '${name}': low edge ${lo} eV must be below high edge ${hi} eV`);
  }
  const e = o.device.energies();
  const axis = e.length > 1 ? { name: "energy", units: "eV", offset: e[0], step: e[1] - e[0] } : undefined;
  const streams: StreamDecl[] = [
    { name: "spectrum", dtype: "uint32", shape: [bins], units: "counts", role: "signal", ...(axis ? { axis } : {}) },
    { name: "icr", dtype: "float64", shape: [], units: "counts/s", role: "monitor" },
    { name: "ocr", dtype: "float64", shape: [], units: "counts/s", role: "monitor" },
    { name: "live_time", dtype: "float64", shape: [], units: "s", role: "metadata" },
    { name: "real_time", dtype: "float64", shape: [], units: "s", role: "metadata" },
    { name: "dead_time", dtype: "float64", shape: [], units: "", role: "metadata" },
    ...rois.map(([n]) => ({ name: `roi_${n}`, dtype: "float64" as const, shape: [], units: "counts", role: "signal" as const })),
  ];
  const timeParam = o.timeParam ?? "dwell";
  let roiBins: Array<[string, number, number]> = [];
  const computeRoiBins = () => {
    const e = o.device.energies();
    // an ROI the spectrum does not cover would be a silent zero: refuse it, naming the range
    for (const [n, [lo, hi]] of rois) {
      if (e.length && (lo < e[0] || hi > e[e.length - 1]))
        throw new Error(`MCA ROI '${n}' [${lo}, ${hi}] eV is outside the spectrum's range ${e[0]}..${e[e.length - 1]} eV (${e.length} bins)`);
    }
    roiBins = rois.map(([n, [lo, hi]]) => {
      let a = 0;
      while (a < e.length && e[a] < lo) a++;
      let b = a;
      while (b < e.length && e[b] <= hi) b++;
      return [n, a, b];
    });
  };
  computeRoiBins();
  return {
    streams,
    device: { kind: "mca", model: o.device.info().model, simulated: o.device.info().simulated },
    async setup(config) {
      await o.device.connect();
      const c = setupSettings(config) as Partial<McaSettings>;
      if (Object.keys(c).length) await o.device.configure(c);
      if (o.device.settings().bins !== bins) throw new Error(`MCA bins changed at setup (${o.device.settings().bins}, declared ${bins}); restart the player with the new settings`);
      computeRoiBins();
    },
    async action(trig, params, ctx) {
      o.hooks?.beforeAction?.(trig, params, ctx);
      const timing = startTiming(o.clock, ctx.t, ctx.receivedAt);
      const t = num(params, timeParam);
      if (t !== undefined && t !== o.device.settings().acquisitionTimeS) await o.device.configure({ acquisitionTimeS: t });
      const s = await o.device.acquire(ctx.signal, {
        onDwellEnd: () => {
          timing.mark("exposure");
          if (o.overlap !== "readout") return;
          ctx.release({ dt: timing(), phases: timing.phases() });
          timing.restart();
        },
      });
      timing.mark("readout");
      ctx.push("spectrum", s.data);
      ctx.push("icr", s.stats.icr);
      ctx.push("ocr", s.stats.ocr);
      ctx.push("live_time", s.stats.liveTimeS);
      ctx.push("real_time", s.stats.realTimeS);
      ctx.push("dead_time", s.stats.deadTime);
      for (const [n, a, b] of roiBins) {
        let sum = 0;
        for (let i = a; i < b; i++) sum += s.data[i];
        ctx.push(`roi_${n}`, sum);
      }
      return { dt: timing(), phases: timing.phases() };
    },
    async close() {
      await o.device.close();
    },
  };
}

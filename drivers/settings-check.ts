/**
 * Static checks of a player's device settings, run when a scenario is loaded and when a player starts (so a
 * misspelt key or an ROI beyond the spectrum is a located error, never a silent default or zero): first the
 * device's settings schema (drivers/settings-schemas.ts: known keys, types, ranges), then the cross-field checks
 * against the device's range. Only what is known before connecting: the simulated devices' ranges, and the vendor
 * devices' fixed ones. The players check again against the connected device (runtime/players/mca-player.ts).
 */
import { ANDOR_DEFAULTS, andorPhases } from "../simulators/andor-ixon.ts";
import { DANTE_DEFAULT_SETTINGS, DANTE_DEFAULTS } from "../simulators/dante.ts";
import { IO_DEFAULTS } from "../simulators/io-counter.ts";
import { PI_CCD_DEFAULTS } from "../simulators/pi-ccd.ts";
import { schemaProblems } from "../runtime/scenario/zod-problems.ts";
import { didYouMean } from "../runtime/scenario/suggest.ts";
import { SETTINGS } from "./settings-schemas.ts";

/** One problem: where inside the player's `settings` (path) and what; a warning does not refuse the scenario. */
export interface SettingsProblem {
  path: Array<string | number>;
  message: string;
  severity?: "error" | "warning";
}

type Settings = Record<string, unknown>;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** MCA range: energy of the first and last bin for the settings' bins / gain / offset. */
export function mcaRange(s: Settings): { lo: number; hi: number; bins: number; gain: number } | undefined {
  const bins = isNum(s.bins) ? s.bins : DANTE_DEFAULT_SETTINGS.bins;
  const gain = isNum(s.gainEvPerBin) ? s.gainEvPerBin : DANTE_DEFAULT_SETTINGS.gainEvPerBin;
  const off = isNum(s.offsetEv) ? s.offsetEv : DANTE_DEFAULT_SETTINGS.offsetEv;
  if (!(bins > 0 && gain > 0)) return undefined;
  return { lo: off, hi: off + gain * (bins - 1), bins, gain };
}

function checkMca(s: Settings, simulated: boolean): SettingsProblem[] {
  const out: SettingsProblem[] = [];
  if (s.bins !== undefined && ![1024, 2048, 4096].includes(s.bins as number)) out.push({ path: ["bins"], message: `must be 1024, 2048 or 4096 (DANTE), got ${JSON.stringify(s.bins)}` });
  if (s.gainEvPerBin !== undefined && !(isNum(s.gainEvPerBin) && s.gainEvPerBin > 0)) out.push({ path: ["gainEvPerBin"], message: `must be a positive number of eV per bin, got ${JSON.stringify(s.gainEvPerBin)}` });
  const { peakingMinUs: pMin, peakingMaxUs: pMax } = DANTE_DEFAULTS;
  if (isNum(s.peakingTimeUs) && !(s.peakingTimeUs >= pMin && s.peakingTimeUs <= pMax)) out.push({ path: ["peakingTimeUs"], message: `must be ${pMin}..${pMax} us (DANTE), got ${s.peakingTimeUs}` });
  const r = mcaRange(s);
  const rois = s.rois;
  if (!r || typeof rois !== "object" || rois === null || Array.isArray(rois)) return out;
  for (const [name, v] of Object.entries(rois as Record<string, unknown>)) {
    if (!Array.isArray(v) || v.length !== 2 || !v.every(isNum)) continue; // the player's own check names the form
    const [lo, hi] = v as [number, number];
    const where = ["rois", name];
    if (!(lo < hi)) out.push({ path: where, message: `ROI '${name}': low edge ${lo} eV must be below the high edge ${hi} eV` });
    else if (lo < r.lo || hi > r.hi) {
      const need = (hi - r.lo) / (r.bins - 1);
      out.push({
        path: where,
        message: `ROI '${name}' [${lo}, ${hi}] eV lies outside the spectrum's range ${r.lo}..${+r.hi.toFixed(3)} eV (${r.bins} bins x ${r.gain} eV/bin): it would always read 0; use more bins or gainEvPerBin >= ${+need.toFixed(4)}`,
      });
    } else if (simulated && hi <= DANTE_DEFAULTS.thresholdEv) {
      out.push({ path: where, message: `ROI '${name}' [${lo}, ${hi}] eV lies below the noise threshold (${DANTE_DEFAULTS.thresholdEv} eV): it would always read 0` });
    }
  }
  return out;
}

/** What a camera model allows beyond its sensor: longest exposure, EM gain (0 = none), frame transfer. */
interface CameraLimits {
  maxExposureS: number;
  emGainMax: number;
  frameTransfer: boolean;
}

function checkCamera(s: Settings, geom: { width: number; height: number }, rates: number[] | undefined, gains: number | undefined, lim?: CameraLimits): SettingsProblem[] {
  const out: SettingsProblem[] = [];
  if (lim) {
    if (isNum(s.exposure) && s.exposure > lim.maxExposureS) out.push({ path: ["exposure"], message: `must be at most ${lim.maxExposureS} s on this camera, got ${s.exposure}` });
    if (isNum(s.emGain) && s.emGain > Math.max(1, lim.emGainMax))
      out.push({ path: ["emGain"], message: lim.emGainMax ? `must be 0..${lim.emGainMax}, got ${s.emGain}` : `this camera has no EM gain (0 or 1 = off), got ${s.emGain}` });
    if (s.frameTransfer === true && !lim.frameTransfer) out.push({ path: ["frameTransfer"], message: "this camera has a full-frame sensor: no frame-transfer mode" });
  }
  const roi = s.roi as Record<string, unknown> | undefined;
  const r = { x: 0, y: 0, width: geom.width, height: geom.height };
  if (roi && typeof roi === "object" && !Array.isArray(roi)) {
    for (const k of ["x", "y", "width", "height"] as const) {
      if (roi[k] === undefined) continue;
      if (!isNum(roi[k]) || !Number.isInteger(roi[k])) out.push({ path: ["roi", k], message: `must be an integer number of pixels, got ${JSON.stringify(roi[k])}` });
      else r[k] = roi[k] as number;
    }
    if (!out.length && (r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > geom.width || r.y + r.height > geom.height))
      out.push({ path: ["roi"], message: `ROI x ${r.x}..${r.x + r.width - 1}, y ${r.y}..${r.y + r.height - 1} lies outside the ${geom.width}x${geom.height} sensor` });
  }
  const b = s.binning;
  const bx = isNum(b) ? b : b && typeof b === "object" ? (b as { x?: unknown }).x : 1;
  const by = isNum(b) ? b : b && typeof b === "object" ? (b as { y?: unknown }).y : 1;
  if (b !== undefined && (!isNum(bx) || !isNum(by) || !Number.isInteger(bx) || !Number.isInteger(by) || bx < 1 || by < 1 || bx > r.width || by > r.height))
    out.push({ path: ["binning"], message: `binning ${JSON.stringify(b)} must be whole pixels between 1 and the ROI (${r.width}x${r.height})` });
  else if (b !== undefined && !out.length && (r.width % (bx as number) || r.height % (by as number))) {
    const cols = r.width % (bx as number);
    const rows = r.height % (by as number);
    const lost = [cols ? `${cols} column${cols > 1 ? "s" : ""}` : "", rows ? `${rows} row${rows > 1 ? "s" : ""}` : ""].filter(Boolean).join(" and ");
    out.push({
      path: ["binning"],
      severity: "warning",
      message: `binning ${bx}x${by} does not divide the ROI ${r.width}x${r.height}: the last ${lost} of the ROI are not read (frames ${Math.floor(r.width / (bx as number))}x${Math.floor(r.height / (by as number))})`,
    });
  }
  if (rates && s.readoutRateHz !== undefined && !rates.includes(s.readoutRateHz as number)) out.push({ path: ["readoutRateHz"], message: `must be one of ${rates.join(", ")} Hz, got ${JSON.stringify(s.readoutRateHz)}` });
  if (gains !== undefined && s.gainIndex !== undefined && !(Number.isInteger(s.gainIndex) && (s.gainIndex as number) >= 0 && (s.gainIndex as number) < gains))
    out.push({ path: ["gainIndex"], message: `must be an integer 0..${gains - 1}, got ${JSON.stringify(s.gainIndex)}` });
  return out;
}

/**
 * Frame transfer (on by default on the iXon twin): the image area exposes while the storage area reads out the
 * previous frame, so an exposure cannot be shorter than the read-out minus the shift (cycle = max(t_exp + t_ft,
 * t_read), /work/shared/reference/instruments.md §2; the iXon manual: in frame transfer the exposure time and the
 * cycle time are linked). The SDK lengthens a shorter exposure (GetAcquisitionTimings reports the one applied):
 * said here as a warning, with the figure, so a scan's dwell is never silently longer than asked.
 */
function checkFrameTransfer(s: Settings): SettingsProblem[] {
  if (s.frameTransfer === false || !isNum(s.exposure)) return [];
  const W = ANDOR_DEFAULTS.width,
    H = ANDOR_DEFAULTS.height;
  const roi = { x: 0, y: 0, width: W, height: H, ...((s.roi as object | undefined) ?? {}) } as { x: number; y: number; width: number; height: number };
  const b = s.binning;
  const binning = isNum(b) ? { x: b, y: b } : b && typeof b === "object" ? { x: 1, y: 1, ...(b as object) } : { x: 1, y: 1 };
  const rate = isNum(s.readoutRateHz) ? s.readoutRateHz : ANDOR_DEFAULTS.hsRatesHz.em[0];
  const base = { exposureS: s.exposure, roi, binning, readoutRateHz: rate, gainIndex: 0, emGain: 0, triggerMode: "internal" as const, shutter: "none" as const, frameTransfer: true };
  const ph = andorPhases(ANDOR_DEFAULTS, base);
  if (ph.exposureS <= s.exposure) return [];
  return [
    {
      path: ["exposure"],
      severity: "warning",
      message: `frame transfer: exposure ${s.exposure} s is shorter than the read-out (${(1e3 * ph.readoutS).toFixed(3)} ms at ${rate / 1e6} MHz, less the ${(1e3 * (ph.releaseS ?? 0)).toFixed(3)} ms shift): the camera exposes ${(1e3 * ph.exposureS).toFixed(3)} ms; set frameTransfer: false or a faster readoutRateHz for shorter exposures`,
    },
  ];
}

function checkIo(s: Settings): SettingsProblem[] {
  const out: SettingsProblem[] = [];
  const ch = IO_DEFAULTS.channels;
  (Array.isArray(s.monitors) ? (s.monitors as string[]) : []).forEach((m, i) => {
    if (!ch.includes(m)) out.push({ path: ["monitors", i], message: `'${m}' is not a channel of this counter (${ch.join(", ")})${didYouMean(m, ch)}` });
  });
  return out;
}

/** Problems of `settings` for `device` that are known before connecting ([] = none found). */
export function checkDeviceSettings(device: string, settings: Settings): SettingsProblem[] {
  const schema = (SETTINGS as Record<string, import("zod").ZodType>)[device];
  if (schema) {
    const bad = schemaProblems(schema, settings);
    if (bad.length) return bad;
  }
  return crossFieldProblems(device, settings);
}

function crossFieldProblems(device: string, settings: Settings): SettingsProblem[] {
  switch (device) {
    case "sim:io":
      return checkIo(settings);
    case "pi-pvcam":
    case "andor-ixon": {
      // the sensor of the connected camera is known only after connecting: only the binning against the ROI given
      const roi = settings.roi as { width?: number; height?: number } | undefined;
      return roi?.width && roi.height ? checkCamera(settings, { width: 1e9, height: 1e9 }, undefined, undefined).filter((p) => p.severity === "warning") : [];
    }
    case "sim:dante":
      return checkMca(settings, true);
    case "dante":
      return checkMca(settings, false);
    case "sim:pi-ccd":
      return checkCamera(settings, PI_CCD_DEFAULTS, PI_CCD_DEFAULTS.adcRatesHz, PI_CCD_DEFAULTS.sensitivityE.length, { maxExposureS: PI_CCD_DEFAULTS.maxExposureS, emGainMax: 0, frameTransfer: false });
    case "sim:andor-ixon": {
      const out = checkCamera(settings, ANDOR_DEFAULTS, undefined, ANDOR_DEFAULTS.sensitivityE.length, { maxExposureS: ANDOR_DEFAULTS.maxExposureS, emGainMax: ANDOR_DEFAULTS.emGainMax, frameTransfer: true });
      return out.length ? out : checkFrameTransfer(settings);
    }
    default:
      return [];
  }
}

/**
 * The device catalogue: turns a scenario's device name + settings into a player behaviour, picking a simulated
 * twin (`sim:*`) or a real driver. This is the only place that knows concrete drivers and twins; the runtime
 * sees device interfaces only.
 */
import { makeClock, type Clock, type ClockMode } from "../runtime/clock.ts";
import type { PlayerBehaviour } from "../runtime/player/player.ts";
import type { AreaDetector, AreaDetectorSettings } from "../runtime/devices/area-detector.ts";
import type { Mca, McaSettings } from "../runtime/devices/mca.ts";
import type { Positioner } from "../runtime/devices/positioner.ts";
import { positionerPlayer } from "../runtime/players/positioner-player.ts";
import { areaDetectorPlayer } from "../runtime/players/area-detector-player.ts";
import { mcaPlayer } from "../runtime/players/mca-player.ts";
import { setpointPlayer } from "../runtime/players/setpoint-player.ts";
import { ioPlayer } from "../runtime/players/io-player.ts";
import { aliasPath } from "../runtime/data/layout.ts";
import type { DevicePlayerHooks } from "../runtime/players/common.ts";
import type { ZodType } from "zod";
import { SETTINGS } from "./settings-schemas.ts";
import { checkDeviceSettings } from "./settings-check.ts";

export interface DeviceSpec {
  /** Device name: sim:pi-stage, sim:pi-ccd, sim:andor-ixon, sim:dante, sim:temperature, sim:io, pi-gcs, andor-ixon, pi-pvcam, dante. */
  device: string;
  /** Player name (keys the twin's noise streams). */
  name: string;
  settings: Record<string, unknown>;
  seed: number;
  time: ClockMode;
  /** Fault injection for twins (docs/simulators.md). */
  faults?: unknown[];
  /** USB backend for `settings.usb` hot-unplug monitoring (default: the usb package; tests pass a fake). */
  usbBackend?: import("./usb/backend.ts").UsbBackend;
}

/** Time of one action split into phases (seconds): move, settle, exposure, readout, overhead, wait ... */
export type PhaseTimes = Record<string, number>;

/** Predicts a device's action times from its timing model, trigger by trigger (state: where it is now). */
export interface ActionEstimator {
  /** `at.idleS`: how long the device sat idle since its previous action ended (a camera clears after a long idle). */
  estimate(params: Record<string, unknown>, at?: { idleS: number }): PhaseTimes | Promise<PhaseTimes>;
  /** The player acknowledges before its `readout` phase (overlap: readout). */
  overlap?: boolean;
  /** With overlap: the next action may begin during this one's read-out (frame transfer). */
  pipelined?: boolean;
}

export interface DeviceEntry {
  description: string;
  simulated: boolean;
  /** The settings it accepts (drivers/settings-schemas.ts); checked at scenario load and when a player starts. */
  settings?: ZodType;
  create(spec: DeviceSpec, clock: Clock): Promise<PlayerBehaviour>;
  /** Timing model for `donki estimate` (the twins' models; also used for the real device of the same kind). */
  estimator?(spec: DeviceSpec): Promise<ActionEstimator>;
}

type Settings = Record<string, unknown>;

function get<T>(s: Settings, key: string, check: (v: unknown) => boolean, what: string, device: string): T | undefined {
  const v = s[key];
  if (v === undefined) return undefined;
  if (!check(v)) throw new Error(`device ${device}: setting '${key}' must be ${what}, got ${JSON.stringify(v)}`);
  return v as T;
}
const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const isObj = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
const isBool = (v: unknown) => typeof v === "boolean";

/** Area-detector settings from scenario settings (exposure, binning, roi, readoutRateHz, gainIndex, emGain, ...). */
function detectorSettings(s: Settings, device: string): Partial<AreaDetectorSettings> {
  const out: Partial<AreaDetectorSettings> = {};
  const exp = get<number>(s, "exposure", isNum, "a number of seconds", device);
  if (exp !== undefined) out.exposureS = exp;
  const bin = s.binning;
  if (bin !== undefined) {
    if (isNum(bin)) out.binning = { x: bin as number, y: bin as number };
    else if (isObj(bin)) out.binning = bin as { x: number; y: number };
    else throw new Error(`device ${device}: setting 'binning' must be a number or {x, y}`);
  }
  const roi = get<AreaDetectorSettings["roi"]>(s, "roi", isObj, "{x, y, width, height}", device);
  if (roi) out.roi = roi;
  for (const k of ["readoutRateHz", "gainIndex", "emGain"] as const) {
    const v = get<number>(s, k, isNum, "a number", device);
    if (v !== undefined) out[k] = v;
  }
  const ft = get<boolean>(s, "frameTransfer", isBool, "true or false", device);
  if (ft !== undefined) out.frameTransfer = ft;
  if (s.shutter !== undefined) out.shutter = s.shutter as AreaDetectorSettings["shutter"];
  if (s.triggerMode !== undefined) out.triggerMode = s.triggerMode as AreaDetectorSettings["triggerMode"];
  return out;
}

function mcaSettings(s: Settings, device: string): Partial<McaSettings> {
  const out: Partial<McaSettings> = {};
  const bins = get<number>(s, "bins", isNum, "1024, 2048 or 4096", device);
  if (bins !== undefined) out.bins = bins as McaSettings["bins"];
  const t = get<number>(s, "time", isNum, "a number of seconds", device);
  if (t !== undefined) out.acquisitionTimeS = t;
  const pk = get<number>(s, "peakingTimeUs", isNum, "a number of microseconds", device);
  if (pk !== undefined) out.peakingTimeUs = pk;
  const g = get<number>(s, "gainEvPerBin", isNum, "a number", device);
  if (g !== undefined) out.gainEvPerBin = g;
  const off = get<number>(s, "offsetEv", isNum, "a number of eV", device);
  if (off !== undefined) out.offsetEv = off;
  return out;
}

function rois(s: Settings, device: string): Record<string, [number, number]> | undefined {
  const r = s.rois;
  if (r === undefined) return undefined;
  if (!isObj(r)) throw new Error(`device ${device}: setting 'rois' must map names to [lowEv, highEv]`);
  for (const [k, v] of Object.entries(r as object)) {
    if (!Array.isArray(v) || v.length !== 2 || !v.every(isNum)) throw new Error(`device ${device}: ROI '${k}' must be [lowEv, highEv]`);
  }
  return r as Record<string, [number, number]>;
}

function axesOf(s: Settings, device: string): Record<string, string> {
  const a = s.axes ?? { x: "1", y: "2" };
  if (!isObj(a) || !Object.values(a as object).every((v) => typeof v === "string")) throw new Error(`device ${device}: setting 'axes' must map parameter names to axis ids, e.g. {x: "1", y: "2"}`);
  return a as Record<string, string>;
}

async function simulated(spec: DeviceSpec, clock: Clock) {
  const sim = await import("../simulators/index.ts");
  const env = sim.createSimEnvironment({ seed: spec.seed });
  const hooks: DevicePlayerHooks = { beforeAction: (trig, params) => void env.beam.applyTrigger(trig, params) };
  const base = { clock, seed: spec.seed, name: spec.name, env, faults: spec.faults as never };
  return { sim, env, hooks, base };
}

async function connectAndConfigure<D extends AreaDetector | Mca>(d: D, settings: object): Promise<D> {
  await d.connect();
  if (Object.keys(settings).length) await (d as { configure(s: object): Promise<unknown> }).configure(settings);
  return d;
}

/**
 * Overlap defaults (docs/scenarios.md "Overlap"), from the manuals (/work/shared/reference/instruments.md):
 * - PI X-ray CCD (PVCAM): in-vacuum, no mechanical shutter, the beam gates the exposure; read-out (~35 ms binned,
 *   seconds at full frame) only moves charge already collected, so the stage may move once the exposure is over and
 *   the beam shutter closed. A full-frame sensor cannot expose during its own read-out: the next trigger waits.
 * - Andor iXon (frame transfer or shutter "auto"): the charge is in the masked storage area (or the shutter is
 *   closed) right after the exposure. In frame transfer the image area is free again at once: the next exposure runs
 *   while the storage area reads out (the player releases with `next`; the estimator is `pipelined`).
 * - DANTE in mapping mode: a spectrum closes on the trigger with no dead time between spectra; the transfer
 *   follows.
 * - The stage, the I/O counters (0.5 ms read-back) and the temperature controller have nothing to overlap.
 */
export const OVERLAP_DEFAULTS: Record<string, "readout" | "none"> = {
  "sim:pi-ccd": "readout",
  "pi-pvcam": "readout",
  "sim:andor-ixon": "readout",
  "andor-ixon": "readout",
  "sim:dante": "readout",
  dante: "readout",
};
/** Devices whose players can acknowledge at the end of the exposure / dwell. */
export const OVERLAP_CAPABLE = new Set(Object.keys(OVERLAP_DEFAULTS));
/** Set-point devices (act only on change applies). */
export const SETPOINT_DEVICES = new Set(["sim:temperature"]);

/** The overlap of a device player: the scenario's `overlap` (passed in settings by donki run), else the default. */
function overlapOf(spec: DeviceSpec): "readout" | "none" {
  const v = spec.settings.overlap;
  if (v === "readout" || v === "none") return v;
  if (v !== undefined) throw new Error(`device ${spec.device}: overlap must be readout or none, got ${JSON.stringify(v)}`);
  return OVERLAP_DEFAULTS[spec.device] ?? "none";
}

function actOnChangeOf(spec: DeviceSpec): boolean {
  return get<boolean>(spec.settings, "actOnChange", isBool, "true or false", spec.device) ?? true;
}

/** Scenario check of a player's overlap choice (located by the scenario loader). */
export function checkPlayer(p: { device: string; overlap?: string; actOnChange?: boolean; settings?: Record<string, unknown> }): Array<{ path: Array<string | number>; message: string; severity?: "warning" }> {
  const out: Array<{ path: Array<string | number>; message: string; severity?: "warning" }> = [];
  const trig = p.settings?.triggerMode;
  if (p.device === "andor-ixon" && (p.overlap ?? OVERLAP_DEFAULTS[p.device]) === "readout" && (trig === "external" || trig === "external-exposure"))
    out.push({
      path: p.overlap ? ["overlap"] : ["settings", "triggerMode"],
      severity: "warning",
      message: `overlap: readout with triggerMode ${trig}: Andor SDK2 reports no end of the exposure, and the start of an externally triggered one is not known either: the player acknowledges after the read-out (as with overlap: none); use triggerMode internal or software to overlap`,
    });
  if (p.overlap === "readout" && !OVERLAP_CAPABLE.has(p.device) && !p.device.startsWith("script:") && !p.device.startsWith("python:"))
    out.push({ path: ["overlap"], message: `device '${p.device}' has no read-out to overlap (overlap: readout applies to ${[...OVERLAP_CAPABLE].join(", ")}, or a script that calls ctx.release)` });
  if (p.actOnChange !== undefined && !SETPOINT_DEVICES.has(p.device)) out.push({ path: ["actOnChange"], message: `applies to set-point devices (${[...SETPOINT_DEVICES].join(", ")}), not '${p.device}'` });
  return out;
}

export const DEVICES: Record<string, DeviceEntry> = {
  "sim:pi-stage": {
    description: "PI piezo stage twin (GCS 2.0 motion model, in-process)",
    simulated: true,
    async create(spec, clock) {
      const { hooks, env } = await simulated(spec, clock);
      const { PiStageTwin } = await import("../simulators/pi-stage/twin.ts");
      const s = spec.settings;
      const device = new PiStageTwin({ clock, seed: spec.seed, name: spec.name, env, faults: spec.faults as never, latencyS: get<number>(s, "latencyS", isNum, "seconds", spec.device) });
      return positionerPlayer({ device, clock, hooks, axes: axesOf(s, spec.device), settleTimeoutS: get(s, "settleTimeout", isNum, "seconds", spec.device), velocity: get(s, "velocity", isObj, "{x: um/s, ...}", spec.device) });
    },
  },
  "pi-gcs": {
    description: "PI piezo stage through a GCS 2.0 controller (TCP or RS-232)",
    simulated: false,
    async create(spec, clock) {
      const { PiGcsStage } = await import("./pi-gcs/index.ts");
      const s = spec.settings;
      const transport = s.transport ?? "tcp";
      let device: Positioner;
      if (transport === "tcp") {
        if (typeof s.host !== "string") throw new Error(`device pi-gcs: setting 'host' is required for transport tcp`);
        device = new PiGcsStage({ transport: "tcp", host: s.host, port: (s.port as number) ?? 50000, clock, name: spec.name });
      } else if (transport === "serial") {
        if (typeof s.path !== "string") throw new Error(`device pi-gcs: setting 'path' (serial device) is required for transport serial`);
        device = new PiGcsStage({ transport: "serial", path: s.path, baud: (s.baud as number) ?? 115200, clock, name: spec.name });
      } else throw new Error(`device pi-gcs: setting 'transport' must be tcp or serial, got ${JSON.stringify(transport)}`);
      return positionerPlayer({ device, clock, axes: axesOf(s, spec.device), settleTimeoutS: get(s, "settleTimeout", isNum, "seconds", spec.device), velocity: get(s, "velocity", isObj, "{x: um/s, ...}", spec.device) });
    },
  },
  "sim:pi-ccd": {
    description: "Princeton Instruments X-ray CCD 1340x1300 twin",
    simulated: true,
    async create(spec, clock) {
      const { sim, hooks, base } = await simulated(spec, clock);
      const s = spec.settings;
      const device = await connectAndConfigure(new sim.PrincetonCcdTwin({ ...base, cooling: { startCooled: (s.startCooled as boolean) ?? true } }), detectorSettings(s, spec.device));
      return areaDetectorPlayer({ device, clock, hooks, frames: (s.frames as boolean) ?? true, cooling: s.cooling as { setpointC: number; waitS?: number } | undefined, overlap: overlapOf(spec) });
    },
  },
  "sim:andor-ixon": {
    description: "Andor iXon DV860 EMCCD 128x128 twin",
    simulated: true,
    async create(spec, clock) {
      const { sim, hooks, base } = await simulated(spec, clock);
      const s = spec.settings;
      const device = await connectAndConfigure(new sim.AndorIxonTwin({ ...base, cooling: { startCooled: (s.startCooled as boolean) ?? true } }), detectorSettings(s, spec.device));
      return areaDetectorPlayer({ device, clock, hooks, frames: (s.frames as boolean) ?? true, cooling: s.cooling as { setpointC: number; waitS?: number } | undefined, overlap: overlapOf(spec) });
    },
  },
  "sim:dante": {
    description: "XGLab DANTE + SDD fluorescence spectrometer twin",
    simulated: true,
    async create(spec, clock) {
      const { sim, hooks, base } = await simulated(spec, clock);
      const s = spec.settings;
      const device = await connectAndConfigure(new sim.XglabDanteTwin({ ...base }), mcaSettings(s, spec.device));
      return mcaPlayer({ device, clock, hooks, rois: rois(s, spec.device), overlap: overlapOf(spec) });
    },
  },
  "sim:temperature": {
    description: "sample temperature controller twin",
    simulated: true,
    async create(spec, clock) {
      const { sim, hooks, base } = await simulated(spec, clock);
      const s = spec.settings;
      const device = new sim.TemperatureTwin({ ...base, config: (s.config as object) ?? {} });
      return setpointPlayer({ device, clock, hooks, rampPerMin: get(s, "rampPerMin", isNum, "a number", spec.device), stableTimeoutS: get(s, "stableTimeout", isNum, "seconds", spec.device), actOnChange: actOnChangeOf(spec) });
    },
  },
  "sim:io": {
    description: "I/O counter twin (I0 / It photodiode counts)",
    simulated: true,
    async create(spec, clock) {
      const { sim, hooks, base } = await simulated(spec, clock);
      const s = spec.settings;
      const device = new sim.IoCounterTwin({ ...base });
      const ratio = get<number>(s, "emptyBeamRatio", (v) => isNum(v) && (v as number) > 0, "a positive number (It/I0 with nothing in the beam)", spec.device) ?? device.emptyBeamRatio();
      return ioPlayer({
        device,
        clock,
        hooks,
        gateS: get(s, "gate", isNum, "seconds", spec.device),
        monitors: s.monitors as string[] | undefined,
        transmission: { emptyBeamRatio: ratio, darkCps: device.cfg.darkCps },
      });
    },
  },
};

const numParam = (p: Record<string, unknown>, k: string) => (typeof p[k] === "number" ? (p[k] as number) : undefined);

async function stageEstimator(spec: DeviceSpec): Promise<ActionEstimator> {
  const { MotionModel } = await import("../simulators/pi-stage/motion.ts");
  const { VirtualClock } = await import("../runtime/clock.ts");
  const clock = new VirtualClock(0);
  const model = new MotionModel({ clock, noise: 0 });
  const axes = axesOf(spec.settings, spec.device);
  const vel = get<Record<string, number>>(spec.settings, "velocity", isObj, "{x: um/s}", spec.device);
  if (vel) {
    const v: Record<string, number> = {};
    for (const [n, val] of Object.entries(vel)) if (axes[n]) v[axes[n]] = val;
    model.setVelocity(v);
  }
  return {
    estimate(params): PhaseTimes {
      const targets: Record<string, number> = {};
      for (const [n, id] of Object.entries(axes)) {
        const v = numParam(params, n);
        if (v !== undefined) targets[id] = v;
      }
      const ids = Object.keys(targets);
      if (!ids.length) return {};
      const t0 = clock.now();
      model.move(targets);
      const arrive = Math.max(...ids.map((id) => model.arrivalTime(id)));
      const onT = Math.max(...ids.map((id) => model.onTargetTime(id)));
      clock.advanceTo(onT);
      return { move: arrive - t0, settle: onT - arrive };
    },
  };
}

/** `pipelines`: the player runs the next exposure during a frame-transfer read-out (the twin; not the SDK2 driver). */
async function cameraEstimator(spec: DeviceSpec, kind: "pi-ccd" | "andor-ixon", pipelines = true): Promise<ActionEstimator> {
  const sim = await import("../simulators/index.ts");
  const { VirtualClock } = await import("../runtime/clock.ts");
  const clock = new VirtualClock(0);
  const cam = kind === "pi-ccd" ? new sim.PrincetonCcdTwin({ clock, cooling: { startCooled: true } }) : new sim.AndorIxonTwin({ clock, cooling: { startCooled: true } });
  await cam.connect();
  await cam.configure(detectorSettings(spec.settings, spec.device));
  const overlap = overlapOf(spec) === "readout";
  return {
    overlap,
    // frame transfer: the image area is free once the charge is in the storage area (the player releases with next)
    pipelined: pipelines && overlap && cam.settings().frameTransfer,
    estimate(params, at) {
      const dwell = numParam(params, "dwell");
      const s = { ...cam.settings(), ...(dwell !== undefined ? { exposureS: dwell } : {}) };
      const ph = cam.phases(s);
      // overlapped frames follow a read-out that emptied the sensor: no clear cycles unless it sat idle
      const clear = overlap && at !== undefined && at.idleS <= sim.IDLE_CLEAR_S ? (ph.clearS ?? 0) : 0;
      // as the player counts them: the exposure asked for; what the camera adds to it (a frame-transfer exposure
      // lengthened to the read-out) and the release (shutter closing, shift into the storage area) before the
      // acknowledgement are overhead; the rest is read-out
      const release = ph.releaseS ?? 0;
      const asked = Math.min(s.exposureS, ph.exposureS);
      return { overhead: ph.preS - clear + (ph.exposureS - asked) + release, exposure: asked, readout: ph.postS - release };
    },
  };
}

async function danteEstimator(spec: DeviceSpec): Promise<ActionEstimator> {
  const sim = await import("../simulators/index.ts");
  const { VirtualClock } = await import("../runtime/clock.ts");
  const d = new sim.XglabDanteTwin({ clock: new VirtualClock(0) });
  await d.connect();
  await d.configure(mcaSettings(spec.settings, spec.device));
  const base = d.settings().acquisitionTimeS;
  const transfer = d.cycleTime() - base;
  return {
    overlap: overlapOf(spec) === "readout",
    // the spectrum's transfer after the dwell is its read-out
    estimate(params): PhaseTimes {
      return { exposure: numParam(params, "dwell") ?? base, readout: transfer };
    },
  };
}

async function ioEstimator(spec: DeviceSpec): Promise<ActionEstimator> {
  const sim = await import("../simulators/index.ts");
  const { VirtualClock } = await import("../runtime/clock.ts");
  const d = new sim.IoCounterTwin({ clock: new VirtualClock(0) });
  const gate0 = get<number>(spec.settings, "gate", isNum, "seconds", spec.device) ?? 0.1;
  return {
    estimate(params) {
      const gate = numParam(params, "dwell") ?? gate0;
      return { exposure: gate, overhead: d.cycleTime(gate) - gate };
    },
  };
}

async function temperatureEstimator(spec: DeviceSpec): Promise<ActionEstimator> {
  const sim = await import("../simulators/index.ts");
  const { VirtualClock } = await import("../runtime/clock.ts");
  const clock = new VirtualClock(0);
  const d = new sim.TemperatureTwin({ clock, config: (spec.settings.config as object) ?? {} });
  await d.connect();
  const ramp = get<number>(spec.settings, "rampPerMin", isNum, "a number", spec.device);
  if (ramp !== undefined) await d.setRamp(ramp);
  const stableTimeout = get<number>(spec.settings, "stableTimeout", isNum, "seconds", spec.device) ?? 1800;
  const onChange = actOnChangeOf(spec);
  let first = true;
  let last: number | undefined;
  return {
    // runs the twin's thermal model on its own virtual clock, with the same calls as the set-point player
    async estimate(params): Promise<PhaseTimes> {
      const target = numParam(params, "temperature");
      // act only on change: the same set-point as the previous trigger costs nothing
      if (onChange && !first && target === last) return {};
      first = false;
      last = target;
      const t0 = clock.now();
      let wait = 0;
      if (target !== undefined && target !== (await d.setpoint())) {
        await d.setSetpoint(target);
        const w0 = clock.now();
        await d.waitStable(stableTimeout);
        wait = clock.now() - w0;
      }
      await d.read();
      await d.setpoint();
      return { wait, overhead: clock.now() - t0 - wait };
    },
  };
}

const ESTIMATORS: Record<string, (spec: DeviceSpec) => Promise<ActionEstimator>> = {
  "sim:pi-stage": stageEstimator,
  "pi-gcs": stageEstimator,
  "sim:pi-ccd": (s) => cameraEstimator(s, "pi-ccd"),
  "sim:andor-ixon": (s) => cameraEstimator(s, "andor-ixon"),
  "sim:dante": danteEstimator,
  "sim:io": ioEstimator,
  "sim:temperature": temperatureEstimator,
};
for (const [k, f] of Object.entries(ESTIMATORS)) if (DEVICES[k]) DEVICES[k].estimator = f;

/** The timing model of a device, for `donki estimate`; null when the catalogue has none for it. */
export async function createEstimator(spec: DeviceSpec): Promise<ActionEstimator | null> {
  const e = DEVICES[spec.device]?.estimator;
  return e ? e(spec) : null;
}

/**
 * Vendor-SDK drivers. `settings.library` points at the vendor library; `settings.sdk: "twin"` runs the same driver
 * logic over the SDK twin (the simulated library), which also works in virtual time.
 */
function sdkTwin(spec: DeviceSpec): boolean {
  return spec.settings.sdk === "twin";
}
function libraryOf(spec: DeviceSpec): string | undefined {
  return get<string>(spec.settings, "library", (v) => typeof v === "string", "a path to the vendor library", spec.device);
}

DEVICES["andor-ixon"] = {
  description: "Andor iXon DV860 EMCCD through Andor SDK2 (libandor); settings.sdk: twin for the SDK twin",
  simulated: false,
  async create(spec, clock) {
    const { createAndorIxon } = await import("./andor/index.ts");
    const s = spec.settings;
    let hooks: DevicePlayerHooks | undefined;
    let sdk;
    if (sdkTwin(spec)) {
      const { createAndorSdkTwin } = await import("../simulators/sdk/andor/index.ts");
      const sim = await simulated(spec, clock);
      hooks = sim.hooks;
      sdk = createAndorSdkTwin({ clock, seed: spec.seed, name: spec.name, env: sim.env, cooling: { startCooled: true } });
    }
    const device = createAndorIxon({ sdk, library: libraryOf(spec), clock, name: spec.name });
    await connectAndConfigure(device, detectorSettings(s, spec.device));
    return areaDetectorPlayer({ device, clock, hooks, frames: (s.frames as boolean) ?? true, cooling: s.cooling as { setpointC: number; waitS?: number } | undefined, overlap: overlapOf(spec) });
  },
};

DEVICES["pi-pvcam"] = {
  description: "Princeton Instruments X-ray CCD through PVCAM (libpvcam); settings.sdk: twin for the SDK twin",
  simulated: false,
  async create(spec, clock) {
    const { createPrincetonPvcam } = await import("./pvcam/index.ts");
    const s = spec.settings;
    let hooks: DevicePlayerHooks | undefined;
    let sdk;
    if (sdkTwin(spec)) {
      const { createPvcamSdkTwin } = await import("../simulators/sdk/pvcam/index.ts");
      const sim = await simulated(spec, clock);
      hooks = sim.hooks;
      sdk = createPvcamSdkTwin({ clock, seed: spec.seed, name: spec.name, env: sim.env, cooling: { startCooled: true } });
    }
    const device = createPrincetonPvcam({ sdk, library: libraryOf(spec), clock, name: spec.name });
    await connectAndConfigure(device, detectorSettings(s, spec.device));
    return areaDetectorPlayer({ device, clock, hooks, frames: (s.frames as boolean) ?? true, cooling: s.cooling as { setpointC: number; waitS?: number } | undefined, overlap: overlapOf(spec) });
  },
};

DEVICES["dante"] = {
  description: "XGLab DANTE pulse processor through libXGL_DPP; settings.sdk: twin for the SDK twin",
  simulated: false,
  async create(spec, clock) {
    const { createXglabDante } = await import("./dante/index.ts");
    const s = spec.settings;
    let hooks: DevicePlayerHooks | undefined;
    let sdk;
    if (sdkTwin(spec)) {
      const { createDanteSdkTwin } = await import("../simulators/sdk/dante/index.ts");
      const sim = await simulated(spec, clock);
      hooks = sim.hooks;
      sdk = createDanteSdkTwin({ clock, twinOptions: { seed: spec.seed, name: spec.name, env: sim.env } });
    }
    const device = createXglabDante({ sdk, library: libraryOf(spec), clock, name: spec.name, address: s.address as string | undefined });
    await connectAndConfigure(device, mcaSettings(s, spec.device));
    return mcaPlayer({ device, clock, hooks, rois: rois(s, spec.device), overlap: overlapOf(spec) });
  },
};

Object.assign(ESTIMATORS, {
  // the SDK2 driver releases at the shift but runs single scans: the next exposure waits for the read-out
  "andor-ixon": (s: DeviceSpec) => cameraEstimator(s, "andor-ixon", false),
  "pi-pvcam": (s: DeviceSpec) => cameraEstimator(s, "pi-ccd"),
  dante: danteEstimator,
});
for (const k of ["andor-ixon", "pi-pvcam", "dante"]) DEVICES[k].estimator = ESTIMATORS[k];

for (const [k, schema] of Object.entries(SETTINGS)) if (DEVICES[k]) DEVICES[k].settings = schema;

export { checkDeviceSettings as checkSettings } from "./settings-check.ts";

export function deviceNames(): string[] {
  return Object.keys(DEVICES);
}

/** Settings a device refuses, each with its place inside `settings`. */
export class SettingsError extends Error {
  constructor(
    readonly device: string,
    readonly problems: Array<{ path: Array<string | number>; message: string }>,
  ) {
    super(problems.map((p) => `device ${device}: settings${p.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("")}: ${p.message}`).join("; "));
    this.name = "SettingsError";
  }
}

/** Build the player behaviour of a device; throws a clear error for unknown names or bad settings. */
export async function createDevicePlayer(spec: DeviceSpec): Promise<PlayerBehaviour> {
  const entry = DEVICES[spec.device];
  if (!entry) throw new Error(`unknown device '${spec.device}' (known: ${deviceNames().join(", ")})`);
  if (!entry.simulated && spec.time.mode !== "real" && !sdkTwin(spec)) throw new Error(`device '${spec.device}' is real hardware: it needs time 'real', not '${spec.time.mode}'`);
  // the same checks as at scenario load, for a player started by hand (donki player --device ... --settings ...)
  const bad = checkDeviceSettings(spec.device, spec.settings).filter((p) => p.severity !== "warning");
  if (bad.length) throw new SettingsError(spec.device, bad);
  const usb = spec.settings.usb;
  if (usb !== undefined && !(isObj(usb) && isNum((usb as Record<string, unknown>).vendorId) && isNum((usb as Record<string, unknown>).productId)))
    throw new Error(`device ${spec.device}: setting 'usb' must be {vendorId, productId, serialNumber?} (numbers, e.g. 0x136e)`);
  const aliases = spec.settings.aliases;
  if (aliases !== undefined && !(isObj(aliases) && Object.values(aliases as object).every((v) => typeof v === "string")))
    throw new Error(`device ${spec.device}: setting 'aliases' must map stream names to HDF5 paths, e.g. {frame: /entry/instrument/ccd/data}`);
  const clock = makeClock(spec.time);
  const created = await entry.create(spec, clock);
  let behaviour = created;
  if (aliases) {
    // choose the HDF5 path of some streams (NeXus conventions of a facility, e.g. .../detector/data)
    const a = aliases as Record<string, string>;
    const unknown = Object.keys(a).filter((k) => !(created.streams ?? []).some((st) => st.name === k));
    if (unknown.length) throw new Error(`device ${spec.device}: 'aliases' names streams it does not have: ${unknown.join(", ")} (it has: ${(created.streams ?? []).map((st) => st.name).join(", ")})`);
    // the file layout decides which paths are allowed (runtime/data/layout.ts)
    for (const [k, v] of Object.entries(a)) aliasPath(v, `device ${spec.device}: 'aliases.${k}'`);
    behaviour = { ...created, streams: (created.streams ?? []).map((st) => (a[st.name] ? { ...st, alias: a[st.name] } : st)) };
  }
  return usb ? watchUsb(behaviour, spec, usb as { vendorId: number; productId: number; serialNumber?: string }) : behaviour;
}

/**
 * Hot-unplug: while the device's USB identity is absent, the current action is aborted and every action fails at
 * once with "device gone", so the Director's fault policy applies (pause by default) instead of a long timeout.
 */
async function watchUsb(b: PlayerBehaviour, spec: DeviceSpec, id: { vendorId: number; productId: number; serialNumber?: string }): Promise<PlayerBehaviour> {
  const { UsbWatcher, NodeUsbBackend } = await import("./usb/index.ts");
  const { DeviceError } = await import("../runtime/devices/common.ts");
  const hex = (n: number) => n.toString(16).padStart(4, "0");
  const what = `USB ${hex(id.vendorId)}:${hex(id.productId)}${id.serialNumber ? ` serial ${id.serialNumber}` : ""}`;
  let gone = false;
  let current: AbortController | null = null;
  const watcher = new UsbWatcher(spec.usbBackend ?? new NodeUsbBackend(), {
    onGone: () => {
      gone = true;
      current?.abort(new DeviceError(`${spec.name}: device gone (${what} unplugged)`, spec.name, "USB_GONE"));
    },
    onBack: () => {
      gone = false;
    },
    onUnavailable: (reason) => process.stderr.write(`donki: ${spec.name}: cannot watch ${what} for hot-unplug: ${reason}\n`),
  });
  watcher.watch(spec.name, id);
  await watcher.start();
  return {
    ...b,
    async action(trig, params, ctx) {
      if (gone) throw new DeviceError(`${spec.name}: device gone (${what} unplugged)`, spec.name, "USB_GONE");
      const ac = new AbortController();
      current = ac;
      const onOuter = () => ac.abort(ctx.signal.reason);
      ctx.signal.addEventListener("abort", onOuter, { once: true });
      try {
        const run = b.action(trig, params, { ...ctx, signal: ac.signal, push: ctx.push, pushAt: ctx.pushAt });
        // an unplug aborts the action even when the driver does not watch the signal
        return await Promise.race([run, new Promise<never>((_, rej) => ac.signal.addEventListener("abort", () => rej(ac.signal.reason), { once: true }))]);
      } finally {
        current = null;
        ctx.signal.removeEventListener("abort", onOuter);
      }
    },
    async close() {
      watcher.stop();
      await b.close?.();
    },
  };
}

/** `donki devices`: serial ports, USB instruments and configured TCP controllers that are present. */
export async function listDevices(o: { tcpControllers?: Array<{ host: string; port?: number; label?: string }>; timeoutMs?: number }): Promise<{ report: unknown; text: string }> {
  const { discoverDevices, formatDeviceReport } = await import("./discovery/index.ts");
  const report = await discoverDevices({ tcpControllers: o.tcpControllers, timeoutMs: o.timeoutMs });
  return { report, text: formatDeviceReport(report) };
}

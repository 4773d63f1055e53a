/**
 * PvcamSdkTwin: the PVCAM C functions (the `PvcamSdk` binding interface) implemented on top of the
 * Princeton Instruments CCD twin (`PrincetonCcdTwin`), so the real driver logic (drivers/pvcam/driver.ts)
 * runs unchanged against it. The camera twin supplies the timing model (piCcdPhases), the image model,
 * cooling and its own fault plan; this layer adds what PVCAM does: init/open/close, the parameter table
 * (pl_get_param attributes, read-only parameters, ranges, the speed table), pl_exp_setup_seq with a region and
 * exposure in EXP_RES units, the frame buffer filled frame by frame while the sequence runs, the status of
 * pl_exp_check_status, PV_OK/PV_FAIL with pl_error_code/pl_error_message, and C-level fault injection.
 *
 * Error numbers: PVCAM's own numbers differ between versions, so the twin uses its own (PVCAM_TWIN_ERR);
 * the driver relays code + message and does not depend on them.
 *
 * Not modelled: more than one region, more than one read-out port, CLEAR_NEVER after an idle of more than
 * IDLE_CLEAR_S (the camera twin clears then; right after a read-out it skips the clear cycles), changing shutter
 * delays or clear cycles (read-only here), continuous (circular buffer) mode.
 * The cooler runs from pl_cam_open on (PI cameras cool as soon as they are powered).
 */
import type { Clock } from "../../../runtime/clock.ts";
import type { AreaDetectorSettings, ShutterMode, TriggerMode } from "../../../runtime/devices/area-detector.ts";
import { DeviceError } from "../../../runtime/devices/common.ts";
import { PrincetonCcdTwin, piCcdPhases, type PiCcdTwinOptions } from "../../pi-ccd.ts";
import { ACC, ATTR, CLEAR, EXP_RES_S, PARAM, SHTR_OPEN, STATUS, TYPE, paramType } from "../../../drivers/pvcam/codes.ts";
import { IDLE_CLEAR_S } from "../../camera.ts";
import { PVCAM_FUNCTIONS, type PvOut, type PvParamValue, type PvRegion, type PvcamFunction, type PvcamSdk } from "../../../drivers/pvcam/sdk.ts";
import { SdkFaultPlan, type SdkFault } from "../andor/sdk-faults.ts";

/** The twin's error numbers (not PVCAM's: see the header). */
export const PVCAM_TWIN_ERR = {
  NONE: 0,
  NOT_INITIALIZED: 1,
  ALREADY_INITIALIZED: 2,
  NO_SUCH_CAMERA: 3,
  CAMERA_NOT_OPEN: 4,
  CAMERA_ALREADY_OPEN: 5,
  PARAM_NOT_AVAILABLE: 6,
  PARAM_READ_ONLY: 7,
  VALUE_OUT_OF_RANGE: 8,
  BAD_REGION: 9,
  BAD_EXPOSURE_MODE: 10,
  NOT_SET_UP: 11,
  ACQUISITION_IN_PROGRESS: 12,
  BUFFER_TOO_SMALL: 13,
  ACQUISITION_FAILED: 14,
  CAMERA_NOT_RESPONDING: 15,
  INJECTED: 99,
} as const;

const MESSAGES: Record<number, string> = {
  0: "no error",
  1: "PVCAM is not initialised (call pl_pvcam_init)",
  2: "PVCAM is already initialised",
  3: "no camera with this name or number",
  4: "camera handle is not open",
  5: "camera is already open",
  6: "parameter not available on this camera",
  7: "parameter is read-only",
  8: "value out of range",
  9: "invalid region",
  10: "unsupported exposure mode",
  11: "no sequence set up (pl_exp_setup_seq)",
  12: "an acquisition is in progress",
  13: "frame buffer too small for the sequence set up",
  14: "acquisition failed",
  15: "camera not responding (communication lost)",
  99: "injected error",
};

export interface PvcamSdkTwinOptions extends Omit<PiCcdTwinOptions, "clock"> {
  /** Clock of the camera twin built here (required unless `camera` is given). */
  clock?: Clock;
  /** Use this camera twin instead of building one. */
  camera?: PrincetonCcdTwin;
  /** C-level faults (see ../andor/sdk-faults.ts); "code"/"disappear" codes become pl_error_code. */
  sdkFaults?: readonly SdkFault[];
  /** pl_cam_get_name(0) (default "PIXCCD-TWIN"). */
  cameraName?: string;
  /** pl_cam_get_total (default 1; 0 = no camera connected). */
  cameraCount?: number;
  chipName?: string;
  serial?: string;
  /** TEMP_SETPOINT min/max, C (default: the camera twin's cooling limits, -70..20 unless configured). */
  temperatureRangeC?: { min: number; max: number };
}

interface ParamDesc {
  access: number;
  get(): PvParamValue;
  set?(v: number): number | undefined; // returns an error number or undefined
  min?: number;
  max?: number;
  count?: number;
  def?: PvParamValue;
}

interface Setup {
  n: number;
  w: number;
  h: number;
  bytes: number;
  settings: AreaDetectorSettings;
}

interface Seq {
  setup: Setup;
  buffer: Uint16Array;
  bytesArrived: number;
  t0: number;
  running: boolean;
  status: number;
  /** CLEAR_NEVER right after a read-out: the camera twin skips its clear cycles (the status model follows). */
  skipClear: boolean;
  ac: AbortController;
  done: Promise<void>;
}

const TRIGGER_OF_MODE: Record<number, TriggerMode> = { 0: "internal", 1: "external", 2: "external-exposure", 3: "external" };
const SHUTTER_OF_MODE: Record<number, ShutterMode> = { [SHTR_OPEN.NEVER]: "closed", [SHTR_OPEN.PRE_EXPOSURE]: "auto", [SHTR_OPEN.PRE_SEQUENCE]: "open", [SHTR_OPEN.PRE_TRIGGER]: "auto", [SHTR_OPEN.NO_CHANGE]: "none" };

export class PvcamSdkTwin implements PvcamSdk {
  readonly description = "PVCAM twin";
  readonly simulated = true;
  readonly camera: PrincetonCcdTwin;
  readonly faults: SdkFaultPlan;
  private readonly o: PvcamSdkTwinOptions;
  private readonly range: { min: number; max: number };
  private initialized = false;
  private hcam: number | undefined;
  private nextHandle = 0;
  private gone: { code: number; message: string } | undefined;
  private lastError = 0;
  private lastMessage = "";
  private spd = 0;
  private gain = 1;
  private shutterMode: number = SHTR_OPEN.NO_CHANGE;
  private clearMode = 1;
  private expRes = 0;
  private setpoint100 = -4000;
  private setup: Setup | undefined;
  private seq: Seq | undefined;
  /** Clock time at which the last sequence's read-out ended (CLEAR_NEVER). */
  private lastReadoutEnd = -Infinity;
  private readonly params: Map<number, ParamDesc>;

  constructor(o: PvcamSdkTwinOptions) {
    this.o = o;
    if (o.camera) this.camera = o.camera;
    else {
      if (!o.clock) throw new Error("PvcamSdkTwin: options.clock (or options.camera) is required");
      this.camera = new PrincetonCcdTwin({ ...o, clock: o.clock });
    }
    this.faults = new SdkFaultPlan(o.sdkFaults ?? [], PVCAM_FUNCTIONS);
    this.range = o.temperatureRangeC ?? { min: o.cooling?.minC ?? -70, max: o.cooling?.maxC ?? 20 };
    const rates = this.camera.cfg.adcRatesHz;
    const cur = this.camera.settings();
    this.spd = Math.max(0, rates.indexOf(cur.readoutRateHz));
    this.gain = cur.gainIndex + 1;
    this.params = this.buildParams();
  }

  get clock(): Clock {
    return this.camera.clock;
  }

  /** The camera is back after a "disappear" fault (PVCAM must be initialised and the camera opened again). */
  reattach(): void {
    this.gone = undefined;
    this.initialized = false;
    this.hcam = undefined;
  }

  private buildParams(): Map<number, ParamDesc> {
    const c = this.camera.cfg;
    const ro = ACC.READ_ONLY,
      rw = ACC.READ_WRITE;
    const m = new Map<number, ParamDesc>();
    const range = (v: number, min: number, max: number) => (Number.isInteger(v) && v >= min && v <= max ? undefined : PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE);
    m.set(PARAM.CHIP_NAME, { access: ro, get: () => this.o.chipName ?? `PI X-ray CCD ${c.width}x${c.height} (twin)` });
    m.set(PARAM.HEAD_SER_NUM_ALPHA, { access: ro, get: () => this.o.serial ?? "TWIN-0001" });
    m.set(PARAM.SER_SIZE, { access: ro, get: () => c.width });
    m.set(PARAM.PAR_SIZE, { access: ro, get: () => c.height });
    m.set(PARAM.PIX_SER_SIZE, { access: ro, get: () => Math.round(c.pixelSizeUm * 1000) });
    m.set(PARAM.PIX_PAR_SIZE, { access: ro, get: () => Math.round(c.pixelSizeUm * 1000) });
    m.set(PARAM.FRAME_CAPABLE, { access: ro, get: () => 0 });
    m.set(PARAM.READOUT_PORT, { access: rw, get: () => 0, set: (v) => range(v, 0, 0), min: 0, max: 0, count: 1, def: 0 });
    m.set(PARAM.SPDTAB_INDEX, { access: rw, get: () => this.spd, set: (v) => range(v, 0, c.adcRatesHz.length - 1) ?? void (this.spd = v), min: 0, max: c.adcRatesHz.length - 1, count: c.adcRatesHz.length, def: 0 });
    m.set(PARAM.PIX_TIME, { access: ro, get: () => Math.round(1e9 / c.adcRatesHz[this.spd]) });
    m.set(PARAM.BIT_DEPTH, { access: ro, get: () => c.bitDepth });
    m.set(PARAM.GAIN_INDEX, { access: rw, get: () => this.gain, set: (v) => range(v, 1, c.sensitivityE.length) ?? void (this.gain = v), min: 1, max: c.sensitivityE.length, def: 1 });
    m.set(PARAM.TEMP, { access: ro, get: () => Math.round(this.camera.sensorTemperature() * 100) });
    m.set(PARAM.TEMP_SETPOINT, {
      access: rw,
      get: () => this.setpoint100,
      set: (v) => range(v, this.range.min * 100, this.range.max * 100) ?? void (this.setpoint100 = v),
      min: this.range.min * 100,
      max: this.range.max * 100,
    });
    m.set(PARAM.SHTR_OPEN_MODE, { access: rw, get: () => this.shutterMode, set: (v) => range(v, 0, 4) ?? void (this.shutterMode = v), min: 0, max: 4, count: 5, def: SHTR_OPEN.PRE_EXPOSURE });
    m.set(PARAM.SHTR_OPEN_DELAY, { access: ro, get: () => Math.round(c.shutterOpenS * 1000) });
    m.set(PARAM.SHTR_CLOSE_DELAY, { access: ro, get: () => Math.round(c.shutterCloseS * 1000) });
    m.set(PARAM.CLEAR_MODE, { access: rw, get: () => this.clearMode, set: (v) => range(v, 0, 5) ?? void (this.clearMode = v), min: 0, max: 5, count: 6, def: 1 });
    m.set(PARAM.CLEAR_CYCLES, { access: ro, get: () => c.clearCycles });
    m.set(PARAM.READOUT_TIME, { access: ro, get: () => this.phases().readoutS * 1e3 }); // FLT64 milliseconds, as pvcam.h documents
    m.set(PARAM.CLEARING_TIME, { access: ro, get: () => Math.round(c.clearCycles * c.height * c.rowShiftS * 1e9) }); // ns
    m.set(PARAM.EXP_RES, { access: rw, get: () => this.expRes, set: (v) => range(v, 0, 1) ?? void (this.expRes = v), min: 0, max: 1, count: 2, def: 0 });
    m.set(PARAM.EXP_RES_INDEX, { access: rw, get: () => this.expRes, set: (v) => range(v, 0, 1) ?? void (this.expRes = v), min: 0, max: 1, count: 2, def: 0 });
    return m;
  }

  private phases() {
    return piCcdPhases(this.camera.cfg, this.setup?.settings ?? this.camera.settings());
  }

  // ---- plumbing ----

  private fail(code: number, message?: string): false {
    this.lastError = code;
    this.lastMessage = message ?? MESSAGES[code] ?? `error ${code}`;
    return false;
  }

  private succeed<T extends boolean | PvOut<unknown>>(r: T): T {
    this.lastError = 0;
    this.lastMessage = "";
    return r;
  }

  /** Count the call; apply faults, "camera gone", initialised and handle checks. Returns false to fail at once. */
  private gate(fn: PvcamFunction, opts: { init?: boolean; hcam?: number } = {}): { pass: boolean; fault?: SdkFault } {
    const f = this.faults.next(fn);
    if (this.gone) return { pass: this.fail(this.gone.code, this.gone.message) };
    if (f?.kind === "code") return { pass: this.fail(f.code!, f.message ?? `injected error in ${fn}`) };
    if (f?.kind === "disappear") {
      this.gone = { code: f.code ?? PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING, message: f.message ?? MESSAGES[PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING] };
      this.seq?.ac.abort(new Error("camera gone"));
      return { pass: this.fail(this.gone.code, this.gone.message) };
    }
    if ((opts.init ?? true) && !this.initialized) return { pass: this.fail(PVCAM_TWIN_ERR.NOT_INITIALIZED) };
    if (opts.hcam !== undefined && (this.hcam === undefined || opts.hcam !== this.hcam)) return { pass: this.fail(PVCAM_TWIN_ERR.CAMERA_NOT_OPEN) };
    return { pass: true, fault: f };
  }

  private get busy(): boolean {
    return this.seq?.running === true;
  }

  // ---- library / camera ----

  async pl_pvcam_init(): Promise<boolean> {
    if (!this.gate("pl_pvcam_init", { init: false }).pass) return false;
    if (this.initialized) return this.fail(PVCAM_TWIN_ERR.ALREADY_INITIALIZED);
    this.initialized = true;
    return this.succeed(true);
  }

  async pl_pvcam_uninit(): Promise<boolean> {
    if (!this.gate("pl_pvcam_uninit").pass) return false;
    if (this.hcam !== undefined) await this.closeCamera();
    this.initialized = false;
    return this.succeed(true);
  }

  async pl_exp_init_seq(): Promise<boolean> {
    if (!this.gate("pl_exp_init_seq").pass) return false;
    return this.succeed(true);
  }

  async pl_cam_get_total(): Promise<PvOut<number>> {
    if (!this.gate("pl_cam_get_total").pass) return { ok: false, value: 0 };
    return this.succeed({ ok: true, value: this.o.cameraCount ?? 1 });
  }

  private get camName(): string {
    return this.o.cameraName ?? "PIXCCD-TWIN";
  }

  async pl_cam_get_name(cam_num: number): Promise<PvOut<string>> {
    if (!this.gate("pl_cam_get_name").pass) return { ok: false, value: "" };
    if (cam_num !== 0 || (this.o.cameraCount ?? 1) < 1) return { ok: this.fail(PVCAM_TWIN_ERR.NO_SUCH_CAMERA), value: "" };
    return this.succeed({ ok: true, value: this.camName });
  }

  async pl_cam_open(camera_name: string, o_mode: number): Promise<PvOut<number>> {
    if (!this.gate("pl_cam_open").pass) return { ok: false, value: -1 };
    if (camera_name !== this.camName || (this.o.cameraCount ?? 1) < 1) return { ok: this.fail(PVCAM_TWIN_ERR.NO_SUCH_CAMERA, `no camera named "${camera_name}"`), value: -1 };
    if (o_mode !== 0) return { ok: this.fail(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE, "open mode must be OPEN_EXCLUSIVE"), value: -1 };
    if (this.hcam !== undefined) return { ok: this.fail(PVCAM_TWIN_ERR.CAMERA_ALREADY_OPEN), value: -1 };
    try {
      await this.camera.connect();
      const c = await this.camera.cooling();
      this.setpoint100 = Math.round(c.setpointC * 100);
      await this.camera.setCooling(true, this.setpoint100 / 100);
    } catch (e) {
      return { ok: this.fail(PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING, (e as Error).message), value: -1 };
    }
    this.hcam = this.nextHandle++ & 0x7fff;
    this.setup = undefined;
    return this.succeed({ ok: true, value: this.hcam });
  }

  private async closeCamera(): Promise<void> {
    await this.stop();
    await this.camera.close();
    this.hcam = undefined;
    this.setup = undefined;
    this.seq = undefined;
  }

  async pl_cam_close(hcam: number): Promise<boolean> {
    if (!this.gate("pl_cam_close", { hcam }).pass) return false;
    await this.closeCamera();
    return this.succeed(true);
  }

  // ---- parameters ----

  async pl_get_param(hcam: number, param_id: number, attr: number): Promise<PvOut<PvParamValue>> {
    if (!this.gate("pl_get_param", { hcam }).pass) return { ok: false, value: 0 };
    const d = this.params.get(param_id >>> 0);
    if (attr === ATTR.AVAIL) return this.succeed({ ok: true, value: d ? 1 : 0 });
    if (!d) return { ok: this.fail(PVCAM_TWIN_ERR.PARAM_NOT_AVAILABLE, `parameter 0x${(param_id >>> 0).toString(16)} not available`), value: 0 };
    let v: PvParamValue | undefined;
    switch (attr) {
      case ATTR.CURRENT:
        v = d.get();
        break;
      case ATTR.TYPE:
        v = paramType(param_id);
        break;
      case ATTR.ACCESS:
        v = d.access;
        break;
      case ATTR.COUNT:
        v = d.count ?? (d.min !== undefined && d.max !== undefined ? d.max - d.min + 1 : 1);
        break;
      case ATTR.MIN:
        v = d.min ?? d.get();
        break;
      case ATTR.MAX:
        v = d.max ?? d.get();
        break;
      case ATTR.DEFAULT:
        v = d.def ?? d.get();
        break;
      case ATTR.INCREMENT:
        v = paramType(param_id) === TYPE.CHAR_PTR ? "" : 1;
        break;
      default:
        return { ok: this.fail(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE, `attribute ${attr} unknown`), value: 0 };
    }
    return this.succeed({ ok: true, value: v });
  }

  async pl_set_param(hcam: number, param_id: number, value: PvParamValue): Promise<boolean> {
    if (!this.gate("pl_set_param", { hcam }).pass) return false;
    const d = this.params.get(param_id >>> 0);
    if (!d) return this.fail(PVCAM_TWIN_ERR.PARAM_NOT_AVAILABLE, `parameter 0x${(param_id >>> 0).toString(16)} not available`);
    if (!d.set || d.access !== ACC.READ_WRITE) return this.fail(PVCAM_TWIN_ERR.PARAM_READ_ONLY);
    if (this.busy) return this.fail(PVCAM_TWIN_ERR.ACQUISITION_IN_PROGRESS);
    if (typeof value !== "number") return this.fail(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE, "value must be a number");
    const err = d.set(value);
    if (err !== undefined) return this.fail(err, `value ${value} out of range ${d.min ?? "?"}..${d.max ?? "?"}`);
    if ((param_id >>> 0) === PARAM.TEMP_SETPOINT) {
      try {
        await this.camera.setCooling(true, value / 100);
      } catch (e) {
        return this.fail(PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING, (e as Error).message);
      }
    }
    return this.succeed(true);
  }

  // ---- acquisition ----

  async pl_exp_setup_seq(hcam: number, exp_total: number, rgn_total: number, rgn_array: readonly PvRegion[], exp_mode: number, exposure_time: number): Promise<PvOut<number>> {
    if (!this.gate("pl_exp_setup_seq", { hcam }).pass) return { ok: false, value: 0 };
    if (this.busy) return { ok: this.fail(PVCAM_TWIN_ERR.ACQUISITION_IN_PROGRESS), value: 0 };
    const c = this.camera.cfg;
    if (!(Number.isInteger(exp_total) && exp_total >= 1 && exp_total <= 0xffff)) return { ok: this.fail(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE, `exp_total ${exp_total}`), value: 0 };
    if (rgn_total !== 1 || rgn_array.length < 1) return { ok: this.fail(PVCAM_TWIN_ERR.BAD_REGION, "the twin supports exactly one region"), value: 0 };
    const r = rgn_array[0];
    const okRange = (a: number, b: number, max: number) => Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a <= b && b < max;
    if (!okRange(r.s1, r.s2, c.width) || !okRange(r.p1, r.p2, c.height) || !(r.sbin >= 1 && r.pbin >= 1) || r.sbin > r.s2 - r.s1 + 1 || r.pbin > r.p2 - r.p1 + 1)
      return { ok: this.fail(PVCAM_TWIN_ERR.BAD_REGION, `invalid region ${JSON.stringify(r)} on ${c.width}x${c.height}`), value: 0 };
    const trigger = TRIGGER_OF_MODE[exp_mode];
    if (!trigger) return { ok: this.fail(PVCAM_TWIN_ERR.BAD_EXPOSURE_MODE, `exposure mode ${exp_mode}`), value: 0 };
    if (!(Number.isInteger(exposure_time) && exposure_time >= 0 && exposure_time <= 0xffffffff)) return { ok: this.fail(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE, `exposure_time ${exposure_time}`), value: 0 };
    const settings: AreaDetectorSettings = {
      exposureS: exposure_time * EXP_RES_S[this.expRes],
      roi: { x: r.s1, y: r.p1, width: r.s2 - r.s1 + 1, height: r.p2 - r.p1 + 1 },
      binning: { x: r.sbin, y: r.pbin },
      readoutRateHz: c.adcRatesHz[this.spd],
      gainIndex: this.gain - 1,
      emGain: 0,
      triggerMode: trigger,
      shutter: SHUTTER_OF_MODE[this.shutterMode],
      frameTransfer: false,
    };
    let applied: AreaDetectorSettings;
    try {
      applied = await this.camera.configure(settings);
    } catch (e) {
      return { ok: this.fail(e instanceof DeviceError ? PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE : PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING, (e as Error).message), value: 0 };
    }
    const { width: w, height: h } = this.camera.frameSize(applied);
    const bytes = exp_total * w * h * 2;
    this.setup = { n: exp_total, w, h, bytes, settings: applied };
    this.seq = undefined;
    return this.succeed({ ok: true, value: bytes });
  }

  async pl_exp_start_seq(hcam: number, pixel_stream: Uint16Array): Promise<boolean> {
    const g = this.gate("pl_exp_start_seq", { hcam });
    if (!g.pass) return false;
    if (this.busy) return this.fail(PVCAM_TWIN_ERR.ACQUISITION_IN_PROGRESS);
    const su = this.setup;
    if (!su) return this.fail(PVCAM_TWIN_ERR.NOT_SET_UP);
    if (pixel_stream.length * 2 < su.bytes) return this.fail(PVCAM_TWIN_ERR.BUFFER_TOO_SMALL, `frame buffer of ${pixel_stream.length * 2} bytes, ${su.bytes} needed`);
    const ac = new AbortController();
    const t0 = this.clock.now();
    // CLEAR_NEVER: no clear cycles while the sensor was read out recently (the camera twin's rule: after a longer
    // idle it clears anyway, for the dark charge)
    const skipClear = this.clearMode === CLEAR.NEVER && t0 - this.lastReadoutEnd <= IDLE_CLEAR_S && (this.camera.phases(su.settings).clearS ?? 0) > 0;
    const seq: Seq = { setup: su, buffer: pixel_stream, bytesArrived: 0, t0, running: true, status: STATUS.EXPOSURE_IN_PROGRESS, skipClear, ac, done: Promise.resolve() };
    this.seq = seq;
    if (g.fault?.kind === "status" && !g.fault.afterFrames) {
      seq.running = false;
      seq.status = STATUS.READOUT_FAILED;
      this.fail(g.fault.code ?? PVCAM_TWIN_ERR.ACQUISITION_FAILED, g.fault.message ?? "injected read-out failure");
      return true;
    }
    if (g.fault?.kind === "stall") {
      seq.done = new Promise<void>((res) => ac.signal.addEventListener("abort", () => res(), { once: true }));
      return this.succeed(true);
    }
    const px = su.w * su.h;
    const fault = g.fault?.kind === "status" ? g.fault : undefined;
    let failed = false;
    let i = 0;
    seq.done = this.camera
      .acquireSequence(
        su.n,
        (f) => {
          pixel_stream.set(f.data, i * px);
          i++;
          seq.bytesArrived = i * px * 2;
          if (fault && i >= fault.afterFrames! && seq.running) {
            failed = true;
            ac.abort(new Error("injected read-out failure"));
          }
        },
        ac.signal,
        skipClear ? { continuous: true } : undefined,
      )
      .then(
        () => {
          seq.running = false;
          seq.status = STATUS.READOUT_COMPLETE;
          this.lastReadoutEnd = this.clock.now();
        },
        (e) => {
          seq.running = false;
          if (failed) {
            seq.status = STATUS.READOUT_FAILED;
            this.fail(fault!.code ?? PVCAM_TWIN_ERR.ACQUISITION_FAILED, fault!.message ?? "injected read-out failure");
          } else if (ac.signal.aborted) seq.status = STATUS.READOUT_NOT_ACTIVE;
          else {
            seq.status = STATUS.READOUT_FAILED;
            this.fail(PVCAM_TWIN_ERR.ACQUISITION_FAILED, (e as Error).message);
          }
        },
      );
    return this.succeed(true);
  }

  async pl_exp_check_status(hcam: number): Promise<PvOut<{ status: number; bytes_arrived: number }>> {
    const none = { status: STATUS.READOUT_NOT_ACTIVE, bytes_arrived: 0 };
    if (!this.gate("pl_exp_check_status", { hcam }).pass) return { ok: false, value: none };
    const s = this.seq;
    if (!s) return this.succeed({ ok: true, value: none });
    let status = s.status;
    if (s.running) {
      const ph0 = this.camera.phases(s.setup.settings);
      const clearS = s.skipClear ? (ph0.clearS ?? 0) : 0;
      const ph = { ...ph0, preS: ph0.preS - clearS, cycleS: ph0.cycleS - clearS };
      const t = this.clock.now() - s.t0 - ph.preS;
      // PVCAM's status on the camera twin's timing model: EXPOSURE_IN_PROGRESS through the clear cycles, the shutter
      // opening and the exposure of each frame, READOUT_IN_PROGRESS from the end of the exposure (the shutter's
      // close delay, then the read-out) until the frame's bytes are in; READOUT_COMPLETE when the sequence is done
      const within = t < 0 ? 0 : t - Math.floor(t / ph.cycleS) * ph.cycleS;
      status = within < ph.exposureS - 1e-9 ? STATUS.EXPOSURE_IN_PROGRESS : STATUS.READOUT_IN_PROGRESS;
    }
    if (status === STATUS.READOUT_FAILED) {
      // the reason stays readable through pl_error_code / pl_error_message
      return { ok: true, value: { status, bytes_arrived: s.bytesArrived } };
    }
    return this.succeed({ ok: true, value: { status, bytes_arrived: s.bytesArrived } });
  }

  async pl_exp_finish_seq(hcam: number, _pixel_stream: Uint16Array, _hbuf: number): Promise<boolean> {
    if (!this.gate("pl_exp_finish_seq", { hcam }).pass) return false;
    if (this.busy) return this.fail(PVCAM_TWIN_ERR.ACQUISITION_IN_PROGRESS);
    this.seq = undefined;
    return this.succeed(true);
  }

  private async stop(): Promise<void> {
    const s = this.seq;
    if (!s?.running) return;
    s.ac.abort(new Error("pl_exp_abort"));
    await this.camera.abort();
    await s.done;
    s.running = false;
    s.status = STATUS.READOUT_NOT_ACTIVE;
  }

  async pl_exp_abort(hcam: number, cam_state: number): Promise<boolean> {
    if (!this.gate("pl_exp_abort", { hcam }).pass) return false;
    if (!(Number.isInteger(cam_state) && cam_state >= 0 && cam_state <= 6)) return this.fail(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE, `cam_state ${cam_state}`);
    await this.stop();
    return this.succeed(true);
  }

  // ---- errors (library-local: work even when the camera is gone) ----

  async pl_error_code(): Promise<number> {
    this.faults.next("pl_error_code");
    return this.lastError;
  }

  async pl_error_message(err_code: number): Promise<PvOut<string>> {
    this.faults.next("pl_error_message");
    const msg = err_code === this.lastError && this.lastMessage ? this.lastMessage : (MESSAGES[err_code] ?? `unknown error ${err_code}`);
    return { ok: true, value: msg };
  }
}

export function createPvcamSdkTwin(o: PvcamSdkTwinOptions): PvcamSdkTwin {
  return new PvcamSdkTwin(o);
}

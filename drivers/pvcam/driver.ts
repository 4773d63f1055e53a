/**
 * PrincetonPvcam: an AreaDetector on a Princeton Instruments CCD through PVCAM (`PvcamSdk`: the real
 * library via koffi, or the SDK twin). The logic above the thin binding:
 *
 * - connect: pl_pvcam_init (+ pl_exp_init_seq on PVCAM 2.x) -> pl_cam_get_total -> pl_cam_get_name ->
 *   pl_cam_open -> geometry (SER_SIZE, PAR_SIZE, PIX_SER_SIZE, BIT_DEPTH) -> speed table (READOUT_PORT x
 *   SPDTAB_INDEX -> PIX_TIME, BIT_DEPTH, GAIN_INDEX max) -> exposure resolution -> TEMP_SETPOINT range ->
 *   shutter delays -> apply the settings;
 * - configure: validate, set READOUT_PORT / SPDTAB_INDEX / GAIN_INDEX (1-based in PVCAM) / SHTR_OPEN_MODE /
 *   EXP_RES, then pl_exp_setup_seq of one frame to read back READOUT_TIME and CLEARING_TIME: the timing is
 *   t_clear + t_open + t_exp + t_close + t_read (full-frame sensor: no overlap);
 * - acquisition state machine: pl_exp_setup_seq(n frames) -> pl_exp_start_seq(buffer) -> poll
 *   pl_exp_check_status on the clock (EXPOSURE_IN_PROGRESS / READOUT_IN_PROGRESS, frames handed out as their
 *   bytes arrive) -> READOUT_COMPLETE -> pl_exp_finish_seq; READOUT_FAILED -> error with pl_error_code /
 *   pl_error_message; overlap (AcquireOptions.onExposureEnd): the release point is when the status of the last
 *   frame leaves EXPOSURE_IN_PROGRESS (polled from the expected end of the exposure on, every releasePollS),
 *   plus the shutter's close delay when the shutter opens per exposure; the read-out and the frame follow;
 *   clock deadline -> pl_exp_abort(CCS_HALT_CLOSE_SHTR) + timeout error; abort the same;
 * - cooling: PVCAM cameras cool while powered; setCooling(false) parks the set-point at its maximum. The
 *   state (not-reached / not-stabilized / stabilized / drift) is judged here from TEMP vs TEMP_SETPOINT
 *   (window and hold time configurable), since PVCAM reports no such state;
 * - every PV_FAIL becomes a PvcamError carrying pl_error_code() and pl_error_message().
 */
import { RealClock, type Clock } from "../../runtime/clock.ts";
import type { AcquireOptions, AreaDetector, AreaDetectorSettings, AreaDetectorTiming, CoolingStatus, Frame, ShutterMode, TriggerMode } from "../../runtime/devices/area-detector.ts";
import type { DeviceInfo } from "../../runtime/devices/common.ts";
import { ATTR, CCS, CLEAR, EXP_MODE, EXP_RES, EXP_RES_S, OPEN_EXCLUSIVE, PARAM, PvcamError, SHTR_OPEN, STATUS, STATUS_NAMES, type PvcamParamIds } from "./codes.ts";
import { loadPvcam } from "./ffi.ts";
import type { PvOut, PvParamValue, PvcamSdk } from "./sdk.ts";

export interface PrincetonPvcamOptions {
  /** The binding to use (e.g. the SDK twin). When absent, the real library is loaded at connect(). */
  sdk?: PvcamSdk;
  /** Path(s) of libpvcam.so / pvcam64.dll (default: $PVCAM_LIBRARY, then the usual names). */
  library?: string | readonly string[];
  /** Clock for deadlines and poll intervals (default RealClock; the twin's clock for the SDK twin). */
  clock?: Clock;
  /** Device name in errors (default "pi-pvcam"). */
  name?: string;
  /** Camera to open: name, or index for pl_cam_get_name (default 0). */
  camera?: string | number;
  /** Initial settings (applied at connect). */
  settings?: Partial<AreaDetectorSettings>;
  /** Parameter ids differing in the installed pvcam.h (defaults: PARAM in codes.ts). */
  params?: Partial<PvcamParamIds>;
  /** Unit of PARAM_READOUT_TIME in seconds (default 1e-3: every public pvcam.h documents it as FLT64 milliseconds). */
  readoutTimeUnitS?: number;
  /** Unit of PARAM_CLEARING_TIME in seconds (default 1e-9). */
  clearingTimeUnitS?: number;
  /** pl_exp_check_status poll interval, clock seconds (default 0.01). */
  pollS?: number;
  /**
   * Overlap (AcquireOptions.onExposureEnd): poll interval once the exposure should be over and the status still
   * says EXPOSURE_IN_PROGRESS, clock seconds (default 0.001): bounds how late the release point is noticed.
   */
  releasePollS?: number;
  /**
   * Overlap (AcquireOptions.continuous): frames that follow a read-out within this many clock seconds skip the clear
   * cycles (PARAM_CLEAR_MODE = CLEAR_NEVER for that frame; the read-out emptied the sensor), as a sequence's frames
   * do; after a longer idle the camera's own clear mode applies (dark charge). Default 1 (the twins' IDLE_CLEAR_S).
   */
  clearIdleS?: number;
  /** waitCooled poll interval, clock seconds (default 1). */
  coolingPollS?: number;
  /** Acquisition deadline = expected duration * timeoutFactor + timeoutMarginS (defaults 1.5 and 5 s). */
  timeoutFactor?: number;
  timeoutMarginS?: number;
  /** Cooling: |T - set-point| window (default 0.5 C) held for stableS (default 30 s) = "stabilized". */
  coolingWindowC?: number;
  coolingStableS?: number;
}

interface SpeedEntry {
  port: number;
  index: number;
  rateHz: number;
  bitDepth: number;
  gainMax: number;
}

const SHUTTER_MODE: Record<ShutterMode, number> = { auto: SHTR_OPEN.PRE_EXPOSURE, open: SHTR_OPEN.PRE_SEQUENCE, closed: SHTR_OPEN.NEVER, none: SHTR_OPEN.NO_CHANGE };
const EXPOSURE_MODE: Partial<Record<TriggerMode, number>> = { internal: EXP_MODE.TIMED, external: EXP_MODE.STROBED, "external-exposure": EXP_MODE.BULB };

export class PrincetonPvcam implements AreaDetector {
  readonly clock: Clock;
  readonly name: string;
  private sdk: PvcamSdk | undefined;
  private readonly o: PrincetonPvcamOptions;
  private readonly P: PvcamParamIds;
  private initialized = false;
  private hcam: number | undefined;
  private connected = false;
  private chain: Promise<unknown> = Promise.resolve();
  private geom = { width: 0, height: 0, pixelSizeUm: 0, bitDepth: 16 };
  private speeds: SpeedEntry[] = [];
  private ports = 1;
  private expRes: number = EXP_RES.ONE_MILLISEC;
  private tempRange = { min: -70, max: 20 };
  private shutterDelays = { openS: 0, closeS: 0 };
  private avail = new Set<number>();
  private camName = "";
  private chip = "";
  private serial = "";
  private s: AreaDetectorSettings;
  private t: AreaDetectorTiming & { clearS: number; preS: number } = { exposureS: 0, readoutS: 0, cycleS: 0, clearS: 0, preS: 0 };
  private active: AbortController | undefined;
  private activeDone: Promise<unknown> | undefined;
  private frameNo = 0;
  /** PARAM_CLEAR_MODE as found at connect (restored after overlapped frames) and as set now. */
  private clearDefault: number | undefined;
  private clearNow: number | undefined;
  /** Clock time at which the last sequence's read-out was complete. */
  private lastReadoutEnd = -Infinity;
  private coolerOn = true;
  private setpointC = -40;
  private inWindowSince: number | null = null;
  private wasStable = false;

  constructor(o: PrincetonPvcamOptions = {}) {
    this.o = o;
    this.sdk = o.sdk;
    this.clock = o.clock ?? (o.sdk && "clock" in o.sdk ? (o.sdk as unknown as { clock: Clock }).clock : new RealClock());
    this.name = o.name ?? "pi-pvcam";
    this.P = { ...PARAM, ...(o.params ?? {}) };
    this.s = {
      exposureS: 0.01,
      roi: { x: 0, y: 0, width: 0, height: 0 },
      binning: { x: 1, y: 1 },
      readoutRateHz: 0,
      gainIndex: 0,
      emGain: 0,
      triggerMode: "internal",
      shutter: "none",
      frameTransfer: false,
      ...(o.settings ?? {}),
    } as AreaDetectorSettings;
  }

  info(): DeviceInfo {
    return { kind: "area-detector", model: this.chip ? `Princeton Instruments ${this.chip}` : "Princeton Instruments CCD (PVCAM)", serial: this.serial || this.camName || this.sdk?.description, simulated: this.sdk?.simulated === true };
  }

  // ---------------------------------------------------------------- PVCAM plumbing

  private locked<T>(f: (sdk: PvcamSdk) => Promise<T>): Promise<T> {
    const sdk = this.sdk;
    if (!sdk) return Promise.reject(this.err("call", "NOT_CONNECTED", "not connected (call connect())"));
    const r = this.chain.then(
      () => f(sdk),
      () => f(sdk),
    );
    this.chain = r.catch(() => {});
    return r;
  }

  private err(fn: string, code: number | string, message: string): PvcamError {
    return new PvcamError(this.name, fn, code, message);
  }

  /** The PvcamError for a PV_FAIL of `fn`, with pl_error_code / pl_error_message. */
  private async pvError(fn: string, detail?: string): Promise<PvcamError> {
    let code: number | string = "PV_FAIL";
    let msg = "PV_FAIL (no detail from pl_error_code)";
    try {
      const c = await this.locked((s) => s.pl_error_code());
      if (c !== 0) {
        code = c;
        const m = await this.locked((s) => s.pl_error_message(c));
        msg = m.ok && m.value ? m.value : `PVCAM error ${c}`;
      }
    } catch {
      // keep the generic message
    }
    return this.err(fn, code, detail ? `${msg} — ${detail}` : msg);
  }

  private async ok(fn: string, call: (s: PvcamSdk) => Promise<boolean>, detail?: string): Promise<void> {
    if (!(await this.locked(call))) throw await this.pvError(fn, detail);
  }

  private async get<T>(fn: string, call: (s: PvcamSdk) => Promise<PvOut<T>>, detail?: string): Promise<T> {
    const r = await this.locked(call);
    if (!r.ok) throw await this.pvError(fn, detail);
    return r.value;
  }

  private h(): number {
    if (this.hcam === undefined) throw this.err("call", "NOT_CONNECTED", "camera not open (call connect())");
    return this.hcam;
  }

  private async param(id: number, attr: number = ATTR.CURRENT): Promise<number> {
    const v = await this.get(`pl_get_param(0x${id.toString(16)})`, (s) => s.pl_get_param(this.h(), id, attr));
    if (typeof v !== "number") throw this.err("pl_get_param", "BAD_VALUE", `parameter 0x${id.toString(16)} is not numeric`);
    return v;
  }

  private async paramStr(id: number): Promise<string> {
    return String(await this.get(`pl_get_param(0x${id.toString(16)})`, (s) => s.pl_get_param(this.h(), id, ATTR.CURRENT)));
  }

  private async setParam(id: number, v: PvParamValue): Promise<void> {
    await this.ok(`pl_set_param(0x${id.toString(16)}, ${v})`, (s) => s.pl_set_param(this.h(), id, v));
  }

  private async isAvail(id: number): Promise<boolean> {
    const r = await this.locked((s) => s.pl_get_param(this.h(), id, ATTR.AVAIL));
    return r.ok && r.value !== 0;
  }

  private requireConnected(): void {
    if (!this.connected) throw this.err("call", "NOT_CONNECTED", "not connected (call connect())");
  }

  private badArg(detail: string): PvcamError {
    return this.err("configure", "BAD_ARGUMENT", detail);
  }

  // ---------------------------------------------------------------- life cycle

  async connect(): Promise<void> {
    if (this.connected) return;
    if (!this.sdk) this.sdk = await loadPvcam({ library: this.o.library, device: this.name });
    await this.teardown(); // a previous, lost session
    try {
      await this.ok("pl_pvcam_init", (s) => s.pl_pvcam_init(), `via ${this.sdk.description}`);
      this.initialized = true;
      if (this.sdk.pl_exp_init_seq) await this.ok("pl_exp_init_seq", (s) => s.pl_exp_init_seq!());
      const total = await this.get("pl_cam_get_total", (s) => s.pl_cam_get_total());
      if (total < 1) throw this.err("pl_cam_get_total", "NO_CAMERA", "no PVCAM camera found (is it powered and connected?)");
      const cam = this.o.camera ?? 0;
      this.camName = typeof cam === "string" ? cam : await this.get("pl_cam_get_name", (s) => s.pl_cam_get_name(cam));
      this.hcam = await this.get("pl_cam_open", (s) => s.pl_cam_open(this.camName, OPEN_EXCLUSIVE), `camera "${this.camName}"`);
      await this.identify();
      this.connected = true;
      const full = { x: 0, y: 0, width: this.geom.width, height: this.geom.height };
      const prev = this.s;
      const rates = this.readoutRates();
      const next = this.validate({
        ...prev,
        roi: prev.roi.width > 0 ? prev.roi : full,
        readoutRateHz: rates.includes(prev.readoutRateHz) ? prev.readoutRateHz : rates.includes(1e6) ? 1e6 : rates[0],
      });
      await this.apply(next);
      this.s = next;
      this.frameNo = 0;
    } catch (e) {
      this.connected = false;
      await this.teardown();
      throw e;
    }
  }

  private async identify(): Promise<void> {
    const P = this.P;
    for (const id of Object.values(P)) if (await this.isAvail(id)) this.avail.add(id);
    const pix = this.avail.has(P.PIX_SER_SIZE) ? (await this.param(P.PIX_SER_SIZE)) / 1000 : 0;
    this.geom = { width: await this.param(P.SER_SIZE), height: await this.param(P.PAR_SIZE), pixelSizeUm: pix, bitDepth: await this.param(P.BIT_DEPTH) };
    this.chip = this.avail.has(P.CHIP_NAME) ? await this.paramStr(P.CHIP_NAME) : "";
    this.serial = this.avail.has(P.HEAD_SER_NUM_ALPHA) ? await this.paramStr(P.HEAD_SER_NUM_ALPHA) : "";
    // speed table: every read-out port x speed index
    this.ports = this.avail.has(P.READOUT_PORT) ? Math.max(1, await this.param(P.READOUT_PORT, ATTR.COUNT)) : 1;
    this.speeds = [];
    for (let port = 0; port < this.ports; port++) {
      if (this.ports > 1) await this.setParam(P.READOUT_PORT, port);
      const max = await this.param(P.SPDTAB_INDEX, ATTR.MAX);
      for (let i = 0; i <= max; i++) {
        await this.setParam(P.SPDTAB_INDEX, i);
        const ns = await this.param(P.PIX_TIME);
        this.speeds.push({ port, index: i, rateHz: Math.round(1e9 / ns), bitDepth: await this.param(P.BIT_DEPTH), gainMax: await this.param(P.GAIN_INDEX, ATTR.MAX) });
      }
    }
    this.expRes = this.avail.has(P.EXP_RES) && (await this.param(P.EXP_RES, ATTR.COUNT)) >= 2 ? EXP_RES.ONE_MICROSEC : EXP_RES.ONE_MILLISEC;
    this.tempRange = { min: (await this.param(P.TEMP_SETPOINT, ATTR.MIN)) / 100, max: (await this.param(P.TEMP_SETPOINT, ATTR.MAX)) / 100 };
    this.setpointC = (await this.param(P.TEMP_SETPOINT)) / 100;
    this.coolerOn = this.setpointC < this.tempRange.max;
    this.clearDefault = this.clearNow = this.avail.has(P.CLEAR_MODE) ? await this.param(P.CLEAR_MODE) : undefined;
    this.shutterDelays = {
      openS: this.avail.has(P.SHTR_OPEN_DELAY) ? (await this.param(P.SHTR_OPEN_DELAY)) / 1000 : 0,
      closeS: this.avail.has(P.SHTR_CLOSE_DELAY) ? (await this.param(P.SHTR_CLOSE_DELAY)) / 1000 : 0,
    };
  }

  /** Close the camera and PVCAM, ignoring failures (used by close() and after a failed connect). */
  private async teardown(): Promise<void> {
    if (this.hcam !== undefined) {
      const h = this.hcam;
      await this.locked((s) => s.pl_exp_abort(h, CCS.HALT_CLOSE_SHTR)).catch(() => {});
      await this.locked((s) => s.pl_cam_close(h)).catch(() => {});
      this.hcam = undefined;
    }
    if (this.initialized) {
      await this.locked((s) => s.pl_pvcam_uninit()).catch(() => {});
      this.initialized = false;
    }
  }

  async close(): Promise<void> {
    if (this.active) {
      await this.abort();
      await this.activeDone?.catch(() => {});
    }
    this.connected = false;
    await this.teardown();
  }

  // ---------------------------------------------------------------- settings

  sensor() {
    return { ...this.geom };
  }

  readoutRates(): number[] {
    return [...new Set(this.speeds.map((e) => e.rateHz))];
  }

  settings(): AreaDetectorSettings {
    return { ...this.s, roi: { ...this.s.roi }, binning: { ...this.s.binning } };
  }

  timing(): AreaDetectorTiming {
    return { exposureS: this.t.exposureS, readoutS: this.t.readoutS, cycleS: this.t.cycleS };
  }

  private speedFor(rateHz: number): SpeedEntry | undefined {
    return this.speeds.find((e) => e.rateHz === rateHz);
  }

  private validate(n: AreaDetectorSettings): AreaDetectorSettings {
    const { width: W, height: H } = this.geom;
    const r = n.roi;
    const int = Number.isInteger;
    if (![r.x, r.y, r.width, r.height].every(int) || r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > W || r.y + r.height > H) throw this.badArg(`ROI ${JSON.stringify(r)} outside the ${W}x${H} sensor`);
    const b = n.binning;
    if (!int(b.x) || !int(b.y) || b.x < 1 || b.y < 1 || b.x > r.width || b.y > r.height) throw this.badArg(`binning ${b.x}x${b.y} invalid for ROI ${r.width}x${r.height}`);
    if (!(Number.isFinite(n.exposureS) && n.exposureS >= 0)) throw this.badArg(`exposure ${n.exposureS} s must be >= 0`);
    const unit = EXP_RES_S[this.expRes];
    if (Math.round(n.exposureS / unit) > 0xffffffff) throw this.badArg(`exposure ${n.exposureS} s too long`);
    const sp = this.speedFor(n.readoutRateHz);
    if (!sp) throw this.badArg(`read-out rate ${n.readoutRateHz} Hz not in ${this.readoutRates().join(", ")}`);
    if (!(int(n.gainIndex) && n.gainIndex >= 0 && n.gainIndex < sp.gainMax)) throw this.badArg(`gain index ${n.gainIndex} not in 0..${sp.gainMax - 1}`);
    if (n.emGain > 1) throw this.badArg("no EM gain on this camera");
    if (n.frameTransfer) throw this.badArg("full-frame sensor: no frame-transfer mode");
    if (EXPOSURE_MODE[n.triggerMode] === undefined) throw this.badArg(`trigger mode ${String(n.triggerMode)} not supported by PVCAM sequences`);
    if (!(n.shutter in SHUTTER_MODE)) throw this.badArg(`shutter mode ${String(n.shutter)}`);
    return { ...n, roi: { ...r }, binning: { ...b } };
  }

  private region(n: AreaDetectorSettings) {
    const r = n.roi;
    return { s1: r.x, s2: r.x + r.width - 1, sbin: n.binning.x, p1: r.y, p2: r.y + r.height - 1, pbin: n.binning.y };
  }

  private expUnits(exposureS: number): number {
    return Math.round(exposureS / EXP_RES_S[this.expRes]);
  }

  private async apply(n: AreaDetectorSettings): Promise<void> {
    const P = this.P;
    const sp = this.speedFor(n.readoutRateHz)!;
    if (this.ports > 1) await this.setParam(P.READOUT_PORT, sp.port);
    await this.setParam(P.SPDTAB_INDEX, sp.index);
    await this.setParam(P.GAIN_INDEX, n.gainIndex + 1);
    if (this.avail.has(P.SHTR_OPEN_MODE)) await this.setParam(P.SHTR_OPEN_MODE, SHUTTER_MODE[n.shutter]);
    if (this.avail.has(P.EXP_RES)) await this.setParam(P.EXP_RES, this.expRes);
    // the camera's own clear mode (an overlapped frame may have left CLEAR_NEVER), so CLEARING_TIME is its clearing
    if (this.clearDefault !== undefined && this.clearNow !== this.clearDefault) {
      await this.setParam(P.CLEAR_MODE, this.clearDefault);
      this.clearNow = this.clearDefault;
    }
    // a one-frame set-up makes PVCAM compute READOUT_TIME for this region
    const units = this.expUnits(n.exposureS);
    await this.get("pl_exp_setup_seq", (s) => s.pl_exp_setup_seq(this.h(), 1, 1, [this.region(n)], EXPOSURE_MODE[n.triggerMode]!, units));
    const exposureS = units * EXP_RES_S[this.expRes];
    const w = Math.floor(n.roi.width / n.binning.x),
      hgt = Math.floor(n.roi.height / n.binning.y);
    const readoutS = this.avail.has(P.READOUT_TIME)
      ? (await this.param(P.READOUT_TIME)) * (this.o.readoutTimeUnitS ?? 1e-3)
      : this.geom.height * 15e-6 + (w * hgt) / n.readoutRateHz; // estimate: row shifts + digitisation
    const clearS = this.avail.has(P.CLEARING_TIME) ? (await this.param(P.CLEARING_TIME)) * (this.o.clearingTimeUnitS ?? 1e-9) : 0;
    const auto = n.shutter === "auto";
    const preS = clearS + (auto ? this.shutterDelays.openS : 0);
    const postS = (auto ? this.shutterDelays.closeS : 0) + readoutS;
    this.t = { exposureS, readoutS, cycleS: preS + exposureS + postS, clearS, preS };
  }

  async configure(p: Partial<AreaDetectorSettings>): Promise<AreaDetectorSettings> {
    this.requireConnected();
    if (this.active) throw this.err("configure", "BUSY", "cannot configure while acquiring");
    const prev = this.s;
    const next = this.validate({ ...prev, ...p, roi: { ...prev.roi, ...(p.roi ?? {}) }, binning: { ...prev.binning, ...(p.binning ?? {}) } });
    try {
      await this.apply(next);
    } catch (e) {
      await this.apply(prev).catch(() => {});
      throw e;
    }
    this.s = next;
    return this.settings();
  }

  // ---------------------------------------------------------------- acquisition

  async acquire(signal?: AbortSignal, opts?: AcquireOptions): Promise<Frame> {
    let frame: Frame | undefined;
    await this.acquireSequence(1, (f) => void (frame = f), signal, opts);
    return frame!;
  }

  /** `opts.onExposureEnd` is called once, when the last frame's exposure is over (see the header). */
  async acquireSequence(n: number, onFrame: (f: Frame) => void | Promise<void>, signal?: AbortSignal, opts?: AcquireOptions): Promise<void> {
    if (!(Number.isInteger(n) && n >= 1 && n <= 0xffff)) throw this.err("pl_exp_setup_seq", "BAD_ARGUMENT", `frame count ${n} must be an integer in 1..65535`);
    this.requireConnected();
    if (this.active) throw this.err("pl_exp_start_seq", "BUSY", "acquisition already in progress");
    const ac = new AbortController();
    this.active = ac;
    const sig = signal ? AbortSignal.any([signal, ac.signal]) : ac.signal;
    const run = this.run(n, onFrame, sig, opts);
    this.activeDone = run;
    try {
      await run;
    } catch (e) {
      if (ac.signal.aborted && !signal?.aborted) throw this.err("pl_exp_abort", "ABORTED", "acquisition aborted");
      throw e;
    } finally {
      this.active = undefined;
      this.activeDone = undefined;
    }
  }

  private async run(n: number, onFrame: (f: Frame) => void | Promise<void>, sig: AbortSignal, opts?: AcquireOptions): Promise<void> {
    const s = this.s;
    const h = this.h();
    const w = Math.floor(s.roi.width / s.binning.x),
      hgt = Math.floor(s.roi.height / s.binning.y);
    const px = w * hgt;
    const units = this.expUnits(s.exposureS);
    const tm0 = this.t;
    // overlapped frames follow a read-out that emptied the sensor: no clear cycles, unless it sat idle
    const skipClear = opts?.continuous === true && this.clearDefault !== undefined && tm0.clearS > 0 && this.clock.now() - this.lastReadoutEnd <= (this.o.clearIdleS ?? 1);
    const clearMode = skipClear ? CLEAR.NEVER : this.clearDefault;
    if (clearMode !== undefined && clearMode !== this.clearNow) {
      await this.setParam(this.P.CLEAR_MODE, clearMode);
      this.clearNow = clearMode;
    }
    const tm = skipClear ? { ...tm0, preS: tm0.preS - tm0.clearS, cycleS: tm0.cycleS - tm0.clearS } : tm0;
    const bytes = await this.get("pl_exp_setup_seq", (k) => k.pl_exp_setup_seq(h, n, 1, [this.region(s)], EXPOSURE_MODE[s.triggerMode]!, units));
    if (bytes !== n * px * 2) throw this.err("pl_exp_setup_seq", "BAD_VALUE", `PVCAM wants ${bytes} bytes for ${n} frames of ${w}x${hgt} (expected ${n * px * 2})`);
    const buffer = new Uint16Array(bytes / 2);
    const limitS = (n * tm.cycleS) * (this.o.timeoutFactor ?? 1.5) + (this.o.timeoutMarginS ?? 5);
    if (sig.aborted) throw abortReason(sig);
    const t0 = this.clock.now();
    const deadline = t0 + limitS;
    await this.ok("pl_exp_start_seq", (k) => k.pl_exp_start_seq(h, buffer));
    // overlap: the last frame's exposure is expected to end here; from then on the status is polled finely
    const onEnd = opts?.onExposureEnd;
    let released = onEnd === undefined;
    const lastExposureEnd = t0 + tm.preS + (n - 1) * tm.cycleS + tm.exposureS;
    const readoutEnd = t0 + n * tm.cycleS;
    const fineWindowS = Math.max(5 * (this.o.pollS ?? 0.01), 0.1 * tm.readoutS);
    const closeS = s.shutter === "auto" ? this.shutterDelays.closeS : 0;
    const release = async () => {
      released = true;
      // the shutter closes after the exposure (SHTR_CLOSE_DELAY) before the charge is safe from the beam
      if (closeS > 0) await this.clock.sleep(closeS, sig);
      onEnd!({ imageAreaFree: false }); // full-frame sensor: it reads out through the image area
    };
    let delivered = 0;
    const deliverUpTo = async (count: number) => {
      while (delivered < count) {
        const i = delivered++;
        const data = buffer.slice(i * px, (i + 1) * px);
        await onFrame({ width: w, height: hgt, data, timestamp: t0 + tm.preS + i * tm.cycleS, exposureS: tm.exposureS, number: ++this.frameNo });
      }
    };
    try {
      for (;;) {
        if (sig.aborted) throw abortReason(sig);
        const st = await this.get("pl_exp_check_status", (k) => k.pl_exp_check_status(h));
        // the release point: the last frame (the earlier ones' bytes are in) is no longer exposing
        if (!released && (st.status === STATUS.READOUT_IN_PROGRESS || st.status === STATUS.READOUT_COMPLETE) && st.bytes_arrived >= (n - 1) * px * 2) await release();
        if (st.status === STATUS.READOUT_COMPLETE) {
          this.lastReadoutEnd = this.clock.now();
          await deliverUpTo(n);
          break;
        }
        // frames whose bytes are all in are complete, also when the read-out failed after them
        await deliverUpTo(Math.min(n, Math.floor(st.bytes_arrived / (px * 2))));
        if (st.status === STATUS.READOUT_FAILED) throw await this.pvError("pl_exp_check_status", `READOUT_FAILED after ${delivered} of ${n} frames`);
        if (st.status === STATUS.READOUT_NOT_ACTIVE && delivered < n) throw this.err("pl_exp_check_status", "READOUT_NOT_ACTIVE", `sequence stopped after ${delivered} of ${n} frames`);
        const left = deadline - this.clock.now();
        if (left <= 0) throw this.err("pl_exp_check_status", "TIMEOUT", `timeout: frame ${delivered + 1} of ${n} not read out within ${limitS.toFixed(3)} s (status ${STATUS_NAMES[st.status] ?? st.status})`);
        const pollS = this.o.pollS ?? 0.01;
        // before the release: wake up at the expected end of the exposure, then poll finely until the status says so
        // wake up at the expected end of the exposure (before the release) and of the read-out (after it), then poll
        // finely for a while: the point is seen within releasePollS instead of pollS (the next exposure waits for it)
        const fine = this.o.releasePollS ?? 0.001;
        const now = this.clock.now();
        const target = released ? readoutEnd : lastExposureEnd;
        const wait = now < target ? Math.min(pollS, target - now) : now < target + fineWindowS ? fine : pollS;
        await this.clock.sleep(Math.min(wait, left), sig).catch(() => {});
      }
    } catch (e) {
      await this.locked((k) => k.pl_exp_abort(h, CCS.HALT_CLOSE_SHTR)).catch(() => {});
      throw e;
    }
    await this.ok("pl_exp_finish_seq", (k) => k.pl_exp_finish_seq(h, buffer, 0));
  }

  async abort(): Promise<void> {
    this.active?.abort(this.err("pl_exp_abort", "ABORTED", "acquisition aborted"));
  }

  // ---------------------------------------------------------------- cooling

  async setCooling(on: boolean, setpointC?: number): Promise<void> {
    this.requireConnected();
    const { min, max } = this.tempRange;
    if (setpointC !== undefined) {
      if (!(Number.isFinite(setpointC) && setpointC >= min && setpointC <= max)) throw this.err("pl_set_param(TEMP_SETPOINT)", "BAD_ARGUMENT", `temperature set-point ${setpointC} C outside ${min}..${max}`);
      this.setpointC = setpointC;
    }
    await this.setParam(this.P.TEMP_SETPOINT, Math.round((on ? this.setpointC : max) * 100));
    this.coolerOn = on;
    this.inWindowSince = null;
    this.wasStable = false;
  }

  async cooling(): Promise<CoolingStatus> {
    this.requireConnected();
    const t = (await this.param(this.P.TEMP)) / 100;
    const now = this.clock.now();
    let state: CoolingStatus["state"] = "off";
    if (this.coolerOn) {
      const inWin = Math.abs(t - this.setpointC) <= (this.o.coolingWindowC ?? 0.5);
      if (!inWin) this.inWindowSince = null;
      else if (this.inWindowSince === null) this.inWindowSince = now;
      const stable = this.inWindowSince !== null && now - this.inWindowSince >= (this.o.coolingStableS ?? 30);
      if (stable) this.wasStable = true;
      state = stable ? "stabilized" : inWin ? "not-stabilized" : this.wasStable ? "drift" : "not-reached";
    }
    return { temperatureC: t, setpointC: this.setpointC, coolerOn: this.coolerOn, state };
  }

  async waitCooled(timeoutS: number, signal?: AbortSignal): Promise<void> {
    this.requireConnected();
    if (!this.coolerOn) throw this.err("waitCooled", "COOLER_OFF", "cooler is off: setCooling(true) first");
    const end = this.clock.now() + timeoutS;
    for (;;) {
      const c = await this.cooling();
      if (c.state === "stabilized") return;
      const left = end - this.clock.now();
      if (left <= 0) throw this.err("waitCooled", "TIMEOUT", `not stabilised at ${this.setpointC} C within ${timeoutS} s (now ${c.temperatureC} C, ${c.state})`);
      await this.clock.sleep(Math.min(this.o.coolingPollS ?? 1, left), signal);
    }
  }
}

function abortReason(sig: AbortSignal): Error {
  const r = sig.reason;
  return r instanceof Error ? r : new Error(String(r ?? "aborted"));
}

/** Factory for the lead: the real library (default) or a given binding such as the SDK twin. */
export function createPrincetonPvcam(o: PrincetonPvcamOptions = {}): PrincetonPvcam {
  return new PrincetonPvcam(o);
}

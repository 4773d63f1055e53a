/**
 * AndorIxon: an AreaDetector on an Andor iXon through the SDK2 binding (`AndorSdk2`: the real library via
 * koffi, or the SDK twin). All the logic lives here, above the thin binding:
 *
 * - connect: Initialize -> GetDetector / GetPixelSize / GetBitDepth / head model / serial -> speed tables
 *   (GetNumberHSSpeeds + GetHSSpeed per amplifier, VS speed = fastest recommended) -> pre-amp gains ->
 *   EM gain mode + range -> temperature range -> apply the settings;
 * - configure: validate against the tables, then SetReadMode(image), SetImage, SetFrameTransferMode,
 *   SetHSSpeed, SetVSSpeed, SetPreAmpGain, SetEMCCDGain, SetExposureTime, SetShutter, SetTriggerMode; the
 *   timing really applied is read back (GetAcquisitionTimings in kinetics mode, GetReadOutTime);
 * - acquisition state machine: IDLE -> StartAcquisition -> ACQUIRING (wait for events with
 *   WaitForAcquisitionTimeOut on a koffi worker thread, or poll GetStatus on the clock) -> fetch images
 *   (GetAcquiredData16 for one frame, GetNumberNewImages + GetImages16 for a kinetic series) -> IDLE, with a
 *   clock deadline derived from the applied timings; abort = CancelWait + AbortAcquisition;
 * - overlap (AcquireOptions.onExposureEnd): SDK2 has no "exposure over" status (GetStatus says DRV_ACQUIRING until
 *   the read-out ended), so the release point is computed from what the SDK reports and measured on the clock
 *   from StartAcquisition's return: keep-clean cycle (GetKeepCleanTime) + shutter opening (auto shutter) +
 *   exposure really applied (GetAcquisitionTimings) + frame-transfer shift (sensor rows x GetVSSpeed) or shutter
 *   closing; without GetKeepCleanTime (older SDKs), the kinetic cycle less the read-out (GetReadOutTime), which
 *   is never early. The read-out and GetAcquiredData16 go on after the release. The clock starts at
 *   StartAcquisition (internal trigger) or SendSoftwareTrigger (software); with an external trigger the start of
 *   the exposure is unknown, so the release comes only when the acquisition has ended (no overlap);
 * - error recovery: ACQ_BUFFER / ACQ_DOWNFIFO_FULL -> AbortAcquisition and one retry of the frames still
 *   missing; lost camera (NOCAMERA, ERROR_ACK, USBERROR, NOT_INITIALIZED) -> marked disconnected, the next
 *   connect() re-initialises; every failing code becomes an AndorError (DeviceError with the DRV_ name);
 * - cooling: SetTemperature (checked against GetTemperatureRange) + CoolerON/OFF; GetTemperatureF's state
 *   codes (20034-20040) are states, not failures; close() warms the sensor above -20 C before ShutDown.
 *
 * All SDK calls are serialised through one queue (the SDK is not thread-safe); CancelWait bypasses it.
 */
import { RealClock, type Clock } from "../../runtime/clock.ts";
import type { AcquireOptions, AreaDetector, AreaDetectorSettings, AreaDetectorTiming, CoolingStatus, Frame, ShutterMode, TriggerMode } from "../../runtime/devices/area-detector.ts";
import { DeviceError, type DeviceInfo } from "../../runtime/devices/common.ts";
import { ACQUISITION_FAILURES, AndorError, DRV, RETRYABLE, drvName, isTemperatureState } from "./codes.ts";
import { loadAndorSdk2 } from "./ffi.ts";
import { ACQ_MODE, AMPLIFIER, EM_GAIN_MODE, READ_MODE, SHUTTER_MODE, TRIGGER, type AndorSdk2, type Out } from "./sdk.ts";

export type AndorAmplifierName = "em" | "conventional";

export interface AndorIxonOptions {
  /** The binding to use (e.g. the SDK twin). When absent, the real library is loaded at connect(). */
  sdk?: AndorSdk2;
  /** Path(s) of libandor.so / atmcd64d.dll (default: $ANDOR_SDK2_LIBRARY, then the usual names). */
  library?: string | readonly string[];
  /** Clock for deadlines and poll intervals (default RealClock; the twin's clock for the SDK twin). */
  clock?: Clock;
  /** Device name in errors (default "andor-ixon"). */
  name?: string;
  /** Initialize(dir): directory with DETECTOR.INI / firmware (default "/usr/local/etc/andor" on Linux, "" elsewhere). */
  initDir?: string;
  /** Initial settings (applied at connect). */
  settings?: Partial<AreaDetectorSettings>;
  /** Output amplifier (SetHSSpeed type): "em" (default when present) or "conventional". */
  amplifier?: AndorAmplifierName;
  /** SetEMGainMode (default 3: real EM gain). */
  emGainMode?: number;
  /** SetVSSpeed index (default: GetFastestRecommendedVSSpeed). */
  vsSpeedIndex?: number;
  /** SetShutter: TTL level that opens the shutter (default 1, high) and the delays in ms (default 10/10). */
  shutterTtl?: 0 | 1;
  shutterOpenMs?: number;
  shutterCloseMs?: number;
  /** Wait for images with WaitForAcquisitionTimeOut ("wait", default) or by polling GetStatus ("poll"). */
  waitStrategy?: "wait" | "poll";
  /** Longest single WaitForAcquisitionTimeOut, ms (default 500; bounds the latency of cooling() during an acquisition). */
  waitSliceMs?: number;
  /** Poll interval of the "poll" strategy, clock seconds (default 0.002). */
  pollS?: number;
  /** waitCooled / warm-up poll interval, clock seconds (default 1). */
  coolingPollS?: number;
  /** Acquisition deadline = expected duration * timeoutFactor + timeoutMarginS (defaults 1.5 and 2 s). */
  timeoutFactor?: number;
  timeoutMarginS?: number;
  /** Retries after ACQ_BUFFER / ACQ_DOWNFIFO_FULL (default 1). */
  retries?: number;
  /** Cooling set-point used by setCooling(true) without one (default -70 C, clamped to the range). */
  coolingSetpointC?: number;
  /** close(): cooler off and wait until the sensor is above `aboveC` (max `timeoutS` clock s) before ShutDown; false = no wait. */
  warmUpOnClose?: { aboveC: number; timeoutS: number } | false;
}

/** Codes after which the camera must be initialised again. */
const LINK_LOST: ReadonlySet<number> = new Set([DRV.ERROR_NOCAMERA, DRV.ERROR_ACK, DRV.USBERROR, DRV.NOT_INITIALIZED, DRV.VXDNOTINSTALLED]);

const SHUTTER_CODE: Record<ShutterMode, number> = { auto: SHUTTER_MODE.AUTO, open: SHUTTER_MODE.OPEN, closed: SHUTTER_MODE.CLOSED, none: SHUTTER_MODE.OPEN };
const TRIGGER_CODE: Record<TriggerMode, number> = { internal: TRIGGER.INTERNAL, external: TRIGGER.EXTERNAL, "external-exposure": TRIGGER.EXTERNAL_EXPOSURE, software: TRIGGER.SOFTWARE };

interface SensorInfo {
  width: number;
  height: number;
  pixelSizeUm: number;
  bitDepth: number;
}

export class AndorIxon implements AreaDetector {
  readonly clock: Clock;
  readonly name: string;
  private sdk: AndorSdk2 | undefined;
  private readonly o: AndorIxonOptions;
  private connected = false;
  private initialized = false;
  private chain: Promise<unknown> = Promise.resolve();
  private geom: SensorInfo = { width: 0, height: 0, pixelSizeUm: 0, bitDepth: 16 };
  private hsRates: Record<AndorAmplifierName, number[]> = { em: [], conventional: [] };
  private amp: AndorAmplifierName;
  private vsIndex = 0;
  private preAmpGains = 1;
  private emRange = { low: 0, high: 0 };
  private tempRange = { min: -100, max: 20 };
  private setpointC: number;
  private coolerOn = false;
  private model = "";
  private serial = "";
  private s: AreaDetectorSettings;
  private t: AreaDetectorTiming = { exposureS: 0, readoutS: 0, cycleS: 0 };
  /** Overlap: seconds from StartAcquisition to the release point of one frame (the header). */
  private releaseAfterS = 0;
  /** Vertical shift time per row, s (GetVSSpeed of the index in use). */
  private vsSpeedS = 0;
  private active: AbortController | undefined;
  private activeDone: Promise<unknown> | undefined;
  private frameNo = 0;

  constructor(o: AndorIxonOptions = {}) {
    this.o = o;
    this.sdk = o.sdk;
    this.clock = o.clock ?? (o.sdk && "clock" in o.sdk ? (o.sdk as unknown as { clock: Clock }).clock : new RealClock());
    this.name = o.name ?? "andor-ixon";
    this.amp = o.amplifier ?? "em";
    this.setpointC = o.coolingSetpointC ?? -70;
    this.s = {
      exposureS: 0.001,
      roi: { x: 0, y: 0, width: 0, height: 0 },
      binning: { x: 1, y: 1 },
      readoutRateHz: 0,
      gainIndex: 0,
      emGain: 0,
      triggerMode: "internal",
      shutter: "none",
      frameTransfer: true,
      ...(o.settings ?? {}),
    } as AreaDetectorSettings;
  }

  info(): DeviceInfo {
    return { kind: "area-detector", model: this.model ? `Andor ${this.model}` : "Andor iXon (SDK2)", serial: this.serial || this.sdk?.description, simulated: this.sdk?.simulated === true };
  }

  // ---------------------------------------------------------------- SDK plumbing

  /** Run `f` after every earlier SDK call finished (strict serialisation). */
  private locked<T>(f: (sdk: AndorSdk2) => Promise<T>): Promise<T> {
    const sdk = this.sdk;
    if (!sdk) return Promise.reject(this.notConnected());
    const r = this.chain.then(
      () => f(sdk),
      () => f(sdk),
    );
    this.chain = r.catch(() => {});
    return r;
  }

  private fail(fn: string, code: number, detail?: string): AndorError {
    if (LINK_LOST.has(code)) {
      this.connected = false;
      detail = `${detail ? `${detail}; ` : ""}camera link lost: connect() again`;
    }
    return new AndorError(this.name, fn, code, detail);
  }

  /** Call a code-only function; anything but an accepted code throws. */
  private async ok(fn: string, call: (s: AndorSdk2) => Promise<number>, accept: readonly number[] = [DRV.SUCCESS], detail?: string): Promise<number> {
    const code = await this.locked(call);
    if (!accept.includes(code)) throw this.fail(fn, code, detail);
    return code;
  }

  /** Call a function with out-parameters; returns the value on DRV_SUCCESS. */
  private async get<T>(fn: string, call: (s: AndorSdk2) => Promise<Out<T>>, detail?: string): Promise<T> {
    const r = await this.locked(call);
    if (r.code !== DRV.SUCCESS) throw this.fail(fn, r.code, detail);
    return r.value;
  }

  private notConnected(): DeviceError {
    return new AndorError(this.name, "call", DRV.NOT_INITIALIZED, "not connected (call connect())");
  }

  private requireConnected(): void {
    if (!this.connected) throw this.notConnected();
  }

  private badArg(fn: string, code: number, detail: string): AndorError {
    return new AndorError(this.name, fn, code, detail);
  }

  // ---------------------------------------------------------------- life cycle

  async connect(): Promise<void> {
    if (this.connected) return;
    if (!this.sdk) this.sdk = await loadAndorSdk2({ library: this.o.library, device: this.name });
    if (this.initialized) {
      // re-connect after a lost link: start from a clean SDK state
      await this.locked((s) => s.ShutDown()).catch(() => {});
      this.initialized = false;
    }
    const dir = this.o.initDir ?? (process.platform === "linux" ? "/usr/local/etc/andor" : "");
    await this.ok("Initialize", (s) => s.Initialize(dir), [DRV.SUCCESS], `Initialize("${dir}") via ${this.sdk.description}`);
    this.initialized = true;
    this.connected = true;
    try {
      await this.identify();
      const prev = this.s;
      const full = { x: 0, y: 0, width: this.geom.width, height: this.geom.height };
      const rates = this.hsRates[this.amp];
      const wanted = this.o.settings ?? {};
      const next = this.validate({
        ...prev,
        roi: prev.roi.width > 0 ? prev.roi : { ...full, ...(wanted.roi ?? {}) },
        readoutRateHz: rates.includes(prev.readoutRateHz) ? prev.readoutRateHz : rates[0],
      });
      await this.apply(next);
      this.s = next;
      this.frameNo = 0;
    } catch (e) {
      this.connected = false;
      await this.locked((s) => s.ShutDown()).catch(() => {});
      this.initialized = false;
      throw e;
    }
  }

  private async identify(): Promise<void> {
    const det = await this.get("GetDetector", (s) => s.GetDetector());
    const px = await this.get("GetPixelSize", (s) => s.GetPixelSize());
    const depth = await this.get("GetBitDepth", (s) => s.GetBitDepth(0));
    this.geom = { width: det.xpixels, height: det.ypixels, pixelSizeUm: Math.round(px.xSize * 1000) / 1000, bitDepth: depth };
    const head = await this.locked((s) => s.GetHeadModel());
    this.model = head.code === DRV.SUCCESS ? head.value : "";
    const sn = await this.locked((s) => s.GetCameraSerialNumber());
    this.serial = sn.code === DRV.SUCCESS ? String(sn.value) : "";
    for (const [amp, typ] of [
      ["em", AMPLIFIER.EM],
      ["conventional", AMPLIFIER.CONVENTIONAL],
    ] as const) {
      const n = await this.locked((s) => s.GetNumberHSSpeeds(0, typ));
      const rates: number[] = [];
      if (n.code === DRV.SUCCESS)
        for (let i = 0; i < n.value; i++) {
          const mhz = await this.get("GetHSSpeed", (s) => s.GetHSSpeed(0, typ, i));
          rates.push(Math.round(mhz * 1000) * 1000); // float MHz -> Hz, to the kHz
        }
      this.hsRates[amp] = rates;
    }
    if (!this.hsRates[this.amp].length) {
      const other: AndorAmplifierName = this.amp === "em" ? "conventional" : "em";
      if (this.o.amplifier || !this.hsRates[other].length) throw this.badArg("GetNumberHSSpeeds", DRV.INVALID_AMPLIFIER, `no read-out rates for the ${this.amp} amplifier`);
      this.amp = other;
    }
    if (this.o.vsSpeedIndex !== undefined) this.vsIndex = this.o.vsSpeedIndex;
    else {
      const f = await this.locked((s) => s.GetFastestRecommendedVSSpeed());
      this.vsIndex = f.code === DRV.SUCCESS ? f.value.index : 0;
    }
    const vs = await this.locked((s) => s.GetVSSpeed(this.vsIndex));
    this.vsSpeedS = vs.code === DRV.SUCCESS ? vs.value * 1e-6 : 0;
    this.preAmpGains = await this.get("GetNumberPreAmpGains", (s) => s.GetNumberPreAmpGains());
    if (this.hsRates.em.length) {
      await this.ok("SetEMGainMode", (s) => s.SetEMGainMode(this.o.emGainMode ?? EM_GAIN_MODE.REAL));
      const r = await this.get("GetEMGainRange", (s) => s.GetEMGainRange());
      this.emRange = { low: r.low, high: r.high };
    }
    const tr = await this.get("GetTemperatureRange", (s) => s.GetTemperatureRange());
    this.tempRange = { min: tr.mintemp, max: tr.maxtemp };
    this.setpointC = Math.min(Math.max(this.setpointC, this.tempRange.min), this.tempRange.max);
    const cooler = await this.locked((s) => s.IsCoolerOn());
    this.coolerOn = cooler.code === DRV.SUCCESS && cooler.value === 1;
  }

  async close(): Promise<void> {
    if (!this.sdk || !this.initialized) {
      this.connected = false;
      return;
    }
    try {
      if (this.active) {
        await this.abort();
        await this.activeDone?.catch(() => {});
      }
      if (this.coolerOn && this.connected) {
        await this.ok("CoolerOFF", (s) => s.CoolerOFF());
        this.coolerOn = false;
        const w = this.o.warmUpOnClose ?? { aboveC: -20, timeoutS: 600 };
        if (w) await this.warmUp(w.aboveC, w.timeoutS);
      }
    } catch {
      // best effort: the camera may be gone; ShutDown anyway
    } finally {
      await this.locked((s) => s.ShutDown()).catch(() => {});
      this.initialized = false;
      this.connected = false;
    }
  }

  private async warmUp(aboveC: number, timeoutS: number): Promise<void> {
    const end = this.clock.now() + timeoutS;
    for (;;) {
      const r = await this.locked((s) => s.GetTemperatureF());
      if (!isTemperatureState(r.code) || r.value >= aboveC) return;
      const left = end - this.clock.now();
      if (left <= 0) return;
      await this.clock.sleep(Math.min(this.o.coolingPollS ?? 1, left));
    }
  }

  // ---------------------------------------------------------------- settings

  sensor() {
    return { ...this.geom };
  }

  readoutRates(): number[] {
    return [...this.hsRates[this.amp]];
  }

  amplifier(): AndorAmplifierName {
    return this.amp;
  }

  /** Switch the output amplifier; the rate falls back to the fastest of the new amplifier, EM gain to off. */
  async setAmplifier(a: AndorAmplifierName): Promise<void> {
    this.requireConnected();
    if (!this.hsRates[a]?.length) throw this.badArg("SetHSSpeed", DRV.INVALID_AMPLIFIER, `no ${a} amplifier on this camera`);
    const prev = this.amp;
    this.amp = a;
    try {
      const rates = this.hsRates[a];
      await this.configure({ readoutRateHz: rates.includes(this.s.readoutRateHz) ? this.s.readoutRateHz : rates[0], emGain: a === "em" ? this.s.emGain : 0 });
    } catch (e) {
      this.amp = prev;
      throw e;
    }
  }

  settings(): AreaDetectorSettings {
    return { ...this.s, roi: { ...this.s.roi }, binning: { ...this.s.binning } };
  }

  timing(): AreaDetectorTiming {
    return { ...this.t };
  }

  private validate(n: AreaDetectorSettings): AreaDetectorSettings {
    const { width: W, height: H } = this.geom;
    const r = n.roi;
    const int = Number.isInteger;
    if (![r.x, r.y, r.width, r.height].every(int) || r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > W || r.y + r.height > H)
      throw this.badArg("SetImage", DRV.P3INVALID, `ROI ${JSON.stringify(r)} outside the ${W}x${H} sensor`);
    const b = n.binning;
    if (!int(b.x) || !int(b.y) || b.x < 1 || b.y < 1 || b.x > r.width || b.y > r.height) throw this.badArg("SetImage", DRV.P1INVALID, `binning ${b.x}x${b.y} invalid for ROI ${r.width}x${r.height}`);
    if (r.width % b.x !== 0 || r.height % b.y !== 0) throw this.badArg("SetImage", DRV.BINNING_ERROR, `ROI ${r.width}x${r.height} not a multiple of binning ${b.x}x${b.y}`);
    if (!(Number.isFinite(n.exposureS) && n.exposureS >= 0)) throw this.badArg("SetExposureTime", DRV.P1INVALID, `exposure ${n.exposureS} s must be >= 0`);
    const rates = this.hsRates[this.amp];
    if (!rates.includes(n.readoutRateHz)) throw this.badArg("SetHSSpeed", DRV.P2INVALID, `read-out rate ${n.readoutRateHz} Hz not in ${rates.join(", ")} (${this.amp} amplifier)`);
    if (!(int(n.gainIndex) && n.gainIndex >= 0 && n.gainIndex < this.preAmpGains)) throw this.badArg("SetPreAmpGain", DRV.P1INVALID, `pre-amp gain index ${n.gainIndex} not in 0..${this.preAmpGains - 1}`);
    if (!(Number.isFinite(n.emGain) && n.emGain >= 0)) throw this.badArg("SetEMCCDGain", DRV.P1INVALID, `EM gain ${n.emGain}`);
    if (n.emGain > 1) {
      if (this.amp !== "em") throw this.badArg("SetEMCCDGain", DRV.INVALID_MODE, "EM gain needs the EM amplifier");
      if (n.emGain < this.emRange.low || n.emGain > this.emRange.high) throw this.badArg("SetEMCCDGain", DRV.P1INVALID, `EM gain ${n.emGain} outside ${this.emRange.low}..${this.emRange.high}`);
    }
    if (!(n.triggerMode in TRIGGER_CODE)) throw this.badArg("SetTriggerMode", DRV.P1INVALID, `trigger mode ${String(n.triggerMode)}`);
    if (!(n.shutter in SHUTTER_CODE)) throw this.badArg("SetShutter", DRV.P2INVALID, `shutter mode ${String(n.shutter)}`);
    if (typeof n.frameTransfer !== "boolean") throw this.badArg("SetFrameTransferMode", DRV.P1INVALID, `frame transfer ${String(n.frameTransfer)}`);
    return { ...n, roi: { ...r }, binning: { ...b } };
  }

  /** Send settings to the SDK and read back the timing it applies. */
  private async apply(n: AreaDetectorSettings): Promise<void> {
    const r = n.roi,
      b = n.binning;
    const typ = this.amp === "em" ? AMPLIFIER.EM : AMPLIFIER.CONVENTIONAL;
    await this.ok("SetReadMode", (s) => s.SetReadMode(READ_MODE.IMAGE));
    await this.ok("SetImage", (s) => s.SetImage(b.x, b.y, r.x + 1, r.x + r.width, r.y + 1, r.y + r.height));
    await this.ok("SetFrameTransferMode", (s) => s.SetFrameTransferMode(n.frameTransfer ? 1 : 0));
    await this.ok("SetHSSpeed", (s) => s.SetHSSpeed(typ, this.hsRates[this.amp].indexOf(n.readoutRateHz)));
    await this.ok("SetVSSpeed", (s) => s.SetVSSpeed(this.vsIndex));
    await this.ok("SetPreAmpGain", (s) => s.SetPreAmpGain(n.gainIndex));
    if (this.hsRates.em.length) await this.ok("SetEMCCDGain", (s) => s.SetEMCCDGain(n.emGain > 1 && this.amp === "em" ? Math.round(n.emGain) : this.emRange.low));
    await this.ok("SetExposureTime", (s) => s.SetExposureTime(n.exposureS));
    await this.ok("SetShutter", (s) => s.SetShutter(this.o.shutterTtl ?? 1, SHUTTER_CODE[n.shutter], this.o.shutterCloseMs ?? 10, this.o.shutterOpenMs ?? 10));
    await this.ok("SetTriggerMode", (s) => s.SetTriggerMode(TRIGGER_CODE[n.triggerMode]));
    // The timing of a kinetic series at the fastest cycle: what a sequence really runs at.
    await this.ok("SetAcquisitionMode", (s) => s.SetAcquisitionMode(ACQ_MODE.KINETICS));
    await this.ok("SetNumberKinetics", (s) => s.SetNumberKinetics(2));
    await this.ok("SetKineticCycleTime", (s) => s.SetKineticCycleTime(0));
    const tm = await this.get("GetAcquisitionTimings", (s) => s.GetAcquisitionTimings());
    const ro = await this.get("GetReadOutTime", (s) => s.GetReadOutTime());
    this.t = { exposureS: tm.exposure, readoutS: ro, cycleS: tm.kinetic };
    this.releaseAfterS = await this.releasePoint(n, tm.exposure, tm.kinetic, ro);
  }

  /** Seconds from StartAcquisition until the exposure is over and the charge safe (the header, "overlap"). */
  private async releasePoint(n: AreaDetectorSettings, exposureS: number, cycleS: number, readoutS: number): Promise<number> {
    const kc = await this.locked((s) => s.GetKeepCleanTime()).catch(() => undefined); // absent in older SDK2 releases
    if (!kc || kc.code !== DRV.SUCCESS || this.vsSpeedS <= 0) return Math.max(exposureS, cycleS - readoutS);
    const auto = n.shutter === "auto";
    // frame transfer: the exposure ends with the shift of the image area into the masked storage area
    if (n.frameTransfer) return kc.value + exposureS + this.geom.height * this.vsSpeedS;
    const openS = auto ? (this.o.shutterOpenMs ?? 10) / 1e3 : 0;
    const closeS = auto ? (this.o.shutterCloseMs ?? 10) / 1e3 : 0;
    return kc.value + openS + exposureS + closeS;
  }

  async configure(p: Partial<AreaDetectorSettings>): Promise<AreaDetectorSettings> {
    this.requireConnected();
    if (this.active) throw this.badArg("configure", DRV.ACQUIRING, "cannot configure while acquiring");
    const prev = this.s;
    const next = this.validate({ ...prev, ...p, roi: { ...prev.roi, ...(p.roi ?? {}) }, binning: { ...prev.binning, ...(p.binning ?? {}) } });
    try {
      await this.apply(next);
    } catch (e) {
      if (this.connected) await this.apply(prev).catch(() => {}); // leave the SDK as settings() says
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

  /** `opts.onExposureEnd` (one frame only) is called once, at the release point (the header). */
  async acquireSequence(n: number, onFrame: (f: Frame) => void | Promise<void>, signal?: AbortSignal, opts?: AcquireOptions): Promise<void> {
    if (!(Number.isInteger(n) && n >= 1)) throw this.badArg("SetNumberKinetics", DRV.P1INVALID, `frame count ${n} must be an integer >= 1`);
    this.requireConnected();
    if (this.active) throw this.badArg("StartAcquisition", DRV.ACQUIRING, "acquisition already in progress");
    const ac = new AbortController();
    this.active = ac;
    const sig = signal ? AbortSignal.any([signal, ac.signal]) : ac.signal;
    const cancel = () => void this.sdk?.CancelWait().catch(() => {});
    sig.addEventListener("abort", cancel, { once: true });
    // overlap: released at most once; after the release the sample may have moved, so no retry re-exposes
    let released = false;
    const onEnd = n === 1 && opts?.onExposureEnd ? (e: { imageAreaFree: boolean }) => void (released || ((released = true), opts.onExposureEnd!(e))) : undefined;
    const run = (async () => {
      let delivered = 0;
      const deliver = async (f: Frame) => {
        delivered++;
        await onFrame(f);
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await this.run(n - delivered, deliver, sig, onEnd);
          return;
        } catch (e) {
          const retry = e instanceof AndorError && RETRYABLE.has(e.code as number) && attempt < (this.o.retries ?? 1) && !sig.aborted && !released;
          if (!retry) throw e;
        }
      }
    })();
    this.activeDone = run;
    try {
      await run;
    } catch (e) {
      if (ac.signal.aborted && !signal?.aborted) throw new AndorError(this.name, "AbortAcquisition", DRV.NO_NEW_DATA, "acquisition aborted");
      throw e;
    } finally {
      sig.removeEventListener("abort", cancel);
      this.active = undefined;
      this.activeDone = undefined;
    }
  }

  /** One StartAcquisition ... IDLE cycle of `count` frames. */
  private async run(count: number, deliver: (f: Frame) => Promise<void>, sig: AbortSignal, onEnd?: AcquireOptions["onExposureEnd"]): Promise<void> {
    const single = count === 1;
    await this.ok("SetAcquisitionMode", (s) => s.SetAcquisitionMode(single ? ACQ_MODE.SINGLE : ACQ_MODE.KINETICS));
    if (!single) {
      await this.ok("SetNumberKinetics", (s) => s.SetNumberKinetics(count));
      await this.ok("SetKineticCycleTime", (s) => s.SetKineticCycleTime(0));
    }
    const tm = await this.get("GetAcquisitionTimings", (s) => s.GetAcquisitionTimings());
    const cycle = single ? Math.max(tm.kinetic, tm.exposure) : tm.kinetic;
    const expected = count * cycle + this.t.readoutS;
    const limitS = expected * (this.o.timeoutFactor ?? 1.5) + (this.o.timeoutMarginS ?? 2);
    const r = this.s.roi,
      b = this.s.binning;
    const w = r.width / b.x,
      h = r.height / b.y,
      px = w * h;
    const software = this.s.triggerMode === "software";
    if (sig.aborted) throw abortReason(sig);
    const t0 = this.clock.now();
    const deadline = t0 + limitS;
    await this.ok("StartAcquisition", (s) => s.StartAcquisition());
    // overlap: a timer from StartAcquisition's return (never earlier than the camera's own start) to the release
    // point; the frame is never handed out before the release, and an acquisition that fails first releases nothing
    let released = onEnd === undefined;
    const release = () => {
      if (released) return;
      released = true;
      onEnd!({ imageAreaFree: false }); // a single scan: the next one starts only after this read-out
    };
    const timer = new AbortController();
    // the exposure starts at StartAcquisition (internal trigger) or at the software trigger; on an external trigger
    // its start is not known to the SDK: no timer, the release comes with the end of the acquisition
    const startTimer = () => void (released || this.clock.sleep(this.releaseAfterS, AbortSignal.any([sig, timer.signal])).then(release, () => {}));
    if (this.s.triggerMode === "internal") startTimer();
    try {
      let got = 0;
      if (software) await this.ok("SendSoftwareTrigger", (s) => s.SendSoftwareTrigger());
      if (software) startTimer();
      const frame = (data: Uint16Array, index: number): Frame => ({ width: w, height: h, data, timestamp: t0 + index * cycle, exposureS: tm.exposure, number: ++this.frameNo });
      while (got < count) {
        if (sig.aborted) throw abortReason(sig);
        const left = deadline - this.clock.now();
        if (left <= 0) throw new AndorError(this.name, "WaitForAcquisitionTimeOut", DRV.NO_NEW_DATA, `timeout: image ${got + 1} of ${count} not acquired within ${limitS.toFixed(3)} s`);
        if ((this.o.waitStrategy ?? "wait") === "wait") {
          const ms = Math.max(1, Math.ceil(Math.min(this.o.waitSliceMs ?? 500, left * 1000)));
          const code = await this.locked((s) => s.WaitForAcquisitionTimeOut(ms));
          if (code !== DRV.SUCCESS && code !== DRV.NO_NEW_DATA) throw this.fail("WaitForAcquisitionTimeOut", code);
        } else {
          await this.clock.sleep(Math.min(this.o.pollS ?? 0.002, left), sig).catch(() => {});
        }
        if (sig.aborted) throw abortReason(sig);
        const status = await this.get("GetStatus", (s) => s.GetStatus());
        if (ACQUISITION_FAILURES.has(status) || (status !== DRV.ACQUIRING && status !== DRV.IDLE)) throw this.fail("GetStatus", status, `acquisition failed after ${got} of ${count} images`);
        if (single) {
          if (status === DRV.ACQUIRING) continue;
          release(); // the acquisition is over: the exposure certainly is
          const data = new Uint16Array(px);
          await this.ok("GetAcquiredData16", (s) => s.GetAcquiredData16(data, px));
          got = 1;
          await deliver(frame(data, 0));
          continue;
        }
        const nn = await this.locked((s) => s.GetNumberNewImages());
        if (nn.code === DRV.NO_NEW_DATA) {
          if (status === DRV.IDLE) throw this.fail("GetNumberNewImages", DRV.NO_NEW_DATA, `acquisition ended after ${got} of ${count} images`);
          continue;
        }
        if (nn.code !== DRV.SUCCESS) throw this.fail("GetNumberNewImages", nn.code);
        for (let i = nn.value.first; i <= nn.value.last && got < count; i++) {
          const data = new Uint16Array(px);
          await this.get("GetImages16", (s) => s.GetImages16(i, i, data, px));
          got++;
          await deliver(frame(data, i - 1));
          if (software && got < count) await this.ok("SendSoftwareTrigger", (s) => s.SendSoftwareTrigger());
        }
      }
    } catch (e) {
      await this.locked((s) => s.AbortAcquisition()).catch(() => {});
      throw e;
    } finally {
      timer.abort();
    }
  }

  async abort(): Promise<void> {
    if (!this.active) return;
    this.active.abort(new AndorError(this.name, "AbortAcquisition", DRV.NO_NEW_DATA, "acquisition aborted"));
  }

  // ---------------------------------------------------------------- cooling

  async setCooling(on: boolean, setpointC?: number): Promise<void> {
    this.requireConnected();
    const { min, max } = this.tempRange;
    if (setpointC !== undefined) {
      if (!(Number.isFinite(setpointC) && setpointC >= min && setpointC <= max)) throw this.badArg("SetTemperature", DRV.P1INVALID, `temperature set-point ${setpointC} C outside ${min}..${max}`);
      this.setpointC = setpointC;
    }
    await this.ok("SetTemperature", (s) => s.SetTemperature(Math.round(this.setpointC)));
    if (on) await this.ok("CoolerON", (s) => s.CoolerON());
    else await this.ok("CoolerOFF", (s) => s.CoolerOFF());
    this.coolerOn = on;
  }

  async cooling(): Promise<CoolingStatus> {
    this.requireConnected();
    const r = await this.locked((s) => s.GetTemperatureF());
    if (!isTemperatureState(r.code)) throw this.fail("GetTemperatureF", r.code);
    const state: CoolingStatus["state"] =
      r.code === DRV.TEMP_OFF || r.code === DRV.TEMP_NOT_SUPPORTED
        ? "off"
        : r.code === DRV.TEMP_STABILIZED
          ? "stabilized"
          : r.code === DRV.TEMP_NOT_STABILIZED
            ? "not-stabilized"
            : r.code === DRV.TEMP_DRIFT
              ? "drift"
              : "not-reached";
    return { temperatureC: Math.round(r.value * 100) / 100, setpointC: this.setpointC, coolerOn: this.coolerOn, state };
  }

  async waitCooled(timeoutS: number, signal?: AbortSignal): Promise<void> {
    this.requireConnected();
    if (!this.coolerOn) throw this.badArg("waitCooled", DRV.TEMP_OFF, "cooler is off: setCooling(true) first");
    const end = this.clock.now() + timeoutS;
    for (;;) {
      const c = await this.cooling();
      if (c.state === "stabilized") return;
      const left = end - this.clock.now();
      if (left <= 0)
        throw new AndorError(this.name, "GetTemperatureF", c.state === "not-stabilized" ? DRV.TEMP_NOT_STABILIZED : c.state === "drift" ? DRV.TEMP_DRIFT : DRV.TEMP_NOT_REACHED, `not stabilised at ${this.setpointC} C within ${timeoutS} s (now ${c.temperatureC} C, ${c.state})`);
      await this.clock.sleep(Math.min(this.o.coolingPollS ?? 1, left), signal);
    }
  }

  /** Name of an SDK2 code, for logs. */
  static codeName(code: number): string {
    return drvName(code);
  }
}

function abortReason(sig: AbortSignal): Error {
  const r = sig.reason;
  return r instanceof Error ? r : new Error(String(r ?? "aborted"));
}

/** Factory for the lead: the real library (default) or a given binding such as the SDK twin. */
export function createAndorIxon(o: AndorIxonOptions = {}): AndorIxon {
  return new AndorIxon(o);
}

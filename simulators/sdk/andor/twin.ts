/**
 * AndorSdk2Twin: the Andor SDK2 C functions (the `AndorSdk2` binding interface) implemented on top of the
 * iXon camera twin (`AndorIxonTwin`), so the real driver logic (drivers/andor/driver.ts) runs unchanged
 * against it. The camera twin supplies the timing model (andorPhases), the image model, cooling and its own
 * fault plan; this layer adds what the SDK does: pending settings applied at StartAcquisition, return codes,
 * the acquisition status, the image buffer with GetNumberNewImages/GetImages16, WaitForAcquisition events,
 * float32 rounding of float arguments, and C-level fault injection (see sdk-faults.ts).
 *
 * Not modelled: read modes other than image (4), acquisition modes other than single (1) and kinetics (3),
 * kinetic cycle times longer than the fastest (the twin runs and reports the fastest), more than one
 * vertical shift speed, external/software triggers (accepted; the camera twin runs as if triggered at once).
 */
import type { Clock } from "../../../runtime/clock.ts";
import type { AreaDetectorSettings, ShutterMode, TriggerMode } from "../../../runtime/devices/area-detector.ts";
import { DeviceError } from "../../../runtime/devices/common.ts";
import { AndorIxonTwin, andorPhases, type AndorIxonTwinOptions } from "../../andor-ixon.ts";
import { DRV } from "../../../drivers/andor/codes.ts";
import { ANDOR_SDK2_FUNCTIONS, type AndorSdk2, type AndorSdk2Function, type Out } from "../../../drivers/andor/sdk.ts";
import { SdkFaultPlan, type SdkFault } from "./sdk-faults.ts";

export interface AndorSdkTwinOptions extends Omit<AndorIxonTwinOptions, "clock"> {
  /** Clock of the camera twin built here (required unless `camera` is given). */
  clock?: Clock;
  /** Use this camera twin instead of building one from the other options. */
  camera?: AndorIxonTwin;
  /** C-level faults (see sdk-faults.ts); the camera twin's own `faults` still apply underneath. */
  sdkFaults?: readonly SdkFault[];
  /** GetHeadModel (default "DV860 (twin)"). */
  headModel?: string;
  /** GetCameraSerialNumber (default 860001). */
  serialNumber?: number;
  /** GetTemperatureRange, C (default: the camera twin's cooling limits, -100..20 unless configured). */
  temperatureRangeC?: { min: number; max: number };
  /** Images kept in the SDK's circular buffer (default 256). */
  bufferFrames?: number;
}

interface Acquisition {
  n: number;
  w: number;
  h: number;
  frames: Uint16Array[];
  /** Images acquired so far. */
  total: number;
  /** 1-based index of the first image not yet retrieved by GetImages16. */
  nextNew: number;
  status: number;
  running: boolean;
  ac: AbortController;
  done: Promise<void>;
  /** Status the acquisition dies with (injected "status" fault). */
  failWith?: number;
}

const SHUTTER: Record<number, ShutterMode> = { 0: "auto", 1: "open", 2: "closed" };
const TRIGGER: Record<number, TriggerMode> = { 0: "internal", 1: "external", 6: "external", 7: "external-exposure", 10: "software" };
const f32 = Math.fround;

export class AndorSdk2Twin implements AndorSdk2 {
  readonly description = "Andor SDK2 twin";
  readonly simulated = true;
  readonly camera: AndorIxonTwin;
  readonly faults: SdkFaultPlan;
  private readonly o: AndorSdkTwinOptions;
  private initialized = false;
  private gone: number | undefined;
  private acq: Acquisition | undefined;
  private event = false;
  private readonly waiters = new Set<() => void>();
  private readonly range: { min: number; max: number };
  private setpointC = -70;
  private coolerOn = false;
  // pending SDK state (applied to the camera twin at StartAcquisition)
  private readMode = 4;
  private acqMode = 1;
  private kinetics = 1;
  private kineticCycle = 0;
  private image = { hbin: 1, vbin: 1, hstart: 1, hend: 1, vstart: 1, vend: 1 };
  private ft = 0;
  private hsType = 0;
  private hsIndex = 0;
  private vsIndex = 0;
  private preAmp = 0;
  private emMode = 0;
  private emValue = 0;
  private exposure = 0.01;
  private shutter: ShutterMode = "auto";
  private trigger = 0;

  constructor(o: AndorSdkTwinOptions) {
    this.o = o;
    if (o.camera) this.camera = o.camera;
    else {
      if (!o.clock) throw new Error("AndorSdk2Twin: options.clock (or options.camera) is required");
      this.camera = new AndorIxonTwin({ ...o, clock: o.clock });
    }
    this.faults = new SdkFaultPlan(o.sdkFaults ?? [], ANDOR_SDK2_FUNCTIONS);
    this.range = o.temperatureRangeC ?? { min: o.cooling?.minC ?? -100, max: o.cooling?.maxC ?? 20 };
    this.resetState();
  }

  get clock(): Clock {
    return this.camera.clock;
  }

  /** The camera is back (after a "disappear" fault): calls work again, Initialize is needed. */
  reattach(): void {
    this.gone = undefined;
    this.initialized = false;
  }

  /** True between Initialize and ShutDown. */
  isInitialized(): boolean {
    return this.initialized;
  }

  private resetState(): void {
    const c = this.camera.cfg;
    this.readMode = 4;
    this.acqMode = 1;
    this.kinetics = 1;
    this.kineticCycle = 0;
    this.image = { hbin: 1, vbin: 1, hstart: 1, hend: c.width, vstart: 1, vend: c.height };
    this.ft = 0;
    this.hsType = 0;
    this.hsIndex = 0;
    this.vsIndex = 0;
    this.preAmp = 0;
    this.emMode = 0;
    this.emValue = 0;
    this.exposure = f32(0.01);
    this.shutter = "auto";
    this.trigger = 0;
  }

  // ---- plumbing ----

  /** Count the call, apply faults and the "initialised" rule. Returns a code to return at once, or undefined. */
  private gate(fn: AndorSdk2Function, needsInit = true): { code?: number; fault?: SdkFault } {
    const f = this.faults.next(fn);
    if (this.gone !== undefined) return { code: this.gone };
    if (f?.kind === "code") return { code: f.code! };
    if (f?.kind === "disappear") {
      this.gone = f.code ?? DRV.ERROR_NOCAMERA;
      this.acq?.ac.abort(new Error("camera gone"));
      this.wake();
      return { code: this.gone };
    }
    if (needsInit && !this.initialized) return { code: DRV.NOT_INITIALIZED };
    return { fault: f };
  }

  private async simple(fn: AndorSdk2Function, body: () => number | Promise<number>): Promise<number> {
    const g = this.gate(fn);
    if (g.code !== undefined) return g.code;
    return body();
  }

  private async out<T>(fn: AndorSdk2Function, empty: T, body: () => Out<T> | Promise<Out<T>>): Promise<Out<T>> {
    const g = this.gate(fn);
    if (g.code !== undefined) return { code: g.code, value: empty };
    return body();
  }

  private rates(typ = this.hsType): number[] {
    return this.camera.cfg.hsRatesHz[typ === 0 ? "em" : "conventional"];
  }

  private get busy(): boolean {
    return this.acq?.running === true;
  }

  /** The camera-twin settings equivalent to the pending SDK state. */
  settings(): AreaDetectorSettings {
    const i = this.image;
    const max = this.camera.cfg.emGainMax;
    const em = this.emMode === 3 ? this.emValue : this.emValue <= 0 ? 0 : 1 + (this.emValue / (this.emMode === 0 ? 255 : 4095)) * (max - 1);
    return {
      exposureS: this.exposure,
      roi: { x: i.hstart - 1, y: i.vstart - 1, width: i.hend - i.hstart + 1, height: i.vend - i.vstart + 1 },
      binning: { x: i.hbin, y: i.vbin },
      readoutRateHz: this.rates()[this.hsIndex] ?? this.rates()[0],
      gainIndex: this.preAmp,
      emGain: this.hsType === 0 ? em : 0,
      triggerMode: TRIGGER[this.trigger] ?? "internal",
      shutter: this.shutter,
      frameTransfer: this.ft === 1,
    };
  }

  private phases() {
    const s = this.settings();
    const q = this.camera.cfg.exposureResS;
    return andorPhases(this.camera.cfg, { ...s, exposureS: Math.round(s.exposureS / q) * q });
  }

  private signalEvent(): void {
    this.event = true;
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private static codeOf(e: unknown): number {
    return e instanceof DeviceError && typeof e.code === "number" ? e.code : DRV.ERROR_ACK;
  }

  // ---- life cycle / identity ----

  async Initialize(_dir: string): Promise<number> {
    const g = this.gate("Initialize", false);
    if (g.code !== undefined) return g.code;
    if (this.initialized) return DRV.SUCCESS;
    try {
      await this.camera.connect();
      const c = await this.camera.cooling();
      this.setpointC = Math.round(c.setpointC);
      this.coolerOn = c.coolerOn;
    } catch (e) {
      return AndorSdk2Twin.codeOf(e);
    }
    this.resetState();
    this.initialized = true;
    return DRV.SUCCESS;
  }

  async ShutDown(): Promise<number> {
    const g = this.gate("ShutDown", false);
    if (g.code !== undefined) return g.code;
    if (this.acq?.running) await this.stopAcquisition();
    await this.camera.close();
    this.initialized = false;
    return DRV.SUCCESS;
  }

  GetDetector() {
    const c = this.camera.cfg;
    return this.out("GetDetector", { xpixels: 0, ypixels: 0 }, () => ({ code: DRV.SUCCESS, value: { xpixels: c.width, ypixels: c.height } }));
  }

  GetPixelSize() {
    const p = f32(this.camera.cfg.pixelSizeUm);
    return this.out("GetPixelSize", { xSize: 0, ySize: 0 }, () => ({ code: DRV.SUCCESS, value: { xSize: p, ySize: p } }));
  }

  GetBitDepth(channel: number) {
    return this.out("GetBitDepth", 0, () => (channel === 0 ? { code: DRV.SUCCESS, value: this.camera.cfg.bitDepth } : { code: DRV.P1INVALID, value: 0 }));
  }

  GetHeadModel() {
    return this.out("GetHeadModel", "", () => ({ code: DRV.SUCCESS, value: this.o.headModel ?? "DV860 (twin)" }));
  }

  GetCameraSerialNumber() {
    return this.out("GetCameraSerialNumber", 0, () => ({ code: DRV.SUCCESS, value: this.o.serialNumber ?? 860001 }));
  }

  // ---- cooling ----

  GetTemperatureRange() {
    return this.out("GetTemperatureRange", { mintemp: 0, maxtemp: 0 }, () => ({ code: DRV.SUCCESS, value: { mintemp: this.range.min, maxtemp: this.range.max } }));
  }

  SetTemperature(t: number) {
    return this.simple("SetTemperature", async () => {
      if (!(Number.isInteger(t) && t >= this.range.min && t <= this.range.max)) return DRV.P1INVALID;
      if (this.busy) return DRV.ACQUIRING;
      this.setpointC = t;
      if (this.coolerOn) return this.cam(() => this.camera.setCooling(true, t));
      return DRV.SUCCESS;
    });
  }

  CoolerON() {
    return this.simple("CoolerON", async () => {
      const r = await this.cam(() => this.camera.setCooling(true, this.setpointC));
      if (r === DRV.SUCCESS) this.coolerOn = true;
      return r;
    });
  }

  CoolerOFF() {
    return this.simple("CoolerOFF", async () => {
      const r = await this.cam(() => this.camera.setCooling(false));
      if (r === DRV.SUCCESS) this.coolerOn = false;
      return r;
    });
  }

  IsCoolerOn() {
    return this.out("IsCoolerOn", 0, () => ({ code: DRV.SUCCESS, value: this.coolerOn ? 1 : 0 }));
  }

  private async temperature(fn: "GetTemperature" | "GetTemperatureF"): Promise<Out<number>> {
    return this.out(fn, 0, async () => {
      let c;
      try {
        c = await this.camera.cooling();
      } catch (e) {
        return { code: AndorSdk2Twin.codeOf(e), value: 0 };
      }
      const code =
        c.state === "off" ? DRV.TEMP_OFF : c.state === "stabilized" ? DRV.TEMP_STABILIZED : c.state === "not-stabilized" ? DRV.TEMP_NOT_STABILIZED : c.state === "drift" ? DRV.TEMP_DRIFT : DRV.TEMP_NOT_REACHED;
      return { code, value: fn === "GetTemperature" ? Math.round(c.temperatureC) : f32(c.temperatureC) };
    });
  }

  GetTemperature() {
    return this.temperature("GetTemperature");
  }

  GetTemperatureF() {
    return this.temperature("GetTemperatureF");
  }

  /** Run a camera-twin call; DeviceError -> its numeric code (or DRV_ERROR_ACK). */
  private async cam(f: () => Promise<unknown>): Promise<number> {
    try {
      await f();
      return DRV.SUCCESS;
    } catch (e) {
      return AndorSdk2Twin.codeOf(e);
    }
  }

  // ---- read-out set-up ----

  private setter(fn: AndorSdk2Function, ok: boolean, apply: () => void, invalid: number = DRV.P1INVALID): Promise<number> {
    return this.simple(fn, () => {
      if (this.busy) return DRV.ACQUIRING;
      if (!ok) return invalid;
      apply();
      return DRV.SUCCESS;
    });
  }

  SetReadMode(mode: number) {
    return this.setter("SetReadMode", isInt(mode, 0, 4), () => (this.readMode = mode));
  }

  SetAcquisitionMode(mode: number) {
    return this.setter("SetAcquisitionMode", isInt(mode, 1, 5), () => (this.acqMode = mode));
  }

  SetNumberKinetics(n: number) {
    return this.setter("SetNumberKinetics", isInt(n, 1, 2 ** 31 - 1), () => (this.kinetics = n));
  }

  SetKineticCycleTime(t: number) {
    return this.setter("SetKineticCycleTime", Number.isFinite(t) && t >= 0, () => (this.kineticCycle = f32(t)));
  }

  SetImage(hbin: number, vbin: number, hstart: number, hend: number, vstart: number, vend: number) {
    const { width: W, height: H } = this.camera.cfg;
    return this.simple("SetImage", () => {
      if (this.busy) return DRV.ACQUIRING;
      if (!isInt(hbin, 1, W)) return DRV.P1INVALID;
      if (!isInt(vbin, 1, H)) return DRV.P2INVALID;
      if (!isInt(hstart, 1, W)) return DRV.P3INVALID;
      if (!isInt(hend, hstart, W)) return DRV.P4INVALID;
      if (!isInt(vstart, 1, H)) return DRV.P5INVALID;
      if (!isInt(vend, vstart, H)) return DRV.P6INVALID;
      if ((hend - hstart + 1) % hbin !== 0 || (vend - vstart + 1) % vbin !== 0) return DRV.BINNING_ERROR;
      this.image = { hbin, vbin, hstart, hend, vstart, vend };
      return DRV.SUCCESS;
    });
  }

  SetFrameTransferMode(mode: number) {
    return this.setter("SetFrameTransferMode", mode === 0 || mode === 1, () => (this.ft = mode));
  }

  GetNumberHSSpeeds(channel: number, typ: number) {
    return this.out("GetNumberHSSpeeds", 0, () => {
      if (channel !== 0) return { code: DRV.P1INVALID, value: 0 };
      if (typ !== 0 && typ !== 1) return { code: DRV.P2INVALID, value: 0 };
      return { code: DRV.SUCCESS, value: this.rates(typ).length };
    });
  }

  GetHSSpeed(channel: number, typ: number, index: number) {
    return this.out("GetHSSpeed", 0, () => {
      if (channel !== 0) return { code: DRV.P1INVALID, value: 0 };
      if (typ !== 0 && typ !== 1) return { code: DRV.P2INVALID, value: 0 };
      const r = this.rates(typ);
      if (!isInt(index, 0, r.length - 1)) return { code: DRV.P3INVALID, value: 0 };
      return { code: DRV.SUCCESS, value: f32(r[index] / 1e6) };
    });
  }

  SetHSSpeed(typ: number, index: number) {
    return this.simple("SetHSSpeed", () => {
      if (this.busy) return DRV.ACQUIRING;
      if (typ !== 0 && typ !== 1) return DRV.P1INVALID;
      if (!isInt(index, 0, this.rates(typ).length - 1)) return DRV.P2INVALID;
      this.hsType = typ;
      this.hsIndex = index;
      return DRV.SUCCESS;
    });
  }

  GetNumberVSSpeeds() {
    return this.out("GetNumberVSSpeeds", 0, () => ({ code: DRV.SUCCESS, value: 1 }));
  }

  GetVSSpeed(index: number) {
    return this.out("GetVSSpeed", 0, () => (index === 0 ? { code: DRV.SUCCESS, value: f32(this.camera.cfg.vsSpeedS * 1e6) } : { code: DRV.P1INVALID, value: 0 }));
  }

  GetFastestRecommendedVSSpeed() {
    return this.out("GetFastestRecommendedVSSpeed", { index: 0, speed: 0 }, () => ({ code: DRV.SUCCESS, value: { index: 0, speed: f32(this.camera.cfg.vsSpeedS * 1e6) } }));
  }

  SetVSSpeed(index: number) {
    return this.setter("SetVSSpeed", index === 0, () => (this.vsIndex = index));
  }

  GetNumberPreAmpGains() {
    return this.out("GetNumberPreAmpGains", 0, () => ({ code: DRV.SUCCESS, value: this.camera.cfg.sensitivityE.length }));
  }

  SetPreAmpGain(index: number) {
    return this.setter("SetPreAmpGain", isInt(index, 0, this.camera.cfg.sensitivityE.length - 1), () => (this.preAmp = index));
  }

  SetEMGainMode(mode: number) {
    return this.setter("SetEMGainMode", isInt(mode, 0, 3), () => {
      this.emMode = mode;
      this.emValue = 0;
    });
  }

  private emRange(): { low: number; high: number } {
    return this.emMode === 3 ? { low: 1, high: this.camera.cfg.emGainMax } : { low: 0, high: this.emMode === 0 ? 255 : 4095 };
  }

  GetEMGainRange() {
    return this.out("GetEMGainRange", { low: 0, high: 0 }, () => ({ code: DRV.SUCCESS, value: this.emRange() }));
  }

  SetEMCCDGain(gain: number) {
    const r = this.emRange();
    // mode 3 accepts 0 as "off" like the real SDK's DAC modes
    return this.setter("SetEMCCDGain", Number.isInteger(gain) && (gain === 0 || (gain >= r.low && gain <= r.high)), () => (this.emValue = gain));
  }

  SetExposureTime(t: number) {
    return this.setter("SetExposureTime", Number.isFinite(t) && t >= 0 && t <= this.camera.cfg.maxExposureS, () => (this.exposure = f32(t)));
  }

  SetShutter(typ: number, mode: number, closingtime: number, openingtime: number) {
    return this.simple("SetShutter", () => {
      if (this.busy) return DRV.ACQUIRING;
      if (typ !== 0 && typ !== 1) return DRV.P1INVALID;
      if (SHUTTER[mode] === undefined) return DRV.P2INVALID;
      if (!isInt(closingtime, 0, 10000)) return DRV.P3INVALID;
      if (!isInt(openingtime, 0, 10000)) return DRV.P4INVALID;
      this.shutter = SHUTTER[mode];
      return DRV.SUCCESS;
    });
  }

  SetTriggerMode(mode: number) {
    return this.setter("SetTriggerMode", TRIGGER[mode] !== undefined, () => (this.trigger = mode));
  }

  GetAcquisitionTimings() {
    return this.out("GetAcquisitionTimings", { exposure: 0, accumulate: 0, kinetic: 0 }, () => {
      const p = this.phases();
      return { code: DRV.SUCCESS, value: { exposure: f32(p.exposureS), accumulate: f32(p.cycleS), kinetic: f32(p.cycleS) } };
    });
  }

  GetReadOutTime() {
    return this.out("GetReadOutTime", 0, () => ({ code: DRV.SUCCESS, value: f32(this.phases().readoutS) }));
  }

  /** The keep-clean cycle the camera twin runs before the exposure (none in frame transfer: andorPhases). */
  GetKeepCleanTime() {
    return this.out("GetKeepCleanTime", 0, () => ({ code: DRV.SUCCESS, value: f32(this.phases().clearS ?? 0) }));
  }

  // ---- acquisition ----

  async StartAcquisition(): Promise<number> {
    const g = this.gate("StartAcquisition");
    if (g.code !== undefined) return g.code;
    if (this.busy) return DRV.ACQUIRING;
    if (this.readMode !== 4) return DRV.NOT_SUPPORTED;
    if (this.acqMode !== 1 && this.acqMode !== 3) return DRV.NOT_SUPPORTED;
    const n = this.acqMode === 1 ? 1 : this.kinetics;
    const s = this.settings();
    try {
      await this.camera.setAmplifier(this.hsType === 0 ? "em" : "conventional");
      await this.camera.configure(s);
    } catch (e) {
      return AndorSdk2Twin.codeOf(e);
    }
    const { width: w, height: h } = this.camera.frameSize(this.camera.settings());
    const ac = new AbortController();
    const acq: Acquisition = { n, w, h, frames: [], total: 0, nextNew: 1, status: DRV.ACQUIRING, running: true, ac, done: Promise.resolve() };
    this.acq = acq;
    this.event = false;
    const fault = g.fault;
    if (fault?.kind === "status" && !fault.afterFrames) {
      acq.status = fault.status!;
      acq.running = false;
      this.signalEvent();
      return DRV.SUCCESS;
    }
    if (fault?.kind === "stall") {
      // started, never produces data: ends only with AbortAcquisition
      acq.done = new Promise<void>((resolve) => ac.signal.addEventListener("abort", () => resolve(), { once: true }));
      acq.done.then(() => this.finish(acq, DRV.IDLE));
      return DRV.SUCCESS;
    }
    const keep = this.o.bufferFrames ?? 256;
    acq.done = this.camera
      .acquireSequence(
        n,
        (f) => {
          acq.frames.push(f.data);
          if (acq.frames.length > keep) acq.frames.shift();
          acq.total++;
          this.signalEvent();
          if (fault?.kind === "status" && acq.total >= fault.afterFrames! && acq.running) {
            acq.failWith = fault.status!;
            ac.abort(new Error("injected acquisition failure"));
          }
        },
        ac.signal,
      )
      .then(
        () => this.finish(acq, DRV.IDLE),
        (e) => this.finish(acq, acq.failWith ?? (ac.signal.aborted ? DRV.IDLE : AndorSdk2Twin.codeOf(e))),
      );
    return DRV.SUCCESS;
  }

  private finish(acq: Acquisition, status: number): void {
    acq.running = false;
    acq.status = status;
    if (this.acq === acq) this.signalEvent();
  }

  private async stopAcquisition(): Promise<void> {
    const acq = this.acq;
    if (!acq?.running) return;
    acq.ac.abort(new Error("AbortAcquisition"));
    await this.camera.abort();
    await acq.done;
    acq.running = false;
    acq.status = DRV.IDLE;
  }

  AbortAcquisition() {
    return this.simple("AbortAcquisition", async () => {
      if (!this.acq?.running) return DRV.IDLE;
      await this.stopAcquisition();
      this.wake();
      return DRV.SUCCESS;
    });
  }

  SendSoftwareTrigger() {
    return this.simple("SendSoftwareTrigger", () => (this.trigger === 10 ? DRV.SUCCESS : DRV.INVALID_MODE));
  }

  GetStatus() {
    return this.out("GetStatus", 0, () => ({ code: DRV.SUCCESS, value: this.acq ? (this.acq.running ? DRV.ACQUIRING : this.acq.status) : DRV.IDLE }));
  }

  async WaitForAcquisitionTimeOut(ms: number): Promise<number> {
    const g = this.gate("WaitForAcquisitionTimeOut");
    if (g.code !== undefined) return g.code;
    if (!(Number.isInteger(ms) && ms >= 0)) return DRV.P1INVALID;
    if (this.event) {
      this.event = false;
      return DRV.SUCCESS;
    }
    const ac = new AbortController();
    let woke: () => void = () => {};
    const wakeP = new Promise<void>((res) => (woke = res));
    const w = () => woke();
    this.waiters.add(w);
    try {
      await Promise.race([this.clock.sleep(ms / 1000, ac.signal).catch(() => {}), wakeP]);
    } finally {
      this.waiters.delete(w);
      ac.abort(); // never leave a sleeper behind on a virtual clock
    }
    if (this.gone !== undefined) return this.gone;
    if (this.event) {
      this.event = false;
      return DRV.SUCCESS;
    }
    return DRV.NO_NEW_DATA;
  }

  CancelWait() {
    // callable while a wait blocks: no initialisation check, no serialisation
    const g = this.gate("CancelWait", false);
    if (g.code !== undefined) return Promise.resolve(g.code);
    this.wake();
    return Promise.resolve(DRV.SUCCESS);
  }

  private oldest(acq: Acquisition): number {
    return acq.total - acq.frames.length + 1;
  }

  GetNumberNewImages() {
    return this.out("GetNumberNewImages", { first: 0, last: 0 }, () => {
      const a = this.acq;
      if (!a || a.nextNew > a.total) return { code: DRV.NO_NEW_DATA, value: { first: 0, last: 0 } };
      return { code: DRV.SUCCESS, value: { first: Math.max(a.nextNew, this.oldest(a)), last: a.total } };
    });
  }

  GetImages16(first: number, last: number, arr: Uint16Array, size: number) {
    return this.out("GetImages16", { validfirst: 0, validlast: 0 }, () => {
      const a = this.acq;
      if (!a || a.total === 0) return { code: DRV.NO_NEW_DATA, value: { validfirst: 0, validlast: 0 } };
      if (!isInt(first, this.oldest(a), a.total)) return { code: DRV.P1INVALID, value: { validfirst: 0, validlast: 0 } };
      if (!isInt(last, first, a.total)) return { code: DRV.P2INVALID, value: { validfirst: 0, validlast: 0 } };
      const px = a.w * a.h;
      if (size !== (last - first + 1) * px || size > arr.length) return { code: DRV.P4INVALID, value: { validfirst: 0, validlast: 0 } };
      for (let i = first; i <= last; i++) arr.set(a.frames[i - this.oldest(a)], (i - first) * px);
      a.nextNew = Math.max(a.nextNew, last + 1);
      return { code: DRV.SUCCESS, value: { validfirst: first, validlast: last } };
    });
  }

  GetAcquiredData16(arr: Uint16Array, size: number) {
    return this.simple("GetAcquiredData16", () => {
      const a = this.acq;
      if (a?.running) return DRV.ACQUIRING;
      if (!a || a.total === 0) return DRV.NO_NEW_DATA;
      const px = a.w * a.h;
      if (size !== a.frames.length * px || size > arr.length) return DRV.P2INVALID;
      a.frames.forEach((f, i) => arr.set(f, i * px));
      return DRV.SUCCESS;
    });
  }

  GetMostRecentImage16(arr: Uint16Array, size: number) {
    return this.simple("GetMostRecentImage16", () => {
      const a = this.acq;
      if (!a || a.total === 0) return DRV.NO_NEW_DATA;
      if (size !== a.w * a.h || size > arr.length) return DRV.P2INVALID;
      arr.set(a.frames[a.frames.length - 1]);
      return DRV.SUCCESS;
    });
  }
}

function isInt(v: number, min: number, max: number): boolean {
  return Number.isInteger(v) && v >= min && v <= max;
}

export function createAndorSdkTwin(o: AndorSdkTwinOptions): AndorSdk2Twin {
  return new AndorSdk2Twin(o);
}

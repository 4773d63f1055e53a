/**
 * Shared part of the camera twins (PI X-ray CCD, Andor iXon): settings and validation, the acquisition
 * schedule on the clock, abort, cooling, and the illumination pattern of the transmitted beam on the sensor.
 * The subclass supplies the timing model (`phases`) and the pixel data model (`render`).
 */
import type { AcquireOptions, AreaDetector, AreaDetectorSettings, AreaDetectorTiming, CoolingStatus, Frame, Roi } from "../runtime/devices/area-detector.ts";
import { transmissionAt, type BeamState } from "./beam.ts";
import { ThermalModel } from "./thermal.ts";
import { TwinBase, anySignal, type TwinOptions } from "./twin-base.ts";

/** Where the frame's exposure falls in one cycle (all clock seconds). */
export interface CameraPhases {
  /** Before the exposure starts (clear / keep-clean, shutter opening). */
  preS: number;
  /** Exposure really applied. */
  exposureS: number;
  /** From the end of the exposure until the frame is read out (shutter closing, frame transfer, read-out). */
  postS: number;
  /** Start-to-start period of frames in a sequence. */
  cycleS: number;
  /** Read-out time alone. */
  readoutS: number;
  /** The part of preS that only clears the sensor (clear cycles, keep-clean): not needed right after a read-out. */
  clearS?: number;
  /** From the end of the exposure until the sensor collects no more charge (shutter closed, frame transfer). */
  releaseS?: number;
}

/** A sensor idle longer than this after its last read-out is cleared before the next exposure (dark charge). */
export const IDLE_CLEAR_S = 1;

export interface CoolingOptions {
  ambientC?: number;
  /** Initial set-point, C. */
  setpointC?: number;
  minC?: number;
  maxC?: number;
  /** Time constant of the approach, seconds. */
  tauS?: number;
  /** Maximum cooling/warming rate, C per minute (Infinity = none). */
  slewCPerMin?: number;
  /** |T - set-point| window of "reached", C. */
  windowC?: number;
  /** Time within the window before "stabilized", seconds. */
  stableS?: number;
  /** Start with the cooler on and the sensor already stabilised at the set-point (default false: ambient, cooler off). */
  startCooled?: boolean;
  /** Poll period of waitCooled, clock seconds (default 1). */
  pollS?: number;
}

export interface IlluminationOptions {
  /** "annulus": the bright-field cone of a zone plate with a central stop (default); "uniform": flat field. */
  shape?: "annulus" | "uniform";
  /** Outer radius as a fraction of half the smaller sensor side (default 0.7). */
  outer?: number;
  /** Inner (central stop) radius as a fraction of the outer radius (default 0.35). */
  inner?: number;
  /** Soft edge width, unbinned pixels (default 2). */
  edgePx?: number;
}

export interface CameraTwinOptions extends TwinOptions {
  /** Initial settings (validated on connect-free construction). */
  settings?: Partial<AreaDetectorSettings>;
  cooling?: CoolingOptions;
  illumination?: IlluminationOptions;
  /**
   * Fraction of the transmitted photons reaching the sensor and detected. Default: the twin's model (PI CCD:
   * the silicon QE at the beam energy; Andor: 0.8). A number overrides the model at every energy.
   */
  efficiency?: number;
}

export interface SensorGeometry {
  width: number;
  height: number;
  pixelSizeUm: number;
  bitDepth: number;
}

export abstract class CameraTwinBase extends TwinBase implements AreaDetector {
  protected readonly kind = "area-detector" as const;
  protected s: AreaDetectorSettings;
  protected readonly geom: SensorGeometry;
  protected readonly cool: Required<Omit<CoolingOptions, "startCooled">>;
  protected coolerOn: boolean;
  protected readonly thermal: ThermalModel;
  protected readonly illum: Required<IlluminationOptions>;
  protected readonly efficiency: number | undefined;
  /** The acquisition holding the image area (clear, exposure; a full-frame sensor: its read-out as well). */
  private active: AbortController | undefined;
  /**
   * Frame transfer: acquisitions whose charge is in the storage area and still reads out, while the image area is
   * free for the next exposure (at most one frame fits in the storage area).
   */
  private readonly reading = new Set<AbortController>();
  /** Frame transfer: clock time at which the storage area has been read out (the next shift may not come earlier). */
  private storageFreeAt = -Infinity;
  private frameNo = 0;
  private patternKey = "";
  private patternCache: Float32Array = new Float32Array(0);

  constructor(o: CameraTwinOptions, defaultName: string, connectS: number, geom: SensorGeometry, defaults: AreaDetectorSettings, cooling: Required<Omit<CoolingOptions, "startCooled">>) {
    super(o, defaultName, connectS);
    this.geom = geom;
    this.cool = { ...cooling, ...stripUndefined(o.cooling ?? {}) } as Required<Omit<CoolingOptions, "startCooled">>;
    this.illum = { shape: "annulus", outer: 0.7, inner: 0.35, edgePx: 2, ...stripUndefined(o.illumination ?? {}) };
    this.efficiency = o.efficiency;
    const c = this.cool;
    if (!(c.setpointC >= c.minC && c.setpointC <= c.maxC)) throw new Error(`${this.name}: cooling set-point ${c.setpointC} C outside ${c.minC}..${c.maxC}`);
    const start = o.cooling?.startCooled === true;
    this.coolerOn = start;
    const now = this.clock.now();
    this.thermal = new ThermalModel(start ? c.setpointC : c.ambientC, start ? c.setpointC : c.ambientC, this.thermalParams(), now);
    this.setpointC = c.setpointC;
    this.s = { ...defaults };
  }

  private setpointC: number;

  /** Subclasses call this at the end of their constructor (their fields are not set during super()). */
  protected initSettings(p: Partial<AreaDetectorSettings> | undefined): void {
    if (p) this.s = this.validate({ ...this.s, ...p, roi: { ...this.s.roi, ...(p.roi ?? {}) }, binning: { ...this.s.binning, ...(p.binning ?? {}) } });
  }

  protected thermalParams() {
    return { tauS: this.cool.tauS, slewPerS: this.cool.slewCPerMin / 60, rampPerS: Infinity, window: this.cool.windowC, stableS: this.cool.stableS };
  }

  // ---- subclass hooks ----
  abstract readoutRates(): number[];
  /** The timing model for the current settings. */
  abstract phases(s?: AreaDetectorSettings): CameraPhases;
  /** Validate/quantise device-specific settings; throw DeviceError on bad values. */
  protected abstract validateDevice(next: AreaDetectorSettings): AreaDetectorSettings;
  /**
   * Fill a frame's pixels. `photons` = expected photons detected over the whole sensor for this exposure.
   * Returns the number of saturated pixels (charge or ADC clipped); without a count the base class counts
   * pixels at full scale.
   */
  protected abstract render(out: Uint16Array, w: number, h: number, ctx: RenderContext): number | void;

  /** Fraction of the photons reaching the sensor that are detected, at `energyEv` (default 0.8). */
  detectionEfficiency(energyEv: number): number {
    void energyEv;
    return this.efficiency ?? 0.8;
  }

  sensor(): SensorGeometry {
    return { ...this.geom };
  }

  settings(): AreaDetectorSettings {
    return { ...this.s, roi: { ...this.s.roi }, binning: { ...this.s.binning } };
  }

  async configure(p: Partial<AreaDetectorSettings>): Promise<AreaDetectorSettings> {
    await this.guard("configure");
    // frame transfer: while a frame reads out of the storage area only the next exposure's length may change
    const exposureOnly = Object.keys(p).every((k) => k === "exposureS");
    if (this.active || (this.reading.size && !exposureOnly)) throw this.error("cannot configure while acquiring", "busy");
    this.s = this.validate({ ...this.s, ...p, roi: { ...this.s.roi, ...(p.roi ?? {}) }, binning: { ...this.s.binning, ...(p.binning ?? {}) } });
    return this.settings();
  }

  protected validate(n: AreaDetectorSettings): AreaDetectorSettings {
    const { width: W, height: H } = this.geom;
    const r = n.roi;
    const isInt = (v: number) => Number.isInteger(v);
    if (![r.x, r.y, r.width, r.height].every(isInt) || r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > W || r.y + r.height > H)
      throw this.badArg(`ROI ${JSON.stringify(r)} outside the ${W}x${H} sensor`);
    const b = n.binning;
    if (!isInt(b.x) || !isInt(b.y) || b.x < 1 || b.y < 1 || b.x > r.width || b.y > r.height) throw this.badArg(`binning ${b.x}x${b.y} invalid for ROI ${r.width}x${r.height}`);
    if (!(Number.isFinite(n.exposureS) && n.exposureS >= 0)) throw this.badArg(`exposure ${n.exposureS} s must be >= 0`);
    if (!this.readoutRates().includes(n.readoutRateHz)) throw this.badArg(`read-out rate ${n.readoutRateHz} Hz not in ${this.readoutRates().join(", ")}`);
    if (!["internal", "external", "external-exposure", "software"].includes(n.triggerMode)) throw this.badArg(`trigger mode ${n.triggerMode}`);
    if (!["auto", "open", "closed", "none"].includes(n.shutter)) throw this.badArg(`shutter mode ${n.shutter}`);
    return this.validateDevice({ ...n, roi: { ...r }, binning: { ...b } });
  }

  /** Output frame size with the current (or given) settings. */
  frameSize(s: AreaDetectorSettings = this.s): { width: number; height: number } {
    return { width: Math.floor(s.roi.width / s.binning.x), height: Math.floor(s.roi.height / s.binning.y) };
  }

  timing(): AreaDetectorTiming {
    const p = this.phases();
    return { exposureS: p.exposureS, readoutS: p.readoutS, cycleS: p.cycleS };
  }

  /** Modelled time of one `acquire()` with the current settings (for `donki estimate`; does not sleep). */
  cycleTime(): number {
    const p = this.phases();
    return p.preS + p.exposureS + p.postS;
  }

  /** Modelled time of `acquireSequence(n)` (does not sleep). */
  sequenceTime(n: number): number {
    const p = this.phases();
    return p.preS + (n - 1) * p.cycleS + p.exposureS + p.postS;
  }

  async acquire(signal?: AbortSignal, opts?: AcquireOptions): Promise<Frame> {
    let frame: Frame | undefined;
    await this.acquireSequence(1, (f) => void (frame = f), signal, opts);
    return frame!;
  }

  /** Clock time at which the last read-out ended (the sensor was emptied). */
  private lastReadoutEnd = -Infinity;

  async acquireSequence(n: number, onFrame: (f: Frame) => void | Promise<void>, signal?: AbortSignal, opts?: AcquireOptions): Promise<void> {
    if (!(Number.isInteger(n) && n >= 1)) throw this.badArg(`frame count ${n} must be an integer >= 1`);
    const called = this.clock.now();
    this.requireConnected();
    if (this.active) throw this.error("acquisition already in progress", "busy");
    const ac = new AbortController();
    this.active = ac;
    let holding = true;
    try {
      const overrange = await this.guard("acquire", signal, ac.signal);
      const sig = anySignal(signal, ac.signal);
      const ph0 = this.phases();
      const settings = this.settings();
      const t0 = this.startOf(called);
      // overlapped frames: the previous read-out emptied the sensor, so its clear cycles are skipped
      const skipClear = opts?.continuous === true && t0 - this.lastReadoutEnd <= IDLE_CLEAR_S && (ph0.clearS ?? 0) > 0;
      const ph = skipClear ? { ...ph0, preS: ph0.preS - ph0.clearS!, cycleS: ph0.cycleS - ph0.clearS! } : ph0;
      // The sampler records the beam at each exposure start (exposures may overlap read-outs).
      const snaps: Array<Promise<{ beam: BeamState; key: [number, number]; tempC: number; t: number }>> = [];
      const resolvers: Array<(v: { beam: BeamState; key: [number, number]; tempC: number; t: number }) => void> = [];
      for (let i = 0; i < n; i++) snaps.push(new Promise((res) => resolvers.push(res)));
      const sampler = (async () => {
        for (let i = 0; i < n; i++) {
          const t = t0 + ph.preS + i * ph.cycleS;
          await this.sleepUntil(t, sig);
          resolvers[i]({ beam: this.env.beam.snapshot(), key: this.nextKey(), tempC: this.thermal.value(this.clock.now()), t });
        }
      })();
      sampler.catch(() => {});
      // frame transfer: the exposure ends with the shift of the image area into the storage area, which must have
      // read out the previous frame by the end of that shift (cycle = max(t_exp + t_ft, t_read), instruments.md §2;
      // never binds while the exposure is at least t_read - t_ft, which andorPhases enforces)
      const ft = settings.frameTransfer;
      for (let i = 0; i < n; i++) {
        const t = t0 + ph.preS + i * ph.cycleS;
        const end = ft ? Math.max(t + ph.exposureS, this.storageFreeAt - (ph.releaseS ?? 0)) : t + ph.exposureS;
        if (ft) this.storageFreeAt = end + ph.postS;
        if (opts?.onExposureEnd && i === n - 1) {
          await this.sleepUntil(end + (ph.releaseS ?? 0), sig);
          if (ft) {
            // the charge is in the storage area: the image area may take the next exposure during the read-out
            this.active = undefined;
            this.reading.add(ac);
            holding = false;
          }
          opts.onExposureEnd({ imageAreaFree: ft });
        }
        const snapOf = () => Promise.race([snaps[i], sampler.then(() => snaps[i])]);
        const make = (snap: Awaited<ReturnType<typeof snapOf>>) => {
          const { width: w, height: h } = this.frameSize(settings);
          const data = new Uint16Array(w * h);
          const full = (1 << this.geom.bitDepth) - 1;
          let saturated: number;
          if (overrange) {
            data.fill(full);
            saturated = data.length;
          } else {
            const n = this.render(data, w, h, { settings, exposureS: ph.exposureS, beam: snap.beam, key: snap.key, sensorTempC: snap.tempC, pattern: this.pattern(settings), photons: this.expectedPhotons(snap.beam, ph.exposureS, settings) });
            saturated = typeof n === "number" ? n : countAtOrAbove(data, full);
          }
          return { w, h, data, t: snap.t, saturated };
        };
        // real or scaled time: the frame is made during its modelled read-out, so the host's CPU time for the
        // simulation does not lengthen the read-out (a camera's frame is ready when its read-out ends); virtual
        // time: no host time passes, and the order of the steps stays as it was
        const early = this.clock.kind === "virtual" ? undefined : make(await snapOf());
        await this.sleepUntil(end + ph.postS, sig);
        this.lastReadoutEnd = this.clock.now();
        const f = early ?? make(await snapOf());
        this.frameNo++;
        await onFrame({ width: f.w, height: f.h, data: f.data, timestamp: f.t, exposureS: ph.exposureS, number: this.frameNo, saturated: f.saturated });
      }
    } catch (e) {
      if (ac.signal.aborted && !signal?.aborted) throw this.error("acquisition aborted", "aborted");
      throw e;
    } finally {
      if (holding) this.active = undefined;
      this.reading.delete(ac);
    }
  }

  async abort(): Promise<void> {
    this.active?.abort(new Error(`${this.name}: acquisition aborted`));
    for (const ac of this.reading) ac.abort(new Error(`${this.name}: acquisition aborted`));
  }

  protected override onConnect(): void {
    this.frameNo = 0;
  }

  /** Photons detected over the whole sensor during an exposure with the beam at its position. */
  expectedPhotons(beam: BeamState, exposureS: number, s: AreaDetectorSettings = this.s): number {
    if (!beam.on || s.shutter === "closed") return 0;
    const T = transmissionAt(this.env.specimen, beam);
    return beam.fluxPhS * exposureS * T * this.detectionEfficiency(beam.energyEv);
  }

  /**
   * Fraction of the detected photons falling in each output pixel (binned ROI), row-major. The pattern over
   * the whole unbinned sensor sums to 1. Cached per ROI/binning.
   */
  pattern(s: AreaDetectorSettings = this.s): Float32Array {
    const key = JSON.stringify([s.roi, s.binning]);
    if (key === this.patternKey) return this.patternCache;
    const { width: W, height: H } = this.geom;
    const { width: w, height: h } = this.frameSize(s);
    const out = new Float32Array(w * h);
    const bx = s.binning.x,
      by = s.binning.y;
    if (this.illum.shape === "uniform") out.fill((bx * by) / (W * H));
    else {
      const cx = W / 2,
        cy = H / 2;
      const ro = (this.illum.outer * Math.min(W, H)) / 2;
      const ri = this.illum.inner * ro;
      const e = this.illum.edgePx;
      const norm = (bx * by) / (Math.PI * (ro * ro - ri * ri));
      for (let j = 0; j < h; j++) {
        const dy = s.roi.y + (j + 0.5) * by - cy;
        for (let i = 0; i < w; i++) {
          const dx = s.roi.x + (i + 0.5) * bx - cx;
          const r = Math.sqrt(dx * dx + dy * dy);
          const a = (ro - r) / e + 0.5,
            b = (r - ri) / e + 0.5;
          const v = (a <= 0 ? 0 : a >= 1 ? 1 : a) * (b <= 0 ? 0 : b >= 1 ? 1 : b);
          out[j * w + i] = v * norm;
        }
      }
    }
    this.patternKey = key;
    this.patternCache = out;
    return out;
  }

  // ---- cooling ----
  async setCooling(on: boolean, setpointC?: number): Promise<void> {
    await this.guard("setCooling");
    const c = this.cool;
    if (setpointC !== undefined) {
      if (!(Number.isFinite(setpointC) && setpointC >= c.minC && setpointC <= c.maxC)) throw this.badArg(`temperature set-point ${setpointC} C outside ${c.minC}..${c.maxC}`);
      this.setpointC = setpointC;
    }
    this.coolerOn = on;
    this.thermal.set(this.clock.now(), { target: on ? this.setpointC : c.ambientC });
  }

  async cooling(): Promise<CoolingStatus> {
    await this.guard("cooling");
    const now = this.clock.now();
    const t = Math.round(this.thermal.value(now) * 100) / 100;
    let state: CoolingStatus["state"];
    if (!this.coolerOn) state = "off";
    else if (this.thermal.stable(now)) state = "stabilized";
    else if (this.thermal.drifted(now)) state = "drift";
    else if (this.thermal.inWindow(now)) state = "not-stabilized";
    else state = "not-reached";
    return { temperatureC: t, setpointC: this.coolerOn ? this.thermal.getTarget() : this.setpointC, coolerOn: this.coolerOn, state };
  }

  /** Sensor temperature now, C (no fault check: for data models and tests). */
  sensorTemperature(): number {
    return this.thermal.value(this.clock.now());
  }

  async waitCooled(timeoutS: number, signal?: AbortSignal): Promise<void> {
    this.requireConnected();
    if (!this.coolerOn) throw this.badArg("cooler is off: setCooling(true) first");
    const end = this.clock.now() + timeoutS;
    for (;;) {
      if (this.thermal.stable(this.clock.now())) return;
      const left = end - this.clock.now();
      if (left <= 0) throw this.error(`not stabilised at ${this.thermal.getTarget()} C within ${timeoutS} s (now ${this.thermal.value(this.clock.now()).toFixed(2)} C)`, "timeout");
      await this.clock.sleep(Math.min(this.cool.pollS, left), signal);
    }
  }
}

export interface RenderContext {
  settings: AreaDetectorSettings;
  exposureS: number;
  beam: BeamState;
  key: [number, number];
  sensorTempC: number;
  /** Fraction of the photons per output pixel. */
  pattern: Float32Array;
  /** Expected photons over the whole sensor. */
  photons: number;
}

export function fullRoi(w: number, h: number): Roi {
  return { x: 0, y: 0, width: w, height: h };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Number of values >= `v`. */
export function countAtOrAbove(d: Uint16Array, v: number): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] >= v) n++;
  return n;
}

/** Dark current (e/pixel/s) doubling every `doublingC` degrees from `refEPerS` at `refC`. */
export function darkCurrent(tempC: number, refEPerS: number, refC: number, doublingC: number): number {
  return refEPerS * Math.pow(2, (tempC - refC) / doublingC);
}

/** Look up a per-rate table (Hz -> value) or fail loudly. */
export function perRate(table: Record<number, number>, rate: number, what: string): number {
  const v = table[rate];
  if (v === undefined) throw new Error(`no ${what} for read-out rate ${rate} Hz`);
  return v;
}

/**
 * Twin of the Princeton Instruments in-vacuum X-ray CCD (1340x1300, 20 um, 16 bit; PVCAM/PICam). See
 * docs/simulators.md for the formulas and where the figures come from.
 *
 * Timing (full-frame sensor, no overlap of exposure and read-out):
 *   t_read  = H * t_v + rowsOut * (colsOut / f_adc + W * t_sr)
 *             (every sensor row is shifted once; each output row clocks the whole serial register and
 *              digitises colsOut pixels)
 *   t_clear = clearCycles * H * t_v
 *   cycle   = t_clear + t_open + t_exp + t_close + t_read   (t_open/t_close only with shutter "auto")
 * Data: photons = flux * exposure * T(x,y,E) * QE(E) spread over the illumination pattern (QE of a
 * back-illuminated sensor: dead layer + depleted depth); each photon gives E/3.65 eV electrons (Fano-limited
 * spread); dark current doubling every `doublingC`; read noise per ADC rate; bias; charge clipped at the
 * pixel full well (x binned area) and at the output node's capacity; 16-bit ADC. Saturated pixels are
 * counted per frame (Frame.saturated). Poisson is exact below 1000 photons/pixel, normal above.
 */
import type { AreaDetectorSettings } from "../runtime/devices/area-detector.ts";
import { CameraTwinBase, darkCurrent, fullRoi, perRate, type CameraPhases, type CameraTwinOptions, type RenderContext } from "./camera.ts";
import type { TwinCodes } from "./twin-base.ts";
import { NORMAL_TABLE, PoissonTable } from "./rng.ts";
import { SI_FANO, siliconQe } from "./xray-data.ts";

export interface PiCcdConfig {
  width: number;
  height: number;
  pixelSizeUm: number;
  bitDepth: number;
  /** ADC rates, Hz (PVCAM speed table). */
  adcRatesHz: number[];
  /** Parallel (vertical) shift time per row, s (typ. 10-20 us). */
  rowShiftS: number;
  /** Serial register shift time per pixel, s. */
  serialShiftS: number;
  /** Clear cycles before each exposure (PVCAM CLEAR_CYCLES). */
  clearCycles: number;
  /** Mechanical shutter delays (shutter mode "auto"), s (typ. 5-30 ms). */
  shutterOpenS: number;
  shutterCloseS: number;
  /** Exposure resolution (PVCAM EXP_RES), s. */
  exposureResS: number;
  maxExposureS: number;
  /** Read noise (e rms) per ADC rate. */
  readNoiseE: Record<number, number>;
  /** Sensitivity (e per ADU) per gain index. */
  sensitivityE: number[];
  biasAdu: number;
  /** Pixel full well, e. */
  fullWellE: number;
  /** Charge capacity of the serial register / output node, e: the ceiling of a binned pixel (typ.). */
  outputNodeE: number;
  /** Back-illuminated sensor: entrance dead layer and depleted depth, um (QE model, typ.). */
  deadLayerUm: number;
  depletedUm: number;
  /** Dark current at refC, e/pixel/s, doubling every doublingC. */
  dark: { refEPerS: number; refC: number; doublingC: number };
  /** Energy per electron-hole pair in Si, eV. */
  pairEnergyEv: number;
}

export const PI_CCD_DEFAULTS: PiCcdConfig = {
  width: 1340,
  height: 1300,
  pixelSizeUm: 20,
  bitDepth: 16,
  adcRatesHz: [100e3, 1e6, 2e6],
  rowShiftS: 15e-6,
  serialShiftS: 10e-9,
  clearCycles: 2,
  shutterOpenS: 0.008,
  shutterCloseS: 0.02,
  exposureResS: 1e-6,
  maxExposureS: 3600,
  readNoiseE: { 100e3: 3.5, 1e6: 8, 2e6: 13 },
  sensitivityE: [4, 2, 1],
  biasAdu: 600,
  fullWellE: 100_000,
  outputNodeE: 250_000,
  deadLayerUm: 0.05,
  depletedUm: 15,
  dark: { refEPerS: 0.01, refC: -40, doublingC: 6 },
  pairEnergyEv: 3.65,
};

export interface PiCcdTwinOptions extends CameraTwinOptions {
  config?: Partial<PiCcdConfig>;
  model?: string;
}

/** The read-out timing of the PI CCD for given settings (pure: usable by `donki estimate`). */
export function piCcdPhases(cfg: PiCcdConfig, s: AreaDetectorSettings): CameraPhases {
  const rowsOut = Math.floor(s.roi.height / s.binning.y);
  const colsOut = Math.floor(s.roi.width / s.binning.x);
  const readoutS = cfg.height * cfg.rowShiftS + rowsOut * (colsOut / s.readoutRateHz + cfg.width * cfg.serialShiftS);
  const clearS = cfg.clearCycles * cfg.height * cfg.rowShiftS;
  const auto = s.shutter === "auto";
  const preS = clearS + (auto ? cfg.shutterOpenS : 0);
  const postS = (auto ? cfg.shutterCloseS : 0) + readoutS;
  const exposureS = s.exposureS;
  return { preS, exposureS, postS, cycleS: preS + exposureS + postS, readoutS, clearS, releaseS: auto ? cfg.shutterCloseS : 0 };
}

export class PrincetonCcdTwin extends CameraTwinBase {
  protected readonly model: string;
  protected readonly codes: TwinCodes = {
    notConnected: ["NOT_CONNECTED", "camera not open"],
    busy: [20, "PicamError_AcquisitionInProgress"],
    badArgument: ["INVALID_PARAMETER", "parameter value out of range"],
    timeout: [32, "PicamError_TimeOutOccurred"],
    communication: [15, "PicamError_CameraCommunicationFailed"],
    error: [53, "PicamError_CameraFaulted"],
    aborted: ["ABORTED", "acquisition aborted"],
  };
  readonly cfg: PiCcdConfig;

  constructor(o: PiCcdTwinOptions) {
    const cfg: PiCcdConfig = { ...PI_CCD_DEFAULTS, ...(o.config ?? {}) };
    super(
      o,
      "pi-ccd",
      o.connectS ?? 1,
      { width: cfg.width, height: cfg.height, pixelSizeUm: cfg.pixelSizeUm, bitDepth: cfg.bitDepth },
      {
        exposureS: 0.01,
        roi: fullRoi(cfg.width, cfg.height),
        binning: { x: 1, y: 1 },
        readoutRateHz: cfg.adcRatesHz.includes(1e6) ? 1e6 : cfg.adcRatesHz[0],
        gainIndex: Math.min(1, cfg.sensitivityE.length - 1),
        emGain: 0,
        triggerMode: "internal",
        shutter: "none",
        frameTransfer: false,
      },
      { ambientC: 20, setpointC: -40, minC: -70, maxC: 20, tauS: 300, slewCPerMin: 10, windowC: 0.5, stableS: 60, pollS: 1 },
    );
    this.cfg = cfg;
    this.model = o.model ?? "Princeton Instruments X-ray CCD 1340x1300 (twin)";
    this.initSettings(o.settings);
  }

  readoutRates(): number[] {
    return [...this.cfg.adcRatesHz];
  }

  phases(s: AreaDetectorSettings = this.s): CameraPhases {
    return piCcdPhases(this.cfg, s);
  }

  protected validateDevice(n: AreaDetectorSettings): AreaDetectorSettings {
    if (n.exposureS > this.cfg.maxExposureS) throw this.badArg(`exposure ${n.exposureS} s above ${this.cfg.maxExposureS} s`);
    if (n.emGain > 1) throw this.badArg("no EM gain on this camera");
    if (n.frameTransfer) throw this.badArg("full-frame sensor: no frame-transfer mode");
    if (!(Number.isInteger(n.gainIndex) && n.gainIndex >= 0 && n.gainIndex < this.cfg.sensitivityE.length)) throw this.badArg(`gain index ${n.gainIndex} not in 0..${this.cfg.sensitivityE.length - 1}`);
    const q = this.cfg.exposureResS;
    return { ...n, exposureS: Math.round(n.exposureS / q) * q };
  }

  /** Detected fraction of the photons reaching the sensor: the silicon QE at the energy, unless overridden. */
  override detectionEfficiency(energyEv: number): number {
    return this.efficiency ?? siliconQe(energyEv, this.cfg.deadLayerUm, this.cfg.depletedUm);
  }

  /** Largest charge a pixel of the current binning can hold, e. */
  capacityE(s: AreaDetectorSettings = this.s): number {
    return Math.min(this.cfg.fullWellE * s.binning.x * s.binning.y, Math.max(this.cfg.outputNodeE, this.cfg.fullWellE));
  }

  /** Read noise (e rms) at the current ADC rate. */
  readNoiseE(s: AreaDetectorSettings = this.s): number {
    return perRate(this.cfg.readNoiseE, s.readoutRateHz, "read noise");
  }

  protected render(out: Uint16Array, w: number, h: number, c: RenderContext): number {
    const cfg = this.cfg;
    const s = c.settings;
    const rng = this.rng("frame", c.key[0], c.key[1]);
    const NT = NORMAL_TABLE;
    const n = w * h;
    const pat = c.pattern;
    const nPh = c.photons;
    const epp = c.beam.energyEv / cfg.pairEnergyEv;
    const epp2 = epp * epp + SI_FANO * epp; // per-photon charge variance: Poisson photons x Fano-limited pairs
    const binArea = s.binning.x * s.binning.y;
    const darkE = darkCurrent(c.sensorTempC, cfg.dark.refEPerS, cfg.dark.refC, cfg.dark.doublingC) * c.exposureS * binArea;
    const rn = this.readNoiseE(s);
    const base2 = darkE + rn * rn;
    const baseSd = Math.sqrt(base2);
    const inv = 1 / cfg.sensitivityE[s.gainIndex];
    const bias = cfg.biasAdu + 0.5; // + 0.5: Uint16Array assignment truncates
    const maxE = this.capacityE(s);
    const maxAdu = (1 << cfg.bitDepth) - 1;
    let saturated = 0;
    // Most illuminated pixels share one mean: sample those from a table (exact Poisson below NORMAL_ABOVE photons).
    const mTop = this.patternMax(pat) * nPh;
    const table = mTop > 0 && mTop < NORMAL_ABOVE ? new PoissonTable(mTop) : undefined;
    const topSd = Math.sqrt(mTop * epp2 + base2);
    // The generator steps on local variables (xoshiro128**, exactly Rng.nextI32: the same sequence as calling it),
    // handed back to `rng` around the rare draws that go through its methods (Poisson of the edge pixels).
    const st = rng.getState(this.rngState);
    let s0 = st[0],
      s1 = st[1],
      s2 = st[2],
      s3 = st[3];
    const cdf = table ? table.tables.cdf : EMPTY_F64;
    const guide = table ? table.tables.guide : EMPTY_I32;
    const glen = guide.length;
    const topMean = mTop * epp + darkE;
    let spare = 0;
    let have = false;
    for (let i = 0; i < n; i++) {
      // one standard normal, two per 32-bit draw
      let z: number;
      if (have) {
        z = NT[spare];
        have = false;
      } else {
        const m5 = Math.imul(s1, 5);
        const u = Math.imul((m5 << 7) | (m5 >>> 25), 9);
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        z = NT[u >>> 16];
        spare = u & 0xffff;
        have = true;
      }
      const m = pat[i] * nPh;
      let e: number;
      if (m <= 0) e = darkE + baseSd * z;
      else if (m >= mTop && m <= mTop) {
        // m === mTop, written so that V8 compares float64s (its `===` here went through a generic compare that
        // boxed both sides)
        if (table) {
          // table.sampleU(rng.uniform()), inlined
          const m5 = Math.imul(s1, 5);
          const r = Math.imul((m5 << 7) | (m5 >>> 25), 9);
          const t = s1 << 9;
          s2 ^= s0;
          s3 ^= s1;
          s1 ^= s2;
          s0 ^= s3;
          s2 ^= t;
          s3 = (s3 << 11) | (s3 >>> 21);
          const uu = (r >>> 0) / TWO_POW_32;
          let k = guide[(uu * glen) | 0];
          while (cdf[k] <= uu) k++;
          e = k * epp + darkE + baseSd * z;
        } else e = topMean + topSd * z;
      } else if (m < NORMAL_ABOVE) {
        st[0] = s0;
        st[1] = s1;
        st[2] = s2;
        st[3] = s3;
        rng.setState(st);
        const k = rng.poisson(m);
        rng.getState(st);
        s0 = st[0];
        s1 = st[1];
        s2 = st[2];
        s3 = st[3];
        e = k * epp + darkE + baseSd * z;
      } else e = m * epp + darkE + Math.sqrt(m * epp2 + base2) * z;
      // charge clipped at maxE, ADU at 0..maxAdu (the store truncates), with Math.min/max rather than branches that
      // merge an integer or a call's result with a double: V8 then boxed a value at every pixel (~0.7 MB of
      // garbage per frame, measured with the sampling heap profiler)
      const adu = bias + Math.min(e, maxE) * inv;
      if (e >= maxE || adu >= maxAdu) saturated++;
      out[i] = Math.min(Math.max(adu, 0), maxAdu);
    }
    return saturated;
  }

  private readonly rngState = new Int32Array(4);
  private patMaxFor: Float32Array | undefined;
  private patMax = 0;
  private patternMax(p: Float32Array): number {
    if (p !== this.patMaxFor) {
      let m = 0;
      for (let i = 0; i < p.length; i++) if (p[i] > m) m = p[i];
      this.patMaxFor = p;
      this.patMax = m;
    }
    return this.patMax;
  }
}

/** Photons per pixel above which the Poisson count is drawn as a normal (mean and variance kept). */
const NORMAL_ABOVE = 1000;
const TWO_POW_32 = 4294967296;
const EMPTY_F64 = new Float64Array(0);
const EMPTY_I32 = new Int32Array(0);

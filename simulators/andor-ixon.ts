/**
 * Twin of the Andor iXon DV860 EMCCD (128x128, 24 um, 14 bit, frame transfer; Andor SDK2). See
 * docs/simulators.md for the formulas and figures.
 *
 * Timing:
 *   t_row   = vbin * t_vs + (ceil(W / hbin) + prescan) / f_hs
 *   t_read  = rowsOut * t_row + (H - roiHeight) * t_vs        (rows outside the ROI are dumped)
 *   t_ft    = H * t_vs                                         (image -> storage area)
 *   frame transfer: exposure_eff = max(t_exp, t_read - t_ft); cycle = exposure_eff + t_ft = max(t_exp + t_ft, t_read)
 *   otherwise:      cycle = t_keepclean + t_open + t_exp + t_close + t_ft + t_read
 * Data (a phosphor-coupled camera, as the fast CCD of TWINMIC's STXM detector): X-ray photons x ~ Poisson(photons);
 * the phosphor's light gives each a Poisson number of photo-electrons of mean m = electronsPerKeV * E (the light
 * yield is proportional to the photon energy), so
 * n ~ Poisson(x m + dark + CIC) (variance x m (1 + m): the X-ray count is the quantum sink); charge clipped at the
 * pixel well (x binned area); EM register output ~ Gamma(n, G) (excess noise factor -> sqrt 2), clipped at the
 * gain register's well; read noise (per amplifier and rate) after the gain; bias; 14-bit ADC. Pixels clipped by a
 * well or the ADC are counted (Frame.saturated).
 */
import type { AreaDetectorSettings } from "../runtime/devices/area-detector.ts";
import { CameraTwinBase, darkCurrent, fullRoi, perRate, type CameraPhases, type CameraTwinOptions, type RenderContext } from "./camera.ts";
import type { TwinCodes } from "./twin-base.ts";

export type AndorAmplifier = "em" | "conventional";

export interface AndorConfig {
  width: number;
  height: number;
  pixelSizeUm: number;
  bitDepth: number;
  /** Horizontal shift rates per amplifier, Hz (GetHSSpeed). */
  hsRatesHz: Record<AndorAmplifier, number[]>;
  /** Vertical shift time per row, s (GetVSSpeed; typ.). */
  vsSpeedS: number;
  /** Extra serial pixels read per row (prescan/overscan). */
  prescanCols: number;
  /** Keep-clean cycle before an exposure in non-frame-transfer mode, s (default: 2 * H * t_vs). */
  keepCleanS?: number;
  shutterOpenS: number;
  shutterCloseS: number;
  exposureResS: number;
  maxExposureS: number;
  /** EM gain range (GetEMGainRange). */
  emGainMax: number;
  /** Read noise (e rms) per amplifier and rate. */
  readNoiseE: Record<AndorAmplifier, Record<number, number>>;
  /** Sensitivity (e per ADU) per pre-amp gain index. */
  sensitivityE: number[];
  biasAdu: number;
  /**
   * Mean photo-electrons per keV of detected X-ray photon energy: the phosphor's visible photons (proportional to the
   * photon's energy) collected by the optics onto the sensor. Each photon's count is Poisson (light yield,
   * binomially collected), so x photons of m = electronsPerKeV * E electrons each give a variance x m (1 + m).
   */
  electronsPerKeV: number;
  /** Active-area pixel well depth, e (a binned pixel holds the binned area's worth). */
  fullWellE: number;
  /** Well depth of the EM gain register's pixels, e (the output after EM gain is clipped there). */
  gainRegisterWellE: number;
  /** Clock-induced charge, e/pixel/frame. */
  cicE: number;
  dark: { refEPerS: number; refC: number; doublingC: number };
}

export const ANDOR_DEFAULTS: AndorConfig = {
  width: 128,
  height: 128,
  pixelSizeUm: 24,
  bitDepth: 14,
  hsRatesHz: { em: [10e6, 5e6, 3e6, 1e6], conventional: [3e6, 1e6] },
  vsSpeedS: 0.5e-6,
  prescanCols: 20,
  shutterOpenS: 0.01,
  shutterCloseS: 0.01,
  exposureResS: 1e-6,
  maxExposureS: 1000,
  emGainMax: 1000,
  readNoiseE: { em: { 10e6: 62, 5e6: 45, 3e6: 35, 1e6: 20 }, conventional: { 3e6: 10, 1e6: 6 } },
  sensitivityE: [16, 6.5, 3.5],
  biasAdu: 100,
  electronsPerKeV: 1.5,
  fullWellE: 160_000,
  gainRegisterWellE: 800_000,
  cicE: 0.005,
  dark: { refEPerS: 0.001, refC: -70, doublingC: 6 },
};

export interface AndorIxonTwinOptions extends CameraTwinOptions {
  config?: Partial<AndorConfig>;
  amplifier?: AndorAmplifier;
  model?: string;
}

/** Andor timing for given settings (pure). */
export function andorPhases(cfg: AndorConfig, s: AreaDetectorSettings): CameraPhases {
  const H = cfg.height,
    W = cfg.width;
  const rowsOut = Math.floor(s.roi.height / s.binning.y);
  const tRow = s.binning.y * cfg.vsSpeedS + (Math.ceil(W / s.binning.x) + cfg.prescanCols) / s.readoutRateHz;
  const readoutS = rowsOut * tRow + (H - s.roi.height) * cfg.vsSpeedS;
  const ftS = H * cfg.vsSpeedS;
  if (s.frameTransfer) {
    const exposureS = Math.max(s.exposureS, readoutS - ftS);
    return { preS: 0, exposureS, postS: ftS + readoutS, cycleS: exposureS + ftS, readoutS, clearS: 0, releaseS: ftS };
  }
  const keepClean = cfg.keepCleanS ?? 2 * H * cfg.vsSpeedS;
  const auto = s.shutter === "auto";
  const preS = keepClean + (auto ? cfg.shutterOpenS : 0);
  const postS = (auto ? cfg.shutterCloseS : 0) + ftS + readoutS;
  return { preS, exposureS: s.exposureS, postS, cycleS: preS + s.exposureS + postS, readoutS, clearS: keepClean, releaseS: auto ? cfg.shutterCloseS : 0 };
}

export class AndorIxonTwin extends CameraTwinBase {
  protected readonly model: string;
  protected readonly codes: TwinCodes = {
    notConnected: [20075, "DRV_NOT_INITIALIZED"],
    busy: [20072, "DRV_ACQUIRING"],
    badArgument: [20066, "DRV_P1INVALID"],
    timeout: [20024, "DRV_NO_NEW_DATA"],
    communication: [20013, "DRV_ERROR_ACK"],
    error: [20013, "DRV_ERROR_ACK"],
    aborted: [20024, "DRV_NO_NEW_DATA"],
  };
  readonly cfg: AndorConfig;
  private amp: AndorAmplifier;

  constructor(o: AndorIxonTwinOptions) {
    const cfg: AndorConfig = { ...ANDOR_DEFAULTS, ...(o.config ?? {}) };
    const amp = o.amplifier ?? "em";
    super(
      o,
      "andor-ixon",
      o.connectS ?? 2,
      { width: cfg.width, height: cfg.height, pixelSizeUm: cfg.pixelSizeUm, bitDepth: cfg.bitDepth },
      {
        exposureS: 0.001,
        roi: fullRoi(cfg.width, cfg.height),
        binning: { x: 1, y: 1 },
        readoutRateHz: cfg.hsRatesHz[amp][0],
        gainIndex: 0,
        emGain: 0,
        triggerMode: "internal",
        shutter: "none",
        frameTransfer: true,
      },
      { ambientC: 20, setpointC: -70, minC: -100, maxC: 20, tauS: 90, slewCPerMin: 10, windowC: 1, stableS: 30, pollS: 1 },
    );
    this.cfg = cfg;
    this.amp = amp;
    this.model = o.model ?? "Andor iXon DV860 (twin)";
    this.initSettings(o.settings);
  }

  amplifier(): AndorAmplifier {
    return this.amp;
  }

  /** SetHSSpeed(type, ...): switch output amplifier; the rate falls back to the fastest of the new amplifier. */
  async setAmplifier(a: AndorAmplifier): Promise<void> {
    await this.guard("setAmplifier");
    if (a !== "em" && a !== "conventional") throw this.badArg(`amplifier ${String(a)}`);
    this.amp = a;
    const rates = this.readoutRates();
    this.s = { ...this.s, readoutRateHz: rates.includes(this.s.readoutRateHz) ? this.s.readoutRateHz : rates[0], emGain: a === "em" ? this.s.emGain : 0 };
  }

  readoutRates(): number[] {
    return [...this.cfg.hsRatesHz[this.amp]];
  }

  phases(s: AreaDetectorSettings = this.s): CameraPhases {
    return andorPhases(this.cfg, s);
  }

  protected validateDevice(n: AreaDetectorSettings): AreaDetectorSettings {
    if (n.roi.width % n.binning.x !== 0 || n.roi.height % n.binning.y !== 0)
      throw this.error(`ROI ${n.roi.width}x${n.roi.height} not a multiple of binning ${n.binning.x}x${n.binning.y}`, "badArgument", 20099);
    if (n.exposureS > this.cfg.maxExposureS) throw this.badArg(`exposure ${n.exposureS} s above ${this.cfg.maxExposureS} s`);
    if (!(n.emGain >= 0 && n.emGain <= this.cfg.emGainMax)) throw this.badArg(`EM gain ${n.emGain} outside 0..${this.cfg.emGainMax}`);
    if (n.emGain > 1 && this.amp !== "em") throw this.error("EM gain needs the EM amplifier", "badArgument", 20078);
    if (!(Number.isInteger(n.gainIndex) && n.gainIndex >= 0 && n.gainIndex < this.cfg.sensitivityE.length)) throw this.badArg(`pre-amp gain index ${n.gainIndex} not in 0..${this.cfg.sensitivityE.length - 1}`);
    const q = this.cfg.exposureResS;
    return { ...n, exposureS: Math.round(n.exposureS / q) * q };
  }

  /** Mean photo-electrons per detected X-ray photon of `energyEv` (the phosphor's light yield). */
  electronsPerPhoton(energyEv: number): number {
    return (this.cfg.electronsPerKeV * energyEv) / 1000;
  }

  readNoiseE(s: AreaDetectorSettings = this.s): number {
    return perRate(this.cfg.readNoiseE[this.amp], s.readoutRateHz, "read noise");
  }

  protected render(out: Uint16Array, w: number, h: number, c: RenderContext): number {
    const cfg = this.cfg;
    const s = c.settings;
    const rng = this.rng("frame", c.key[0], c.key[1]);
    const n = w * h;
    const binArea = s.binning.x * s.binning.y;
    const dark = darkCurrent(c.sensorTempC, cfg.dark.refEPerS, cfg.dark.refC, cfg.dark.doublingC) * c.exposureS * binArea + cfg.cicE * binArea;
    const G = s.emGain > 1 ? s.emGain : 1;
    const rn = this.readNoiseE(s);
    const inv = 1 / cfg.sensitivityE[s.gainIndex];
    const bias = cfg.biasAdu + 0.5;
    const maxAdu = (1 << cfg.bitDepth) - 1;
    const m = this.electronsPerPhoton(c.beam.energyEv);
    const wellE = cfg.fullWellE * binArea;
    const regE = cfg.gainRegisterWellE;
    const photons = c.photons;
    let saturated = 0;
    for (let i = 0; i < n; i++) {
      // X-ray photons (the quantum sink), then the phosphor's photo-electrons per photon
      const x = rng.poisson(c.pattern[i] * photons);
      const ne = Math.min(rng.poisson(x * m + dark), wellE);
      const em = G > 1 ? (ne > 0 ? Math.min(rng.gamma(ne, G), regE) : 0) : ne;
      const adu = bias + (em + rn * rng.normal()) * inv;
      if (ne >= wellE || em >= regE || adu >= maxAdu) saturated++;
      // clamp with Math.min/max (the store truncates): a branch merging integers with the double boxed it at every
      // pixel in V8 (see PrincetonCcdTwin.render); the same values
      out[i] = Math.min(Math.max(adu, 0), maxAdu);
    }
    return saturated;
  }
}

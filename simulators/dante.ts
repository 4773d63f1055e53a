/**
 * Twin of the XGLab (Bruker) DANTE pulse processor with a silicon drift detector, for soft X-ray XRF at
 * TWINMIC. See docs/simulators.md.
 *
 * Spectrum model at the beam position (x, y), incident energy E0 and flux F:
 *   line rate   r = F * c[g/cm^2] * tau_shell(E0) * yield * weight * Omega/4pi * window(E_line)
 *               (zero below the edge), for each element of the specimen;
 *   elastic     r = F * Omega/4pi * (elasticBase + elasticPerUm * thickness) * window(E0);
 *   background  flat, F * backgroundPerPhoton, from the noise threshold to the top of the range;
 *   each peak is a Gaussian with FWHM(E) = sqrt(FWHM_el^2 + 2.355^2 * F_fano * w * E), a flat low-energy tail
 *   (tailFraction) and, above the Si K edge, an escape peak at E - 1740 eV (escapeFraction).
 * Dead time: n = total input rate above threshold; energy channel paralyzable with tau_e = 2 t_peak + t_flat:
 *   live = T * exp(-n tau_e), expected counts per bin = R_b * live, OCR = counts / T (mean n exp(-n tau_e)),
 *   ICR = fast-channel events / T with events ~ Poisson(n T exp(-n tau_f)).
 * Pile-up: sum events ~ Poisson(counts * n * tau_f), energy = sum of two draws from the spectrum.
 * Counts per bin are exact Poisson draws from a stream keyed by (seed, name, trigger, acquisition[, point]).
 */
import type { GateMode, Mca, McaSettings, Spectrum, SpectrumStats } from "../runtime/devices/mca.ts";
import type { BeamState } from "./beam.ts";
import { elementData, shellAbsorption, SI_K_EDGE_EV, SI_KA_EV } from "./xray-data.ts";
import type { Rng } from "./rng.ts";
import { TwinBase, anySignal, type TwinCodes, type TwinOptions } from "./twin-base.ts";

export interface DanteConfig {
  /** Fano factor of Si. */
  fano: number;
  /** Energy per electron-hole pair, eV. */
  pairEnergyEv: number;
  /** Electronic noise contribution to the FWHM, eV. */
  fwhmElectronicEv: number;
  /** Flat top of the trapezoidal filter, us. */
  flatTopUs: number;
  /** Fast channel pulse-pair resolution, s (typ. 50-200 ns). */
  fastPairResolutionS: number;
  /** Noise threshold, eV: no events below. */
  thresholdEv: number;
  /** Fraction of each peak's events in the flat low-energy tail. */
  tailFraction: number;
  /** Fraction of events above the Si K edge that lose a Si Ka photon (escape peak). */
  escapeFraction: number;
  /** Solid angle of the detector / 4 pi (default: a 30 mm^2 SDD at 14 mm, `solidAngleFraction(30, 14)`). */
  solidAngleFraction: number;
  /** Entrance window: transmission exp(-(cut/E)^3). */
  windowCutEv: number;
  /** Elastic scattering probability into 4 pi: base (support, window) + per um of organic matrix. */
  elasticBase: number;
  elasticPerUm: number;
  /** Flat background events per incident photon, spread over the range. */
  backgroundPerPhoton: number;
  /** Sum peaks from undetected pile-up. */
  pileup: boolean;
  /** Transfer time after a single spectrum, s. */
  readoutOverheadS: number;
  /** Shortest spectrum in mapping mode, s. */
  minDwellS: number;
  maxTimeS: number;
  /** Peaking time limits, us (quantised to 32 ns). */
  peakingMinUs: number;
  peakingMaxUs: number;
}

/**
 * Solid angle / 4 pi of a detector of active area `areaMm2` facing the sample at `distanceMm` (on-axis disc:
 * Omega = 2 pi (1 - d / sqrt(d^2 + r^2))).
 */
export function solidAngleFraction(areaMm2: number, distanceMm: number): number {
  const r2 = areaMm2 / Math.PI;
  return (1 - distanceMm / Math.sqrt(distanceMm * distanceMm + r2)) / 2;
}

export const DANTE_DEFAULTS: DanteConfig = {
  fano: 0.115,
  pairEnergyEv: 3.65,
  fwhmElectronicEv: 50,
  flatTopUs: 0.2,
  fastPairResolutionS: 100e-9,
  thresholdEv: 150,
  tailFraction: 0.02,
  escapeFraction: 0.005,
  solidAngleFraction: solidAngleFraction(30, 14),
  windowCutEv: 250,
  elasticBase: 2e-4,
  elasticPerUm: 5e-4,
  backgroundPerPhoton: 2e-7,
  pileup: true,
  readoutOverheadS: 0.002,
  minDwellS: 0.001,
  maxTimeS: 86400,
  peakingMinUs: 0.032,
  peakingMaxUs: 16,
};

/** Settings at connect: 2048 bins x 1.25 eV (0-2559 eV), 1 s, 1 us peaking, free running. */
export const DANTE_DEFAULT_SETTINGS: Readonly<McaSettings> = { bins: 2048, acquisitionTimeS: 1, gainEvPerBin: 1.25, offsetEv: 0, peakingTimeUs: 1, gate: "free-running" };

export interface DanteTwinOptions extends TwinOptions {
  config?: Partial<DanteConfig>;
  settings?: Partial<McaSettings>;
  model?: string;
}

/** FWHM (eV) of a line at `energyEv`: sqrt(FWHM_el^2 + 2.355^2 * F * w * E). */
export function fwhmAt(energyEv: number, c: Pick<DanteConfig, "fano" | "pairEnergyEv" | "fwhmElectronicEv"> = DANTE_DEFAULTS): number {
  return Math.sqrt(c.fwhmElectronicEv ** 2 + 2.355 ** 2 * c.fano * c.pairEnergyEv * energyEv);
}

/** Energy-channel dead time tau_e = 2 * peaking + flat top, seconds. */
export function danteTauE(peakingTimeUs: number, flatTopUs = DANTE_DEFAULTS.flatTopUs): number {
  return (2 * peakingTimeUs + flatTopUs) * 1e-6;
}

/** Paralyzable output rate n exp(-n tau). */
export function paralyzableOcr(n: number, tauS: number): number {
  return n * Math.exp(-n * tauS);
}

export interface ExpectedSpectrum {
  /** Input rate per bin, counts/s (before dead time). */
  ratePerBin: Float64Array;
  /** Total input rate above threshold, counts/s. */
  inputRate: number;
  /** Input rate per element (all its lines), counts/s. */
  perElement: Record<string, number>;
  elasticRate: number;
}

const GATES: GateMode[] = ["free-running", "trigger-rising", "trigger-falling", "trigger-both", "gated-high", "gated-low"];

export class XglabDanteTwin extends TwinBase implements Mca {
  protected readonly kind = "mca" as const;
  protected readonly model: string;
  protected readonly codes: TwinCodes = {
    notConnected: [4, "not initialised"],
    busy: [68, "running"],
    badArgument: [60, "argument out of range"],
    timeout: [64, "timeout"],
    communication: [57, "communication error/timeout"],
    error: [80, "throughput error"],
    aborted: ["STOPPED", "acquisition stopped"],
  };
  readonly cfg: DanteConfig;
  private s: McaSettings = { ...DANTE_DEFAULT_SETTINGS };
  private active: AbortController | undefined;
  private shapeCache = new Map<number, { start: number; w: Float64Array }>();
  private mapPositions: ((i: number) => { x: number; y: number }) | undefined;

  constructor(o: DanteTwinOptions) {
    super(o, "dante", o.connectS ?? 1);
    this.cfg = { ...DANTE_DEFAULTS, ...(o.config ?? {}) };
    this.model = o.model ?? "XGLab DANTE 1CH + SDD (twin)";
    this.s = this.validate({ ...this.s, ...(o.settings ?? {}) }); // also quantises the default peaking time
  }

  settings(): McaSettings {
    return { ...this.s };
  }

  async configure(p: Partial<McaSettings>): Promise<McaSettings> {
    await this.guard("configure");
    if (this.active) throw this.error("cannot configure while running", "busy");
    this.s = this.validate({ ...this.s, ...p });
    this.shapeCache.clear();
    return this.settings();
  }

  private validate(n: McaSettings): McaSettings {
    if (![1024, 2048, 4096].includes(n.bins)) throw this.badArg(`bins ${n.bins}: use 1024, 2048 or 4096`);
    if (!(n.acquisitionTimeS > 0 && n.acquisitionTimeS <= this.cfg.maxTimeS)) throw this.badArg(`acquisition time ${n.acquisitionTimeS} s outside (0, ${this.cfg.maxTimeS}]`);
    if (!(n.gainEvPerBin > 0 && Number.isFinite(n.gainEvPerBin))) throw this.badArg(`gain ${n.gainEvPerBin} eV/bin must be > 0`);
    if (!Number.isFinite(n.offsetEv)) throw this.badArg(`offset ${n.offsetEv} eV`);
    if (!GATES.includes(n.gate)) throw this.badArg(`gate mode ${n.gate}`);
    const pt = Math.round(n.peakingTimeUs / 0.032) * 0.032; // 32 ns units
    if (!(pt >= this.cfg.peakingMinUs - 1e-9 && pt <= this.cfg.peakingMaxUs + 1e-9)) throw this.badArg(`peaking time ${n.peakingTimeUs} us outside ${this.cfg.peakingMinUs}..${this.cfg.peakingMaxUs}`);
    return { ...n, peakingTimeUs: Math.round(pt * 1000) / 1000 };
  }

  energies(): Float64Array {
    const e = new Float64Array(this.s.bins);
    for (let b = 0; b < e.length; b++) e[b] = this.s.offsetEv + this.s.gainEvPerBin * b;
    return e;
  }

  /** tau_e for the current settings, seconds. */
  tauE(): number {
    return danteTauE(this.s.peakingTimeUs, this.cfg.flatTopUs);
  }

  fwhm(energyEv: number): number {
    return fwhmAt(energyEv, this.cfg);
  }

  /** Modelled time of one `acquire()` (does not sleep). */
  cycleTime(): number {
    return this.s.acquisitionTimeS + this.cfg.readoutOverheadS;
  }

  /** Modelled time of `acquireMap(points, dwellS)` (does not sleep). */
  mapTime(points: number, dwellS: number): number {
    return points * Math.max(dwellS, this.cfg.minDwellS);
  }

  /**
   * Positions for mapping mode: spectrum i is taken at positions(i) instead of the beam's current position
   * (a hardware-triggered raster where the stage is not simulated in this process). null = follow the beam.
   */
  setMapPositions(positions: Array<{ x: number; y: number }> | ((i: number) => { x: number; y: number }) | null): void {
    this.mapPositions = positions === null ? undefined : typeof positions === "function" ? positions : (i) => positions[Math.min(i, positions.length - 1)];
  }

  /** The expected (noise-free, dead-time-free) input spectrum with the beam at `beam`. */
  expected(beam: BeamState = this.env.beam.snapshot()): ExpectedSpectrum {
    const cfg = this.cfg;
    const nb = this.s.bins;
    const rate = new Float64Array(nb);
    const tail = new Float64Array(nb + 1); // difference array for flat tails
    const perElement: Record<string, number> = {};
    const res: ExpectedSpectrum = { ratePerBin: rate, inputRate: 0, perElement, elasticRate: 0 };
    if (!beam.on || beam.fluxPhS <= 0) return res;
    const sp = this.env.specimen;
    const { x, y, energyEv: E0, fluxPhS: F } = beam;
    const g = this.s.gainEvPerBin,
      off = this.s.offsetEv;
    const binOf = (e: number) => Math.round((e - off) / g);
    const thrBin = Math.max(0, binOf(cfg.thresholdEv));
    const win = (e: number) => Math.exp(-Math.pow(cfg.windowCutEv / e, 3));
    const addPeak = (e: number, r: number) => {
      if (r <= 0) return;
      let main = r;
      if (e > SI_K_EDGE_EV && cfg.escapeFraction > 0) {
        this.addGauss(rate, e - SI_KA_EV, r * cfg.escapeFraction);
        main -= r * cfg.escapeFraction;
      }
      const tr = main * cfg.tailFraction;
      const pb = Math.min(nb, binOf(e));
      if (tr > 0 && pb > thrBin) {
        const per = tr / (pb - thrBin);
        tail[thrBin] += per;
        tail[pb] -= per;
      }
      this.addGauss(rate, e, main - tr);
    };
    // the specimen (unless the beam is on a blank area) and its support membrane both fluoresce
    const specimenIn = beam.specimenIn !== false;
    const comp = new Map<string, number>();
    if (specimenIn) for (const el of sp.elements()) comp.set(el, sp.concentration(el, x, y));
    for (const [el, c] of Object.entries(sp.membraneComposition?.() ?? {})) comp.set(el, (comp.get(el) ?? 0) + c);
    for (const [el, c] of comp) {
      if (!(c > 0)) continue;
      const d = elementData(el);
      const k = shellAbsorption(d, E0);
      if (k <= 0) continue;
      const rEl = F * c * 1e-6 * k * d.yield * cfg.solidAngleFraction;
      let sum = 0;
      for (const line of d.lines) {
        const r = rEl * line.weight * win(line.energyEv);
        addPeak(line.energyEv, r);
        sum += r;
      }
      perElement[el] = sum;
    }
    const rElastic = F * cfg.solidAngleFraction * (cfg.elasticBase + cfg.elasticPerUm * (specimenIn ? sp.thickness(x, y) : 0)) * win(E0);
    res.elasticRate = rElastic;
    addPeak(E0, rElastic);
    const bg = F * cfg.backgroundPerPhoton;
    if (bg > 0 && nb > thrBin) {
      tail[thrBin] += bg / (nb - thrBin);
      tail[nb] -= bg / (nb - thrBin);
    }
    let acc = 0;
    let total = 0;
    for (let b = 0; b < nb; b++) {
      acc += tail[b];
      if (b < thrBin) rate[b] = 0;
      else rate[b] += acc;
      total += rate[b];
    }
    res.inputRate = total;
    return res;
  }

  /** Add a normalised Gaussian of area `r` at energy e (shapes cached per energy). */
  private addGauss(rate: Float64Array, e: number, r: number): void {
    let sh = this.shapeCache.get(e);
    if (!sh) {
      const g = this.s.gainEvPerBin,
        off = this.s.offsetEv;
      const sigma = this.fwhm(e) / 2.3548200450309493;
      const lo = Math.max(0, Math.floor((e - 6 * sigma - off) / g));
      const hi = Math.min(rate.length - 1, Math.ceil((e + 6 * sigma - off) / g));
      const w = new Float64Array(Math.max(0, hi - lo + 1));
      let s = 0;
      for (let b = lo; b <= hi; b++) {
        const z = (off + g * b - e) / sigma;
        w[b - lo] = Math.exp(-0.5 * z * z);
        s += w[b - lo];
      }
      if (s > 0) for (let i = 0; i < w.length; i++) w[i] /= s;
      sh = { start: lo, w };
      this.shapeCache.set(e, sh);
    }
    for (let i = 0; i < sh.w.length; i++) rate[sh.start + i] += r * sh.w[i];
  }

  /** Draw one spectrum of real time T from the expected input spectrum. */
  private draw(rng: Rng, ex: ExpectedSpectrum, T: number, t0: number, overrange: boolean): Spectrum {
    const tauE = this.tauE(),
      tauF = this.cfg.fastPairResolutionS;
    const n = overrange ? Math.max(ex.inputRate, 50 / tauE) : ex.inputRate;
    const liveFrac = Math.exp(-n * tauE);
    const nb = this.s.bins;
    const data = new Uint32Array(nb);
    let counts = 0;
    const scale = T * liveFrac * (overrange ? 0 : 1);
    const R = ex.ratePerBin;
    for (let b = 0; b < nb; b++) {
      const m = R[b] * scale;
      if (m > 0) {
        const k = rng.poisson(m);
        data[b] = k;
        counts += k;
      }
    }
    // pile-up: one draw always (stream layout does not depend on the data)
    const nPile = this.cfg.pileup ? rng.poisson(counts * n * tauF) : 0;
    if (nPile > 0 && ex.inputRate > 0) {
      const cdf = new Float64Array(nb);
      let acc = 0;
      for (let b = 0; b < nb; b++) cdf[b] = acc += R[b];
      const pick = () => {
        const u = rng.uniform() * acc;
        let lo = 0,
          hi = nb - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (cdf[mid] > u) hi = mid;
          else lo = mid + 1;
        }
        return lo;
      };
      const zeroBin = -this.s.offsetEv / this.s.gainEvPerBin;
      for (let i = 0; i < nPile; i++) {
        const b = Math.round(pick() + pick() - zeroBin);
        if (b >= 0 && b < nb) {
          data[b]++;
          counts++;
        }
      }
    }
    const fast = rng.poisson(n * T * Math.exp(-n * tauF));
    const live = T * liveFrac;
    const stats: SpectrumStats = { realTimeS: T, liveTimeS: live, icr: fast / T, ocr: counts / T, deadTime: 1 - liveFrac, counts };
    return { data, stats, timestamp: t0 };
  }

  async acquire(signal?: AbortSignal, opts?: { onDwellEnd?: () => void }): Promise<Spectrum> {
    const called = this.clock.now();
    this.requireConnected();
    if (this.active) throw this.error("acquisition already running", "busy");
    const ac = new AbortController();
    this.active = ac;
    try {
      const overrange = await this.guard("acquire", signal, ac.signal);
      const sig = anySignal(signal, ac.signal);
      const t0 = this.startOf(called);
      const beam = this.env.beam.snapshot();
      const key = this.nextKey();
      const T = this.s.acquisitionTimeS;
      if (this.clock.kind === "virtual") {
        await this.clock.sleep(T, sig);
        opts?.onDwellEnd?.();
        const sp = this.draw(this.rng("spectrum", key[0], key[1]), this.expected(beam), T, t0, overrange);
        await this.clock.sleep(this.cfg.readoutOverheadS, sig);
        return sp;
      }
      // real or scaled time: the dwell and the transfer end at their instants from the start (the unit's own clock),
      // and the spectrum is drawn during the modelled transfer, so neither a late wake-up nor the host's CPU time
      // for the simulation adds to them
      await this.clock.sleepUntil(t0 + T, sig);
      opts?.onDwellEnd?.();
      const sp = this.draw(this.rng("spectrum", key[0], key[1]), this.expected(beam), T, t0, overrange);
      await this.clock.sleepUntil(t0 + T + this.cfg.readoutOverheadS, sig);
      return sp;
    } catch (e) {
      if (ac.signal.aborted && !signal?.aborted) throw this.error("acquisition stopped", "aborted");
      throw e;
    } finally {
      this.active = undefined;
    }
  }

  async acquireMap(points: number, dwellS: number, onSpectrum: (i: number, s: Spectrum) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
    if (!(Number.isInteger(points) && points >= 1)) throw this.badArg(`points ${points} must be an integer >= 1`);
    if (!(dwellS >= this.cfg.minDwellS - 1e-12 && dwellS <= this.cfg.maxTimeS)) throw this.badArg(`dwell ${dwellS} s below the ${this.cfg.minDwellS * 1000} ms minimum per spectrum`);
    this.requireConnected();
    if (this.active) throw this.error("acquisition already running", "busy");
    const ac = new AbortController();
    this.active = ac;
    try {
      const overrange = await this.guard("acquireMap", signal, ac.signal);
      const sig = anySignal(signal, ac.signal);
      const key = this.nextKey();
      const t0 = this.clock.now();
      for (let i = 0; i < points; i++) {
        const ts = t0 + i * dwellS;
        await this.sleepUntil(ts, sig);
        const beam = this.env.beam.snapshot();
        if (this.mapPositions) Object.assign(beam, this.mapPositions(i));
        await this.sleepUntil(ts + dwellS, sig);
        const sp = this.draw(this.rng("map", key[0], key[1], i), this.expected(beam), dwellS, ts, overrange);
        await onSpectrum(i, sp);
      }
    } catch (e) {
      if (ac.signal.aborted && !signal?.aborted) throw this.error("map stopped", "aborted");
      throw e;
    } finally {
      this.active = undefined;
    }
  }

  async stop(): Promise<void> {
    this.active?.abort(new Error(`${this.name}: stopped`));
  }
}

/**
 * Seeded pseudo-random numbers for the twins: bit-identical on every machine (32-bit integer arithmetic via
 * Math.imul; transcendental functions only through V8's fdlibm ports, which do not depend on the CPU).
 *
 * - Generator: xoshiro128** (Blackman & Vigna), 128-bit state, period 2^128 - 1.
 * - Seeding: cyrb128 hash of "seed|name|key1|key2..." -> 4 x 32-bit state words, so every (device, trigger,
 *   acquisition) gets its own independent stream and results never depend on the call order across devices.
 * - normal(): 128-layer ziggurat (Marsaglia & Tsang 2000) with the layer index and the value taken from
 *   disjoint bits of one 32-bit draw (Doornik's fix for the index/value correlation).
 * - poisson(): inversion below mean 10, PTRS (Hörmann 1993) above: exact integers for every mean.
 * - gamma(): Marsaglia-Tsang (2000), with the u^(1/a) boost for shape < 1.
 */

const TWO_POW_32 = 4294967296;

/** cyrb128: a fast 128-bit string hash (public domain, bryc). Returns four 32-bit words. */
export function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

// ---- ziggurat tables (value bits: 25 signed bits, |hz| < 2^24) ----
const ZIG_N = 128;
const ZIG_R = 3.442619855899;
const ZIG_V = 9.91256303526217e-3;
const ZIG_M = 16777216; // 2^24
const KN = new Int32Array(ZIG_N);
const WN = new Float64Array(ZIG_N);
const FN = new Float64Array(ZIG_N);
(() => {
  let dn = ZIG_R;
  let tn = dn;
  const q = ZIG_V / Math.exp(-0.5 * dn * dn);
  KN[0] = Math.floor((dn / q) * ZIG_M);
  KN[1] = 0;
  WN[0] = q / ZIG_M;
  WN[ZIG_N - 1] = dn / ZIG_M;
  FN[0] = 1;
  FN[ZIG_N - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = ZIG_N - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = Math.floor((dn / tn) * ZIG_M);
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / ZIG_M;
  }
})();

// ---- log-factorial for PTRS ----
const LOGFACT_N = 256;
const LOGFACT = new Float64Array(LOGFACT_N);
for (let i = 1; i < LOGFACT_N; i++) LOGFACT[i] = LOGFACT[i - 1] + Math.log(i);
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln(k!) for integer k >= 0 (table below 256, Stirling series above: error < 1e-13). */
export function logFactorial(k: number): number {
  if (k < LOGFACT_N) return LOGFACT[k];
  const x = k + 1;
  const x2 = x * x;
  return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + (1 / 12 - (1 / 360 - 1 / (1260 * x2)) / x2) / x;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Start from four 32-bit words (not all zero). Prefer `rngFor` or `Rng.fromString`. */
  constructor(a: number, b: number, c: number, d: number) {
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 0x9e3779b9 | 0;
    for (let i = 0; i < 8; i++) this.nextU32(); // decorrelate similar seeds further
  }

  static fromString(key: string): Rng {
    const [a, b, c, d] = cyrb128(key);
    return new Rng(a, b, c, d);
  }

  /** Next 32-bit value as a signed int32 (xoshiro128**). */
  nextI32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /**
   * The generator's state into `out[0..3]` (for hot loops that step xoshiro128** on local variables, exactly as
   * nextI32 does, and hand the state back with `setState`: the sequence is the same as calling nextI32).
   */
  getState(out: Int32Array): Int32Array {
    out[0] = this.s0;
    out[1] = this.s1;
    out[2] = this.s2;
    out[3] = this.s3;
    return out;
  }

  /** Continue from a state read with `getState` (and stepped outside). */
  setState(s: Int32Array): void {
    this.s0 = s[0];
    this.s1 = s[1];
    this.s2 = s[2];
    this.s3 = s[3];
  }

  /** Next value as an unsigned 32-bit integer. */
  nextU32(): number {
    return this.nextI32() >>> 0;
  }

  /** Uniform in [0, 1) with 32-bit resolution. */
  uniform(): number {
    return (this.nextI32() >>> 0) / TWO_POW_32;
  }

  /** Uniform in (0, 1): never 0, safe for log(). */
  uniformOpen(): number {
    return ((this.nextI32() >>> 0) + 0.5) / TWO_POW_32;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal N(0,1) (ziggurat). */
  normal(): number {
    const u = this.nextI32();
    const iz = u & 127;
    const hz = u >> 7; // signed 25-bit value, independent of iz
    if ((hz < 0 ? -hz : hz) < KN[iz]) return hz * WN[iz];
    return this.normalTail(hz, iz);
  }

  private normalTail(hz: number, iz: number): number {
    for (;;) {
      if (iz === 0) {
        let x: number, y: number;
        do {
          x = -Math.log(this.uniformOpen()) / ZIG_R;
          y = -Math.log(this.uniformOpen());
        } while (y + y < x * x);
        return hz > 0 ? ZIG_R + x : -ZIG_R - x;
      }
      const x = hz * WN[iz];
      if (FN[iz] + this.uniform() * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
      const u = this.nextI32();
      iz = u & 127;
      hz = u >> 7;
      if ((hz < 0 ? -hz : hz) < KN[iz]) return hz * WN[iz];
    }
  }

  /** Normal with mean and standard deviation. */
  gauss(mean: number, sd: number): number {
    return mean + sd * this.normal();
  }

  /** Poisson-distributed integer with the given mean (exact for every mean; 0 for mean <= 0). */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean < 10) {
      const u = this.uniform();
      let p = Math.exp(-mean);
      let s = p;
      let k = 0;
      while (u > s && k < 200) {
        k++;
        p *= mean / k;
        s += p;
      }
      return k;
    }
    return this.ptrs(mean);
  }

  /** PTRS transformed rejection (Hörmann 1993), mean >= 10. */
  private ptrs(lam: number): number {
    const slam = Math.sqrt(lam);
    const loglam = Math.log(lam);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    const logInvAlpha = Math.log(invalpha);
    for (;;) {
      const U = this.uniform() - 0.5;
      const V = this.uniformOpen();
      const us = 0.5 - Math.abs(U);
      const k = Math.floor(((2 * a) / us + b) * U + lam + 0.43);
      if (us >= 0.07 && V <= vr) return k;
      if (k < 0 || (us < 0.013 && V > us)) continue;
      if (Math.log(V) + logInvAlpha - Math.log(a / (us * us) + b) <= -lam + k * loglam - logFactorial(k)) return k;
    }
  }

  /** Gamma(shape, scale) (Marsaglia-Tsang). Mean shape*scale, variance shape*scale^2. */
  gamma(shape: number, scale = 1): number {
    if (!(shape > 0)) return 0;
    if (shape < 1) return this.gamma(shape + 1, scale) * Math.pow(this.uniformOpen(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniformOpen();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v * scale;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v * scale;
    }
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(this.uniformOpen()) * mean;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export type RngKey = number | string;

/**
 * An independent stream for (seed, name, ...keys), e.g. `rngFor(seed, "ccd", trigger, frame)`. The same
 * arguments always give the same stream, whatever else the process did before.
 */
export function rngFor(seed: number | string, name: string, ...keys: RngKey[]): Rng {
  return Rng.fromString(`${seed}|${name}|${keys.join("|")}`);
}

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p=${p} outside (0,1)`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * 65536 stratified standard-normal quantiles, Phi^-1((i + 0.5) / 65536), rescaled to unit variance. Image
 * noise draws two normals from one 32-bit value through it (2-3x faster than the ziggurat): the marginal is a
 * 16-bit discretised normal with tails cut at 4.3 sigma, which is below the ADU quantisation of any frame.
 */
export const NORMAL_TABLE: Float64Array = (() => {
  const n = 65536;
  const t = new Float64Array(n);
  let v = 0;
  for (let i = 0; i < n; i++) {
    t[i] = normalQuantile((i + 0.5) / n);
    v += t[i] * t[i];
  }
  const k = 1 / Math.sqrt(v / n);
  for (let i = 0; i < n; i++) t[i] *= k;
  return t;
})();

/**
 * Poisson sampling by table inversion for one fixed mean (a guide table makes each draw O(1)): for images
 * where most pixels share the same mean. Exact up to a CDF tail of 1e-15.
 */
export class PoissonTable {
  private readonly cdf: Float64Array;
  private readonly guide: Int32Array;
  constructor(readonly mean: number) {
    if (!(mean >= 0 && mean <= 1e5)) throw new Error(`PoissonTable: mean ${mean} outside 0..1e5`);
    const kmax = Math.ceil(mean + 12 * Math.sqrt(mean) + 20);
    const cdf = new Float64Array(kmax + 1);
    // log-space pmf, stable for large means
    let acc = 0;
    for (let k = 0; k <= kmax; k++) {
      acc += mean > 0 ? Math.exp(-mean + k * Math.log(mean) - logFactorial(k)) : k === 0 ? 1 : 0;
      cdf[k] = acc;
    }
    cdf[kmax] = Infinity; // anything left lands in the last bin
    this.cdf = cdf;
    const g = Math.max(16, Math.min(1 << 16, kmax + 1));
    const guide = new Int32Array(g);
    let k = 0;
    for (let j = 0; j < g; j++) {
      const u = j / g;
      while (cdf[k] <= u) k++;
      guide[j] = k;
    }
    this.guide = guide;
  }
  /** The inversion tables (for hot loops that inline `sampleU`). */
  get tables(): { cdf: Float64Array; guide: Int32Array } {
    return { cdf: this.cdf, guide: this.guide };
  }
  /** Draw with one uniform in [0,1). */
  sampleU(u: number): number {
    let k = this.guide[(u * this.guide.length) | 0];
    const cdf = this.cdf;
    while (cdf[k] <= u) k++;
    return k;
  }
  sample(rng: Rng): number {
    return this.sampleU(rng.uniform());
  }
}

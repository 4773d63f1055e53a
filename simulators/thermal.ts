/**
 * First-order thermal plant shared by the camera coolers and the temperature controller twin:
 *
 *   the set-point S ramps linearly towards the target at `rampPerS` (Infinity = step),
 *   dT/dt = (S - T) / tau, clamped to |dT/dt| <= slewPerS,
 *   "in window" when |T - target| <= window; "stable" after `stableS` seconds in the window.
 *
 * Integrated on a fixed grid of `stepS` from the last parameter change (exact exponential per step), so the
 * value at a given time depends only on the parameter changes and their times, never on how often it is
 * queried: a deterministic function of the clock.
 */

export interface ThermalParams {
  tauS: number;
  slewPerS: number;
  rampPerS: number;
  window: number;
  stableS: number;
}

interface ThermalState {
  t: number;
  value: number;
  ramped: number;
  /** Time the value last entered the window (null when outside). */
  inSince: number | null;
  /** Has been stable since the last target change. */
  wasStable: boolean;
}

export class ThermalModel {
  private p: ThermalParams;
  private target: number;
  private anchor: ThermalState;
  private cache: ThermalState;
  private readonly stepS: number;

  constructor(initial: number, target: number, params: ThermalParams, now: number, stepS?: number) {
    this.p = { ...params };
    this.target = target;
    this.stepS = stepS ?? Math.min(0.25, params.tauS / 50);
    this.anchor = { t: now, value: initial, ramped: initial, inSince: null, wasStable: false };
    if (Math.abs(initial - target) <= params.window) this.anchor.inSince = now - params.stableS; // already settled
    this.anchor.wasStable = this.anchor.inSince !== null;
    this.cache = { ...this.anchor };
  }

  /** Change target and/or parameters at time `now` (state is carried over). */
  set(now: number, change: { target?: number; params?: Partial<ThermalParams> }): void {
    const s = this.stateAt(now);
    const targetChanged = change.target !== undefined && change.target !== this.target;
    if (change.params) this.p = { ...this.p, ...change.params };
    if (change.target !== undefined) this.target = change.target;
    const inWin = Math.abs(s.value - this.target) <= this.p.window;
    this.anchor = {
      t: now,
      value: s.value,
      ramped: targetChanged ? s.value : s.ramped,
      inSince: inWin ? (targetChanged ? now : s.inSince ?? now) : null,
      wasStable: targetChanged ? false : s.wasStable,
    };
    this.cache = { ...this.anchor };
  }

  getTarget(): number {
    return this.target;
  }

  params(): ThermalParams {
    return { ...this.p };
  }

  value(now: number): number {
    return this.stateAt(now).value;
  }

  /** The ramped set-point now (equals the target once the ramp is done). */
  rampedSetpoint(now: number): number {
    return this.stateAt(now).ramped;
  }

  inWindow(now: number): boolean {
    return this.stateAt(now).inSince !== null;
  }

  stable(now: number): boolean {
    const s = this.stateAt(now);
    return s.inSince !== null && now - s.inSince >= this.p.stableS - 1e-9;
  }

  /** Was stable since the last target change and is now out of the window. */
  drifted(now: number): boolean {
    const s = this.stateAt(now);
    return s.wasStable && s.inSince === null;
  }

  private stateAt(now: number): ThermalState {
    if (now < this.cache.t) this.cache = { ...this.anchor };
    if (now < this.anchor.t) return { ...this.anchor };
    const h = this.stepS;
    const { tauS, slewPerS, rampPerS, window, stableS } = this.p;
    const decay = 1 - Math.exp(-h / tauS);
    let s = this.cache;
    // full steps, cached
    let { t, value, ramped, inSince, wasStable } = s;
    while (t + h <= now) {
      if (ramped === this.target && value === this.target) {
        // converged: nothing changes any more except time
        const k = Math.floor((now - t) / h);
        t += k * h;
        break;
      }
      ({ value, ramped, inSince, wasStable } = this.step(t, h, decay, value, ramped, inSince, wasStable, tauS, slewPerS, rampPerS, window, stableS));
      t += h;
    }
    s = { t, value, ramped, inSince, wasStable };
    this.cache = s;
    const rest = now - t;
    if (rest <= 0) return s;
    const part = this.step(t, rest, 1 - Math.exp(-rest / tauS), value, ramped, inSince, wasStable, tauS, slewPerS, rampPerS, window, stableS);
    return { t: now, ...part };
  }

  private step(
    t: number,
    h: number,
    decay: number,
    value: number,
    ramped: number,
    inSince: number | null,
    wasStable: boolean,
    _tau: number,
    slew: number,
    ramp: number,
    window: number,
    stableS: number,
  ): Omit<ThermalState, "t"> {
    const tgt = this.target;
    if (ramp === Infinity || ramp <= 0) ramped = tgt;
    else {
      const d = tgt - ramped;
      const m = ramp * h;
      ramped = Math.abs(d) <= m ? tgt : ramped + Math.sign(d) * m;
    }
    let dv = (ramped - value) * decay;
    const maxDv = slew * h;
    if (dv > maxDv) dv = maxDv;
    else if (dv < -maxDv) dv = -maxDv;
    value += dv;
    if (Math.abs(value - tgt) < 1e-12 * Math.max(1, Math.abs(tgt)) && ramped === tgt) value = tgt;
    const t1 = t + h;
    if (Math.abs(value - tgt) <= window) {
      if (inSince === null) inSince = t1;
      if (t1 - inSince >= stableS) wasStable = true;
    } else inSince = null;
    return { value, ramped, inSince, wasStable };
  }
}

/**
 * Twin of a sample-temperature controller (SetpointController): the set-point ramps at the configured rate
 * (units/min, 0 = step), the process value follows it as a first-order lag (tau) with a maximum slew, and
 * "stable" means within `tolerance` of the set-point for `stableS`. Readings carry seeded Gaussian sensor noise.
 *
 * Timing: a step of size D settles into the window +-tol after about tau * ln(D / tol) (+ D / ramp with a ramp),
 * and is reported stable `stableS` later (`settleTime()` computes it without sleeping).
 */
import type { SetpointController } from "../runtime/devices/setpoint.ts";
import type { Rng } from "./rng.ts";
import { ThermalModel } from "./thermal.ts";
import { TwinBase, type TwinCodes, type TwinOptions } from "./twin-base.ts";

export interface TemperatureConfig {
  units: string;
  initial: number;
  min: number;
  max: number;
  /** First-order time constant, s. */
  tauS: number;
  /** Maximum rate of change of the process value, units/min (Infinity = none). */
  slewPerMin: number;
  /** Stability window, +- units. */
  tolerance: number;
  /** Time within the window before stable, s. */
  stableS: number;
  /** Sensor noise (std, units) added to each read(). */
  noise: number;
  /** Poll period of waitStable, clock seconds. */
  pollS: number;
  /** Modelled latency of each command/query, s. */
  latencyS: number;
}

export const TEMPERATURE_DEFAULTS: TemperatureConfig = {
  units: "C",
  initial: 22,
  min: -196,
  max: 100,
  tauS: 60,
  slewPerMin: 20,
  tolerance: 0.1,
  stableS: 30,
  noise: 0.005,
  pollS: 1,
  latencyS: 0.005,
};

export interface TemperatureTwinOptions extends TwinOptions {
  config?: Partial<TemperatureConfig>;
  model?: string;
}

export class TemperatureTwin extends TwinBase implements SetpointController {
  protected readonly kind = "setpoint" as const;
  protected readonly model: string;
  protected readonly codes: TwinCodes = {
    notConnected: ["NOT_CONNECTED", "not connected"],
    busy: ["BUSY", "busy"],
    badArgument: ["RANGE", "value out of range"],
    timeout: ["TIMEOUT", "timeout"],
    communication: ["COMM", "communication error"],
    error: ["ERROR", "controller error"],
    aborted: ["ABORTED", "aborted"],
  };
  readonly cfg: TemperatureConfig;
  private readonly thermal: ThermalModel;
  private rampPerMin = 0;
  private readonly noise: Rng;

  constructor(o: TemperatureTwinOptions) {
    super(o, "temperature", o.connectS ?? 0.1);
    this.cfg = { ...TEMPERATURE_DEFAULTS, ...(o.config ?? {}) };
    this.model = o.model ?? "sample temperature controller (twin)";
    const c = this.cfg;
    this.thermal = new ThermalModel(c.initial, c.initial, { tauS: c.tauS, slewPerS: c.slewPerMin / 60, rampPerS: Infinity, window: c.tolerance, stableS: c.stableS }, this.clock.now());
    this.noise = this.rng("read");
  }

  units(): string {
    return this.cfg.units;
  }

  async setpoint(): Promise<number> {
    await this.guard("setpoint");
    await this.clock.sleep(this.cfg.latencyS);
    return this.thermal.getTarget();
  }

  async setSetpoint(value: number): Promise<void> {
    await this.guard("setSetpoint");
    const c = this.cfg;
    if (!(Number.isFinite(value) && value >= c.min && value <= c.max)) throw this.badArg(`set-point ${value} ${c.units} outside ${c.min}..${c.max}`);
    await this.clock.sleep(c.latencyS);
    this.thermal.set(this.clock.now(), { target: value });
  }

  async setRamp(ratePerMin: number): Promise<void> {
    await this.guard("setRamp");
    if (!(Number.isFinite(ratePerMin) && ratePerMin >= 0)) throw this.badArg(`ramp ${ratePerMin} ${this.cfg.units}/min must be >= 0`);
    await this.clock.sleep(this.cfg.latencyS);
    this.rampPerMin = ratePerMin;
    this.thermal.set(this.clock.now(), { params: { rampPerS: ratePerMin > 0 ? ratePerMin / 60 : Infinity } });
  }

  ramp(): number {
    return this.rampPerMin;
  }

  /** Overrange fault: the sensor reads open circuit (+9999). */
  async read(): Promise<number> {
    const over = await this.guard("read");
    await this.clock.sleep(this.cfg.latencyS);
    if (over) return 9999;
    return this.thermal.value(this.clock.now()) + this.cfg.noise * this.noise.normal();
  }

  /** Noise-free process value now (for tests and data models; no fault check, no latency). */
  value(): number {
    return this.thermal.value(this.clock.now());
  }

  async stable(): Promise<boolean> {
    await this.guard("stable");
    await this.clock.sleep(this.cfg.latencyS);
    return this.thermal.stable(this.clock.now());
  }

  async waitStable(timeoutS: number, signal?: AbortSignal): Promise<void> {
    this.requireConnected();
    const end = this.clock.now() + timeoutS;
    for (;;) {
      if (this.thermal.stable(this.clock.now())) return;
      const left = end - this.clock.now();
      if (left <= 0) throw this.error(`not stable at ${this.thermal.getTarget()} ${this.cfg.units} within ${timeoutS} s (now ${this.value().toFixed(3)})`, "timeout");
      await this.clock.sleep(Math.min(this.cfg.pollS, left), signal);
    }
  }

  /**
   * Modelled time from now until stable at `target` starting from `from` (no slew limit considered):
   * ramp time + tau * ln(|D| / tolerance) + stableS. For `donki estimate`.
   */
  settleTime(from: number, target: number): number {
    const c = this.cfg;
    const d = Math.abs(target - from);
    const rampS = this.rampPerMin > 0 ? (d / this.rampPerMin) * 60 : 0;
    const lag = d > c.tolerance ? c.tauS * Math.log(d / c.tolerance) : 0;
    return rampS + lag + c.stableS;
  }

  /** Alias of settleTime from the current value (one "action" of this device). */
  cycleTime(target = this.thermal.getTarget()): number {
    return this.settleTime(this.value(), target);
  }
}

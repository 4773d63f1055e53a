/**
 * Deterministic motion model of a multi-axis PI piezo stage behind a GCS 2.0 controller.
 *
 * Every quantity is a function of clock time (`clock.now()`), so the model works unchanged with a
 * VirtualClock (simulated time), a ScaledClock or the RealClock; it never sleeps nor schedules anything.
 *
 * Trajectory: a closed-loop move runs at constant velocity from the current position to the target
 * (velocity-limited, no acceleration phase). The axis is on target once its (noise-free) position has stayed
 * inside the on-target window for the settling time: a move of D um at v um/s enters the window at
 * t0 + (D - window)/v and reports ONT=1 from t0 + (D - window)/v + settlingTime. It has physically arrived at
 * t0 + D/v ("moving" until then). Reported positions carry a seeded uniform noise (default +-1 nm), which is
 * kept below the on-target window; the on-target decision ignores the noise.
 *
 * Errors are thrown as MotionError with the GCS error code (5 servo off / unreferenced, 7 out of limits,
 * 8 velocity out of limits, 15 invalid axis, 17 parameter out of range).
 */
import type { Clock } from "../../runtime/clock.ts";
import { mulberry32 } from "./prng.ts";

export interface AxisConfig {
  /** Axis id as the controller names it ("1", "2", "3" on E-7xx; "A".."C" on E-516/517). */
  id: string;
  /** Soft limits TMN/TMX in um (default 0 / 100). */
  min?: number;
  max?: number;
  /** Initial position (default the middle of the travel). */
  position?: number;
  /** Closed-loop velocity VEL in um/s (default 1000). */
  velocity?: number;
  /** Largest accepted VEL (default 10000 um/s). */
  maxVelocity?: number;
  /** On-target window in um (SPA 0x07000900, default 0.01). */
  onTargetWindow?: number;
  /** Settling time in s (SPA 0x07000901, default 0.005). */
  settlingTime?: number;
  /** Servo state at power-on (default true: most E-7xx are configured to start in closed loop). */
  servo?: boolean;
  /** Has a reference switch that must be found with FRF (default false: absolute capacitive sensors). */
  hasReference?: boolean;
  /** Referenced at power-on (default: true for absolute sensors, false when hasReference). */
  referenced?: boolean;
  /** Duration of a FRF reference move in s (default 0.2). */
  referenceTime?: number;
}

export interface MotionModelOptions {
  clock: Clock;
  /** Axis configurations, or a number of axes named "1".."n" with defaults (default 3). */
  axes?: AxisConfig[] | number;
  /** PRNG seed for the position noise (default 1). */
  seed?: number;
  /** Position noise amplitude in um, uniform in [-noise, +noise] (default 0.001 = 1 nm; 0 disables). */
  noise?: number;
}

/** A GCS error raised by the model: `code` is the controller's error number. */
export class MotionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "MotionError";
  }
}

/** SRG? register 1 bits (status word). */
export const SRG_BITS = {
  negativeLimit: 0x1,
  positiveLimit: 0x4,
  servo: 0x1000,
  moving: 0x2000,
  referencing: 0x4000,
  onTarget: 0x8000,
} as const;

interface AxisState {
  cfg: Required<AxisConfig>;
  // current trajectory segment
  p0: number;
  t0: number;
  target: number;
  speed: number;
  tArrive: number;
  tOnTarget: number;
  velocity: number;
  servo: boolean;
  overflow: boolean;
  referenced: boolean;
  refDoneAt: number | null;
}

const EPS = 1e-12;

export class MotionModel {
  readonly clock: Clock;
  private readonly ax = new Map<string, AxisState>();
  private readonly order: string[] = [];
  private readonly rng: () => number;
  private readonly noise: number;

  constructor(opts: MotionModelOptions) {
    this.clock = opts.clock;
    this.rng = mulberry32(opts.seed ?? 1);
    this.noise = opts.noise ?? 0.001;
    const axes = opts.axes ?? 3;
    const cfgs: AxisConfig[] = typeof axes === "number" ? Array.from({ length: axes }, (_, i) => ({ id: String(i + 1) })) : axes;
    if (cfgs.length === 0) throw new Error("MotionModel: at least one axis");
    const now = this.clock.now();
    for (const c of cfgs) {
      const min = c.min ?? 0;
      const max = c.max ?? 100;
      if (!(max > min)) throw new Error(`MotionModel: axis ${c.id}: max must be > min`);
      const hasReference = c.hasReference ?? false;
      const cfg: Required<AxisConfig> = {
        id: c.id,
        min,
        max,
        position: c.position ?? (min + max) / 2,
        velocity: c.velocity ?? 1000,
        maxVelocity: c.maxVelocity ?? 10000,
        onTargetWindow: c.onTargetWindow ?? 0.01,
        settlingTime: c.settlingTime ?? 0.005,
        servo: c.servo ?? true,
        hasReference,
        referenced: c.referenced ?? !hasReference,
        referenceTime: c.referenceTime ?? 0.2,
      };
      if (this.ax.has(cfg.id)) throw new Error(`MotionModel: duplicate axis ${cfg.id}`);
      this.ax.set(cfg.id, {
        cfg,
        p0: cfg.position,
        t0: now,
        target: cfg.position,
        speed: cfg.velocity,
        tArrive: now,
        tOnTarget: now,
        velocity: cfg.velocity,
        servo: cfg.servo,
        overflow: false,
        referenced: cfg.referenced,
        refDoneAt: null,
      });
      this.order.push(cfg.id);
    }
  }

  /** Axis ids in controller order. */
  axes(): string[] {
    return [...this.order];
  }

  hasAxis(id: string): boolean {
    return this.ax.has(id);
  }

  private st(id: string): AxisState {
    const s = this.ax.get(id);
    if (!s) throw new MotionError(15, `invalid axis identifier ${JSON.stringify(id)}`);
    return s;
  }

  /** Throw 15 unless every id is a known axis. */
  checkAxes(ids: string[]): void {
    for (const id of ids) this.st(id);
  }

  private truePos(s: AxisState, t: number): number {
    if (t >= s.tArrive) return s.target;
    const dir = Math.sign(s.target - s.p0);
    return s.p0 + dir * s.speed * Math.max(0, t - s.t0);
  }

  private isReferencing(s: AxisState, t: number): boolean {
    return s.refDoneAt !== null && t < s.refDoneAt;
  }

  private isReferenced(s: AxisState, t: number): boolean {
    if (s.refDoneAt !== null && t >= s.refDoneAt) {
      s.referenced = true;
      s.refDoneAt = null;
    }
    return s.referenced;
  }

  /** Start a segment from the current position to `target` at the axis velocity. */
  private plan(s: AxisState, target: number, t: number): void {
    const p = this.truePos(s, t);
    const wasStill = t >= s.tArrive;
    const d = Math.abs(target - p);
    const w = s.cfg.onTargetWindow;
    s.p0 = p;
    s.t0 = t;
    s.target = target;
    s.speed = s.velocity;
    s.tArrive = t + d / s.velocity;
    if (d <= w && wasStill) {
      // already inside the new window and at rest: keeps counting from when it came to rest
      s.tOnTarget = Math.min(s.tOnTarget, t + s.cfg.settlingTime);
    } else {
      s.tOnTarget = t + Math.max(0, d - w) / s.velocity + s.cfg.settlingTime;
    }
  }

  private freeze(s: AxisState, t: number): void {
    const p = this.truePos(s, t);
    const moving = t < s.tArrive;
    s.p0 = p;
    s.t0 = t;
    s.target = p;
    s.tArrive = t;
    if (moving) s.tOnTarget = t + s.cfg.settlingTime;
  }

  private sample(): number {
    return this.noise > 0 ? (this.rng() * 2 - 1) * this.noise : 0;
  }

  // ----- queries -----------------------------------------------------------------------------------------

  /** Measured position (with noise) at time t (default now). */
  position(id: string, t = this.clock.now()): number {
    const s = this.st(id);
    return this.truePos(s, t) + this.sample();
  }

  /** Noise-free position. */
  exactPosition(id: string, t = this.clock.now()): number {
    return this.truePos(this.st(id), t);
  }

  /** Commanded target (MOV?). */
  target(id: string): number {
    return this.st(id).target;
  }

  onTarget(id: string, t = this.clock.now()): boolean {
    const s = this.st(id);
    return s.servo && !s.overflow && !this.isReferencing(s, t) && t >= s.tOnTarget - EPS;
  }

  moving(id: string, t = this.clock.now()): boolean {
    const s = this.st(id);
    return t < s.tArrive || this.isReferencing(s, t);
  }

  /** Time at which the current move reports on target (for tests / planning). */
  onTargetTime(id: string): number {
    return this.st(id).tOnTarget;
  }

  arrivalTime(id: string): number {
    return this.st(id).tArrive;
  }

  servo(id: string): boolean {
    return this.st(id).servo;
  }

  velocity(id: string): number {
    return this.st(id).velocity;
  }

  maxVelocity(id: string): number {
    return this.st(id).cfg.maxVelocity;
  }

  limits(id: string): { min: number; max: number } {
    const c = this.st(id).cfg;
    return { min: c.min, max: c.max };
  }

  overflow(id: string): boolean {
    return this.st(id).overflow;
  }

  referenced(id: string, t = this.clock.now()): boolean {
    return this.isReferenced(this.st(id), t);
  }

  referencing(id: string, t = this.clock.now()): boolean {
    return this.isReferencing(this.st(id), t);
  }

  hasReference(id: string): boolean {
    return this.st(id).cfg.hasReference;
  }

  onTargetWindow(id: string): number {
    return this.st(id).cfg.onTargetWindow;
  }

  settlingTime(id: string): number {
    return this.st(id).cfg.settlingTime;
  }

  /** Bit mask of moving axes: bit i = i-th axis (controller order) moving (the `#5` reply). */
  motionMask(t = this.clock.now()): number {
    let m = 0;
    this.order.forEach((id, i) => {
      if (this.moving(id, t)) m |= 1 << i;
    });
    return m;
  }

  /** True while any axis is referencing (the controller then answers `#7` with 0xB0 busy). */
  busy(t = this.clock.now()): boolean {
    return this.order.some((id) => this.isReferencing(this.st(id), t));
  }

  /** SRG? register 1. */
  statusRegister(id: string, t = this.clock.now()): number {
    const s = this.st(id);
    let r = 0;
    if (s.servo) r |= SRG_BITS.servo;
    if (this.moving(id, t)) r |= SRG_BITS.moving;
    if (this.isReferencing(s, t)) r |= SRG_BITS.referencing;
    if (this.onTarget(id, t)) r |= SRG_BITS.onTarget;
    const p = this.truePos(s, t);
    if (p <= s.cfg.min + EPS) r |= SRG_BITS.negativeLimit;
    if (p >= s.cfg.max - EPS) r |= SRG_BITS.positiveLimit;
    return r;
  }

  // ----- commands (validate everything first, then apply: a rejected command changes nothing) -----------

  /** MOV: closed-loop absolute move. Errors 15, 5 (servo off or unreferenced), 7 (outside TMN..TMX). */
  move(targets: Record<string, number>): void {
    const t = this.clock.now();
    const entries = Object.entries(targets);
    for (const [id, v] of entries) {
      const s = this.st(id);
      if (!Number.isFinite(v)) throw new MotionError(17, `axis ${id}: invalid target ${v}`);
      if (!s.servo) throw new MotionError(5, `axis ${id}: servo off`);
      if (!this.isReferenced(s, t)) throw new MotionError(5, `axis ${id}: not referenced`);
      if (v < s.cfg.min - EPS || v > s.cfg.max + EPS) throw new MotionError(7, `axis ${id}: target ${v} outside [${s.cfg.min}, ${s.cfg.max}]`);
    }
    for (const [id, v] of entries) this.plan(this.st(id), v, t);
  }

  /** MVR: move relative to the current commanded target. */
  moveRelative(steps: Record<string, number>): void {
    const targets: Record<string, number> = {};
    for (const [id, d] of Object.entries(steps)) {
      if (!Number.isFinite(d)) throw new MotionError(17, `axis ${id}: invalid step ${d}`);
      targets[id] = this.st(id).target + d;
    }
    this.move(targets);
  }

  /** SVA with servo off: open-loop jump (the piezo follows the voltage within one cycle). Error 79 with servo on. */
  openLoop(values: Record<string, number>): void {
    const t = this.clock.now();
    for (const [id, v] of Object.entries(values)) {
      const s = this.st(id);
      if (s.servo) throw new MotionError(79, `axis ${id}: open-loop command with servo on`);
      if (!Number.isFinite(v)) throw new MotionError(17, `axis ${id}: invalid value ${v}`);
    }
    for (const [id, v] of Object.entries(values)) {
      const s = this.st(id);
      const p = Math.min(s.cfg.max, Math.max(s.cfg.min, v));
      s.p0 = s.target = p;
      s.t0 = s.tArrive = t;
      s.tOnTarget = t + s.cfg.settlingTime;
    }
  }

  /** Stop the given axes (default all) where they are. */
  stop(ids?: string[]): void {
    const t = this.clock.now();
    const list = ids ?? this.order;
    this.checkAxes(list);
    for (const id of list) {
      const s = this.st(id);
      this.freeze(s, t);
      if (this.isReferencing(s, t)) {
        s.refDoneAt = null;
        s.referenced = false;
      }
    }
  }

  /** SVO. Switching on takes the current position as target (and clears an overflow); off stops the axis. */
  setServo(states: Record<string, boolean>): void {
    const t = this.clock.now();
    this.checkAxes(Object.keys(states));
    for (const [id, on] of Object.entries(states)) {
      const s = this.st(id);
      if (on && !s.servo) {
        this.freeze(s, t);
        s.tOnTarget = t + s.cfg.settlingTime;
        s.overflow = false;
      } else if (!on && s.servo) {
        this.freeze(s, t);
      }
      if (on && s.overflow) {
        s.overflow = false;
        s.tOnTarget = t + s.cfg.settlingTime;
      }
      s.servo = on;
    }
  }

  /** VEL. Error 8 unless 0 < v <= maxVelocity. A running move continues from where it is at the new speed. */
  setVelocity(v: Record<string, number>): void {
    const t = this.clock.now();
    for (const [id, val] of Object.entries(v)) {
      const s = this.st(id);
      if (!(val > 0) || val > s.cfg.maxVelocity) throw new MotionError(8, `axis ${id}: velocity ${val} outside (0, ${s.cfg.maxVelocity}]`);
    }
    for (const [id, val] of Object.entries(v)) {
      const s = this.st(id);
      s.velocity = val;
      if (t < s.tArrive) this.plan(s, s.target, t);
    }
  }

  /** SPA on-target window (um, > 0 and <= travel) / settling time (s, 0..10). Error 17 out of range. */
  setOnTargetWindow(id: string, w: number): void {
    const s = this.st(id);
    if (!(w > 0) || w > s.cfg.max - s.cfg.min) throw new MotionError(17, `axis ${id}: on-target window ${w} out of range`);
    s.cfg.onTargetWindow = w;
  }

  setSettlingTime(id: string, ts: number): void {
    const s = this.st(id);
    if (!(ts >= 0) || ts > 10) throw new MotionError(17, `axis ${id}: settling time ${ts} out of range`);
    s.cfg.settlingTime = ts;
  }

  /** FRF: reference the axes. Absolute sensors (no reference): accepted, already referenced. */
  reference(ids?: string[]): void {
    const t = this.clock.now();
    const list = ids ?? this.order;
    this.checkAxes(list);
    for (const id of list) {
      const s = this.st(id);
      if (!s.cfg.hasReference) {
        s.referenced = true;
        continue;
      }
      this.freeze(s, t);
      s.referenced = false;
      s.refDoneAt = t + s.cfg.referenceTime;
      s.tOnTarget = s.refDoneAt + s.cfg.settlingTime;
    }
  }

  /** Fault: the sensor/amplifier of an axis goes into overflow (motion stops, never on target until SVO ax 1). */
  setOverflow(id: string, on = true): void {
    const s = this.st(id);
    if (on) this.freeze(s, this.clock.now());
    s.overflow = on;
  }
}

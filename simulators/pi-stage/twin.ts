/**
 * PiStageTwin: an in-process Positioner backed by the motion model (no bytes, no protocol), for fast
 * simulated scans. Errors are GcsError (a DeviceError) with the GCS code the real controller would give.
 */
import type { Clock } from "../../runtime/clock.ts";
import type { DeviceInfo } from "../../runtime/devices/common.ts";
import type { AxisId, AxisLimits, AxisStatus, Positioner } from "../../runtime/devices/positioner.ts";
import { GCS, GcsError } from "../../drivers/pi-gcs/errors.ts";
import { MotionError, MotionModel, type AxisConfig } from "./motion.ts";

export type PiStageFaultKind = "timeout" | "error" | "disconnect" | "overrange";

/**
 * A scripted fault. `call: n` fires on the n-th counted call (1-based; every async Positioner method except
 * connect/close counts); `trigger: n` fires on the first counted call made while `setTrigger(n)` is current.
 * Each fault fires once.
 *  - timeout: the call hangs for `timeoutS` clock seconds, then rejects with code -7;
 *  - error: the call rejects with `code` (default 1024 motion error);
 *  - disconnect: the call rejects with -1 (connection lost); the next call reconnects (like the driver) unless
 *    `autoReconnect: false`, in which case calls reject with -4 until connect();
 *  - overrange: the axis (`axis`, default all) goes into overflow: it stops and never reports on target until
 *    its servo is switched on again; the call itself proceeds.
 */
export interface PiStageFault {
  at: { call: number } | { trigger: number };
  kind: PiStageFaultKind;
  code?: number;
  axis?: AxisId;
}

export interface PiStageTwinOptions {
  clock: Clock;
  /** Axes: configs or a count (default 3 axes "1".."3", 0..100 um). */
  axes?: AxisConfig[] | number;
  seed?: number;
  /** Position noise amplitude in um (default 0.001). */
  noise?: number;
  /** Device name used in errors (default "sim:pi-stage"). */
  name?: string;
  /** Model string for info() (default "PI E-727 (twin)"). */
  model?: string;
  faults?: PiStageFault[];
  /** How long a "timeout" fault hangs, clock seconds (default 5, like the driver). */
  timeoutS?: number;
  /** Modelled latency per call, clock seconds (default 0; ~0.001 mimics one TCP exchange). */
  latencyS?: number;
  /** waitOnTarget poll interval, clock seconds (default 0.001). */
  pollIntervalS?: number;
  autoReconnect?: boolean;
}

export class PiStageTwin implements Positioner {
  readonly model: MotionModel;
  readonly clock: Clock;
  readonly name: string;
  private connected = false;
  private lost = false;
  private calls = 0;
  private trigger: number | null = null;
  private readonly faults: (PiStageFault & { fired?: boolean })[];
  private readonly opts: PiStageTwinOptions;

  constructor(opts: PiStageTwinOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.name = opts.name ?? "sim:pi-stage";
    this.model = new MotionModel({ clock: opts.clock, axes: opts.axes, seed: opts.seed, noise: opts.noise });
    this.faults = (opts.faults ?? []).map((f) => ({ ...f }));
  }

  info(): DeviceInfo {
    return { kind: "positioner", model: this.opts.model ?? "PI E-727 (twin)", serial: "sim", simulated: true };
  }

  async connect(): Promise<void> {
    this.connected = true;
    this.lost = false;
  }

  async close(): Promise<void> {
    this.connected = false;
  }

  /** The current trigger number, for `{ at: { trigger: n } }` faults. */
  setTrigger(n: number | null): void {
    this.trigger = n;
  }

  /** Add a fault at run time. */
  addFault(f: PiStageFault): void {
    this.faults.push({ ...f });
  }

  /** Number of counted calls so far. */
  callCount(): number {
    return this.calls;
  }

  private err(code: number, detail?: string): GcsError {
    return new GcsError(this.name, code, detail);
  }

  /** Common entry of every counted call: connection state, latency, faults. */
  private async enter(): Promise<void> {
    if (!this.connected) throw this.err(GCS.NOT_CONNECTED);
    if (this.lost) {
      if (this.opts.autoReconnect === false) throw this.err(GCS.NOT_CONNECTED, "connection was lost; call connect()");
      this.lost = false;
    }
    this.calls++;
    if (this.opts.latencyS) await this.clock.sleep(this.opts.latencyS);
    const f = this.faults.find((x) => !x.fired && ("call" in x.at ? x.at.call === this.calls : x.at.trigger === this.trigger));
    if (!f) return;
    f.fired = true;
    switch (f.kind) {
      case "timeout":
        await this.clock.sleep(this.opts.timeoutS ?? 5);
        throw this.err(GCS.TIMEOUT, "injected fault");
      case "error":
        throw this.err(f.code ?? GCS.MOTION_ERROR, "injected fault");
      case "disconnect":
        this.lost = true;
        throw this.err(GCS.COM_ERROR, "injected fault: connection lost");
      case "overrange":
        for (const id of f.axis ? [f.axis] : this.model.axes()) this.model.setOverflow(id, true);
        return;
    }
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof MotionError) throw this.err(e.code, e.message);
      throw e;
    }
  }

  private sel(axes?: AxisId[]): AxisId[] {
    const list = axes && axes.length ? axes : this.model.axes();
    this.run(() => this.model.checkAxes(list));
    return list;
  }

  private map<T>(axes: AxisId[] | undefined, f: (id: AxisId) => T): Record<AxisId, T> {
    const out: Record<AxisId, T> = {};
    for (const id of this.sel(axes)) out[id] = f(id);
    return out;
  }

  async axes(): Promise<AxisId[]> {
    await this.enter();
    return this.model.axes();
  }

  units(): string {
    return "um";
  }

  async moveAbsolute(targets: Record<AxisId, number>): Promise<void> {
    await this.enter();
    this.run(() => this.model.move(targets));
  }

  async moveRelative(steps: Record<AxisId, number>): Promise<void> {
    await this.enter();
    this.run(() => this.model.moveRelative(steps));
  }

  async position(axes?: AxisId[]): Promise<Record<AxisId, number>> {
    await this.enter();
    return this.map(axes, (id) => this.model.position(id));
  }

  async onTarget(axes?: AxisId[]): Promise<Record<AxisId, boolean>> {
    await this.enter();
    return this.map(axes, (id) => this.model.onTarget(id));
  }

  async waitOnTarget(axes: AxisId[], timeoutS: number, signal?: AbortSignal): Promise<void> {
    await this.enter();
    const list = this.sel(axes);
    const deadline = this.clock.now() + timeoutS;
    const poll = this.opts.pollIntervalS ?? 0.001;
    try {
      for (;;) {
        signal?.throwIfAborted();
        const now = this.clock.now();
        if (list.every((id) => this.model.onTarget(id, now))) return;
        if (now >= deadline) {
          const over = list.filter((id) => this.model.overflow(id));
          throw this.err(GCS.TIMEOUT, `axes ${list.join(",")} not on target after ${timeoutS} s${over.length ? ` (overflow on axis ${over.join(",")})` : ""}`);
        }
        // Sleep straight to the predicted on-target time when it is known (cheap in virtual time), else poll.
        let wake = now + poll;
        const pending = list.filter((id) => !this.model.onTarget(id, now));
        if (pending.every((id) => this.model.servo(id) && !this.model.overflow(id) && !this.model.referencing(id, now))) {
          wake = Math.max(wake, Math.max(...pending.map((id) => this.model.onTargetTime(id))));
        }
        await this.clock.sleep(Math.min(wake, deadline) - now, signal);
      }
    } catch (e) {
      if (signal?.aborted) this.model.stop();
      throw e;
    }
  }

  async setVelocity(v: Record<AxisId, number>): Promise<void> {
    await this.enter();
    this.run(() => this.model.setVelocity(v));
  }

  async velocity(axes?: AxisId[]): Promise<Record<AxisId, number>> {
    await this.enter();
    return this.map(axes, (id) => this.model.velocity(id));
  }

  async limits(axes?: AxisId[]): Promise<Record<AxisId, AxisLimits>> {
    await this.enter();
    return this.map(axes, (id) => this.model.limits(id));
  }

  async setServo(on: Record<AxisId, boolean>): Promise<void> {
    await this.enter();
    this.run(() => this.model.setServo(on));
  }

  async servo(axes?: AxisId[]): Promise<Record<AxisId, boolean>> {
    await this.enter();
    return this.map(axes, (id) => this.model.servo(id));
  }

  async reference(axes: AxisId[], timeoutS: number): Promise<void> {
    await this.enter();
    const list = this.sel(axes);
    const todo = list.filter((id) => !this.model.referenced(id));
    if (!todo.length) return;
    this.run(() => this.model.reference(todo));
    const deadline = this.clock.now() + timeoutS;
    for (;;) {
      const now = this.clock.now();
      if (todo.every((id) => this.model.referenced(id, now))) return;
      if (now >= deadline) throw this.err(GCS.TIMEOUT, `referencing axes ${todo.join(",")} not done after ${timeoutS} s`);
      await this.clock.sleep(Math.min(this.opts.pollIntervalS ?? 0.001, deadline - now) || 1e-6);
    }
  }

  async needsReferencing(axis: AxisId): Promise<boolean> {
    await this.enter();
    this.sel([axis]);
    return !this.model.referenced(axis);
  }

  async status(axis: AxisId): Promise<AxisStatus> {
    await this.enter();
    this.sel([axis]);
    return {
      position: this.model.position(axis),
      onTarget: this.model.onTarget(axis),
      moving: this.model.moving(axis),
      servo: this.model.servo(axis),
      referenced: this.model.referenced(axis),
    };
  }

  async stop(): Promise<void> {
    await this.enter();
    this.model.stop();
  }
}

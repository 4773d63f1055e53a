/**
 * PiStageTwin: an in-process Positioner backed by the motion model (no bytes, no protocol), for fast
 * simulated scans. Errors are GcsError (a DeviceError) with the GCS code the real controller would give.
 */
import type { Clock } from "../../runtime/clock.ts";
import type { DeviceInfo } from "../../runtime/devices/common.ts";
import type { AxisId, AxisLimits, AxisStatus, Positioner } from "../../runtime/devices/positioner.ts";
import { GCS, GcsError } from "../../drivers/pi-gcs/errors.ts";
import { FaultPlan, type FaultSpec } from "../faults.ts";
import { MotionError, MotionModel, type AxisConfig } from "./motion.ts";

/**
 * Faults use the shared plan of simulators/faults.ts: `{ at: { call: n } | { trigger: n } | { afterS: s },
 * kind, code?, times?, hangS? }`. Every async Positioner method except connect/close is a guarded call (method
 * names as in Positioner). The trigger is the one given to `setTrigger(n)`, else `env.beam.trigger` if an env
 * is passed. Reactions:
 *  - timeout: hangs until the call's AbortSignal (waitOnTarget) aborts, else `hangS` (default `timeoutS`,
 *    5 s like the driver) clock seconds, then rejects with -7;
 *  - error: rejects with `code` (default 1024 motion error);
 *  - disconnect: rejects with -1 (connection lost); later calls reject with -4 until connect() (or reconnect
 *    transparently, like the real driver, with `autoReconnect: true`);
 *  - overrange: the axis (`PiStageTwinOptions.overrangeAxis`, default all) goes into overflow: it stops and
 *    never reports on target until its servo is switched on again; the call itself proceeds.
 */
export type PiStageFault = FaultSpec;

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
  faults?: readonly FaultSpec[] | FaultPlan;
  /** Source of the current trigger for `{ at: { trigger } }` faults (e.g. the player's SimEnvironment). */
  env?: { beam: { trigger?: number } };
  /** Axis an "overrange" fault puts into overflow (default: all axes). */
  overrangeAxis?: AxisId;
  /** How long a "timeout" fault hangs without a signal, clock seconds (default 5, like the driver). */
  timeoutS?: number;
  /** Modelled latency per call, clock seconds (default 0; ~0.001 mimics one TCP exchange). */
  latencyS?: number;
  /** waitOnTarget poll interval, clock seconds (default 0.001). */
  pollIntervalS?: number;
  /** After a "disconnect" fault, reconnect on the next call instead of failing with -4 (default false). */
  autoReconnect?: boolean;
}

export class PiStageTwin implements Positioner {
  readonly model: MotionModel;
  readonly clock: Clock;
  readonly name: string;
  private connected = false;
  private lost = false;
  private trigger: number | undefined = undefined;
  readonly faults: FaultPlan;
  private readonly opts: PiStageTwinOptions;

  constructor(opts: PiStageTwinOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.name = opts.name ?? "sim:pi-stage";
    this.model = new MotionModel({ clock: opts.clock, axes: opts.axes, seed: opts.seed, noise: opts.noise });
    this.faults = FaultPlan.from(opts.faults);
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

  /** The current trigger number, for `{ at: { trigger: n } }` faults (overrides `env.beam.trigger`). */
  setTrigger(n: number | undefined): void {
    this.trigger = n;
  }

  /** Add a fault at run time. */
  addFault(f: FaultSpec): void {
    this.faults.add(f);
  }

  /** Number of guarded calls so far. */
  callCount(): number {
    return this.faults.calls();
  }

  private err(code: number, detail?: string): GcsError {
    return new GcsError(this.name, code, detail);
  }

  /** Common entry of every guarded call: connection state, latency, faults. */
  private async enter(method: string, signal?: AbortSignal): Promise<void> {
    if (!this.connected) throw this.err(GCS.NOT_CONNECTED);
    if (this.lost) {
      if (!this.opts.autoReconnect) throw this.err(GCS.NOT_CONNECTED, "connection was lost; call connect()");
      this.lost = false;
    }
    if (this.opts.latencyS) await this.clock.sleep(this.opts.latencyS, signal);
    const trigger = this.trigger ?? this.opts.env?.beam.trigger;
    const f = this.faults.next({ method, trigger, now: this.clock.now() });
    if (!f) return;
    const msg = f.message ?? `injected ${f.kind} in ${method}`;
    const code = typeof f.code === "number" ? f.code : undefined;
    switch (f.kind) {
      case "timeout": {
        if (f.hangS === undefined && signal) {
          await new Promise<void>((_, reject) => {
            const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted")));
            if (signal.aborted) fail();
            else signal.addEventListener("abort", fail, { once: true });
          });
        }
        await this.clock.sleep(f.hangS ?? this.opts.timeoutS ?? 5, signal);
        throw this.err(code ?? GCS.TIMEOUT, msg);
      }
      case "error":
        throw this.err(code ?? GCS.MOTION_ERROR, msg);
      case "disconnect":
        this.lost = true;
        throw this.err(code ?? GCS.COM_ERROR, `${msg}: connection lost`);
      case "overrange":
        for (const id of this.opts.overrangeAxis ? [this.opts.overrangeAxis] : this.model.axes()) this.model.setOverflow(id, true);
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
    await this.enter("axes");
    return this.model.axes();
  }

  units(): string {
    return "um";
  }

  async moveAbsolute(targets: Record<AxisId, number>): Promise<void> {
    await this.enter("moveAbsolute");
    this.run(() => this.model.move(targets));
  }

  async moveRelative(steps: Record<AxisId, number>): Promise<void> {
    await this.enter("moveRelative");
    this.run(() => this.model.moveRelative(steps));
  }

  async position(axes?: AxisId[]): Promise<Record<AxisId, number>> {
    await this.enter("position");
    return this.map(axes, (id) => this.model.position(id));
  }

  async onTarget(axes?: AxisId[]): Promise<Record<AxisId, boolean>> {
    await this.enter("onTarget");
    return this.map(axes, (id) => this.model.onTarget(id));
  }

  async waitOnTarget(axes: AxisId[], timeoutS: number, signal?: AbortSignal): Promise<void> {
    await this.enter("waitOnTarget", signal);
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
    await this.enter("setVelocity");
    this.run(() => this.model.setVelocity(v));
  }

  async velocity(axes?: AxisId[]): Promise<Record<AxisId, number>> {
    await this.enter("velocity");
    return this.map(axes, (id) => this.model.velocity(id));
  }

  async limits(axes?: AxisId[]): Promise<Record<AxisId, AxisLimits>> {
    await this.enter("limits");
    return this.map(axes, (id) => this.model.limits(id));
  }

  async setServo(on: Record<AxisId, boolean>): Promise<void> {
    await this.enter("setServo");
    this.run(() => this.model.setServo(on));
  }

  async servo(axes?: AxisId[]): Promise<Record<AxisId, boolean>> {
    await this.enter("servo");
    return this.map(axes, (id) => this.model.servo(id));
  }

  async reference(axes: AxisId[], timeoutS: number): Promise<void> {
    await this.enter("reference");
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
    await this.enter("needsReferencing");
    this.sel([axis]);
    return !this.model.referenced(axis);
  }

  async status(axis: AxisId): Promise<AxisStatus> {
    await this.enter("status");
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
    await this.enter("stop");
    this.model.stop();
  }
}

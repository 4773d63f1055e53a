/**
 * What every twin shares: the clock, the seed and name that key its noise streams, the environment (beam +
 * specimen), the connection state, fault injection and the device's error codes.
 */
import type { Clock } from "../runtime/clock.ts";
import { DeviceError, type DeviceInfo, type DeviceKind } from "../runtime/devices/common.ts";
import { createSimEnvironment, type SimEnvironment } from "./beam.ts";
import { FaultPlan, type FaultSpec } from "./faults.ts";
import { rngFor, type Rng, type RngKey } from "./rng.ts";

/** Options common to every twin. */
export interface TwinOptions {
  clock: Clock;
  /** Seed of all noise (default 1). */
  seed?: number | string;
  /** Beam + specimen (default: a fresh `createSimEnvironment({ seed })`). */
  env?: SimEnvironment;
  /** Device name: keys the noise streams and appears in errors (default: the twin kind, e.g. "pi-ccd"). */
  name?: string;
  faults?: readonly FaultSpec[] | FaultPlan;
  /** Modelled connect()/initialisation time, clock seconds. */
  connectS?: number;
}

/** A device's own error codes for the generic situations. */
export interface TwinCodes {
  notConnected: [number | string, string];
  busy: [number | string, string];
  badArgument: [number | string, string];
  timeout: [number | string, string];
  communication: [number | string, string];
  error: [number | string, string];
  aborted: [number | string, string];
}

export abstract class TwinBase {
  readonly clock: Clock;
  readonly seed: number | string;
  readonly name: string;
  readonly env: SimEnvironment;
  readonly faults: FaultPlan;
  protected connected = false;
  protected readonly connectS: number;
  protected abstract readonly codes: TwinCodes;
  protected abstract readonly kind: DeviceKind;
  protected abstract readonly model: string;
  private lastTrigger: number | undefined = undefined;
  private sinceTrigger = 0;

  constructor(o: TwinOptions, defaultName: string, defaultConnectS: number) {
    if (!o || !o.clock) throw new Error(`${defaultName} twin: options.clock is required`);
    this.clock = o.clock;
    this.seed = o.seed ?? 1;
    this.name = o.name ?? defaultName;
    this.env = o.env ?? createSimEnvironment({ seed: this.seed });
    this.faults = FaultPlan.from(o.faults);
    this.connectS = o.connectS ?? defaultConnectS;
  }

  info(): DeviceInfo {
    return { kind: this.kind, model: this.model, serial: `sim:${this.name}`, simulated: true };
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.clock.sleep(this.connectS);
    this.connected = true;
    this.onConnect();
  }

  async close(): Promise<void> {
    this.connected = false;
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** Hook for subclasses (reset counters etc.). */
  protected onConnect(): void {}

  protected error(message: string, which: keyof TwinCodes, code?: number | string): DeviceError {
    const [c, n] = this.codes[which];
    return new DeviceError(`${this.name}: ${message}`, this.name, code ?? c, code !== undefined && code !== c ? undefined : n);
  }

  protected badArg(message: string): DeviceError {
    return this.error(message, "badArgument");
  }

  protected requireConnected(): void {
    if (!this.connected) throw this.error("not connected (call connect())", "notConnected");
  }

  /**
   * Start of every guarded call: checks the connection, counts the call, and applies an injected fault.
   * Resolves to true when the call must produce saturated ("overrange") data.
   */
  protected async guard(method: string, signal?: AbortSignal, internal?: AbortSignal): Promise<boolean> {
    this.requireConnected();
    const spec = this.faults.next({ method, trigger: this.env.beam.trigger, now: this.clock.now() });
    if (!spec) return false;
    const msg = spec.message ?? `injected ${spec.kind} in ${method}`;
    switch (spec.kind) {
      case "overrange":
        return true;
      case "error":
        throw this.error(msg, "error", spec.code);
      case "disconnect":
        this.connected = false;
        throw this.error(msg, "communication", spec.code);
      case "timeout": {
        const sig = signal && internal ? AbortSignal.any([signal, internal]) : (signal ?? internal);
        const hang = spec.hangS ?? (signal ? Infinity : 30);
        if (hang === Infinity && sig) await waitAbort(sig);
        else await this.clock.sleep(hang, sig);
        throw this.error(msg, "timeout", spec.code);
      }
    }
  }

  /**
   * Noise-stream keys for the next acquisition: [trigger or -1, index of this acquisition within the trigger].
   * The index restarts at 0 whenever the beam's trigger changes, so the data of a trigger depend only on
   * (seed, name, trigger, how many acquisitions this device made for that trigger).
   */
  protected nextKey(): [number, number] {
    const t = this.env.beam.trigger;
    if (t !== this.lastTrigger) {
      this.lastTrigger = t;
      this.sinceTrigger = 0;
    }
    return [t ?? -1, this.sinceTrigger++];
  }

  protected rng(...keys: RngKey[]): Rng {
    return rngFor(this.seed, this.name, ...keys);
  }

  /**
   * Where a device's own timeline starts for a call that began at clock time `called`: in real or scaled time the
   * call's instant (the twin's bookkeeping before the start, its fault plan and checks, takes host time a device
   * would not); in virtual time now (the value it always was: no host time passes).
   */
  protected startOf(called: number): number {
    return this.clock.kind === "virtual" ? this.clock.now() : called;
  }

  /** Sleep until clock time `t` (no-op if already past): an absolute instant, so lateness does not carry over. */
  protected sleepUntil(t: number, signal?: AbortSignal): Promise<void> {
    return this.clock.sleepUntil(t, signal);
  }
}

function waitAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? "aborted")));
    if (signal.aborted) return fail();
    signal.addEventListener("abort", fail, { once: true });
  });
}

/** Combine an optional caller signal with an internal one. */
export function anySignal(...s: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const list = s.filter((x): x is AbortSignal => x !== undefined);
  return list.length === 0 ? undefined : list.length === 1 ? list[0] : AbortSignal.any(list);
}

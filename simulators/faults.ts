/**
 * Fault injection shared by all twins. A plan is a list of specs, e.g.
 *
 *   [{ at: { trigger: 5 }, kind: "timeout" },
 *    { at: { call: 3 }, kind: "error", code: 20013 },
 *    { at: { call: 2, method: "count" }, kind: "overrange" },
 *    { at: { afterS: 120 }, kind: "disconnect" }]
 *
 * Every guarded twin call (acquire, acquireMap, count, read, setSetpoint, ...) is numbered from 1 (overall,
 * and per method). A spec fires on the first guarded call that matches:
 * - `{ call: n }`: the n-th guarded call (of `method`, if given);
 * - `{ trigger: t }`: a call made while the beam's trigger is t;
 * - `{ afterS: s }`: a call made at clock time >= s.
 * It fires `times` times (default 1; use Infinity for a persistent fault), on consecutive matching calls.
 *
 * Kinds (how the twin reacts, see `TwinBase.guard`):
 * - "timeout": the call hangs until its AbortSignal (or the twin's abort()) fires; with no signal it hangs
 *   `hangS` clock seconds (default 30) and then rejects with a DeviceError carrying the device's timeout code.
 *   Never forever without a signal.
 * - "error": rejects at once with DeviceError(code ?? the device's generic error code).
 * - "disconnect": rejects with the device's communication-error code and leaves the twin disconnected: every
 *   later call fails with "not connected" until connect() is called again.
 * - "overrange": the call succeeds with saturated data (camera at full scale, counter at full scale, MCA
 *   paralysed input, temperature sensor open circuit): each twin documents what it does.
 */

export type FaultKind = "timeout" | "error" | "disconnect" | "overrange";

export type FaultAt = { trigger: number; method?: string } | { call: number; method?: string } | { afterS: number; method?: string };

export interface FaultSpec {
  at: FaultAt;
  kind: FaultKind;
  /** Device error code for "error" (and to override the timeout/disconnect codes). */
  code?: number | string;
  message?: string;
  /** Number of matching calls it fires on (default 1). */
  times?: number;
  /** "timeout" without a signal: hang this long (clock seconds, default 30) then fail. With a signal and no
   *  hangS: hang until the signal aborts. */
  hangS?: number;
}

export interface FaultContext {
  method: string;
  trigger?: number;
  now: number;
}

export interface FiredFault {
  spec: FaultSpec;
  method: string;
  call: number;
  trigger?: number;
  at: number;
}

export class FaultPlan {
  private readonly specs: Array<{ spec: FaultSpec; left: number }>;
  private total = 0;
  private readonly perMethod = new Map<string, number>();
  /** Log of the faults that fired, in order. */
  readonly fired: FiredFault[] = [];

  constructor(specs: readonly FaultSpec[] = []) {
    for (const s of specs) validateSpec(s);
    this.specs = specs.map((spec) => ({ spec, left: spec.times ?? 1 }));
  }

  static from(x: readonly FaultSpec[] | FaultPlan | undefined): FaultPlan {
    return x instanceof FaultPlan ? x : new FaultPlan(x ?? []);
  }

  /** Add a spec at run time (tests, interactive fault injection). */
  add(spec: FaultSpec): this {
    validateSpec(spec);
    this.specs.push({ spec, left: spec.times ?? 1 });
    return this;
  }

  /** Guarded calls counted so far (of `method`, or all). */
  calls(method?: string): number {
    return method === undefined ? this.total : (this.perMethod.get(method) ?? 0);
  }

  /** Count one guarded call and return the fault that fires on it, if any (first matching spec wins). */
  next(ctx: FaultContext): FaultSpec | undefined {
    this.total++;
    const m = (this.perMethod.get(ctx.method) ?? 0) + 1;
    this.perMethod.set(ctx.method, m);
    for (const entry of this.specs) {
      if (entry.left <= 0) continue;
      const at = entry.spec.at;
      if (at.method !== undefined && at.method !== ctx.method) continue;
      let hit = false;
      if ("call" in at) {
        const n = at.method !== undefined ? m : this.total;
        hit = n >= at.call; // consecutive calls from the n-th on, `times` times
      } else if ("trigger" in at) hit = ctx.trigger === at.trigger;
      else hit = ctx.now >= at.afterS;
      if (!hit) continue;
      entry.left--;
      this.fired.push({ spec: entry.spec, method: ctx.method, call: at.method !== undefined ? m : this.total, trigger: ctx.trigger, at: ctx.now });
      return entry.spec;
    }
    return undefined;
  }
}

function validateSpec(s: FaultSpec): void {
  const kinds: FaultKind[] = ["timeout", "error", "disconnect", "overrange"];
  if (!kinds.includes(s.kind)) throw new Error(`fault: unknown kind "${String(s.kind)}" (use ${kinds.join(", ")})`);
  const at = s.at as Record<string, unknown> | undefined;
  if (!at || !("call" in at || "trigger" in at || "afterS" in at)) throw new Error(`fault: "at" needs call, trigger or afterS`);
  if ("call" in at && !(Number.isInteger(at.call) && (at.call as number) >= 1)) throw new Error(`fault: at.call must be an integer >= 1`);
  if (s.times !== undefined && !(s.times >= 1)) throw new Error(`fault: times must be >= 1`);
}

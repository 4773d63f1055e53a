/**
 * Fault injection at the C-function boundary of an SDK twin (shared by the Andor SDK2 and PVCAM twins).
 *
 *   { fn: "GetStatus", call: 3, kind: "code", code: 20013 }        the 3rd GetStatus returns 20013 (PVCAM: fails with that pl_error_code)
 *   { fn: "StartAcquisition", kind: "status", status: 20019 }      the acquisition dies; GetStatus reports 20019
 *   { fn: "pl_exp_start_seq", kind: "status", code: 14 }           PVCAM: READOUT_FAILED, pl_error_code 14
 *   { fn: "StartAcquisition", kind: "status", status: 20018, afterFrames: 2 }   ... after 2 images
 *   { fn: "StartAcquisition", call: 2, kind: "stall" }             the 2nd acquisition starts and never produces data
 *   { fn: "GetTemperatureF", call: 5, kind: "disappear" }          from the 5th call on the camera is gone: every call fails
 *
 * `call` (default 1) is the 1-based count of calls of `fn`; the fault fires on that call and the `times - 1`
 * following calls of `fn` (default times 1; Infinity = persistent). "disappear" is persistent by nature:
 * once fired, every call of every function fails with `code` (default: the SDK's "no camera" code) until
 * the twin is `reattach()`ed.
 */

export type SdkFaultKind = "code" | "status" | "stall" | "disappear";

export interface SdkFault {
  /** C function name, e.g. "GetStatus", "pl_exp_check_status". */
  fn: string;
  call?: number;
  times?: number;
  kind: SdkFaultKind;
  /** "code"/"disappear": the code returned (Andor) or reported by pl_error_code (PVCAM). */
  code?: number;
  /** "status": the failure status the acquisition ends with (Andor GetStatus value). */
  status?: number;
  /** "status": the acquisition fails after this many images were read out (default 0: at once). */
  afterFrames?: number;
  /** PVCAM: text of pl_error_message for the injected code. */
  message?: string;
}

export interface FiredSdkFault {
  fault: SdkFault;
  fn: string;
  call: number;
}

export class SdkFaultPlan {
  private readonly entries: Array<{ fault: SdkFault; left: number }> = [];
  private readonly counts = new Map<string, number>();
  readonly fired: FiredSdkFault[] = [];

  constructor(faults: readonly SdkFault[] = [], private readonly known?: readonly string[]) {
    for (const f of faults) this.add(f);
  }

  add(f: SdkFault): this {
    if (!f || typeof f.fn !== "string") throw new Error("sdk fault: fn (C function name) is required");
    if (this.known && !this.known.includes(f.fn)) throw new Error(`sdk fault: unknown function "${f.fn}"`);
    if (!["code", "status", "stall", "disappear"].includes(f.kind)) throw new Error(`sdk fault: unknown kind "${String(f.kind)}"`);
    if (f.call !== undefined && !(Number.isInteger(f.call) && f.call >= 1)) throw new Error("sdk fault: call must be an integer >= 1");
    if (f.times !== undefined && !(f.times >= 1)) throw new Error("sdk fault: times must be >= 1");
    if (f.kind === "code" && f.code === undefined) throw new Error(`sdk fault on ${f.fn}: kind "code" needs a code`);
    if (f.kind === "status" && f.status === undefined && f.code === undefined) throw new Error(`sdk fault on ${f.fn}: kind "status" needs a status (Andor) or a code (PVCAM)`);
    this.entries.push({ fault: f, left: f.times ?? 1 });
    return this;
  }

  /** Calls of `fn` so far. */
  calls(fn: string): number {
    return this.counts.get(fn) ?? 0;
  }

  /** Count one call of `fn`; return the fault firing on it, if any. */
  next(fn: string): SdkFault | undefined {
    const n = (this.counts.get(fn) ?? 0) + 1;
    this.counts.set(fn, n);
    for (const e of this.entries) {
      if (e.left <= 0 || e.fault.fn !== fn || n < (e.fault.call ?? 1)) continue;
      e.left--;
      this.fired.push({ fault: e.fault, fn, call: n });
      return e.fault;
    }
    return undefined;
  }
}

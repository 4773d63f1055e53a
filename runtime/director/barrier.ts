import type { PlayerEntry } from "./registry.ts";

export type MemberState = "waiting" | "acked" | "faulted";

export interface BarrierMember {
  entry: PlayerEntry;
  /** seq of the request we are waiting for; replies with another seq are stale. */
  seq: number;
  deadline: number;
  attempts: number;
  state: MemberState;
  fault?: string;
  /** The deadline's length and what it is made of (timing model), for the fault message. */
  limit?: { ms: number; note?: string };
}

/**
 * The wait of one priority level on one trigger: it completes when every member has acknowledged THIS trigger
 * (or has been dropped from the run). Faults do not complete it; the Director's policy decides what happens.
 */
export class PriorityBarrier {
  readonly members = new Map<string, BarrierMember>();
  private remaining = 0;
  maxDt = 0;
  private resolveFn!: () => void;
  private rejectFn!: (e: Error) => void;
  readonly done: Promise<void>;
  settled = false;
  /** Simulated time at the start of the level. */
  simT = 0;
  /** When the level was started (ack latency = ack time - t0). */
  readonly t0 = performance.now();

  constructor(
    readonly run: string,
    readonly trig: number,
    readonly lvl: number,
  ) {
    this.done = new Promise<void>((res, rej) => {
      this.resolveFn = res;
      this.rejectFn = rej;
    });
    // an abandoned barrier must not cause an unhandled rejection
    this.done.catch(() => {});
  }

  add(entry: PlayerEntry, seq: number, deadline: number): BarrierMember {
    const m: BarrierMember = { entry, seq, deadline, attempts: 1, state: "waiting" };
    this.members.set(entry.name, m);
    this.remaining++;
    return m;
  }

  /** All members are added: a level with nobody left to wait for completes at once. */
  seal(): void {
    this.checkDone();
  }

  /** Record a successful ack. Returns false if it does not match what we wait for (stale). */
  ack(name: string, seq: number, dt: number | undefined): boolean {
    const m = this.members.get(name);
    if (!m || m.seq !== seq || m.state !== "waiting") return false;
    m.state = "acked";
    if (dt !== undefined && dt > this.maxDt) this.maxDt = dt;
    this.remaining--;
    this.checkDone();
    return true;
  }

  /** Mark a member faulted (timeout, lost, error ack); its outstanding seq becomes stale. */
  fault(name: string, why: string): BarrierMember | undefined {
    const m = this.members.get(name);
    if (!m || m.state !== "waiting") return undefined;
    m.state = "faulted";
    m.fault = why;
    return m;
  }

  /** Re-arm a member with a fresh request (retry, rejoin, resume). */
  rearm(name: string, seq: number, deadline: number): void {
    const m = this.members.get(name);
    if (!m || m.state === "acked") return;
    m.seq = seq;
    m.deadline = deadline;
    m.attempts++;
    m.state = "waiting";
    m.fault = undefined;
  }

  /** Drop a member (disabled by the operator, left, removed): the level no longer waits for it. */
  drop(name: string): void {
    const m = this.members.get(name);
    if (!m || m.state === "acked") return;
    this.members.delete(name);
    this.remaining--;
    this.checkDone();
  }

  faulted(): BarrierMember[] {
    return [...this.members.values()].filter((m) => m.state === "faulted");
  }

  fail(e: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(e);
  }

  private checkDone(): void {
    if (this.remaining === 0 && !this.settled) {
      this.settled = true;
      this.resolveFn();
    }
  }
}

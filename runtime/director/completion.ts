/**
 * When a trigger is done. A trigger is done when every level acknowledged it AND every player that acknowledged
 * early (overlap: `ack` with `pending: true`, docs/protocol.md "Overlap") has sent its `complete`, which travels
 * after that action's rows: only then are the trigger's rows in the sink (and its DONE record may reach the
 * journal). Done triggers are released in trigger order, so the journal's DONE records, the `trigger` events and
 * the progress never run ahead of a trigger whose read-out is still under way.
 */
export interface PendingAction {
  trig: number;
  lvl: number;
  player: string;
  seq: number;
  /** Simulated time at the start of the level (a `complete`'s dt counts from it). */
  t: number;
  /** performance.now() after which the read-out is given up (a gap; the action is cancelled). */
  deadline: number;
  /** When the ack arrived (performance.now()) and the deadline's length and makeup, for the fault message. */
  since: number;
  limit: { ms: number; note?: string };
}

export class TriggerCompletion {
  /** Triggers whose levels all acknowledged, in order, waiting to be released as done. */
  private readonly walked: number[] = [];
  /** Outstanding early acks by trigger. */
  private readonly pending = new Map<number, PendingAction[]>();
  private count = 0;

  /** An early ack was accepted: the trigger is not done before this player's `complete`. */
  expect(a: PendingAction): void {
    let l = this.pending.get(a.trig);
    if (!l) this.pending.set(a.trig, (l = []));
    l.push(a);
    this.count++;
  }

  /** A `complete` arrived: true when it ends an outstanding action of this player (same trigger and seq). */
  complete(player: string, trig: number, seq: number): PendingAction | undefined {
    const l = this.pending.get(trig);
    const i = l ? l.findIndex((p) => p.player === player && p.seq === seq) : -1;
    if (!l || i < 0) return undefined;
    const [p] = l.splice(i, 1);
    if (!l.length) this.pending.delete(trig);
    this.count--;
    return p;
  }

  /** Forget what a player still owes (lost, disabled, left): its rows of those triggers become gaps. */
  drop(player: string): PendingAction[] {
    const out: PendingAction[] = [];
    for (const [trig, l] of this.pending) {
      for (let i = l.length - 1; i >= 0; i--) if (l[i].player === player) out.push(...l.splice(i, 1));
      if (!l.length) this.pending.delete(trig);
    }
    this.count -= out.length;
    return out;
  }

  /** Take the outstanding actions whose deadline passed. */
  overdue(now: number): PendingAction[] {
    const out: PendingAction[] = [];
    for (const [trig, l] of this.pending) {
      for (let i = l.length - 1; i >= 0; i--) if (l[i].deadline < now) out.push(...l.splice(i, 1));
      if (!l.length) this.pending.delete(trig);
    }
    this.count -= out.length;
    return out;
  }

  /** Forget everything outstanding (abort, or closeout gave up waiting); returns what was dropped. */
  dropAll(): PendingAction[] {
    const out = [...this.pending.values()].flat();
    this.pending.clear();
    this.count = 0;
    return out;
  }

  /** Every level of `trig` acknowledged. */
  levelsDone(trig: number): void {
    this.walked.push(trig);
  }

  /** Triggers that are now done (every level acknowledged, nothing outstanding), in order. */
  takeDone(): number[] {
    const out: number[] = [];
    while (this.walked.length && !this.pending.has(this.walked[0])) out.push(this.walked.shift()!);
    return out;
  }

  /** Triggers walked but not yet done, and early acks still outstanding. */
  get waiting(): { triggers: number; actions: number } {
    return { triggers: this.walked.length, actions: this.count };
  }

  /** Players with an action still under way after its ack (busy reading out), with the oldest trigger. */
  busy(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [trig, l] of this.pending) for (const p of l) if (!m.has(p.player) || m.get(p.player)! > trig) m.set(p.player, trig);
    return m;
  }

  reset(): void {
    this.walked.length = 0;
    this.pending.clear();
    this.count = 0;
  }
}

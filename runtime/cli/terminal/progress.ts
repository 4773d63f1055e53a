/**
 * What the operator's status area says about a run: state (with the reason of a pause or a stop), trigger / total,
 * rate, ETA, instrument time, the current point and the instrument time per level. Pure: fed with the run's
 * triggers, state changes and status; rendered as lines for a terminal or as one plain line for a log.
 *
 * The ETA counts only the time the run was running (a pause does not lower the rate) and follows instrument time:
 * remaining triggers x instrument time per trigger so far x wall time per instrument second lately.
 */
import type { ClockMode } from "../../clock.ts";
import type { DirectorStatus } from "../../protocol/messages.ts";

export interface ProgressPlan {
  /** Last trigger of this run (null = unbounded). */
  planned: number | null;
  /** First trigger of this run (a resumed run starts later). */
  firstTrigger?: number;
  time: ClockMode;
  /** The coordinates of a trigger's point (x, y, energy ...), if the sequence has them. */
  pointOf?: (trig: number) => Record<string, unknown> | undefined;
}

interface Sample {
  activeMs: number;
  trig: number;
  sim: number;
}

/** How much running time the rate and the wall-per-instrument-second ratio look back on. */
const WINDOW_MS = 20_000;

export class RunProgress {
  state = "starting";
  reason: string | undefined;
  /** The keys p / r / s / a work (else the pause names the ctl commands). */
  keys = true;
  /** A line for the operator beside the state (e.g. "Ctrl-C again aborts"). */
  hint: string | undefined;
  plan: ProgressPlan | undefined;
  /** Last trigger that completed every level. */
  lastTrig = 0;
  sim = 0;
  /** Trigger and level in progress, instrument time per level (from the Director's status). */
  current: { trig?: number; lvl?: number; levelSimS?: number[] } = {};
  private activeBefore = 0;
  private runningSince: number | null = null;
  private samples: Sample[] = [];
  /** The last fault message per player (the reason of a "fault:NAME" pause). */
  private faultOf = new Map<string, string>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  start(plan: ProgressPlan): void {
    this.plan = plan;
    this.lastTrig = (plan.firstTrigger ?? 1) - 1;
  }

  /** Wall time spent running so far, ms (pauses, planning and closeout left out). */
  activeMs(): number {
    return this.activeBefore + (this.runningSince !== null ? this.now() - this.runningSince : 0);
  }

  setState(state: string, reason?: string): void {
    if (state === "running" && this.runningSince === null) this.runningSince = this.now();
    if (state !== "running" && this.runningSince !== null) {
      this.activeBefore += this.now() - this.runningSince;
      this.runningSince = null;
    }
    this.state = state;
    this.reason = reason;
  }

  onFault(player: string, message: string): void {
    this.faultOf.set(player, message);
  }

  onTrigger(trig: number, sim: number): void {
    this.lastTrig = trig;
    this.sim = sim;
    const s = { activeMs: this.activeMs(), trig, sim };
    // one sample per 100 ms of running time at most (the last one moves): a few hundred in the window at any rate
    const last = this.samples[this.samples.length - 1];
    if (last && this.samples.length >= 2 && s.activeMs - this.samples[this.samples.length - 2]!.activeMs < 100) this.samples[this.samples.length - 1] = s;
    else this.samples.push(s);
    while (this.samples.length > 2 && s.activeMs - this.samples[1]!.activeMs > WINDOW_MS) this.samples.shift();
  }

  onStatus(st: Pick<DirectorStatus, "trig" | "lvl" | "levelSimS" | "simTime" | "state" | "pausedBecause">): void {
    this.current = { trig: st.trig, lvl: st.lvl, levelSimS: st.levelSimS };
    if (st.simTime > this.sim) this.sim = st.simTime;
    // the state event's reason is the clearest (the fault's text); the status's names only fill a gap
    if (st.state === "paused" && st.pausedBecause && this.state === "paused" && !this.reason) this.reason = st.pausedBecause;
  }

  get done(): number {
    return this.lastTrig - ((this.plan?.firstTrigger ?? 1) - 1);
  }

  get total(): number | null {
    const p = this.plan;
    return p && p.planned !== null ? p.planned - ((p.firstTrigger ?? 1) - 1) : null;
  }

  /** Triggers per second of running time (recent window; the whole run until the window has two samples). */
  rate(): number | null {
    const w = this.samples;
    if (w.length >= 2) {
      const a = w[0]!;
      const b = w[w.length - 1]!;
      if (b.activeMs - a.activeMs >= 500) return ((b.trig - a.trig) * 1000) / (b.activeMs - a.activeMs);
    }
    const ms = this.activeMs();
    return this.done > 0 && ms > 0 ? (this.done * 1000) / ms : null;
  }

  /** Seconds of running time left, or null (unbounded, or not enough seen yet). */
  eta(): number | null {
    const total = this.total;
    if (total === null || this.done <= 0) return null;
    const remaining = total - this.done;
    if (remaining <= 0) return 0;
    const w = this.samples;
    if (this.plan?.time.mode !== "real" && this.sim > 0 && w.length >= 2) {
      const a = w[0]!;
      const b = w[w.length - 1]!;
      if (b.sim > a.sim && b.activeMs - a.activeMs >= 500) {
        const simPerTrig = this.sim / this.done;
        const wallPerSim = (b.activeMs - a.activeMs) / 1000 / (b.sim - a.sim);
        return remaining * simPerTrig * wallPerSim;
      }
    }
    const r = this.rate();
    return r && r > 0 ? remaining / r : null;
  }

  /** The reason of the state, said for a human ("fault:xrf" -> the player's last fault). */
  reasonText(): string | undefined {
    const r = this.reason;
    if (!r) return undefined;
    // the Director's status names its pause reasons ("operator, fault:xrf"); a state event's reason is a sentence
    if (!/^(operator|fault:[^,\s]+)(, (operator|fault:[^,\s]+))*$/.test(r)) return r;
    return r
      .split(", ")
      .map((part) => {
        if (part === "operator") return "paused by the operator";
        const m = /^fault:(.+)$/.exec(part);
        if (m) return `player ${m[1]} faulted${this.faultOf.has(m[1]!) ? `: ${this.faultOf.get(m[1]!)}` : ""}`;
        return part;
      })
      .join("; ");
  }

  private whatToDo(): string | undefined {
    if (this.state === "paused") return this.keys ? "r resumes, s stops, a aborts (or donki ctl resume|stop|abort)" : "donki ctl resume|stop|abort";
    return undefined;
  }

  /** Current point's coordinates: x=1.25 y=-3.5 energy=520 */
  pointText(): string | undefined {
    const t = this.current.trig ?? (this.lastTrig > 0 ? this.lastTrig : undefined);
    if (t === undefined || !this.plan?.pointOf) return undefined;
    const p = this.plan.pointOf(t);
    if (!p) return undefined;
    const parts = Object.entries(p)
      .filter(([, v]) => typeof v === "number" || typeof v === "string")
      .map(([k, v]) => `${k}=${typeof v === "number" ? fmtNum(v) : v}`);
    return parts.length ? parts.join(" ") : undefined;
  }

  private countText(): string {
    const total = this.total;
    const rate = this.rate();
    const eta = this.eta();
    const parts = [`trigger ${this.lastTrig}${this.plan?.planned != null ? `/${this.plan.planned}` : ""}`];
    if (total !== null && total > 0) parts.push(`${Math.floor((100 * this.done) / total)}%`);
    if (rate !== null) parts.push(`${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)}/s`);
    if (eta !== null && eta > 0 && this.state !== "closeout" && this.state !== "idle") parts.push(`ETA ${fmtSeconds(eta)}${this.state === "paused" ? " after resume" : ""}`);
    return parts.join("  ");
  }

  private timeText(): string | undefined {
    if (!this.plan || this.plan.time.mode === "real" || this.sim <= 0) return undefined;
    const total = this.total;
    const planned = total !== null && this.done > 0 ? ` of ~${fmtSeconds((this.sim / this.done) * total)}` : "";
    return `instrument ${fmtSeconds(this.sim)}${planned}`;
  }

  private levelText(): string | undefined {
    const l = this.current.levelSimS;
    if (!l?.length || this.plan?.time.mode === "real") return undefined;
    return "levels " + l.map((s, i) => `${i}: ${fmtSeconds(s)}`).join("  ");
  }

  private stateText(): string {
    const st = this.state.toUpperCase();
    const r = this.reasonText();
    return `${st}${r ? `: ${r}` : ""}`;
  }

  /** The status area: state line, bar line, details line. */
  lines(width = 80): string[] {
    const head = [this.stateText(), this.hint ?? this.whatToDo()].filter(Boolean).join("  -- ");
    if (!this.plan) return [head]; // not planned yet (waiting for the players)
    const total = this.total;
    const count = this.countText();
    let bar = "";
    if (total !== null && total > 0) {
      const w = Math.max(10, Math.min(40, width - count.length - 4));
      const filled = Math.min(w, Math.round((w * this.done) / total));
      bar = `[${"#".repeat(filled)}${"-".repeat(w - filled)}] `;
    }
    const fit = (l: string) => (l.length > width - 1 ? l.slice(0, Math.max(1, width - 2)) + "~" : l);
    // the state line wraps (its reason must be readable whole); the others are cut to the width
    const lines = [head, fit(bar + count)];
    const point = this.pointText();
    if (point) lines.push(fit(`point ${point}`));
    const times = [this.timeText(), this.levelText()].filter(Boolean).join("  |  ");
    if (times) lines.push(fit(times));
    return lines;
  }

  /** One line for a log (no terminal): state, count, rate, ETA, instrument time, point. */
  line(): string {
    if (!this.plan) return `donki: ${this.stateText()}`;
    return ["donki:", this.stateText(), "|", this.countText(), ...[this.timeText(), this.pointText() && `point ${this.pointText()}`].filter(Boolean).map((x) => `| ${x}`)].join(" ");
  }
}

function fmtNum(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

/** 4.2 s, 1 min 05 s, 2 h 03 min */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${s.toFixed(0)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min ${String(sec).padStart(2, "0")} s`;
}

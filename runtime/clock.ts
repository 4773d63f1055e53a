import { abortError, hostTimers, waitUntil, type TimerSource } from "./precise-wait.ts";
export type { TimerSource } from "./precise-wait.ts";

/**
 * Time for everything that waits. Hardware uses RealClock; twins use VirtualClock (simulated time,
 * deterministic, as fast as the machine goes) or ScaledClock (real concurrency, time compressed).
 * Times are in seconds.
 */
export interface Clock {
  readonly kind: "real" | "virtual" | "scaled";
  /** Current time in seconds (epoch seconds for real/scaled, simulated seconds for virtual). */
  now(): number;
  /** Wait `seconds` of this clock's time. Rejects with the signal's reason when aborted. */
  sleep(seconds: number, signal?: AbortSignal): Promise<void>;
  /**
   * Wait until this clock's time `t` (at once if it has passed). A device model that computes its deadlines from a
   * planned start (exposure end = start + exposure) waits with this, so a wait that ended late does not delay the
   * next one. Virtual time: `sleep(t - now())` (the same arithmetic, bit for bit).
   */
  sleepUntil(t: number, signal?: AbortSignal): Promise<void>;
}

export class RealClock implements Clock {
  readonly kind: "real" | "scaled" = "real";
  now(): number {
    return performance.timeOrigin / 1000 + performance.now() / 1000;
  }
  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    return timerSleep(seconds * 1000, signal);
  }
  sleepUntil(t: number, signal?: AbortSignal): Promise<void> {
    return timerSleep((t - this.now()) * 1000, signal);
  }
}

/**
 * Real time compressed by `scale` (0.1 = ten times faster than real): the twins' clock in `--time scale:S`. Its
 * waits are precise (runtime/precise-wait.ts): a twin's exposure of 100 ms ends at its instant, not a timer tick
 * later, as a camera's own exposure clock does not drift with the host's timers. `timers: "coarse"` waits with a
 * plain setTimeout (what this clock did before; kept for comparison).
 */
export class ScaledClock implements Clock {
  readonly kind = "scaled" as const;
  private readonly t0: number;
  private readonly src: TimerSource;
  private readonly precise: boolean;
  constructor(readonly scale: number, private readonly origin = 0, o: { timers?: "precise" | "coarse"; source?: TimerSource } = {}) {
    if (!(scale > 0)) throw new Error(`ScaledClock: time scale must be > 0, got ${scale}`);
    this.src = o.source ?? hostTimers;
    this.precise = (o.timers ?? defaultTimers()) === "precise";
    this.t0 = this.src.now();
  }
  now(): number {
    return this.origin + (this.src.now() - this.t0) / 1000 / this.scale;
  }
  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    if (!this.precise) return timerSleep(seconds * 1000 * this.scale, signal, this.src);
    // a relative wait targets its end instant from now: the same precision as sleepUntil
    return waitUntil(this.src, this.src.now() + seconds * 1000 * this.scale, signal);
  }
  sleepUntil(t: number, signal?: AbortSignal): Promise<void> {
    if (!this.precise) return timerSleep((t - this.now()) * 1000 * this.scale, signal, this.src);
    return waitUntil(this.src, this.t0 + (t - this.origin) * 1000 * this.scale, signal);
  }
}

/** `DONKI_TIMERS=coarse` in the environment: scaled clocks wait with plain timers (a benchmark's "before"). */
function defaultTimers(): "precise" | "coarse" {
  return typeof process !== "undefined" && process.env?.DONKI_TIMERS === "coarse" ? "coarse" : "precise";
}

/** One plain timer of `ms` (fires on the host timer's tick: up to a millisecond or two off). */
function timerSleep(ms: number, signal?: AbortSignal, src: TimerSource = hostTimers): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = src.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      src.clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * Discrete-event simulated time. `sleep` registers a wake-up; once the process has nothing else to do
 * (a macrotask turn), the earliest sleeper is woken and time jumps to its wake-up time. Ties wake in the
 * order they were registered, so a single-threaded simulation is deterministic.
 */
export class VirtualClock implements Clock {
  readonly kind = "virtual" as const;
  private t: number;
  private seq = 0;
  private readonly queue: Sleeper[] = [];
  private scheduled = false;

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** Move time forward to `t` (never backwards): used to follow the Director's simulated time. */
  advanceTo(t: number): void {
    if (t > this.t) this.t = t;
  }

  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (!(seconds > 0)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s: Sleeper = { at: this.t + seconds, seq: this.seq++, resolve, reject, signal };
      if (signal) {
        s.onAbort = () => {
          const i = this.queue.indexOf(s);
          if (i >= 0) this.queue.splice(i, 1);
          reject(abortError(signal));
        };
        signal.addEventListener("abort", s.onAbort, { once: true });
      }
      // keep queue sorted by (at, seq); insertion from the back is cheap for the common case
      let i = this.queue.length;
      while (i > 0 && (this.queue[i - 1].at > s.at || (this.queue[i - 1].at === s.at && this.queue[i - 1].seq > s.seq))) i--;
      this.queue.splice(i, 0, s);
      this.schedule();
    });
  }

  sleepUntil(t: number, signal?: AbortSignal): Promise<void> {
    return this.sleep(t - this.t, signal);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const s = this.queue.shift();
      if (!s) return;
      if (s.at > this.t) this.t = s.at;
      if (s.signal && s.onAbort) s.signal.removeEventListener("abort", s.onAbort);
      s.resolve();
      if (this.queue.length) this.schedule();
    });
  }
}

export type ClockMode = { mode: "real" } | { mode: "virtual"; start?: number } | { mode: "scaled"; scale: number };

export function makeClock(m: ClockMode): Clock {
  switch (m.mode) {
    case "real":
      return new RealClock();
    case "virtual":
      return new VirtualClock(m.start ?? 0);
    case "scaled":
      return new ScaledClock(m.scale);
  }
}

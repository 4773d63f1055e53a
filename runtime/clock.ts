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
}

function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new Error(String(r ?? "aborted"));
}

export class RealClock implements Clock {
  readonly kind: "real" | "scaled" = "real";
  now(): number {
    return performance.timeOrigin / 1000 + performance.now() / 1000;
  }
  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    return timerSleep(seconds * 1000, signal);
  }
}

/** Real time compressed by `scale` (0.1 = ten times faster than real). */
export class ScaledClock implements Clock {
  readonly kind = "scaled" as const;
  private readonly t0 = performance.now();
  constructor(readonly scale: number, private readonly origin = 0) {
    if (!(scale > 0)) throw new Error(`ScaledClock: time scale must be > 0, got ${scale}`);
  }
  now(): number {
    return this.origin + (performance.now() - this.t0) / 1000 / this.scale;
  }
  sleep(seconds: number, signal?: AbortSignal): Promise<void> {
    return timerSleep(seconds * 1000 * this.scale, signal);
  }
}

function timerSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
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

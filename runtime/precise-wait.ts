/**
 * A wait that ends at an absolute instant of the host's monotonic time, precisely and without burning a core.
 *
 * Node's setTimeout counts whole milliseconds from the event loop's cached time: measured on this machine it fires
 * between ~1.7 ms early and ~1.8 ms late (p10..p90) for a 5-25 ms wait, more under load. A twin in scaled real time
 * that waits with it ends each phase (exposure, read-out, move, dwell) about a millisecond off, and the errors add
 * up over a short cycle (docs/benchmarks.md "Scan efficiency"). Here a timer is armed to fire `spinMs` before the
 * target (re-armed if it fired early), and the last stretch is finished in short steps on the event loop's check
 * phase (setImmediate: pending I/O is still served between steps): a step blocks the thread for at most BLOCK_MS (0.5 ms)
 * (Atomics.wait: the core is free meanwhile), the last 0.1 ms is polled, so the wait ends within one loop turn
 * after the target. The cost is bounded: about `spinMs` of stepping per wait, most of it asleep, counted in
 * `preciseWaitStats()`; measured (bench/precise-wait.ts, quiet machine) about 0.2 ms of CPU per wait more than a
 * plain timer.
 */

/** Host time and timers (injectable: tests drive a fake one). */
export interface TimerSource {
  /** Monotonic milliseconds (performance.now()). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
  /** Run `fn` on the next turn of the event loop, after pending I/O (setImmediate). */
  setImmediate(fn: () => void): unknown;
  clearImmediate(h: unknown): void;
  /** Block the thread for about `ms` (a fraction of a millisecond) without using the core; absent: poll only. */
  block?(ms: number): void;
  /** Longest single block (ms; default BLOCK_MS). */
  maxBlockMs?: number;
}

/** What Atomics.wait blocks on (never notified); none where shared memory is not available (then poll only). */
const sleeper = typeof SharedArrayBuffer === "function" ? new Int32Array(new SharedArrayBuffer(4)) : undefined;

export const hostTimers: TimerSource = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (h) => clearImmediate(h as ReturnType<typeof setImmediate>),
  ...(sleeper ? { block: (ms: number) => void Atomics.wait(sleeper, 0, 0, ms) } : {}),
};

/** How long before the target the timer is meant to fire; the rest is polled (ms). */
export const SPIN_MS = 1.5;
/**
 * Longest block of one step (ms), and how close to the target steps stop blocking and only poll: the kernel wakes a
 * blocked thread ~50-70 us late (its timer slack), more from an idle core's sleep state (measured on an idle
 * machine: 0.1 ms left the median wait 0.04-0.08 ms late, 0.25 ms 0.015 ms; host ms).
 */
const BLOCK_MS = 0.5;
const POLL_ONLY_MS = 0.25;

/** What the precise waits of this process cost (for benchmarks). */
export interface PreciseWaitStats {
  /** Waits that had to wait. */
  waits: number;
  /** Timers armed (more than one per wait when a timer fired early). */
  timers: number;
  /** Event-loop turns spent on the last stretch (blocking steps and polls). */
  polls: number;
  /** Of those, steps that blocked the thread. */
  blocks: number;
  /** Milliseconds from the first poll of a wait to its end, summed: the upper bound of the polling's CPU time. */
  pollMs: number;
  /** Milliseconds from each target to the moment the wait ended, summed. */
  lateMs: number;
}

const stats: PreciseWaitStats = { waits: 0, timers: 0, polls: 0, blocks: 0, pollMs: 0, lateMs: 0 };

export function preciseWaitStats(): PreciseWaitStats {
  return { ...stats };
}

export function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new Error(String(r ?? "aborted"));
}

/**
 * Resolve once `src.now() >= targetMs` (at once when it already is). Rejects with the signal's reason when aborted.
 * The target is absolute: a caller that computes its deadlines from a planned start does not carry the lateness
 * of one wait into the next.
 */
export function waitUntil(src: TimerSource, targetMs: number, signal?: AbortSignal, spinMs = SPIN_MS): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (!(src.now() < targetMs)) return Promise.resolve();
  stats.waits++;
  return new Promise((resolve, reject) => {
    let timer: unknown;
    let immediate: unknown;
    let pollFrom = -1;
    const finish = (now: number) => {
      signal?.removeEventListener("abort", onAbort);
      if (pollFrom >= 0) stats.pollMs += now - pollFrom;
      stats.lateMs += now - targetMs;
      resolve();
    };
    const step = () => {
      timer = immediate = undefined;
      const now = src.now();
      const left = targetMs - now;
      if (left <= 0) return finish(now);
      if (left > spinMs) {
        stats.timers++;
        timer = src.setTimeout(step, left - spinMs);
      } else {
        if (pollFrom < 0) pollFrom = now;
        stats.polls++;
        if (src.block && left > POLL_ONLY_MS) {
          stats.blocks++;
          src.block(Math.min(src.maxBlockMs ?? BLOCK_MS, left - POLL_ONLY_MS));
        }
        immediate = src.setImmediate(step);
      }
    };
    const onAbort = () => {
      if (timer !== undefined) src.clearTimeout(timer);
      if (immediate !== undefined) src.clearImmediate(immediate);
      reject(abortError(signal!));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    step();
  });
}

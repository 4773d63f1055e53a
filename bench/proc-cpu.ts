/**
 * CPU time of this process, its threads and its child processes, read from /proc (Linux; empty elsewhere):
 * for benchmarks that report CPU per trigger, which other work on a shared machine disturbs much less than
 * wall time.
 */
import { readFileSync, readdirSync } from "node:fs";

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** utime + stime of a /proc stat file, ms (undefined when it cannot be read). */
function statMs(path: string): number | undefined {
  try {
    const s = readFileSync(path, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

export interface CpuSnapshot {
  /** Main thread of this process, ms. */
  main: number;
  /** Every other thread of this process (workers, GC helpers, libuv pool), ms. */
  threads: number;
  /** Child processes that have a `--name` argument (the players donki spawns), by that name, ms. */
  children: Record<string, number>;
  /** Each thread of this process by thread id, ms. */
  perThread: Record<string, number>;
  /** Write system calls (/proc/PID/io syscw) of this process ("director") and of each named child. */
  writes: Record<string, number>;
}

function syscw(pid: string): number | undefined {
  try {
    const m = /syscw:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function childLabel(pid: string): string | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const i = argv.indexOf("--name");
    return i >= 0 ? argv[i + 1] : undefined;
  } catch {
    return undefined;
  }
}

export function cpuSnapshot(): CpuSnapshot {
  const self = String(process.pid);
  const snap: CpuSnapshot = { main: 0, threads: 0, children: {}, perThread: {}, writes: {} };
  const own = syscw(self);
  if (own !== undefined) snap.writes.director = own;
  try {
    for (const t of readdirSync("/proc/self/task")) {
      const ms = statMs(`/proc/self/task/${t}/stat`) ?? 0;
      snap.perThread[t] = ms;
      if (t === self) snap.main += ms;
      else snap.threads += ms;
    }
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let ppid: string;
      try {
        const s = readFileSync(`/proc/${pid}/stat`, "utf8");
        ppid = s.slice(s.lastIndexOf(")") + 2).split(" ")[1];
      } catch {
        continue;
      }
      if (ppid !== self) continue;
      const ms = statMs(`/proc/${pid}/stat`);
      const label = childLabel(pid);
      if (ms !== undefined && label !== undefined) snap.children[label] = ms;
      const w = label !== undefined ? syscw(pid) : undefined;
      if (w !== undefined) snap.writes[label!] = w;
    }
  } catch {
    /* not Linux */
  }
  return snap;
}

/** CPU ms per trigger between two snapshots, by part ("director main", "director threads", each child). */
export function cpuPerTrigger(a: CpuSnapshot, b: CpuSnapshot, triggers: number): Record<string, number> {
  const out: Record<string, number> = { "director main": (b.main - a.main) / triggers, "director threads": (b.threads - a.threads) / triggers };
  for (const [k, v] of Object.entries(b.children)) if (a.children[k] !== undefined) out[k] = (v - a.children[k]) / triggers;
  return out;
}

/** Write system calls per trigger between two snapshots, by process. */
export function writesPerTrigger(a: CpuSnapshot, b: CpuSnapshot, triggers: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.writes)) if (a.writes[k] !== undefined) out[k] = (v - a.writes[k]) / triggers;
  return out;
}

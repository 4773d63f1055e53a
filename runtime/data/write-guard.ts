/**
 * Write errors are run errors. Between the writer queue and the NexusWriter:
 *
 * - `DiskGuard` keeps a reserve of free space on the output disk: a row that would eat into it is not written and
 *   raises a "disk-full" fault *before* HDF5 meets ENOSPC (HDF5 does not report failed chunk writes to its caller:
 *   it prints them and leaves a file whose end address lies beyond its end). The reserve is what closing needs.
 * - `trapIoErrors` notes any failed write/truncate of the filesystem (EIO, EROFS, ENOSPC from another writer ...)
 *   made while HDF5 works, which HDF5 would otherwise swallow.
 * - `GuardedApplier` applies queued ops to the writer; after a fault it holds every later op, in order, until
 *   `retry()` (the operator resumed) or `dropHeld()` (the run closes: held rows are masked as missing).
 */
import fs from "node:fs";
import type { NexusWriter } from "./nexus-writer.ts";
import type { QueueOp } from "./writer-queue.ts";

export type WriteFaultKind = "disk-full" | "io";

export class WriteFaultError extends Error {
  constructor(
    readonly kind: WriteFaultKind,
    message: string,
  ) {
    super(message);
    this.name = "WriteFaultError";
  }
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Free bytes for an unprivileged writer in the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Keeps `reserveBytes` free in `dir`; statfs at most once a second unless the margin gets thin. */
export class DiskGuard {
  private free = -1;
  private since = 0;
  private checkedAt = 0;

  constructor(
    readonly dir: string,
    readonly reserveBytes: number,
    private readonly statFree: (dir: string) => number = freeBytes,
  ) {}

  /** Throws WriteFaultError("disk-full") when writing `n` more bytes would leave less than the reserve. */
  reserve(n: number, what: string): void {
    if (this.reserveBytes <= 0) return;
    const now = Date.now();
    if (this.free < 0 || now - this.checkedAt > 1000 || this.free - this.since - n < 2 * this.reserveBytes) {
      this.free = this.statFree(this.dir);
      this.since = 0;
      this.checkedAt = now;
    }
    if (this.free - this.since - n < this.reserveBytes) {
      const left = Math.max(0, this.free - this.since);
      throw new WriteFaultError("disk-full", `disk full: ${this.dir} (${fmtBytes(left)} free, ${fmtBytes(this.reserveBytes)} kept to close the file), writing ${what}`);
    }
    this.since += n;
  }

  /** Forget the cached free space (after the operator made room). */
  reset(): void {
    this.free = -1;
  }
}

// ---- failed filesystem writes made on behalf of HDF5 (h5wasm writes through Node's fs in this thread)

let trapArmed = false;
let trapped: NodeJS.ErrnoException | null = null;
let trapInstalled = false;

function installTrap(): void {
  if (trapInstalled) return;
  trapInstalled = true;
  // the CommonJS fs object (what h5wasm's Emscripten NODEFS calls through), not the frozen ESM namespace
  const f = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["writeSync", "ftruncateSync", "fsyncSync"]) {
    const orig = f[name];
    if (typeof orig !== "function") continue;
    f[name] = function (this: unknown, ...args: unknown[]) {
      try {
        return orig.apply(this, args);
      } catch (e) {
        if (trapArmed && !trapped) trapped = e as NodeJS.ErrnoException;
        throw e;
      }
    };
  }
}

/** Run `fn` (an HDF5 operation); returns the first filesystem error it met, even if HDF5 swallowed it. */
export function trapIoErrors(fn: () => void): NodeJS.ErrnoException | null {
  installTrap();
  trapArmed = true;
  trapped = null;
  try {
    fn();
  } finally {
    trapArmed = false;
  }
  const e = trapped;
  trapped = null;
  return e;
}

const IO_NAMES: Record<string, string> = { ENOSPC: "disk full", EDQUOT: "quota exceeded", EIO: "I/O error", EROFS: "read-only filesystem" };

/** Is this exception from below the writer (HDF5, the filesystem) rather than a refused row? */
function isIoError(e: Error): boolean {
  return /HDF5|H5[A-Z]\w*\(|errno|No space left|I\/O error|Read-only file system/.test(e.message) || "errno" in e;
}

export interface ApplyOutcome {
  /** false: the op is held (a fault is pending); it is applied by retry() or dropped by dropHeld(). */
  applied: boolean;
  /** The writer refused this op (out-of-run trigger, size mismatch ...): counted, not a fault. */
  refused?: Error;
}

const describeOp = (op: QueueOp) => (op.op === "write" ? `${op.key} trigger ${op.trigger}` : op.op);

export class GuardedApplier {
  private held: QueueOp[] = [];
  /** The fault that stopped the writes, until retry() succeeds. */
  fault: WriteFaultError | null = null;
  /** Rows dropped at close because of a fault (they are masked as missing). */
  dropped = 0;

  constructor(
    private readonly w: NexusWriter,
    private readonly apply1: (w: NexusWriter, op: QueueOp) => void,
    private readonly guard: DiskGuard | null,
    private readonly onFault: (f: WriteFaultError) => void,
  ) {}

  get heldCount(): number {
    return this.held.length;
  }

  apply(op: QueueOp): ApplyOutcome {
    if (this.fault) {
      this.held.push(op);
      return { applied: false };
    }
    try {
      if (op.op === "write") this.guard?.reserve(op.data.byteLength, describeOp(op));
      else if (op.op === "flush" || op.op === "checkpoint") this.guard?.reserve(0, "a flush");
    } catch (e) {
      return this.raise(e as WriteFaultError, op);
    }
    let refused: Error | undefined;
    let thrown: Error | undefined;
    const io = trapIoErrors(() => {
      try {
        this.apply1(this.w, op);
      } catch (e) {
        thrown = e as Error;
      }
    });
    if (io) return this.raise(ioFault(io, this.guard?.dir, describeOp(op)), null);
    if (thrown) {
      if (isIoError(thrown)) return this.raise(new WriteFaultError("io", `write error: ${firstLine(thrown.message)}, writing ${describeOp(op)}`), null);
      refused = thrown;
    }
    return { applied: true, refused };
  }

  /** Stop writing: `op` (if not applied) and every later op are held. */
  private raise(f: WriteFaultError, op: QueueOp | null): ApplyOutcome {
    this.fault = f;
    this.onFault(f);
    if (op) {
      this.held.push(op);
      return { applied: false };
    }
    return { applied: true };
  }

  /** Try the held ops again (in order); returns those applied. A new fault holds the rest again. */
  retry(): { applied: QueueOp[]; refused: Array<{ op: QueueOp; err: Error }> } {
    this.fault = null;
    this.guard?.reset();
    const ops = this.held;
    this.held = [];
    const applied: QueueOp[] = [];
    const refused: Array<{ op: QueueOp; err: Error }> = [];
    for (const op of ops) {
      const r = this.apply(op);
      if (!r.applied) continue;
      applied.push(op);
      if (r.refused) refused.push({ op, err: r.refused });
    }
    return { applied, refused };
  }

  /** Give up the held ops (the run closes). */
  dropHeld(): QueueOp[] {
    const ops = this.held;
    this.held = [];
    this.dropped += ops.filter((o) => o.op === "write").length;
    return ops;
  }

  /** Close the writer without the guard (the reserve is for this), trapping I/O errors into the message. */
  closeWriter<T>(fn: () => T): T {
    let out!: T;
    const io = trapIoErrors(() => {
      out = fn();
    });
    if (io) this.onFault(ioFault(io, this.guard?.dir, "the file at close"));
    return out;
  }
}

function ioFault(e: NodeJS.ErrnoException, dir: string | undefined, what: string): WriteFaultError {
  const code = e.code ?? "EIO";
  const name = IO_NAMES[code] ?? code;
  let free = "";
  if (dir) {
    try {
      free = ` (${fmtBytes(freeBytes(dir))} free)`;
    } catch {
      /* no statfs */
    }
  }
  return new WriteFaultError(code === "ENOSPC" || code === "EDQUOT" ? "disk-full" : "io", `${name}: ${dir ?? ""}${free}, writing ${what} (${code})`);
}

const firstLine = (s: string) => s.split("\n").find((l) => l.trim())?.trim() ?? s;

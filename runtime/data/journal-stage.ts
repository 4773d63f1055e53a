/**
 * The write-ahead journal where the writer runs (the writer worker, or the caller's thread in inline mode).
 *
 * The writer queue hands every op to `take` before the op is applied to the HDF5 file: rows and stream declarations
 * are appended to the journal, and a "note" op (the trigger completed every level) appends the trigger's DONE
 * record and reports it (`journaled`): only then does the trigger count as done on the Director's side. The bytes
 * are written to the OS (write(2)) before `journaled` is called, so a killed process loses nothing reported done.
 *
 * Power loss, and why the journal's bytes rarely reach the disk: every `syncSeconds / 2` the current segment is
 * rotated and a checkpoint is queued behind everything journaled so far. When the writer has applied it (the HDF5
 * file is flushed to the OS past the segment), the HDF5 file is fdatasync'ed and the segment deleted: its pages are
 * dropped from the page cache before the kernel's writeback (dirty_expire ~30 s) ever writes them. A segment that is
 * still there one period after its rotation (the writer is behind, or held by a write fault) is fdatasync'ed
 * instead. So a trigger reported done more than `syncSeconds` ago (plus the time of one fdatasync) is on disk either
 * in the fsynced HDF5 file or in a fsynced journal segment. `syncSeconds: 0`: fdatasync after every trigger.
 */
import * as fs from "node:fs";
import { dirname } from "node:path";
import { JournalWriter, journalSegments, type JournalHeader, type JournalStream } from "./journal.ts";
import { DiskGuard, WriteFaultError } from "./write-guard.ts";
import type { QueueOp } from "./writer-queue.ts";
import type { StreamSpec } from "./types.ts";

/** What the writer queue needs to journal (plain data: it is sent to the worker). */
export interface JournalSettings {
  /** fdatasync bound in seconds (0: after every trigger). */
  syncSeconds: number;
  /** A segment is rotated when it reaches this size, whatever the clock (default 64 MiB). */
  segmentBytes?: number;
  /** Free space kept on the disk by the journal (bytes; 0: no guard). */
  reserveBytes: number;
  runId: string;
  /**
   * false: drop a segment as soon as the HDF5 file is flushed to the OS past it, without its fdatasync (kill-safe,
   * no power-loss bound; benchmarks measure what the power-loss bound costs with it). Default true.
   */
  fileSync?: boolean;
}

export interface JournalFault {
  kind: "disk-full" | "journal";
  message: string;
}

export interface JournalStageHooks {
  /** Queue a checkpoint op behind every op taken so far; call `flushed(seq)` once the writer applied it. */
  checkpoint(seq: number): void;
  /** Trigger `trig`'s DONE record is written to the OS (or the journal is off): it may count as done. */
  journaled(trig: number): void;
  /** The journal could not be written: it is off until `retry()`. */
  fault(f: JournalFault): void;
}

export interface JournalStats {
  bytes: number;
  /** fdatasync calls on journal segments (the fallback when the HDF5 file was not on disk in time). */
  journalSyncs: number;
  /** fdatasync calls on the HDF5 file (checkpoints). */
  fileSyncs: number;
  /** Segments deleted because the HDF5 file had them on disk. */
  released: number;
  /** Longest time from a segment's rotation to the fdatasync of the HDF5 file that covered it (ms). */
  maxSyncLagMs: number;
}

export class JournalStage {
  private j: JournalWriter | null = null;
  private off = false;
  private timer: NodeJS.Timeout | null = null;
  private fileFd: number | null = null;
  private fsyncInFlight: Promise<void> | null = null;
  /** Highest segment the HDF5 file was flushed past, and when each such segment was rotated (for the lag). */
  private coveredSeq = 0;
  private readonly coveredRotatedAt = new Map<number, number>();
  private readonly streams: JournalStream[];
  private readonly guard: DiskGuard | undefined;
  private closed = false;
  readonly stats: JournalStats = { bytes: 0, journalSyncs: 0, fileSyncs: 0, released: 0, maxSyncLagMs: 0 };

  constructor(
    /** The scan's HDF5 file (the journal lives beside it). */
    private readonly dataFile: string,
    private readonly firstTrigger: number,
    specs: StreamSpec[],
    private readonly s: JournalSettings,
    private readonly hooks: JournalStageHooks,
    dir: string,
  ) {
    this.streams = specs.map(specToStream);
    this.guard = s.reserveBytes > 0 ? new DiskGuard(dir, s.reserveBytes) : undefined;
    this.open(); // errors here are the caller's (the run does not start without its journal)
    if (s.syncSeconds > 0) {
      const period = Math.max(20, (s.syncSeconds * 1000) / 2);
      this.timer = setInterval(() => this.tick(period), period);
      this.timer.unref();
    }
  }

  private open(): void {
    const header: JournalHeader = { file: this.dataFile.slice(this.dataFile.lastIndexOf("/") + 1), runId: this.s.runId, firstTrigger: this.firstTrigger, created: new Date().toISOString() };
    const j = new JournalWriter(this.dataFile, header, { syncSeconds: this.s.syncSeconds, segmentBytes: this.s.segmentBytes, guard: this.guard });
    try {
      for (const st of this.streams) j.stream(st);
    } catch (e) {
      j.close(false);
      throw e;
    }
    this.j = j; // only a journal that knows every stream is used
  }

  get active(): boolean {
    return this.j !== null;
  }

  /** Journal one op (before the writer applies it). */
  take(op: QueueOp): void {
    if (op.op === "addStream") {
      const st = specToStream(op.spec);
      if (!this.streams.some((x) => x.key === st.key)) this.streams.push(st);
      this.guarded(() => this.j?.stream(st));
      return;
    }
    if (op.op === "write") {
      if (this.j) this.guarded(() => this.j!.row(op.key, op.trigger, op.data));
      return;
    }
    if (op.op === "note") {
      this.guarded(() => {
        if (!this.j) return;
        this.j.done(op.trigger);
        const full = this.j.rotateIfFull();
        if (full !== null) this.hooks.checkpoint(full);
      });
      this.hooks.journaled(op.trigger); // written to the OS, or the journal is off (the fault was reported)
    }
  }

  /**
   * The writer applied checkpoint `seq` and flushed the HDF5 file to the OS: fdatasync it, then drop the journal's
   * segments up to `seq` (before the kernel writes them back, if that is soon enough).
   */
  flushed(seq: number): void {
    if (!this.j || this.closed) return;
    const j = this.j;
    j.covered(seq);
    this.coveredSeq = Math.max(this.coveredSeq, seq);
    this.coveredRotatedAt.set(seq, j.rotatedAt(seq) ?? Date.now());
    if (this.s.fileSync === false) {
      j.release(seq); // kill-safe only: the HDF5 file has the rows in the OS, not necessarily on the disk
      return;
    }
    if (!this.fsyncInFlight) this.syncFile(j);
  }

  /**
   * One fdatasync of the HDF5 file at a time: when the disk is slower than the acquisition, the next one starts when
   * the last one ends and covers every checkpoint flushed meanwhile (no second copy of the bytes goes to the disk).
   */
  private syncFile(j: JournalWriter): void {
    const seq = this.coveredSeq;
    try {
      this.fileFd ??= fs.openSync(this.dataFile, "r"); // fsync of any fd syncs the file's data (Linux, POSIX)
    } catch {
      return; // the segments stay; close() syncs them
    }
    this.fsyncInFlight = new Promise<void>((resolve) => {
      fs.fdatasync(this.fileFd!, (err) => {
        this.fsyncInFlight = null;
        resolve();
        if (err || this.closed || this.j !== j) return;
        this.stats.fileSyncs++;
        const now = Date.now();
        for (const [k, at] of this.coveredRotatedAt) {
          if (k > seq) continue;
          this.stats.maxSyncLagMs = Math.max(this.stats.maxSyncLagMs, now - at);
          this.coveredRotatedAt.delete(k);
        }
        try {
          j.release(seq);
        } catch {
          /* a segment that cannot be deleted stays: recover skips rows the file already has */
        }
        if (this.coveredSeq > seq) this.syncFile(j);
      });
    });
  }

  private tick(period: number): void {
    if (!this.j || this.closed) return;
    this.guarded(() => {
      // a segment rotated one period ago and still not released: sync it (the power-loss bound)
      this.j!.syncOlder(period * 0.9);
      const old = this.j!.rotate();
      if (old !== null) this.hooks.checkpoint(old);
    });
  }

  /** The operator made room: journal again from here (the rows in between are in the writer's queue or file). */
  retry(): void {
    if (!this.off || this.j || this.closed) return;
    this.guard?.reset();
    try {
      this.open();
      this.off = false;
    } catch (e) {
      this.reportFault(e);
    }
  }

  private guarded(fn: () => void): void {
    if (!this.j) return;
    try {
      fn();
    } catch (e) {
      const j = this.j;
      this.j = null;
      this.off = true;
      this.collect(j);
      try {
        j.close(false);
      } catch {
        /* the segments already written stay for donki recover */
      }
      this.reportFault(e);
    }
  }

  private reportFault(e: unknown): void {
    const err = e as NodeJS.ErrnoException;
    const guarded = e instanceof WriteFaultError;
    const kind = guarded ? e.kind : err.code === "ENOSPC" || err.code === "EDQUOT" ? "disk-full" : "journal";
    const what = guarded ? e.message : `${err.code === "ENOSPC" ? "disk full" : err.message} (${this.dataFile})`;
    this.hooks.fault({ kind: kind === "io" ? "journal" : kind, message: `${what}; the journal is off until the scan resumes` });
  }

  private syncClosedFile(): void {
    syncFileAndDir(this.dataFile);
    this.stats.fileSyncs++;
  }

  private collect(j: JournalWriter): void {
    this.stats.bytes += j.bytes;
    this.stats.journalSyncs += j.syncs;
    this.stats.released += j.released;
  }

  /** The run ends. `final`: the file holds every row and is closed: the journal goes. Otherwise it stays for recover. */
  async close(final: boolean): Promise<JournalStats> {
    if (this.timer) clearInterval(this.timer);
    this.closed = true;
    // an fdatasync of the HDF5 file still under way is not waited for (it may take seconds when the disk is behind):
    // the file is closed, and the journal either goes (final) or is synced itself below. Closing the fd meanwhile is
    // safe: the running fdatasync holds its own reference to the file.
    if (this.fileFd !== null) fs.closeSync(this.fileFd);
    this.fileFd = null;
    const j = this.j;
    this.j = null;
    // the power-loss bound holds at the end too: before the journal goes, the closed file (and its name in the
    // directory) is on disk, so a scan reported closed survives a power cut
    let syncError: unknown = null;
    if (final && this.s.fileSync !== false) {
      try {
        this.syncClosedFile();
      } catch (e) {
        syncError = e; // the file is not known to be on disk: the journal stays for donki recover
      }
    }
    const drop = final && syncError === null;
    if (j) {
      this.collect(j);
      j.close(drop);
    }
    if (drop && this.off) for (const p of journalSegments(this.dataFile)) fs.rmSync(p, { force: true });
    if (syncError) throw new Error(`fdatasync of ${this.dataFile} at close: ${(syncError as Error).message}; the journal is kept`);
    return { ...this.stats };
  }
}

/** fdatasync of a closed file and fsync of its directory (the file's name). */
function syncFileAndDir(path: string): void {
  const fd = fs.openSync(path, "r");
  try {
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  const dfd = fs.openSync(dirname(path), "r");
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

function specToStream(s: StreamSpec): JournalStream {
  return { key: `${s.player}/${s.name}`, dtype: s.dtype, shape: s.shape };
}

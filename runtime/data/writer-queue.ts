/**
 * Async, bounded front of NexusWriter for the Director.
 *
 * - mode "worker" (default): the NexusWriter (h5wasm, ~3.5 ms CPU per 3.5 MB frame) runs in a worker_thread;
 *   frame buffers are transferred, not copied, when the Uint8Array spans its whole ArrayBuffer. The Director's
 *   event loop only pays for postMessage, so it keeps serving ZeroMQ while frames are written.
 * - mode "inline": the writer runs on the caller's thread, one queued item per macrotask (setImmediate), so
 *   I/O callbacks interleave with writes. Simpler; costs the caller's CPU.
 *
 * Back-pressure: `push` always accepts the item (data that arrived is never dropped) and returns false when
 * the backlog reached `maxBytes` or `maxCount`: the caller must stop issuing triggers and `await whenBelow(...)`.
 * Beyond `hardMaxBytes` (default 2 x maxBytes) `push` throws QueueOverflowError: a caller that ignores
 * back-pressure gets an error instead of unbounded memory.
 *
 * Ownership: `push` takes ownership of `data`. In worker mode the ArrayBuffer may be detached (transferred).
 */
import { Worker } from "node:worker_threads";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { resolve as resolvePath } from "node:path";
// types only: in worker mode the Director's thread never loads h5wasm (~650 MB RSS under tsx)
import type { NexusWriter, NexusWriterOptions, WriterStats } from "./nexus-writer.ts";
import type { GuardedApplier } from "./write-guard.ts";
import type { JournalFault, JournalSettings, JournalStage, JournalStats } from "./journal-stage.ts";
import type { CloseResult, CloseSummary, RunInfo, StreamSpec } from "./types.ts";

export interface WriterQueueOptions {
  mode?: "worker" | "inline";
  /** Soft limit: push() returns false at or above it (default 256 MiB). */
  maxBytes?: number;
  /** Soft limit on queued items (default 4096). */
  maxCount?: number;
  /** Hard limit: push() throws QueueOverflowError above it (default 2 x maxBytes). */
  hardMaxBytes?: number;
  /** Called for every item the writer refused (out-of-run trigger, size mismatch, unknown stream). */
  onError?: (err: Error, op: { key?: string; trigger?: number; op: string }) => void;
  /**
   * A write fault (disk full, I/O error): the writer holds every later op until `retry()`, or drops them at close
   * (see write-guard.ts). The backlog keeps counting held ops, so back-pressure stops the triggers.
   */
  onFault?: (f: { kind: "disk-full" | "io"; message: string }) => void;
  /** Free space kept on the output disk (bytes, default 8 MiB; 0 disables the guard). */
  reserveBytes?: number;
  /**
   * Write-ahead journal beside the file (journal-stage.ts), kept where the writer runs (the worker): every op is
   * journaled before it is applied. `onJournaled(trig)`: the DONE record of trigger `trig` (noted with
   * noteTrigger) and every row before it are written to the OS. `onJournalFault`: the journal is off until retry().
   */
  journal?: JournalSettings;
  onJournaled?: (trig: number) => void;
  onJournalFault?: (f: JournalFault) => void;
}

export class QueueOverflowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueueOverflowError";
  }
}

export type QueueOp =
  | { op: "write"; key: string; trigger: number; data: Uint8Array }
  | { op: "note"; trigger: number }
  | { op: "addStream"; spec: StreamSpec }
  | { op: "flush" }
  /** Flush: every op before it is in the file (the journal's segments up to `seq` may go once it is on disk). */
  | { op: "checkpoint"; seq: number; internal?: boolean };

/** Settings of the write guard, sent to the worker with the writer options. */
export interface GuardSettings {
  dir: string;
  reserveBytes: number;
}

/** Messages the worker sends back. */
export type WorkerReply =
  | { type: "ready"; scanNumber: number; path: string; firstTrigger: number }
  | { type: "done"; bytes: number; count: number; errors?: Array<{ message: string; name: string; key?: string; trigger?: number; op: string }>; journaled?: number }
  | { type: "closed"; result: CloseResult; stats: WriterStats; journal?: JournalStats }
  | { type: "fatal"; message: string; stack?: string }
  | { type: "fault"; kind: "disk-full" | "io"; message: string }
  | { type: "journaled"; trigger: number }
  | { type: "journalFault"; kind: JournalFault["kind"]; message: string };

interface Backend {
  send(op: QueueOp): void;
  retry(): void;
  close(summary: CloseSummary): Promise<{ result: CloseResult; stats: WriterStats; journal?: JournalStats }>;
  abort(): Promise<void>;
}

const opBytes = (op: QueueOp) => (op.op === "write" ? op.data.byteLength : 0);
/** The journal's own checkpoints are not part of the queue's backlog. */
const isInternal = (op: QueueOp) => op.op === "checkpoint" && op.internal === true;

export class WriterQueue {
  readonly scanNumber: number;
  readonly path: string;
  readonly firstTrigger: number;
  /** Items the writer refused (see onError). */
  errors = 0;
  lastError: Error | null = null;
  /** Peak backlog seen, for benchmarks and status. */
  peakBacklogBytes = 0;

  private bytes = 0;
  private count = 0;
  private waiters: { limitBytes: number; limitCount: number; resolve: () => void; reject: (e: Error) => void; drain?: boolean }[] = [];
  private fatal: Error | null = null;
  private closing = false;
  /** A write fault holds the writes (until retry() or close). */
  stalled: { kind: "disk-full" | "io"; message: string } | null = null;
  private readonly maxBytes: number;
  private readonly maxCount: number;
  private readonly hardMaxBytes: number;
  private backend!: Backend;

  private constructor(
    info: { scanNumber: number; path: string; firstTrigger: number },
    private readonly qopts: WriterQueueOptions,
  ) {
    this.scanNumber = info.scanNumber;
    this.path = info.path;
    this.firstTrigger = info.firstTrigger;
    this.maxBytes = qopts.maxBytes ?? 256 * 2 ** 20;
    this.maxCount = qopts.maxCount ?? 4096;
    this.hardMaxBytes = qopts.hardMaxBytes ?? 2 * this.maxBytes;
  }

  /** Create the run's file(s) (in a worker unless mode "inline") and return the queue in front of it. */
  static async open(writerOpts: NexusWriterOptions, qopts: WriterQueueOptions = {}): Promise<WriterQueue> {
    const guard: GuardSettings = { dir: resolvePath(writerOpts.dir), reserveBytes: qopts.reserveBytes ?? 8 * 2 ** 20 };
    if ((qopts.mode ?? "worker") === "inline") {
      const { NexusWriter } = await import("./nexus-writer.ts");
      const { GuardedApplier, DiskGuard } = await import("./write-guard.ts");
      const w = await NexusWriter.create(writerOpts);
      const q = new WriterQueue(w, qopts);
      const g = new GuardedApplier(w, applyOp, guard.reserveBytes > 0 ? new DiskGuard(guard.dir, guard.reserveBytes) : null, (f) => q.onFault({ kind: f.kind, message: f.message }));
      const b = new InlineBackend(w, g, (bytes, err, op, count) => q.done(bytes, err, op, count));
      if (qopts.journal) {
        const { JournalStage } = await import("./journal-stage.ts");
        try {
          b.journal = new JournalStage(w.path, w.firstTrigger, writerOpts.streams ?? [], qopts.journal, {
            checkpoint: (seq) => b.enqueueCheckpoint(seq),
            journaled: (trig) => qopts.onJournaled?.(trig),
            fault: (f) => qopts.onJournalFault?.(f),
          }, guard.dir);
        } catch (e) {
          w.abort();
          throw e;
        }
      }
      q.backend = b;
      return q;
    }
    const worker = startWorker();
    const ready = await new Promise<WorkerReply & { type: "ready" }>((resolve, reject) => {
      const onMsg = (m: WorkerReply) => {
        if (m.type === "ready") {
          cleanup();
          resolve(m);
        } else if (m.type === "fatal") {
          cleanup();
          reject(new Error(`writer worker: ${m.message}`));
        }
      };
      const onErr = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`writer worker exited (${code}) before it was ready`));
      };
      const cleanup = () => {
        worker.off("message", onMsg);
        worker.off("error", onErr);
        worker.off("exit", onExit);
      };
      worker.on("message", onMsg);
      worker.on("error", onErr);
      worker.on("exit", onExit);
      worker.postMessage({ op: "create", opts: serializeOpts(writerOpts), guard, journal: qopts.journal });
    }).catch(async (e) => {
      await worker.terminate();
      throw e;
    });
    const q = new WriterQueue(ready, qopts);
    q.backend = new WorkerBackend(worker, (bytes, err, op, count) => q.done(bytes, err, op, count), (e) => q.fail(e), (f) => q.onFault(f), {
      journaled: (trig) => q.qopts.onJournaled?.(trig),
      fault: (f) => q.qopts.onJournalFault?.(f),
    });
    return q;
  }

  get backlogBytes(): number {
    return this.bytes;
  }
  get backlogCount(): number {
    return this.count;
  }
  /** True while the backlog is at or above a soft limit. */
  get full(): boolean {
    return this.bytes >= this.maxBytes || this.count >= this.maxCount;
  }

  /**
   * Queue one stream's bytes for one trigger. Returns false when the backlog is now at/over a soft limit
   * (the item IS queued; stop issuing triggers and await whenBelow). Throws QueueOverflowError above the hard
   * limit, and the writer's fatal error if it died.
   */
  push(key: string, trigger: number, data: Uint8Array): boolean {
    this.assertUsable();
    if (this.bytes + data.byteLength > this.hardMaxBytes) {
      throw new QueueOverflowError(
        `writer queue over its hard limit (${this.bytes} + ${data.byteLength} > ${this.hardMaxBytes} bytes): ${key} trigger ${trigger} not queued`,
      );
    }
    this.enqueue({ op: "write", key, trigger, data });
    return !this.full;
  }

  /** Record that trigger n was issued (ordered with the writes). */
  noteTrigger(n: number): void {
    this.assertUsable();
    this.enqueue({ op: "note", trigger: n });
  }

  addStream(spec: StreamSpec): void {
    this.assertUsable();
    this.enqueue({ op: "addStream", spec });
  }

  /** Ask for a flush after everything queued so far. */
  flush(): void {
    this.assertUsable();
    this.enqueue({ op: "flush" });
  }

  /** Resolves when the backlog is below `limitBytes` (and below the count limit). */
  whenBelow(limitBytes: number = this.maxBytes, limitCount: number = this.maxCount): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.bytes < limitBytes && this.count < limitCount) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ limitBytes, limitCount, resolve, reject }));
  }

  /** Resolves when everything queued has been written (or is held by a write fault). */
  drain(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.count === 0 || this.stalled) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ limitBytes: 1, limitCount: 1, resolve, reject, drain: true }));
  }

  /** Try the writes held since a fault again (a new fault calls onFault again). */
  retry(): void {
    if (!this.stalled || this.fatal || this.closing) return;
    this.stalled = null;
    this.backend.retry();
  }

  /** Drain, then close the run (see NexusWriter.close). Held rows (write fault) are dropped and masked. */
  async close(summary: CloseSummary): Promise<CloseResult & { stats: WriterStats; errors: number; journal?: JournalStats }> {
    this.assertUsable();
    await this.drain();
    this.closing = true;
    const { result, stats, journal } = await this.backend.close(summary);
    return { ...result, stats, errors: this.errors, ...(journal ? { journal } : {}) };
  }

  /** Stop without finishing the file (fatal Director error). The file stays as of the last flush. */
  async abort(): Promise<void> {
    this.closing = true;
    await this.backend.abort();
  }

  private assertUsable(): void {
    if (this.fatal) throw this.fatal;
    if (this.closing) throw new Error("WriterQueue: closed");
  }

  private enqueue(op: QueueOp): void {
    this.bytes += opBytes(op);
    this.count++;
    if (this.bytes > this.peakBacklogBytes) this.peakBacklogBytes = this.bytes;
    this.backend.send(op);
  }

  private done(bytes: number, err: Error | undefined, op: { key?: string; trigger?: number; op: string }, count = 1): void {
    this.bytes -= bytes;
    this.count -= count;
    if (err) {
      this.errors++;
      this.lastError = err;
      this.qopts.onError?.(err, op);
    }
    if (this.waiters.length) {
      const still: typeof this.waiters = [];
      for (const w of this.waiters) {
        if (this.bytes < w.limitBytes && this.count < w.limitCount) w.resolve();
        else still.push(w);
      }
      this.waiters = still;
    }
  }

  private onFault(f: { kind: "disk-full" | "io"; message: string }): void {
    this.stalled = f;
    // a drain waits for nothing more: the held ops are written by retry() or dropped by close()
    const still: typeof this.waiters = [];
    for (const w of this.waiters) (w.drain ? w.resolve() : still.push(w));
    this.waiters = still;
    this.qopts.onFault?.(f);
  }

  private fail(e: Error): void {
    this.fatal = e;
    for (const w of this.waiters) w.reject(e);
    this.waiters = [];
  }
}

/** Writer on the caller's thread, one item per macrotask. */
class InlineBackend implements Backend {
  private readonly q: QueueOp[] = [];
  private head = 0;
  private scheduled = false;
  private idle: (() => void) | null = null;

  /** The journal, on this thread: ops are journaled when queued, before the writer applies them. */
  journal: JournalStage | null = null;

  constructor(
    private readonly w: NexusWriter,
    private readonly g: GuardedApplier,
    private readonly done: (bytes: number, err: Error | undefined, op: { key?: string; trigger?: number; op: string }, count?: number) => void,
  ) {}

  retry(): void {
    this.journal?.retry();
    const r = this.g.retry();
    for (const { op, err } of r.refused) this.done(0, err, describe(op), 0);
    this.done(r.applied.reduce((a, o) => a + opBytes(o), 0), undefined, { op: "retry" }, r.applied.filter((o) => !isInternal(o)).length);
    if (!this.g.fault) for (const op of r.applied) if (op.op === "checkpoint") this.journal?.flushed(op.seq);
  }

  send(op: QueueOp): void {
    this.journal?.take(op);
    this.q.push(op);
    this.schedule();
  }

  /** The journal's checkpoint, behind every op queued so far (not counted in the queue's backlog). */
  enqueueCheckpoint(seq: number): void {
    this.q.push({ op: "checkpoint", seq, internal: true });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.scheduled = false;
    // small items are batched (up to ~2 ms of work); a frame is one item per tick
    const t0 = performance.now();
    while (this.head < this.q.length) {
      const op = this.q[this.head]!;
      this.q[this.head++] = undefined as never;
      const r = this.g.apply(op);
      if (r.applied && !isInternal(op)) this.done(opBytes(op), r.refused, describe(op));
      if (r.applied && !r.refused && op.op === "checkpoint" && !this.g.fault) this.journal?.flushed(op.seq);
      if (performance.now() - t0 > 2) break;
    }
    if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q.splice(0, this.head);
      this.head = 0;
    }
    if (this.head < this.q.length) this.schedule();
    else if (this.idle) {
      const f = this.idle;
      this.idle = null;
      f();
    }
  }

  async close(summary: CloseSummary) {
    if (this.head < this.q.length) await new Promise<void>((r) => (this.idle = r));
    const held = this.g.fault !== null || this.g.heldCount > 0;
    const dropped = this.g.dropHeld();
    if (dropped.length) this.done(dropped.reduce((a, o) => a + opBytes(o), 0), undefined, { op: "drop" }, dropped.filter((o) => !isInternal(o)).length);
    const result = this.g.closeWriter(() => this.w.close(summary));
    const journal = await this.journal?.close(!held && result.unfinalised.length === 0);
    return { result, stats: { ...this.w.stats }, ...(journal ? { journal } : {}) };
  }

  async abort() {
    this.q.length = 0;
    this.head = 0;
    this.w.abort();
    await this.journal?.close(false);
  }
}

/** Rows up to this size are packed together for the trip to the worker; bigger ones (frames) go on their own. */
const SMALL_ROW = 64 * 1024;

/** Writer in a worker_thread. */
class WorkerBackend implements Backend {
  constructor(
    private readonly worker: Worker,
    done: (bytes: number, err: Error | undefined, op: { key?: string; trigger?: number; op: string }, count?: number) => void,
    private readonly fatal: (e: Error) => void,
    fault: (f: { kind: "disk-full" | "io"; message: string }) => void,
    journal: { journaled: (trig: number) => void; fault: (f: JournalFault) => void },
  ) {
    worker.on("message", (m: WorkerReply) => {
      if (m.type === "journaled") journal.journaled(m.trigger);
      else if (m.type === "fault") fault({ kind: m.kind, message: m.message });
      else if (m.type === "journalFault") journal.fault({ kind: m.kind, message: m.message });
      else if (m.type === "done") {
        for (const e of m.errors ?? []) {
          const err = new Error(e.message);
          err.name = e.name;
          done(0, err, { key: e.key, trigger: e.trigger, op: e.op }, 0);
        }
        done(m.bytes, undefined, { op: "batch" }, m.count);
        if (m.journaled) journal.journaled(m.journaled);
      } else if (m.type === "closed") {
        this.closeWaiter?.resolve({ result: m.result, stats: m.stats, ...(m.journal ? { journal: m.journal } : {}) });
        this.closeWaiter = null;
      } else if (m.type === "fatal") {
        const e = new Error(`writer worker: ${m.message}`);
        this.fatal(e);
        this.closeWaiter?.reject(e);
      }
    });
    worker.on("error", (e) => {
      this.fatal(e);
      this.closeWaiter?.reject(e);
    });
    worker.on("exit", (code) => {
      this.exited = true;
      if (this.closeWaiter) this.closeWaiter.reject(new Error(`writer worker exited (${code})`));
      else if (code !== 0) this.fatal(new Error(`writer worker exited (${code})`));
    });
  }

  /**
   * Ops are gathered and posted to the worker once per event-loop turn (one postMessage for all the rows that
   * arrived in that turn: a postMessage per row would cost more than writing a small row).
   */
  private batch: QueueOp[] = [];
  private scheduled = false;

  send(op: QueueOp): void {
    if (op.op === "write" && op.data.byteLength > SMALL_ROW) {
      const data = op.data;
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
      // compact copy for views into bigger buffers: never transfer (detach) a whole pool/slab buffer
      this.batch.push(whole ? op : { ...op, data: data.slice() });
    } else this.batch.push(op); // small rows are packed into one buffer at post time
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.post);
    }
  }

  private readonly post = (): void => {
    this.scheduled = false;
    const ops = this.batch;
    this.batch = [];
    if (!ops.length || this.exited) return;
    // small rows (scalars, spectra) travel in ONE transferred buffer, as views into it: one transfer per turn
    // instead of one per row (transferring many small buffers costs more than copying their bytes)
    let small = 0;
    for (const o of ops) if (o.op === "write" && o.data.byteLength <= SMALL_ROW) small += (o.data.byteLength + 7) & ~7;
    const transfers: ArrayBuffer[] = [];
    if (small) {
      const blob = new Uint8Array(small);
      let off = 0;
      for (let i = 0; i < ops.length; i++) {
        const o = ops[i];
        if (o.op !== "write" || o.data.byteLength > SMALL_ROW) continue;
        blob.set(o.data, off);
        ops[i] = { ...o, data: blob.subarray(off, off + o.data.byteLength) };
        off += (o.data.byteLength + 7) & ~7; // 8-byte aligned: typed views need no copy on the other side
      }
      transfers.push(blob.buffer);
    }
    for (const o of ops) if (o.op === "write" && o.data.byteLength > SMALL_ROW) transfers.push(o.data.buffer as ArrayBuffer);
    try {
      this.worker.postMessage({ op: "batch", ops }, transfers);
    } catch {
      // some buffer is not detachable (memory owned by a native library, e.g. a ZeroMQ frame): copy them all once
      const copies = ops.map((o) => (o.op === "write" ? { ...o, data: o.data.slice() } : o));
      this.worker.postMessage({ op: "batch", ops: copies }, copies.flatMap((o) => (o.op === "write" ? [o.data.buffer as ArrayBuffer] : [])));
    }
  };

  private closeWaiter: { resolve: (v: { result: CloseResult; stats: WriterStats; journal?: JournalStats }) => void; reject: (e: Error) => void } | null = null;
  private exited = false;

  retry(): void {
    if (this.exited) return;
    this.post(); // ops gathered so far go first (they are held behind the fault, in order)
    this.worker.postMessage({ op: "retry" });
  }

  close(summary: CloseSummary) {
    this.post();
    return new Promise<{ result: CloseResult; stats: WriterStats; journal?: JournalStats }>((resolve, reject) => {
      if (this.exited) return reject(new Error("writer worker is gone"));
      this.closeWaiter = { resolve, reject };
      this.worker.postMessage({ op: "close", summary });
    }).finally(() => void this.worker.terminate());
  }

  async abort() {
    if (this.exited) return;
    await new Promise<void>((resolve) => {
      this.worker.once("message", () => resolve());
      this.worker.once("exit", () => resolve());
      this.worker.postMessage({ op: "abort" });
    });
    await this.worker.terminate();
  }
}

export function applyOp(w: NexusWriter, op: QueueOp): void {
  switch (op.op) {
    case "write":
      w.write(op.key, op.trigger, op.data);
      return;
    case "note":
      w.noteTrigger(op.trigger);
      return;
    case "addStream":
      w.addStream(op.spec);
      return;
    case "flush":
    case "checkpoint":
      w.flush();
      return;
  }
}

export function describe(op: QueueOp): { key?: string; trigger?: number; op: string } {
  if (op.op === "write") return { op: op.op, key: op.key, trigger: op.trigger };
  if (op.op === "note") return { op: op.op, trigger: op.trigger };
  return { op: op.op };
}

/** Dates do survive structured clone; this is here so the options stay plain data. */
function serializeOpts(o: NexusWriterOptions): NexusWriterOptions {
  const run: RunInfo = { ...o.run, startTime: new Date(o.run.startTime) };
  return { ...o, run };
}

/** Start the worker; under tsx (a .ts module) the worker first registers tsx's loader itself. */
function startWorker(): Worker {
  const url = new URL("./writer-worker.ts", import.meta.url);
  const require = createRequire(import.meta.url);
  const tsxApi = pathToFileURL(require.resolve("tsx/esm/api").replace(/index\.cjs$/, "index.mjs")).href;
  // Load h5wasm with Node's own loader before tsx is registered: tsx would transform its 4 MB glue file
  // (measured: ~650 MB RSS instead of ~80 MB). The .ts modules then get the cached instance.
  let h5url = "";
  try {
    h5url = import.meta.resolve("h5wasm/node");
  } catch {
    /* not available (e.g. under a test runner's transform): tsx loads it */
  }
  // the HDF5 error-stack filter of h5-quiet.ts (same rule: fd-2 writes from "HDF5-DIAG" to the end of the turn)
  const code = `
    const { workerData } = require("node:worker_threads");
    if (process.env.DONKI_HDF5_DIAG !== "1") {
      const fs = require("node:fs");
      const state = { lines: [], inStack: false };
      globalThis.__donkiHdf5Quiet = state;
      const orig = fs.writeSync;
      fs.writeSync = function (fd, buf, ...rest) {
        if (fd === 2 && (ArrayBuffer.isView(buf) || typeof buf === "string")) {
          const off = typeof rest[0] === "number" ? rest[0] : 0;
          const len = typeof rest[1] === "number" ? rest[1] : typeof buf === "string" ? 0 : buf.byteLength - off;
          const text = typeof buf === "string" ? buf : Buffer.from(buf.buffer, buf.byteOffset + off, Math.min(len, 64)).toString("utf8");
          if (state.inStack || text.startsWith("HDF5-DIAG")) {
            if (!state.inStack) {
              state.inStack = true;
              setImmediate(() => (state.inStack = false));
            }
            state.lines.push(text);
            if (state.lines.length > 200) state.lines.shift();
            return typeof buf === "string" ? Buffer.byteLength(buf) : len;
          }
        }
        return orig.call(this, fd, buf, ...rest);
      };
    }
    (workerData.h5url ? import(workerData.h5url).then((m) => m.default.ready) : Promise.resolve())
      .then(() => import(workerData.tsxApi))
      .then((m) => (m.register ?? m.default.register)())
      .then(() => import(workerData.url))
      .catch((e) => { console.error("donki writer worker failed to start:", e); process.exit(70); });`;
  return new Worker(code, { eval: true, workerData: { url: url.href, tsxApi, h5url } });
}

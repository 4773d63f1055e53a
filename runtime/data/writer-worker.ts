/**
 * worker_thread entry: owns one NexusWriter; applies queued ops in order through the write guard and acknowledges
 * them (the main thread's WriterQueue counts the backlog down on every "done"). After a write fault the ops are
 * held (not acknowledged) until "retry", or dropped at "close".
 */
import { parentPort } from "node:worker_threads";
import { NexusWriter, type NexusWriterOptions } from "./nexus-writer.ts";
import { applyOp, describe, type GuardSettings, type QueueOp, type WorkerReply } from "./writer-queue.ts";
import { DiskGuard, GuardedApplier } from "./write-guard.ts";
import { JournalStage, type JournalSettings } from "./journal-stage.ts";
import type { CloseSummary } from "./types.ts";

const port = parentPort;
if (!port) throw new Error("writer-worker.ts must run in a worker_thread");

let writer: NexusWriter | null = null;
let guarded: GuardedApplier | null = null;
let journal: JournalStage | null = null;
/** Checkpoints asked for while a batch is being journaled: applied after the batch's ops. */
let inBatch = false;
const deferred: number[] = [];
const reply = (m: WorkerReply) => port.postMessage(m);

type Msg =
  | { op: "batch"; ops: QueueOp[] }
  | { op: "create"; opts: NexusWriterOptions; guard: GuardSettings; journal?: JournalSettings }
  | { op: "close"; summary: CloseSummary }
  | { op: "retry" }
  | { op: "abort" };

port.on("message", (m: Msg) => {
  void handle(m).catch((e: Error) => reply({ type: "fatal", message: e.message, stack: e.stack }));
});

type Err = { message: string; name: string; key?: string; trigger?: number; op: string };
const opBytes = (op: QueueOp) => (op.op === "write" ? op.data.byteLength : 0);
/** The journal's own checkpoints were never counted by the queue on the Director's side. */
const counted = (op: QueueOp) => (op.op === "checkpoint" && op.internal ? 0 : 1);

async function handle(m: Msg): Promise<void> {
  if (m.op === "create") {
    writer = await NexusWriter.create(m.opts);
    const g = m.guard.reserveBytes > 0 ? new DiskGuard(m.guard.dir, m.guard.reserveBytes) : null;
    guarded = new GuardedApplier(writer, applyOp, g, (f) => reply({ type: "fault", kind: f.kind, message: f.message }));
    if (m.journal) {
      const w = writer;
      journal = new JournalStage(w.path, w.firstTrigger, m.opts.streams ?? [], m.journal, {
        checkpoint: (seq) => (inBatch ? deferred.push(seq) : applyCheckpoint(seq)),
        journaled: (trig) => (lastJournaled = trig),
        fault: (f) => reply({ type: "journalFault", kind: f.kind, message: f.message }),
      }, m.guard.dir);
    }
    reply({ type: "ready", scanNumber: writer.scanNumber, path: writer.path, firstTrigger: writer.firstTrigger });
    return;
  }
  if (!writer || !guarded) throw new Error(`op ${m.op} before create`);
  const w = writer;
  const g = guarded;
  if (m.op === "close") {
    const held = g.fault !== null || g.heldCount > 0;
    const dropped = g.dropHeld();
    if (dropped.length) reply({ type: "done", bytes: dropped.reduce((a, o) => a + opBytes(o), 0), count: dropped.reduce((a, o) => a + counted(o), 0) });
    const result = g.closeWriter(() => w.close(m.summary));
    // the file is closed: the journal goes, unless the file could not take every row (write fault: the held rows
    // are only in the journal, for donki recover once there is room; a stream not finalised)
    let journalStats;
    try {
      journalStats = await journal?.close(!held && result.unfinalised.length === 0);
    } catch (e) {
      reply({ type: "journalFault", kind: "journal", message: `closing the journal: ${(e as Error).message}` });
    }
    reply({ type: "closed", result, stats: { ...w.stats }, ...(journalStats ? { journal: journalStats } : {}) });
    return;
  }
  if (m.op === "abort") {
    w.abort();
    await journal?.close(false).catch(() => undefined); // the segments stay for donki recover
    reply({ type: "fatal", message: "aborted" });
    return;
  }
  if (m.op === "retry") {
    journal?.retry();
    const r = g.retry();
    const errors: Err[] = r.refused.map(({ op, err }) => ({ message: err.message, name: err.name, ...describe(op) }));
    reply({ type: "done", bytes: r.applied.reduce((a, o) => a + opBytes(o), 0), count: r.applied.reduce((a, o) => a + counted(o), 0), ...(errors.length ? { errors } : {}) });
    if (!g.fault) for (const op of r.applied) if (op.op === "checkpoint") journal?.flushed(op.seq);
    return;
  }
  // the journal first: every row and DONE record reaches the OS, and the Director hears which triggers did, before
  // the (slower) HDF5 writes of this batch
  if (journal) {
    inBatch = true;
    lastJournaled = 0;
    try {
      for (const op of m.ops) journal.take(op);
    } finally {
      inBatch = false;
    }
    // a batch with frames: tell the Director now, not after the HDF5 writes; small rows only: with the "done" reply
    if (lastJournaled && m.ops.some((o) => o.op === "write" && o.data.byteLength > 64 * 1024)) {
      reply({ type: "journaled", trigger: lastJournaled });
      lastJournaled = 0;
    }
    for (const seq of deferred.splice(0)) m.ops.push({ op: "checkpoint", seq, internal: true });
  }
  const errors: Err[] = [];
  let bytes = 0;
  let count = 0;
  const checkpoints: number[] = [];
  for (const op of m.ops) {
    const r = g.apply(op);
    if (!r.applied) continue; // held behind a write fault: acknowledged when retried or dropped
    if (r.refused) errors.push({ message: r.refused.message, name: r.refused.name, ...describe(op) });
    else if (op.op === "checkpoint" && !g.fault) checkpoints.push(op.seq);
    bytes += opBytes(op);
    count += counted(op);
  }
  reply({ type: "done", bytes, count, ...(errors.length ? { errors } : {}), ...(lastJournaled ? { journaled: lastJournaled } : {}) });
  lastJournaled = 0;
  for (const seq of checkpoints) journal?.flushed(seq);
}

let lastJournaled = 0;

/** A checkpoint outside a batch (the journal's clock): every op taken so far was applied already. */
function applyCheckpoint(seq: number): void {
  const g = guarded;
  if (!g) return;
  const r = g.apply({ op: "checkpoint", seq, internal: true });
  if (r.applied && !r.refused && !g.fault) journal?.flushed(seq);
}

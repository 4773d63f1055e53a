/**
 * worker_thread entry: owns one NexusWriter; applies queued ops in order through the write guard and acknowledges
 * them (the main thread's WriterQueue counts the backlog down on every "done"). After a write fault the ops are
 * held (not acknowledged) until "retry", or dropped at "close".
 */
import { parentPort } from "node:worker_threads";
import { NexusWriter, type NexusWriterOptions } from "./nexus-writer.ts";
import { applyOp, describe, type GuardSettings, type QueueOp, type WorkerReply } from "./writer-queue.ts";
import { DiskGuard, GuardedApplier } from "./write-guard.ts";
import type { CloseSummary } from "./types.ts";

const port = parentPort;
if (!port) throw new Error("writer-worker.ts must run in a worker_thread");

let writer: NexusWriter | null = null;
let guarded: GuardedApplier | null = null;
const reply = (m: WorkerReply) => port.postMessage(m);

type Msg =
  | { op: "batch"; ops: QueueOp[] }
  | { op: "create"; opts: NexusWriterOptions; guard: GuardSettings }
  | { op: "close"; summary: CloseSummary }
  | { op: "retry" }
  | { op: "abort" };

port.on("message", (m: Msg) => {
  void handle(m).catch((e: Error) => reply({ type: "fatal", message: e.message, stack: e.stack }));
});

type Err = { message: string; name: string; key?: string; trigger?: number; op: string };
const opBytes = (op: QueueOp) => (op.op === "write" ? op.data.byteLength : 0);

async function handle(m: Msg): Promise<void> {
  if (m.op === "create") {
    writer = await NexusWriter.create(m.opts);
    const g = m.guard.reserveBytes > 0 ? new DiskGuard(m.guard.dir, m.guard.reserveBytes) : null;
    guarded = new GuardedApplier(writer, applyOp, g, (f) => reply({ type: "fault", kind: f.kind, message: f.message }));
    reply({ type: "ready", scanNumber: writer.scanNumber, path: writer.path, firstTrigger: writer.firstTrigger });
    return;
  }
  if (!writer || !guarded) throw new Error(`op ${m.op} before create`);
  const w = writer;
  const g = guarded;
  if (m.op === "close") {
    const dropped = g.dropHeld();
    if (dropped.length) reply({ type: "done", bytes: dropped.reduce((a, o) => a + opBytes(o), 0), count: dropped.length });
    const result = g.closeWriter(() => w.close(m.summary));
    reply({ type: "closed", result, stats: { ...w.stats } });
    return;
  }
  if (m.op === "abort") {
    w.abort();
    reply({ type: "fatal", message: "aborted" });
    return;
  }
  if (m.op === "retry") {
    const r = g.retry();
    const errors: Err[] = r.refused.map(({ op, err }) => ({ message: err.message, name: err.name, ...describe(op) }));
    reply({ type: "done", bytes: r.applied.reduce((a, o) => a + opBytes(o), 0), count: r.applied.length, ...(errors.length ? { errors } : {}) });
    for (const op of r.applied) if (op.op === "checkpoint" && !g.fault) reply({ type: "checkpoint", seq: op.seq });
    return;
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
    count++;
  }
  reply({ type: "done", bytes, count, ...(errors.length ? { errors } : {}) });
  for (const seq of checkpoints) reply({ type: "checkpoint", seq });
}

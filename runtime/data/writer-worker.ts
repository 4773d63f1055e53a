/**
 * worker_thread entry: owns one NexusWriter; applies queued ops in order and acknowledges each one
 * (the main thread's WriterQueue counts the backlog down on every "done").
 */
import { parentPort } from "node:worker_threads";
import { NexusWriter, type NexusWriterOptions } from "./nexus-writer.ts";
import { applyOp, describe, type QueueOp, type WorkerReply } from "./writer-queue.ts";
import type { CloseSummary } from "./types.ts";

const port = parentPort;
if (!port) throw new Error("writer-worker.ts must run in a worker_thread");

let writer: NexusWriter | null = null;
const reply = (m: WorkerReply) => port.postMessage(m);

type Msg = { op: "batch"; ops: QueueOp[] } | { op: "create"; opts: NexusWriterOptions } | { op: "close"; summary: CloseSummary } | { op: "abort" };

port.on("message", (m: Msg) => {
  void handle(m).catch((e: Error) => reply({ type: "fatal", message: e.message, stack: e.stack }));
});

async function handle(m: Msg): Promise<void> {
  if (m.op === "create") {
    writer = await NexusWriter.create(m.opts);
    reply({ type: "ready", scanNumber: writer.scanNumber, path: writer.path, firstTrigger: writer.firstTrigger });
    return;
  }
  if (!writer) throw new Error(`op ${m.op} before create`);
  if (m.op === "close") {
    const result = writer.close(m.summary);
    reply({ type: "closed", result, stats: { ...writer.stats } });
    return;
  }
  if (m.op === "abort") {
    writer.abort();
    reply({ type: "fatal", message: "aborted" });
    return;
  }
  const errors: Array<{ message: string; name: string; key?: string; trigger?: number; op: string }> = [];
  let bytes = 0;
  for (const op of m.ops) {
    try {
      applyOp(writer, op);
    } catch (e) {
      errors.push({ message: (e as Error).message, name: (e as Error).name, ...describe(op) });
    }
    if (op.op === "write") bytes += op.data.byteLength;
  }
  reply({ type: "done", bytes, count: m.ops.length, ...(errors.length ? { errors } : {}) });
}

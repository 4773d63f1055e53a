/**
 * Test fixture (not a test): writes frames, flushes after FLUSH_AT, writes a few more without flushing,
 * then waits to be killed with SIGKILL. Usage: node --import tsx crash-child.ts DIR FLUSH_AT EXTRA
 */
import { NexusWriter } from "../nexus-writer.ts";

const [dir, flushAtS, extraS] = process.argv.slice(2);
const flushAt = Number(flushAtS);
const extra = Number(extraS);
const H = 64;
const W = 48;
const w = await NexusWriter.create({
  dir: dir!,
  prefix: "crash",
  run: { runId: "crash-run", title: "crash test", program: "donki-test", version: "0", startTime: new Date(), plannedTriggers: null, metadata: {} },
  streams: [
    { player: "ccd", name: "frame", dtype: "uint16", shape: [H, W], role: "signal" },
    { player: "pd", name: "i0", dtype: "float64", shape: [], role: "monitor" },
  ],
  flushEveryTriggers: 0,
  flushEverySeconds: 0,
});
const frame = (t: number) => new Uint8Array(new Uint16Array(H * W).fill(t).buffer);
const scalar = (t: number) => new Uint8Array(new Float64Array([t * 1.5]).buffer);
for (let t = 1; t <= flushAt + extra; t++) {
  w.noteTrigger(t);
  w.write("ccd/frame", t, frame(t));
  w.write("pd/i0", t, scalar(t));
  if (t === flushAt) {
    w.flush();
    process.stdout.write(`FLUSHED ${t} ${w.path}\n`);
  }
}
process.stdout.write("WAITING\n");
setInterval(() => {}, 1000);

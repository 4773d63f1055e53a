import { NexusWriter } from "../nexus-writer.ts";
const dir = "/tmp/h5exp/smoke"; 
import * as fs from "node:fs"; fs.rmSync(dir, { recursive: true, force: true });
const run = { runId: "r1", title: "smoke", scenarioText: "a: 1\n", scenarioHash: "abc", scenarioName: "twinmic", program: "donki", version: "0.1.0", startTime: new Date(), plannedTriggers: 6, raster: { axes: ["stage/y", "stage/x"] as [string,string], shape: [2, 3] as [number,number], snake: true }, metadata: { sample: "S1", user: "ann", proposal: "P42" } };
const w = await NexusWriter.create({ dir, prefix: "scan", run, streams: [
  { player: "stage", name: "x", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "stage", name: "y", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "ccd", name: "frame", dtype: "uint16", shape: [4, 5], role: "signal" },
  { player: "pd", name: "i0", dtype: "float32", shape: [], role: "monitor", units: "counts" },
]});
const f64 = (v: number) => new Uint8Array(new Float64Array([v]).buffer);
const f32 = (v: number) => new Uint8Array(new Float32Array([v]).buffer);
for (const t of [2, 1, 3, 5, 6, 4]) {
  w.noteTrigger(t);
  const r = t - 1, iy = Math.floor(r / 3); let ix = r % 3; if (iy % 2) ix = 2 - ix;
  w.write("stage/x", t, f64(ix * 10)); w.write("stage/y", t, f64(iy * 5));
  if (t !== 5) w.write("ccd/frame", t, new Uint8Array(new Uint16Array(20).fill(t).buffer));
  w.write("pd/i0", t, f32(t * 100));
}
w.flush();
console.log(w.close({ status: "completed", lastTrigger: 6 }));
import { readRunSummary, formatRunSummary } from "../reader.ts";
console.log(formatRunSummary(await readRunSummary(w.path)));

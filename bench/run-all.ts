/**
 * All benchmarks, each measured against its reference in the same run (npm run bench). Results are printed and
 * written to bench/results/latest.json; docs/benchmarks.md records them.
 *   npm run bench                # everything (several minutes)
 *   npm run bench -- --quick     # smaller sizes
 *   npm run bench -- --directions  # also the trigger-path alternatives of issue 17 (koffi, PUB broadcast)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { cpus, totalmem } from "node:os";
import { benchTriggers } from "./triggers.ts";
import { benchFrames } from "./frames.ts";
import { benchSimSpeed } from "./sim-speed.ts";
import { benchHdf5Write } from "./hdf5-write.ts";
import { benchJournal } from "./journal.ts";
import { benchRegistrationStorm } from "./registration-storm.ts";
import { benchDocuments } from "./documents.ts";
import { benchEfficiency } from "./efficiency.ts";

const quick = process.argv.includes("--quick");
const HERE = dirname(fileURLToPath(import.meta.url));
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGB: Math.round(totalmem() / 2 ** 30), node: process.version },
};

console.log("== trigger rate (empty actions, each player a process) vs net TCP, zeromq.js PAIR, pyzmq PAIR, bare zeromq.js");
results.triggers = await benchTriggers({ triggers: quick ? 5000 : 20_000, rounds: quick ? 1 : 3, rttSamples: quick ? 5000 : 20_000, directions: process.argv.includes("--directions") });
console.log("\n== run documents on the event stream: trigger rate with and without the document tap (interleaved)");
const docs = await benchDocuments({ triggers: quick ? 2000 : 5000, rounds: quick ? 3 : 5 });
console.log(`plain sink ${docs.plainPerS.toFixed(0)} triggers/s, with documents ${docs.documentsPerS.toFixed(0)} triggers/s: ratio ${docs.ratio.toFixed(3)}`);
results.documents = docs;
console.log("\n== frames: player process -> Director -> HDF5 vs fs.writeSync");
results.frames = await benchFrames({ frames: quick ? 300 : 2000 });
console.log("\n== HDF5 writer alone (WriterQueue in a worker) vs fs.writeSync");
const h = await benchHdf5Write({ frames: quick ? 100 : 300 });
console.log(`NexusWriter ${h.hdf5.mbPerS.toFixed(0)} MB/s vs writeSync ${h.writeSync.mbPerS.toFixed(0)} MB/s: ratio ${h.ratio.toFixed(2)}, peak RSS ${h.peakRssMB.toFixed(0)} MB`);
results.hdf5Write = h;
console.log("\n== write-ahead journal: frames MB/s and trigger rate with and without it (same run, alternating)");
results.journal = await benchJournal({ frames: quick ? 100 : 300, triggers: quick ? 1000 : 3000, rounds: quick ? 2 : 3 });
console.log("\n== virtual-time speed of the full twin endstation");
results.simSpeed = await benchSimSpeed({ points: quick ? 40 : 100 });
results.simSpeedInProcess = await benchSimSpeed({ points: quick ? 40 : 100, inProcess: true });
console.log("\n== scan efficiency of the demo raster (exposure / instrument time, virtual time): sequential vs overlap");
results.efficiency = await benchEfficiency();
console.log("\n== a storm of registrations against an idle Director (pyzmq peer)");
results.registrationStorm = await benchRegistrationStorm({ registrations: quick ? 5000 : 20_000 });
mkdirSync(join(HERE, "results"), { recursive: true });
writeFileSync(join(HERE, "results", "latest.json"), JSON.stringify(results, null, 2) + "\n");
console.log(`\nwritten: bench/results/latest.json`);

/**
 * Cost of the write-ahead journal (runtime/data/journal.ts), measured in one run with and without it:
 * - frames: a player process pushes 1300x1340 uint16 frames (3.5 MB) through the Director into the NeXus file;
 * - trigger rate: a player process pushes 10 float64 scalars per trigger.
 * Runs alternate (off, on[, kill], off, on, ...) on the same Director and player processes; every run is printed,
 * the best run of each mode and the medians compared; the Director process's CPU time per trigger is printed too.
 * "kill": frames with the journal but without its power-loss fdatasync of the HDF5 file (kill-safe only), to show
 * what the power-loss bound costs. Goal: <= 5 % on frames, <= 10 % on triggers.
 *   node --import tsx bench/journal.ts [--frames N] [--triggers N] [--rounds N]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { join, dirname } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Director } from "../runtime/director/director.ts";
import { NexusSink } from "../runtime/data/nexus-sink.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const MB = 1e6;

export interface JournalBenchResult {
  frames: { n: number; offMBs: number; onMBs: number; cost: number; durableOffMBs: number; durableCost: number };
  triggers: { n: number; streams: number; offPerS: number; onPerS: number; cost: number };
  rounds: number;
  syncSeconds: number;
}

interface Measured {
  off: number;
  on: number;
  /** The journal without its power-loss fdatasync (kill-safe only): what the power-loss bound costs. */
  kill: number;
  /** No journal, the file fdatasync'ed once after its close (timed): a durable file without a journal. */
  offsync: number;
  /** Every counted run of each mode (the spread). */
  all: Record<Mode, number[]>;
  /** CPU time of the Director's process (main thread + writer worker) per trigger, ms, every counted run. */
  cpu: Record<Mode, number[]>;
  /** The journal's own counters summed over the runs with it. */
  journal: { bytes: number; journalSyncs: number; fileSyncs: number; released: number; maxSyncLagMs: number };
}

type Mode = "off" | "on" | "kill" | "offsync";

async function measure(script: string, opts: Record<string, string>, n: number, rounds: number, bytesPerTrigger: number, withKill = false): Promise<Measured> {
  const dir = fs.mkdtempSync(join(os.tmpdir(), "donki-bench-journal-"));
  const d = new Director();
  const ep = await d.start();
  const args = [join(HERE, "../bin/donki.mjs"), "player", "--name", "p", "--level", "0", "--director", ep.player, "--script", join(HERE, script)];
  for (const [k, v] of Object.entries(opts)) args.push("-o", `${k}=${v}`);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DONKI_LOG: "warn" } });
  const best: Record<Mode, number> = { off: 0, on: 0, kill: 0, offsync: 0 };
  const all: Record<Mode, number[]> = { off: [], on: [], kill: [], offsync: [] };
  const cpu: Record<Mode, number[]> = { off: [], on: [], kill: [], offsync: [] };
  const journal = { bytes: 0, journalSyncs: 0, fileSyncs: 0, released: 0, maxSyncLagMs: 0 };
  try {
    await d.waitForPlayers(["p"], 30_000);
    // run 0 warms up (JIT, page cache, the player's allocator) and is not counted
    const cycle: Mode[] = withKill ? ["off", "on", "kill", "offsync"] : ["off", "on"];
    for (let r = 0; r <= rounds * cycle.length; r++) {
      const mode: Mode = r === 0 ? "on" : cycle[(r - 1) % cycle.length]!;
      const sink = new NexusSink({
        dir,
        prefix: `j${mode}`,
        run: { title: "journal benchmark", program: "donki", version: "bench", metadata: {} },
        flushEveryTriggers: 100,
        queue: { maxBytes: 64 * 1024 * 1024 },
        journal: mode === "off" || mode === "offsync" ? false : { syncSeconds: 1, fileSync: mode === "on" },
      });
      let t0 = 0;
      const cpu0 = process.cpuUsage();
      const res = await d.run({ triggers: n, require: ["p"], sink, onTrigger: (t) => (t === 1 ? (t0 = performance.now()) : undefined) });
      if (mode === "offsync" && sink.result) syncFile(sink.result.file);
      const s = (performance.now() - t0) / 1000; // includes draining the queue and closing the file (and its sync)
      const c = process.cpuUsage(cpu0);
      if (r > 0) cpu[mode].push((c.user + c.system) / 1000 / n); // ms of CPU per trigger, Director process (all threads)
      if (res.status !== "completed") throw new Error(`journal benchmark run: ${res.status} ${res.message ?? ""}`);
      const rate = ((n - 1) * (bytesPerTrigger || 1)) / s;
      if (r > 0) best[mode] = Math.max(best[mode], rate);
      if (r > 0) all[mode].push(rate);
      const js = sink.result?.journal;
      if (js && mode === "on") {
        journal.bytes += js.bytes;
        journal.journalSyncs += js.journalSyncs;
        journal.fileSyncs += js.fileSyncs;
        journal.released += js.released;
        journal.maxSyncLagMs = Math.max(journal.maxSyncLagMs, js.maxSyncLagMs);
      }
      for (const f of fs.readdirSync(dir)) fs.rmSync(join(dir, f));
    }
  } finally {
    child.kill("SIGTERM");
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ...best, all, cpu, journal };
}

function syncFile(path: string): void {
  const fd = fs.openSync(path, "r");
  fs.fdatasyncSync(fd);
  fs.closeSync(fd);
}

const spread = (xs: number[], unit: number) => xs.map((x) => (x / unit).toFixed(0)).join(", ");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const medianCost = (m: Measured) =>
  `cost of the medians ${((1 - median(m.all.on) / median(m.all.off)) * 100).toFixed(1)} %; Director CPU per trigger (median) ${median(m.cpu.off).toFixed(2)} -> ${median(m.cpu.on).toFixed(2)} ms`;
const journalLine = (j: Measured["journal"]) =>
  `journal ${(j.bytes / MB).toFixed(0)} MB written to the OS, ${j.released} segments dropped after ${j.fileSyncs} HDF5 fdatasyncs (longest lag ${(j.maxSyncLagMs / 1000).toFixed(1)} s), ${j.journalSyncs} journal fdatasyncs`;

export async function benchJournal(o: { frames?: number; triggers?: number; rounds?: number; log?: (s: string) => void } = {}): Promise<JournalBenchResult> {
  const log = o.log ?? console.log;
  const rounds = o.rounds ?? 3;
  const nf = o.frames ?? 300;
  const nt = o.triggers ?? 3000;
  const frameBytes = 1300 * 1340 * 2;
  const f = await measure("frame-player.ts", {}, nf, rounds, frameBytes, true);
  const frames = { n: nf, offMBs: f.off / MB, onMBs: f.on / MB, cost: 1 - f.on / f.off, durableOffMBs: f.offsync / MB, durableCost: 1 - f.on / f.offsync };
  log(`frames (3.5 MB):  without journal ${frames.offMBs.toFixed(0)} MB/s, with ${frames.onMBs.toFixed(0)} MB/s: cost ${(frames.cost * 100).toFixed(1)} % (goal <= 5 %)`);
  log(`  runs without: ${spread(f.all.off, MB)} MB/s; with: ${spread(f.all.on, MB)} MB/s; ${medianCost(f)}; ${journalLine(f.journal)}`);
  log(
    `  against a durable file without journal (fdatasync after the close, timed): best ${(f.offsync / MB).toFixed(0)} MB/s; runs ${spread(f.all.offsync, MB)} MB/s; ` +
      `cost of the journal ${((1 - f.on / f.offsync) * 100).toFixed(1)} % (best), ${((1 - median(f.all.on) / median(f.all.offsync)) * 100).toFixed(1)} % (medians)`,
  );
  log(
    `  journal without the power-loss fdatasync (kill-safe only): best ${(f.kill / MB).toFixed(0)} MB/s, cost ${((1 - f.kill / f.off) * 100).toFixed(1)} %; runs ${spread(f.all.kill, MB)} MB/s; ` +
      `cost of the medians ${((1 - median(f.all.kill) / median(f.all.off)) * 100).toFixed(1)} %; Director CPU per trigger (median) ${median(f.cpu.kill).toFixed(2)} ms`,
  );
  const t = await measure("scalar-player.ts", { n: "10" }, nt, rounds, 0);
  const triggers = { n: nt, streams: 10, offPerS: t.off, onPerS: t.on, cost: 1 - t.on / t.off };
  log(`triggers (10 scalars each): without journal ${triggers.offPerS.toFixed(0)}/s, with ${triggers.onPerS.toFixed(0)}/s: cost ${(triggers.cost * 100).toFixed(1)} % (goal <= 10 %)`);
  log(`  runs without: ${spread(t.all.off, 1)}/s; with: ${spread(t.all.on, 1)}/s; ${medianCost(t)}; ${journalLine(t.journal)}`);
  return { frames, triggers, rounds, syncSeconds: 1 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  await benchJournal({ frames: arg("--frames"), triggers: arg("--triggers"), rounds: arg("--rounds") });
}

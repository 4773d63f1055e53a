/**
 * The journal where the writer runs (journal-stage.ts), through the real writer queue and its worker thread:
 * - a trigger is reported journaled only after its DONE record (and every row before it) is in the journal;
 * - segments are dropped once the HDF5 file is flushed and fdatasync'ed past them (no journal fdatasync needed);
 * - a crash between the journal and the HDF5 file loses nothing reported: recover writes it;
 * - a writer held by a write fault never gets its segments dropped: they are kept for recover.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { WriterQueue } from "./writer-queue.ts";
import { journalSegments, readJournal } from "./journal.ts";
import { recoverScan } from "./recover.ts";
import { readStream } from "./reader.ts";
import { freeBytes } from "./write-guard.ts";
import type { RunInfo, StreamSpec } from "./types.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const freshDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "donki-jstage-"));
  dirs.push(d);
  return d;
};

const H = 40;
const W = 50;
const run = (planned: number): RunInfo => ({
  runId: "run-j",
  title: "journal stage test",
  program: "donki",
  version: "0.1.0",
  startTime: new Date("2030-01-02T03:04:05Z"),
  plannedTriggers: planned,
  metadata: {},
});
const streams: StreamSpec[] = [
  { player: "ccd", name: "frame", dtype: "uint16", shape: [H, W], units: "counts", role: "signal" },
  { player: "pd", name: "i0", dtype: "float64", shape: [], units: "nA", role: "monitor" },
];
const frame = (t: number) => new Uint8Array(new Uint16Array(H * W).map((_, i) => (t * 7 + i) & 0xffff).buffer);
const f64 = (v: number) => new Uint8Array(new Float64Array([v]).buffer);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wait (bounded) until `cond` holds; the test fails on the assertion after it, not on the clock. */
async function until(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
}

function push(q: WriterQueue, t: number): void {
  q.push("ccd/frame", t, frame(t));
  q.push("pd/i0", t, f64(t / 4));
  q.noteTrigger(t);
}

describe("journal in the writer's worker", () => {
  it("reports a trigger journaled after its DONE record is written; drops segments once the HDF5 file is synced past them", async () => {
    const dir = freshDir();
    const journaled: number[] = [];
    const q = await WriterQueue.open(
      { dir, prefix: "js", run: run(60), streams, flushEveryTriggers: 1000, flushEverySeconds: 0 },
      { journal: { syncSeconds: 0.1, reserveBytes: 0, runId: "run-j" }, onJournaled: (t) => journaled.push(t) },
    );
    const file = q.path;
    for (let t = 1; t <= 30; t++) push(q, t);
    await until(() => journaled.at(-1) === 30);
    // everything reported is in the journal (written to the OS), whatever the HDF5 file holds yet
    let c = readJournal(file);
    for (const t of journaled) expect(c.done.has(t), `DONE ${t}`).toBe(true);
    // the clock rotates the segment; the file is flushed and fdatasync'ed past it; the segment goes
    await until(() => !journalSegments(file).some((p) => p.endsWith("-000001")));
    expect(journalSegments(file).some((p) => p.endsWith("-000001"))).toBe(false);
    for (let t = 31; t <= 60; t++) push(q, t);
    await until(() => journaled.at(-1) === 60);
    c = readJournal(file);
    expect(c.torn).toEqual([]);
    const res = await q.close({ status: "completed", lastTrigger: 60 });
    // in order, each once (the journaled message may cover several triggers: the queue reports the last of a batch)
    expect(journaled.every((t, i) => i === 0 || t > journaled[i - 1]!)).toBe(true);
    expect(res.journal!.released).toBeGreaterThanOrEqual(1);
    expect(res.journal!.fileSyncs).toBeGreaterThanOrEqual(1);
    // the writer kept up: no segment needed an fdatasync of its own (its bytes were never asked to reach the disk)
    expect(res.journal!.journalSyncs).toBe(0);
    expect(journalSegments(file)).toEqual([]); // closed with every row: the journal is gone
    const s = await readStream(file, "ccd/frame");
    expect([0, 1, 2].map((i) => s.rows[59 * H * W + i])).toEqual([(60 * 7) & 0xffff, (60 * 7 + 1) & 0xffff, (60 * 7 + 2) & 0xffff]);
  });

  it("closing with every row: the file (and its directory entry) is fdatasync'ed before the journal goes; kill-safe only mode skips it", async () => {
    for (const fileSync of [true, false]) {
      const dir = freshDir();
      // a sync period far longer than the test: the only HDF5 fdatasync can be the one at close
      const q = await WriterQueue.open(
        { dir, prefix: "jc", run: run(5), streams, flushEveryTriggers: 1000, flushEverySeconds: 0 },
        { journal: { syncSeconds: 3600, reserveBytes: 0, runId: "run-j", fileSync } },
      );
      for (let t = 1; t <= 5; t++) push(q, t);
      const res = await q.close({ status: "completed", lastTrigger: 5 });
      expect(res.journal!.fileSyncs, `fileSync ${fileSync}`).toBe(fileSync ? 1 : 0);
      expect(journalSegments(q.path)).toEqual([]);
      expect(Array.from((await readStream(q.path, "pd/i0")).rows)).toEqual([1, 2, 3, 4, 5].map((t) => t / 4));
    }
  });

  it("a crash between the journal and the HDF5 file: every trigger reported journaled is in the file after recover", async () => {
    const dir = freshDir();
    let last = 0;
    const q = await WriterQueue.open(
      // no flush during the run: the HDF5 file has none of the rows when the writer stops
      { dir, prefix: "jc", run: run(25), streams, flushEveryTriggers: 0, flushEverySeconds: 0 },
      { journal: { syncSeconds: 100, reserveBytes: 0, runId: "run-j" }, onJournaled: (t) => (last = t) },
    );
    const file = q.path;
    for (let t = 1; t <= 25; t++) push(q, t);
    await until(() => last === 25);
    expect(last).toBe(25);
    await q.abort(); // the writer stops where it is; the file is as of its last flush
    const rep = await recoverScan(file);
    expect(rep.doneTriggers).toBe(25);
    expect(rep.recoveredThrough).toBe(25);
    const s = await readStream(file, "ccd/frame");
    for (const t of [1, 13, 25]) expect(s.rows[(t - 1) * H * W + 5], `trigger ${t}`).toBe((t * 7 + 5) & 0xffff);
    const i0 = await readStream(file, "pd/i0");
    expect(Array.from(i0.rows)).toEqual(Array.from({ length: 25 }, (_, i) => (i + 1) / 4));
    expect(journalSegments(file)).toEqual([]);
  });

  it("a writer held by a write fault: segments are never dropped, the journal keeps every trigger for recover", async () => {
    const dir = freshDir();
    const faults: string[] = [];
    const journaled: number[] = [];
    const q = await WriterQueue.open(
      { dir, prefix: "jf", run: run(12), streams, flushEveryTriggers: 1000, flushEverySeconds: 0 },
      {
        // a reserve larger than the disk: the writer's first row is a disk-full fault; the journal has no reserve
        reserveBytes: freeBytes(dir) * 4,
        onFault: (f) => faults.push(f.message),
        journal: { syncSeconds: 0.1, reserveBytes: 0, runId: "run-j" },
        onJournaled: (t) => journaled.push(t),
      },
    );
    const file = q.path;
    for (let t = 1; t <= 12; t++) {
      push(q, t);
      if (t % 4 === 0) await sleep(120); // let the journal's clock rotate segments while the writer is held
    }
    await until(() => journaled.at(-1) === 12 && journalSegments(file).length >= 2);
    expect(faults[0]).toMatch(/disk full/);
    expect(journalSegments(file).length).toBeGreaterThanOrEqual(2);
    const res = await q.close({ status: "aborted", lastTrigger: 12 });
    expect(res.journal!.released).toBe(0);
    const c = readJournal(file);
    expect([...c.done.keys()]).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(c.torn).toEqual([]);
    const rep = await recoverScan(file);
    expect(rep.recoveredThrough).toBe(12);
    const i0 = await readStream(file, "pd/i0");
    expect(Array.from(i0.rows)).toEqual(Array.from({ length: 12 }, (_, i) => (i + 1) / 4));
  });
});

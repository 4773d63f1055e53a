import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NexusWriter, TriggerOutOfRunError } from "./nexus-writer.ts";
import { formatRunSummary, readRunSummary, readStream } from "./reader.ts";
import { h5dump, dumpAttr, dumpData } from "./testing/h5dump.ts";
import type { RunInfo, StreamSpec } from "./types.ts";
import { WriterQueue } from "./writer-queue.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
let root: string;
let n = 0;
const freshDir = () => {
  const d = path.join(root, `t${++n}`);
  fs.mkdirSync(d);
  return d;
};

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "donki-data-"));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const run = (over: Partial<RunInfo> = {}): RunInfo => ({
  runId: "run-1",
  title: "unit test scan",
  scenarioText: "name: test\nraster: {nx: 3, ny: 2}\n",
  scenarioHash: "deadbeef",
  scenarioName: "test-scenario",
  program: "donki",
  version: "0.1.0",
  startTime: new Date("2030-01-02T03:04:05Z"),
  plannedTriggers: 6,
  metadata: { sample: "Fe foil", user: "ann", proposal: "20300042" },
  ...over,
});

const H = 6;
const W = 5;
const streams: StreamSpec[] = [
  { player: "stage", name: "x", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "stage", name: "y", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "ccd", name: "frame", dtype: "uint16", shape: [H, W], units: "counts", role: "signal" },
  { player: "mca", name: "spectrum", dtype: "uint32", shape: [8], role: "signal" },
  { player: "pd", name: "i0", dtype: "float32", shape: [], units: "nA", role: "monitor" },
];
const f64 = (v: number) => new Uint8Array(new Float64Array([v]).buffer);
const f32 = (v: number) => new Uint8Array(new Float32Array([v]).buffer);
const frame = (t: number) => new Uint8Array(new Uint16Array(H * W).map((_, i) => t * 100 + i).buffer);
const spectrum = (t: number) => new Uint8Array(new Uint32Array(8).fill(t).buffer);
/** raster 2 x 3, snake: trigger -> (x, y) */
const pos = (t: number) => {
  const r = t - 1;
  const iy = Math.floor(r / 3);
  const ix = iy % 2 ? 2 - (r % 3) : r % 3;
  return { x: ix * 10, y: iy * 5 };
};

function writeAll(w: NexusWriter, t: number, skip: string[] = []) {
  const p = pos(t);
  if (!skip.includes("stage/x")) w.write("stage/x", t, f64(p.x));
  if (!skip.includes("stage/y")) w.write("stage/y", t, f64(p.y));
  if (!skip.includes("ccd/frame")) w.write("ccd/frame", t, frame(t));
  if (!skip.includes("mca/spectrum")) w.write("mca/spectrum", t, spectrum(t));
  if (!skip.includes("pd/i0")) w.write("pd/i0", t, f32(t * 2));
}

describe("NexusWriter: layout, placement, masks", () => {
  let file: string;
  let closeResult: ReturnType<NexusWriter["close"]>;

  beforeAll(async () => {
    const dir = freshDir();
    const w = await NexusWriter.create({
      dir,
      prefix: "scan",
      run: run({ raster: { axes: ["stage/y", "stage/x"], shape: [2, 3], snake: true } }),
      streams,
    });
    // out of order; trigger 4 has no frame and no i0; trigger 6 arrives without spectrum
    for (const t of [3, 1, 2, 6, 5, 4]) {
      w.noteTrigger(t);
      writeAll(w, t, t === 4 ? ["ccd/frame", "pd/i0"] : t === 6 ? ["mca/spectrum"] : []);
    }
    closeResult = w.close({ status: "completed", lastTrigger: 6 });
    file = closeResult.path;
  });

  it("names the file <prefix>_<NNNNN>.nxs and reports completeness", () => {
    expect(path.basename(file)).toBe("scan_00001.nxs");
    expect(closeResult.scanNumber).toBe(1);
    const by = Object.fromEntries(closeResult.perStream.map((p) => [p.key, p]));
    expect(by["ccd/frame"]).toEqual({ key: "ccd/frame", complete: false, missing: [4] });
    expect(by["pd/i0"]!.missing).toEqual([4]);
    expect(by["mca/spectrum"]!.missing).toEqual([6]);
    expect(by["stage/x"]!.complete).toBe(true);
  });

  it("has the NeXus tree and attributes (h5dump)", () => {
    const r = h5dump(["-H", "-A", file]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const cls = (p: string) => dumpAttr(file, p, "NX_class");
    expect(cls("/entry")).toBe('"NXentry"');
    expect(cls("/entry/instrument")).toBe('"NXinstrument"');
    expect(cls("/entry/instrument/ccd")).toBe('"NXdetector"');
    // the raster's positioner streams are NXstxm's position records
    expect(cls("/entry/instrument/sample_x")).toBe('"NXdetector"');
    expect(cls("/entry/instrument/sample_y")).toBe('"NXdetector"');
    expect(cls("/entry/instrument/pd")).toBe('"NXcollection"');
    expect(cls("/entry/instrument/source")).toBe('"NXsource"');
    expect(cls("/entry/instrument/monochromator")).toBe('"NXmonochromator"');
    expect(cls("/entry/scenario")).toBe('"NXnote"');
    expect(cls("/entry/user")).toBe('"NXuser"');
    expect(cls("/entry/sample")).toBe('"NXsample"');
    expect(cls("/entry/data")).toBe('"NXdata"');
    expect(cls("/entry/stxm")).toBe('"NXsubentry"');
    expect(dumpData(file, "/entry/definition")).toEqual(['"NXstxm"']);
    expect(dumpAttr(file, "/", "default")).toBe('"entry"');
    expect(dumpAttr(file, "/entry", "default")).toBe('"data"');
    expect(dumpAttr(file, "/entry/data", "signal")).toBe('"data"');
    expect(dumpAttr(file, "/entry/data", "axes")).toBe('"sample_y", "sample_x"');
    expect(dumpData(file, "/entry/data/stxm_scan_type")).toEqual(['"sample image"']);
    // the detector's main stream is its `data` (a hard link when the stream keeps its name)
    expect(dumpAttr(file, "/entry/instrument/ccd/data", "donki_stream")).toBe('"ccd/frame"');
    expect(dumpAttr(file, "/entry/instrument/ccd/frame", "units")).toBe('"counts"');
    expect(dumpAttr(file, "/entry/instrument/sample_x/data", "units")).toBe('"um"');
    expect(dumpData(file, "/entry/entry_identifier")).toEqual(['"1"']);
    expect(dumpData(file, "/entry/title")).toEqual(['"unit test scan"']);
    // every trigger issued, rows missing: the status says so (runtime/protocol/run-status.ts)
    expect(dumpData(file, "/entry/status")).toEqual(['"completed-with-gaps"']);
    expect(dumpData(file, "/entry/status_message")[0]).toMatch(/gaps: ccd\/frame 4; mca\/spectrum 6; pd\/i0 4/);
    expect(dumpData(file, "/entry/sample/name")).toEqual(['"Fe foil"']);
    expect(dumpAttr(file, "/entry/program_name", "version")).toBe('"0.1.0"');
    expect(r.out).toMatch(/DATASET "end_time"/);
    // extendable along the trigger axis, one frame per chunk
    expect(r.out).toMatch(/DATASET "data"[\s\S]*?DATASPACE\s+SIMPLE \{ \( 6, 6, 5 \) \/ \( H5S_UNLIMITED, 6, 5 \) \}/);
    const dcpl = h5dump(["-p", "-H", "-d", "/entry/instrument/ccd/frame", file]).out;
    expect(dcpl).toMatch(/CHUNKED \( 1, 6, 5 \)/);
  });

  it("places rows by trigger number and masks the missing ones (h5dump and h5wasm)", async () => {
    expect(dumpData(file, "/entry/masks/ccd/frame")).toEqual(["1", "1", "1", "0", "1", "1"]);
    expect(dumpData(file, "/entry/masks/mca/spectrum")).toEqual(["1", "1", "1", "1", "1", "0"]);
    expect(dumpData(file, "/entry/triggers")).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(dumpAttr(file, "/entry/masks/ccd/frame", "missing")).toBe('"4"');
    expect(dumpAttr(file, "/entry/masks/ccd/frame", "complete")).toBe("0");
    // missing float rows are NaN, not zero
    expect(dumpData(file, "/entry/instrument/pd/i0")).toEqual(["2", "4", "6", "nan", "10", "12"]);
    const s = await readStream(file, "ccd/frame");
    expect(s.shape).toEqual([6, H, W]);
    for (const t of [1, 2, 3, 5, 6]) {
      expect(s.rows[(t - 1) * H * W]).toBe(t * 100);
      expect(s.rows[(t - 1) * H * W + H * W - 1]).toBe(t * 100 + H * W - 1);
    }
    expect(Array.from(s.mask)).toEqual([1, 1, 1, 0, 1, 1]);
    const x = await readStream(file, "stage/x");
    expect(Array.from(x.rows)).toEqual([0, 10, 20, 20, 10, 0]);
  });

  it("builds the raster image un-snaking the rows, on the planned axes, measured positions beside", () => {
    // no It/I0 and no scalar signal: the monitor i0 = 2t; row 1 is reversed; trigger 4 missing -> NaN at (1, 2)
    expect(dumpData(file, "/entry/data/data")).toEqual(["2", "4", "6", "12", "10", "nan"]);
    // a raster given by its shape only: index axes
    expect(dumpData(file, "/entry/data/sample_x")).toEqual(["0", "1", "2"]);
    expect(dumpData(file, "/entry/data/sample_y")).toEqual(["0", "1"]);
    expect(dumpData(file, "/entry/data/sample_x_measured")).toEqual(["0", "10", "20", "0", "10", "20"]);
    expect(dumpData(file, "/entry/data/sample_y_measured")).toEqual(["0", "0", "0", "5", "5", "5"]);
  });

  it("summarises the run with the reader", async () => {
    const s = await readRunSummary(file);
    expect(s.scanNumber).toBe(1);
    expect(s.title).toBe("unit test scan");
    expect(s.status).toBe("completed-with-gaps");
    expect(closeResult.status).toBe("completed-with-gaps");
    expect(closeResult.gaps.map((g) => `${g.stream} ${g.ranges}`)).toEqual(["ccd/frame 4", "mca/spectrum 6", "pd/i0 4"]);
    expect(s.scenarioName).toBe("test-scenario");
    expect(s.start?.toISOString()).toBe("2030-01-02T03:04:05.000Z");
    expect(s.end).toBeInstanceOf(Date);
    expect(s.lastTrigger).toBe(6);
    const frameS = s.perStream.find((p) => p.key === "ccd/frame")!;
    expect(frameS).toMatchObject({ shape: [H, W], dtype: "uint16", complete: false, missing: [4], units: "counts" });
    expect(s.perStream.find((p) => p.key === "stage/x")).toMatchObject({ shape: [], dtype: "float64", complete: true });
    const text = formatRunSummary(s);
    expect(text).toContain("scan 1");
    expect(text).toMatch(/ccd\/frame\s+uint16\s+\[6x5\]\s+5 rows\s+missing 1: 4/);
  });
});

describe("NexusWriter: validation", () => {
  it("rejects out-of-run triggers (counted) and wrong sizes (clear message)", async () => {
    const w = await NexusWriter.create({ dir: freshDir(), prefix: "scan", run: run({ plannedTriggers: 3 }), streams });
    expect(() => w.write("pd/i0", 0, f32(1))).toThrow(TriggerOutOfRunError);
    expect(() => w.write("pd/i0", 4, f32(1))).toThrow(/trigger 4 is outside this run \(1\.\.3\)/);
    expect(() => w.noteTrigger(-1)).toThrow(TriggerOutOfRunError);
    expect(w.stats.rejected).toBe(3);
    expect(() => w.write("ccd/frame", 1, new Uint8Array(10))).toThrow(
      'stream "ccd/frame" trigger 1: expected 60 bytes (uint16 x [6, 5]), got 10',
    );
    expect(() => w.write("nope/x", 1, f32(1))).toThrow(/unknown stream "nope\/x"/);
    expect(w.stats.invalid).toBe(2);
    w.write("pd/i0", 2, f32(7));
    w.write("pd/i0", 2, f32(8)); // duplicate: first one kept
    expect(w.stats.duplicates).toBe(1);
    const res = w.close({ status: "aborted", lastTrigger: 2, message: "user stop" });
    const s = await readRunSummary(res.path);
    expect(s.status).toBe("aborted");
    expect(s.message).toMatch(/^user stop; gaps: /);
    expect(s.perStream.find((p) => p.key === "pd/i0")!.missing).toEqual([1]);
    expect(dumpData(res.path, "/entry/instrument/pd/i0")).toEqual(["nan", "7"]);
  });

  it("an aborted run: the trigger it cut short is numbered (never 0), the status says aborted, last_trigger matches", async () => {
    const w = await NexusWriter.create({ dir: freshDir(), prefix: "scan", run: run(), streams });
    for (let t = 1; t <= 4; t++) {
      w.noteTrigger(t);
      writeAll(w, t);
    }
    // trigger 5 was issued; two streams delivered before the abort, it never completed every level
    w.write("stage/x", 5, f64(1));
    w.write("stage/y", 5, f64(2));
    const res = w.close({ status: "aborted", lastTrigger: 4, lastIssued: 5, message: "aborted by operator" });
    expect(res.status).toBe("aborted");
    expect(dumpData(res.path, "/entry/triggers")).toEqual(["1", "2", "3", "4", "5"]);
    expect(dumpData(res.path, "/entry/status")).toEqual(['"aborted"']);
    const s = await readRunSummary(res.path);
    expect(s.lastTrigger).toBe(5);
    expect(s.issued).toBe(5);
    expect(s.perStream.find((p) => p.key === "pd/i0")!.missing).toEqual([5]);
    expect(dumpData(res.path, "/entry/instrument/pd/i0")[4]).toBe("nan");
  });

  it("handles unaligned input without corrupting values", async () => {
    const w = await NexusWriter.create({ dir: freshDir(), prefix: "scan", run: run(), streams });
    const buf = new Uint8Array(1 + H * W * 2);
    buf.set(frame(1), 1);
    w.write("ccd/frame", 1, buf.subarray(1));
    const res = w.close({ status: "completed", lastTrigger: 1 });
    const s = await readStream(res.path, "ccd/frame");
    expect(Array.from(s.rows).slice(0, 3)).toEqual([100, 101, 102]);
  });
});

describe("NexusWriter: scan numbers never repeat, files are never overwritten", () => {
  it("takes max + 1 and leaves foreign files alone", async () => {
    const dir = freshDir();
    const foreign = path.join(dir, "scan_00007.nxs");
    fs.writeFileSync(foreign, "not mine");
    fs.writeFileSync(path.join(dir, "other_00099.nxs"), "other prefix");
    const a = await NexusWriter.create({ dir, prefix: "scan", run: run(), streams });
    const b = await NexusWriter.create({ dir, prefix: "scan", run: run(), streams });
    expect(a.scanNumber).toBe(8);
    expect(b.scanNumber).toBe(9);
    a.close({ status: "completed", lastTrigger: 0 });
    b.close({ status: "completed", lastTrigger: 0 });
    const c = await NexusWriter.create({ dir, prefix: "scan", run: run(), streams });
    expect(path.basename(c.path)).toBe("scan_00010.nxs");
    c.close({ status: "failed", lastTrigger: 0 });
    expect(fs.readFileSync(foreign, "utf8")).toBe("not mine");
    expect(h5dump(["-H", a.path]).code).toBe(0);
  });
});

describe("NexusWriter: unbounded runs and streams joining mid-run", () => {
  it("grows past the first chunk and aligns a late stream", async () => {
    const w = await NexusWriter.create({
      dir: freshDir(),
      prefix: "scan",
      run: run({ plannedTriggers: null, raster: undefined }),
      streams: [streams[4]!],
      flushEveryTriggers: 500,
    });
    const N = 2500;
    for (let t = 1; t <= N; t++) {
      w.noteTrigger(t);
      w.write("pd/i0", t, f32(t));
      if (t === 1000) w.addStream({ player: "late", name: "temp", dtype: "int32", shape: [], role: "metadata", units: "K" });
      if (t > 1000) w.write("late/temp", t, new Uint8Array(new Int32Array([-t]).buffer));
    }
    const res = w.close({ status: "completed", lastTrigger: N });
    expect(res.perStream.find((p) => p.key === "late/temp")!.missing).toHaveLength(1000);
    const s = await readRunSummary(res.path);
    expect(s.lastTrigger).toBe(N);
    const i0 = await readStream(res.path, "pd/i0");
    expect(i0.shape).toEqual([N]);
    expect(i0.rows[N - 1]).toBe(N);
    const temp = await readStream(res.path, "late/temp");
    expect(temp.shape).toEqual([N]);
    expect(temp.rows[N - 1]).toBe(-N);
    expect(temp.mask[999]).toBe(0);
    expect(temp.mask[1000]).toBe(1);
    expect(dumpAttr(res.path, "/entry/instrument/late", "NX_class")).toBe('"NXcollection"');
    expect(dumpAttr(res.path, "/entry/masks/late/temp", "missing")).toBe('"1-1000"');
    expect(h5dump(["-H", res.path]).out).toMatch(/\( 2500 \) \/ \( H5S_UNLIMITED \)/);
  });
});

describe("NexusWriter: rollover", () => {
  it("splits into parts linked from a master; h5dump follows the external links", async () => {
    const dir = freshDir();
    const w = await NexusWriter.create({ dir, prefix: "roll", run: run({ plannedTriggers: 7, raster: undefined }), streams, rolloverTriggers: 3 });
    for (const t of [1, 2, 3, 4, 6, 5, 7]) {
      w.noteTrigger(t);
      writeAll(w, t, t === 5 ? ["mca/spectrum"] : []);
    }
    // late data for part 1 after part 3 opened
    const res = w.close({ status: "completed", lastTrigger: 7 });
    expect(path.basename(res.path)).toBe("roll_00001.nxs");
    expect(res.parts.map((p) => path.basename(p))).toEqual(["roll_00001_part00001.nxs", "roll_00001_part00002.nxs", "roll_00001_part00003.nxs"]);
    const r = h5dump(["-H", res.path]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/EXTERNAL_LINK "part00002" \{\s*TARGETFILE "roll_00001_part00002.nxs"\s*TARGETPATH "\/entry"/);
    // resolve through the link, from another working directory
    const viaLink = spawnSyncIn(os.tmpdir(), ["-d", "/entry/part00002/instrument/pd/i0", res.path]);
    expect(viaLink).toMatch(/\(0\): 8, 10, 12/);
    expect(dumpData(res.parts[2]!, "/entry/triggers")).toEqual(["7"]);
    expect(dumpAttr(res.parts[1]!, "/entry", "first_trigger")).toBe("4");
    expect(dumpData(res.path, "/entry/masks/mca/spectrum")).toEqual(["1", "1", "1", "1", "0", "1", "1"]);
    const s = await readRunSummary(res.path);
    expect(s.parts).toHaveLength(3);
    expect(s.perStream.find((p) => p.key === "mca/spectrum")).toMatchObject({ missing: [5], shape: [8], dtype: "uint32" });
    expect(res.perStream.find((p) => p.key === "mca/spectrum")!.missing).toEqual([5]);
  });
});

function spawnSyncIn(cwd: string, args: string[]): string {
  const r = spawnSync("h5dump", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`h5dump ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

describe("NexusWriter: SIGKILL after a flush, then resume", () => {
  it("keeps every flushed trigger and continues into a linked file", async () => {
    const dir = freshDir();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "testing", "crash-child.ts"), dir, "10", "3"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("WAITING")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`child exited early (${code}): ${err}`)));
    });
    child.removeAllListeners("exit");
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGKILL");
    await exited;
    const crashed = /FLUSHED 10 (\S+)/.exec(out)![1]!;

    const r = h5dump(["-H", crashed]);
    expect(r.code).toBe(0);
    const s = await readRunSummary(crashed);
    expect(s.status).toBe("incomplete");
    expect(s.end).toBeNull();
    for (const p of s.perStream) expect(p.received).toBeGreaterThanOrEqual(10);
    const fr = await readStream(crashed, "ccd/frame", { toRow: 10 });
    expect(Array.from(fr.mask)).toEqual(new Array(10).fill(1));
    for (let t = 1; t <= 10; t++) expect(fr.rows[(t - 1) * 64 * 48]).toBe(t);
    expect(dumpData(crashed, "/entry/masks/pd/i0").slice(0, 10)).toEqual(new Array(10).fill("1"));

    const rp = await NexusWriter.resumePoint(crashed);
    expect(rp.scanNumber).toBe(1);
    expect(rp.resumeTrigger).toBe(11);
    const w = await NexusWriter.create({
      dir,
      prefix: "crash",
      run: run({ plannedTriggers: 20, raster: undefined }),
      streams: [
        { player: "ccd", name: "frame", dtype: "uint16", shape: [64, 48], role: "signal" },
        { player: "pd", name: "i0", dtype: "float64", shape: [], role: "monitor" },
      ],
      resumeFrom: { path: crashed },
    });
    expect(w.scanNumber).toBe(1);
    expect(w.firstTrigger).toBe(11);
    expect(() => w.write("pd/i0", 10, f64(1))).toThrow(TriggerOutOfRunError);
    for (let t = 11; t <= 20; t++) {
      w.noteTrigger(t);
      w.write("ccd/frame", t, new Uint8Array(new Uint16Array(64 * 48).fill(t).buffer));
      w.write("pd/i0", t, f64(t * 1.5));
    }
    const res = w.close({ status: "completed", lastTrigger: 20 });
    expect(path.basename(res.path)).toBe("crash_00001_resume1.nxs");
    expect(res.perStream.every((p) => p.complete)).toBe(true);
    expect(dumpAttr(res.path, "/entry", "resumed_from")).toBe(`"${path.basename(crashed)}"`);
    expect(dumpData(res.path, "/entry/triggers")).toEqual(["11", "12", "13", "14", "15", "16", "17", "18", "19", "20"]);
    // the link back to the crashed file resolves
    const back = h5dump(["-d", "/entry/previous/entry_identifier", res.path]);
    expect(back.code).toBe(0);
    expect(back.out).toContain('"1"');
    const rs = await readRunSummary(res.path);
    expect(rs).toMatchObject({ firstTrigger: 11, lastTrigger: 20, status: "completed", resumedFrom: path.basename(crashed) });
    // a new run in the same directory still gets a new scan number
    const next = await NexusWriter.create({ dir, prefix: "crash", run: run(), streams });
    expect(next.scanNumber).toBe(2);
    next.close({ status: "completed", lastTrigger: 0 });
  });
});

describe("WriterQueue", () => {
  for (const mode of ["inline", "worker"] as const) {
    it(`${mode}: writes everything in order, applies back-pressure, reports refused items`, async () => {
      const errors: string[] = [];
      const q = await WriterQueue.open(
        { dir: freshDir(), prefix: "q", run: run({ plannedTriggers: 40, raster: undefined }), streams },
        { mode, maxBytes: 5 * H * W * 2, maxCount: 1000, onError: (e) => errors.push(e.message) },
      );
      let sawFull = false;
      for (let t = 1; t <= 40; t++) {
        q.noteTrigger(t);
        const p = pos(t);
        q.push("stage/x", t, f64(p.x));
        q.push("stage/y", t, f64(p.y));
        q.push("mca/spectrum", t, spectrum(t));
        q.push("pd/i0", t, f32(t));
        const fr = frame(t);
        if (!q.push("ccd/frame", t, fr)) {
          sawFull = true;
          expect(q.backlogBytes).toBeGreaterThanOrEqual(5 * H * W * 2);
          await q.whenBelow(2 * H * W * 2);
          expect(q.backlogBytes).toBeLessThan(2 * H * W * 2);
        }
      }
      q.push("pd/i0", 41, f32(1)); // out of run: refused by the writer, reported
      await q.drain();
      expect(q.backlogBytes).toBe(0);
      expect(q.backlogCount).toBe(0);
      const res = await q.close({ status: "completed", lastTrigger: 40 });
      expect(sawFull).toBe(true);
      expect(res.errors).toBe(1);
      expect(errors[0]).toMatch(/trigger 41 is outside this run/);
      expect(res.stats.rejected).toBe(1);
      expect(res.perStream.every((p) => p.complete)).toBe(true);
      const s = await readStream(res.path, "ccd/frame");
      expect(s.rows[39 * H * W]).toBe(4000);
    });
  }

  it("throws above the hard limit instead of growing without bound", async () => {
    const q = await WriterQueue.open(
      { dir: freshDir(), prefix: "q", run: run({ plannedTriggers: 10, raster: undefined }), streams },
      { mode: "inline", maxBytes: 100, hardMaxBytes: 150 },
    );
    expect(q.push("ccd/frame", 1, frame(1))).toBe(true); // 60 bytes < 100
    expect(q.push("ccd/frame", 2, frame(2))).toBe(false); // 120 >= 100: queued, but stop issuing
    expect(() => q.push("ccd/frame", 3, frame(3))).toThrow(/hard limit/);
    const res = await q.close({ status: "aborted", lastTrigger: 3 });
    expect(res.perStream.find((p) => p.key === "ccd/frame")!.missing).toEqual([3]);
  });
});

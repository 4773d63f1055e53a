import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getDataset, h5ready, h5wasm } from "./h5util.ts";
import { NexusWriter } from "./nexus-writer.ts";
import { MISSING, type RGB, viridisIndex } from "./png.ts";
import { type PanelLayout, type QuicklookResult, quicklook } from "./quicklook.ts";
import { readStream } from "./reader.ts";
import type { RunInfo, StreamSpec } from "./types.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let root: string;
let n = 0;
const freshDir = () => {
  const d = path.join(root, `t${++n}`);
  fs.mkdirSync(d);
  return d;
};

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "donki-quicklook-"));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const decode = (file: string) => PNG.sync.read(fs.readFileSync(file));
const pixel = (png: PNG, x: number, y: number): RGB => {
  const o = (y * png.width + x) * 4;
  return [png.data[o]!, png.data[o + 1]!, png.data[o + 2]!];
};
/** Colour at the centre of map cell (row, col); row 0 (the first raster row) is drawn at the bottom (y up). */
const cellColour = (png: PNG, l: PanelLayout, row: number, col: number): RGB =>
  pixel(png, l.x + Math.floor(((col + 0.5) * l.width) / l.cols!), l.y + Math.floor(((l.rows! - 1 - row + 0.5) * l.height) / l.rows!));
const isMissing = (c: RGB) => c[0] === MISSING[0] && c[1] === MISSING[1] && c[2] === MISSING[2];

function ranks(v: number[]): number[] {
  const idx = v.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
    for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}
function spearman(a: number[], b: number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const m = (ra.length - 1) / 2;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - m) * (rb[i]! - m);
    da += (ra[i]! - m) ** 2;
    db += (rb[i]! - m) ** 2;
  }
  return num / Math.sqrt(da * db);
}

/** A 2-D dataset of the closed file's raster image (/entry/data), read independently of quicklook. */
async function image(file: string, name: string): Promise<{ v: Float64Array; ny: number; nx: number }> {
  await h5ready();
  const f = new h5wasm.File(file, "r");
  try {
    const d = getDataset(f, `/entry/data/${name}`)!;
    const [ny, nx] = d.shape as [number, number];
    return { v: Float64Array.from(d.value as ArrayLike<number>), ny, nx };
  } finally {
    f.close();
  }
}

describe("quicklook of a real scan (fast-scan scenario through the CLI)", () => {
  let scanFile: string;
  let res: QuicklookResult;
  let png: PNG;

  beforeAll(async () => {
    const dir = freshDir();
    const r = spawnSync(process.execPath, ["bin/donki.mjs", "run", "scenarios/fast-scan.yaml", "--out", dir, "--no-progress"], {
      cwd: repo,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, `donki run failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
    scanFile = path.join(dir, "fast_00001.nxs");
    expect(fs.existsSync(scanFile)).toBe(true);
    res = await quicklook(scanFile, {});
    png = decode(res.png);
  });

  it("writes FILE.png with the absorption image, one map per element and the summed spectrum", () => {
    expect(res.png).toBe(scanFile.replace(/\.nxs$/, ".png"));
    expect(res.panels).toEqual([
      "Transmission (io/transmission)",
      "O (xrf/roi_O)",
      "Fe (xrf/roi_Fe)",
      "Mg (xrf/roi_Mg)",
      "Al (xrf/roi_Al)",
      "Si (xrf/roi_Si)",
      "Summed spectrum (xrf/spectrum)",
    ]);
    expect(png.width).toBe(res.width);
    expect(png.height).toBe(res.height);
    expect(png.width).toBeGreaterThanOrEqual(600);
    expect(png.width).toBeLessThanOrEqual(2000);
    expect(png.height).toBeGreaterThanOrEqual(400);
    expect(png.height).toBeLessThanOrEqual(2000);
    // 5 x 6 raster scaled so the long side is ~256 px
    const abs = res.layout[0]!;
    expect(abs).toMatchObject({ kind: "map", rows: 5, cols: 6 });
    expect(Math.max(abs.width, abs.height)).toBeGreaterThanOrEqual(200);
    expect(Math.max(abs.width, abs.height)).toBeLessThanOrEqual(300);
  });

  it("draws the transmission map from the data: not constant, brightest where It/I0 is highest", async () => {
    const abs = res.layout[0]!;
    // the file's default plot: It/I0 on the planned raster
    const tr = await image(scanFile, "data");
    expect([tr.ny, tr.nx]).toEqual([5, 6]);
    const trans: number[] = [];
    const shown: number[] = [];
    for (let r = 0; r < 5; r++)
      for (let c = 0; c < 6; c++) {
        trans.push(tr.v[r * 6 + c]!);
        const k = viridisIndex(cellColour(png, abs, r, c));
        expect(k, `cell ${r},${c} is a viridis colour`).toBeGreaterThanOrEqual(0);
        shown.push(k);
      }
    expect(new Set(shown).size).toBeGreaterThan(5);
    const argmax = (v: number[]) => v.indexOf(Math.max(...v));
    const argmin = (v: number[]) => v.indexOf(Math.min(...v));
    expect(shown[argmax(trans)]).toBe(255);
    expect(shown[argmin(trans)]).toBe(0);
    expect(spearman(trans, shown)).toBeGreaterThan(0.97);
    // colour bar range = data range
    expect(abs.min).toBeCloseTo(Math.min(...trans), 9);
    expect(abs.max).toBeCloseTo(Math.max(...trans), 9);
  });

  it("draws the element maps from the ROI streams", async () => {
    const fe = res.layout.find((l) => l.source === "xrf/roi_Fe")!;
    const img = await image(scanFile, "roi_Fe");
    const shown: number[] = [];
    const vals: number[] = [];
    for (let r = 0; r < 5; r++)
      for (let c = 0; c < 6; c++) {
        shown.push(viridisIndex(cellColour(png, fe, r, c)));
        vals.push(img.v[r * 6 + c]!);
      }
    expect(spearman(vals, shown)).toBeGreaterThan(0.97);
  });

  it("plots the summed spectrum on a log axis", async () => {
    const sp = res.layout.find((l) => l.kind === "spectrum")!;
    const s = await readStream(scanFile, "xrf/spectrum");
    let max = 0;
    const bins = s.shape[1]!;
    const sum = new Float64Array(bins);
    for (let i = 0; i < s.shape[0]!; i++) for (let b = 0; b < bins; b++) sum[b]! += s.rows[i * bins + b]!;
    for (const v of sum) max = Math.max(max, v);
    expect(sp.max).toBeGreaterThanOrEqual(max);
    expect(sp.max).toBeLessThan(max * 10.5);
    // the spectrum line is drawn in the plot box
    let blue = 0;
    for (let y = sp.y; y < sp.y + sp.height; y++)
      for (let x = sp.x; x < sp.x + sp.width; x++) {
        const c = pixel(png, x, y);
        if (c[0] === 31 && c[1] === 73 && c[2] === 170) blue++;
      }
    expect(blue).toBeGreaterThan(500);
  });

  it("honours --out and scale", async () => {
    const out = path.join(root, "custom", "ql.png");
    const r = await quicklook(scanFile, { out, scale: 10 });
    expect(r.png).toBe(out);
    // 10 px per column of 12 um; rows are 15 um apart: 12.5 px
    expect(r.layout[0]).toMatchObject({ width: 60, height: 63 });
    expect(decode(out).width).toBe(r.width);
  });
});

// ------------------------------------------------------------------ files written with the NexusWriter directly

const run = (over: Partial<RunInfo> = {}): RunInfo => ({
  runId: "run-q",
  title: "quicklook test",
  program: "donki",
  version: "0.1.0",
  startTime: new Date("2030-01-02T03:04:05Z"),
  plannedTriggers: 20,
  metadata: {},
  ...over,
});
const BINS = 64;
const streams: StreamSpec[] = [
  { player: "stage", name: "x", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "stage", name: "y", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "io", name: "I0", dtype: "float64", shape: [], units: "counts", role: "monitor" },
  { player: "io", name: "It", dtype: "float64", shape: [], units: "counts", role: "signal" },
  { player: "xrf", name: "spectrum", dtype: "uint32", shape: [BINS], units: "counts", role: "signal" },
  { player: "xrf", name: "roi_Fe", dtype: "float64", shape: [], units: "counts", role: "signal" },
];
const f64 = (v: number) => new Uint8Array(new Float64Array([v]).buffer);
const spectrumOf = (t: number) => {
  const s = new Uint32Array(BINS);
  for (let b = 0; b < BINS; b++) s[b] = b >= 20 && b < 30 ? 5 + ((t * b) % 7) : (t + b) % 3;
  return s;
};
function writeTrigger(w: NexusWriter, t: number, skip: string[] = []) {
  const put = (k: string, d: Uint8Array) => skip.includes(k) || w.write(k, t, d);
  w.noteTrigger(t);
  put("stage/x", f64(t % 5));
  put("stage/y", f64(Math.floor((t - 1) / 5)));
  put("io/I0", f64(1000));
  put("io/It", f64(100 + 37 * t));
  const s = spectrumOf(t);
  put("xrf/spectrum", new Uint8Array(s.buffer));
  let roi = 0;
  for (let b = 20; b < 30; b++) roi += s[b]!;
  put("xrf/roi_Fe", f64(roi));
}

describe("missing data and other scan kinds", () => {
  it("draws missing rows and points of a raster in the missing colour", async () => {
    const w = await NexusWriter.create({
      dir: freshDir(),
      prefix: "scan",
      run: run({ raster: { axes: ["stage/y", "stage/x"], shape: [4, 5], snake: true } }),
      streams,
    });
    // rows 0-1 only (triggers 1..10); trigger 3 lost its counters
    for (let t = 1; t <= 10; t++) writeTrigger(w, t, t === 3 ? ["io/I0", "io/It"] : []);
    const { path: file } = w.close({ status: "aborted", lastTrigger: 20 });
    const r = await quicklook(file, {});
    expect(r.panels).toEqual(["Transmission It/I0", "Fe (xrf/roi_Fe)", "Summed spectrum (xrf/spectrum)"]);
    const png = decode(r.png);
    const [trans, fe] = r.layout as [PanelLayout, PanelLayout];
    for (let row = 0; row < 4; row++)
      for (let col = 0; col < 5; col++) {
        const lost = row >= 2;
        expect(isMissing(cellColour(png, trans, row, col)), `transmission ${row},${col}`).toBe(lost || (row === 0 && col === 2));
        expect(isMissing(cellColour(png, fe, row, col)), `Fe ${row},${col}`).toBe(lost);
        if (!isMissing(cellColour(png, fe, row, col))) expect(viridisIndex(cellColour(png, fe, row, col))).toBeGreaterThanOrEqual(0);
      }
    // It/I0 grows with the trigger number; row 1 is snaked: trigger 6 is at (1, 4), trigger 10 at (1, 0)
    expect(viridisIndex(cellColour(png, trans, 1, 0))).toBe(255);
    expect(viridisIndex(cellColour(png, trans, 0, 0))).toBe(0);
    expect(viridisIndex(cellColour(png, trans, 1, 4))).toBeLessThan(viridisIndex(cellColour(png, trans, 1, 0)));
    // the missing colour is never a viridis colour
    expect(viridisIndex(MISSING, 30)).toBe(-1);
  });

  it("reconstructs the map of a file that was never closed from the scenario's raster", async () => {
    const scenarioText = "title: t\nsequence:\n  raster: { x: { start: 0, stop: 4, points: 5 }, y: { start: 0, stop: 3, points: 4 }, snake: true }\n";
    const dir = freshDir();
    const w = await NexusWriter.create({ dir, prefix: "scan", run: run({ scenarioText, raster: { axes: ["stage/y", "stage/x"], shape: [4, 5], snake: true } }), streams });
    for (let t = 1; t <= 7; t++) writeTrigger(w, t);
    w.flush();
    // what a killed writer leaves: flushed, never closed (no /entry/data)
    const crashed = path.join(dir, "crashed.nxs");
    fs.copyFileSync(w.path, crashed);
    w.close({ status: "completed", lastTrigger: 20 });
    const r = await quicklook(crashed, {});
    expect(r.layout[0]).toMatchObject({ title: "Transmission It/I0", rows: 4, cols: 5 });
    const png = decode(r.png);
    const trans = r.layout[0]!;
    expect(viridisIndex(cellColour(png, trans, 1, 3))).toBe(255); // trigger 7, snaked
    expect(viridisIndex(cellColour(png, trans, 0, 0))).toBe(0);
    expect(isMissing(cellColour(png, trans, 1, 2))).toBe(true); // trigger 8 never came
    expect(isMissing(cellColour(png, trans, 3, 4))).toBe(true);
  });

  it("plots scalar signals against trigger number for a non-raster scan, missing triggers in grey", async () => {
    const w = await NexusWriter.create({ dir: freshDir(), prefix: "line", run: run({ plannedTriggers: 12 }), streams });
    for (let t = 1; t <= 12; t++) if (t !== 5) writeTrigger(w, t);
    const { path: file } = w.close({ status: "completed", lastTrigger: 12 });
    const r = await quicklook(file, {});
    expect(r.panels).toEqual(["Transmission It/I0", "io/I0", "io/It", "xrf/roi_Fe", "Summed spectrum (xrf/spectrum)"]);
    expect(r.layout.slice(0, 4).every((l) => l.kind === "plot")).toBe(true);
    const png = decode(r.png);
    const it = r.layout[2]!;
    expect(it.min).toBe(100 + 37);
    expect(it.max).toBe(100 + 37 * 12);
    // trigger 5 of 12: a grey band at 4.5/12 of the plot width
    const x = it.x + Math.round((4.5 / 12) * it.width);
    expect(isMissing(pixel(png, x, it.y + 5))).toBe(true);
    expect(isMissing(pixel(png, it.x + Math.round((2.5 / 12) * it.width), it.y + 5))).toBe(false);
  });

  it("a repeated raster (temperature series): one map per repetition, on a colour range common to them", async () => {
    const dir = freshDir();
    const r1 = run({
      plannedTriggers: 12,
      raster: { axes: ["stage/y", "stage/x"], shape: [4, 3], snake: false, x: { start: 0, stop: 20, points: 3 }, y: { start: 0, stop: 10, points: 2 }, repeat: { param: "temperature", values: [20, 40] } },
    });
    const w = await NexusWriter.create({ dir, prefix: "rep", run: r1, streams });
    for (let t = 1; t <= 12; t++) writeTrigger(w, t);
    const { path: file } = w.close({ status: "completed", lastTrigger: 12 });
    const r = await quicklook(file, {});
    expect(r.panels.slice(0, 4)).toEqual(["Transmission It/I0, 20 degC", "Transmission It/I0, 40 degC", "Fe (xrf/roi_Fe), 20 degC", "Fe (xrf/roi_Fe), 40 degC"]);
    const [a, b] = r.layout as [PanelLayout, PanelLayout];
    expect(a).toMatchObject({ rows: 2, cols: 3 });
    // It/I0 grows with the trigger: the first point of the first repetition is the darkest, the last of the second the brightest
    const png = decode(r.png);
    expect(viridisIndex(cellColour(png, a, 0, 0))).toBe(0);
    expect(viridisIndex(cellColour(png, b, 1, 2))).toBe(255);
    expect(viridisIndex(cellColour(png, a, 1, 2))).toBeLessThan(viridisIndex(cellColour(png, b, 0, 0)));
    expect([a.min, a.max]).toEqual([b.min, b.max]);
  });

  it("refuses files that are not donki scans with a clear message", async () => {
    const dir = freshDir();
    const txt = path.join(dir, "notes.nxs");
    fs.writeFileSync(txt, "hello, not HDF5\n");
    await expect(quicklook(txt, {})).rejects.toThrow(/notes\.nxs: not a donki scan file \(not an HDF5 file\)/);
    await h5ready();
    const other = path.join(dir, "other.h5");
    const f = new h5wasm.File(other, "w");
    f.create_group("stuff");
    f.close();
    await expect(quicklook(other, {})).rejects.toThrow(/other\.h5: not a donki scan file \(no \/entry\)/);
    await expect(quicklook(path.join(dir, "nope.nxs"), {})).rejects.toThrow(/nope\.nxs: no such file/);
    await expect(quicklook(txt, { scale: 0 })).rejects.toThrow(/scale must be > 0/);
    expect(fs.existsSync(path.join(dir, "notes.png"))).toBe(false);
  });
});

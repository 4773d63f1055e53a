/**
 * Physical invariants of every shipped scenario: each one is run through the real runScenario (players in
 * process, virtual time) and its NeXus file read back with h5wasm (runtime/data/reader.ts). What a scientist
 * would check first on real data:
 * - transmission (io/transmission = (It/I0) / emptyBeamRatio) in (0, 1] whenever there is beam, undefined (NaN)
 *   only for the triggers with the photon shutter closed;
 * - CCD frames with beam between 10 % and 70 % of full scale (99.9th percentile), saturated pixels < 0.1 %,
 *   and the per-frame saturated count agrees with the frames;
 * - dark/flat: flat mean >= 3x dark mean, and the photon-transfer gain (variance / mean of flat-field
 *   counts, from frame differences) equals E / 3.65 eV / sensitivity within 10 %;
 * - every XRF ROI inside the spectrum's range (the scenario loads with the catalogue's settings check; an
 *   ROI beyond it is a located error);
 * - the specimen's maps are recovered from the raster scans (absorption from the transmission and from the
 *   CCD sums, element maps from the XRF ROIs).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as catalogue from "../drivers/registry.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { readStream } from "../runtime/data/reader.ts";
import { createLogger } from "../runtime/log.ts";
import { loadScenario, ScenarioError, type LoadedScenario } from "../runtime/scenario/load.ts";
import { expandSequence } from "../runtime/scenario/sequence.ts";
import { PI_CCD_DEFAULTS } from "../simulators/pi-ccd.ts";
import { ANDOR_DEFAULTS } from "../simulators/andor-ixon.ts";
import { Specimen, pearson } from "../simulators/specimen.ts";
import { REGRESSION_SCENARIOS } from "./regress.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
/** Full scale of the camera's ADC: the PI CCD's 16 bits, the iXon's 14. */
const FULL_SCALE: Record<string, number> = { "sim:pi-ccd": 2 ** PI_CCD_DEFAULTS.bitDepth - 1, "sim:andor-ixon": 2 ** ANDOR_DEFAULTS.bitDepth - 1 };
const load = (file: string) => loadScenario(file, { knownDevices: catalogue.deviceNames(), checkSettings: catalogue.checkSettings });

interface Run {
  sc: LoadedScenario;
  file: string;
  triggers: number;
  params: Array<Record<string, unknown>>;
}

const out = mkdtempSync(join(tmpdir(), "donki-invariants-"));
const runs = new Map<string, Run>();

async function run(name: string): Promise<Run> {
  const have = runs.get(name);
  if (have) return have;
  const sc = load(join(HERE, `${name}.yaml`));
  const r = await runScenario(sc, { catalogue, log: createLogger("invariants", "warn"), outDir: join(out, name), time: { mode: "virtual" }, inProcess: true });
  expect(r.result.status, `${name}: ${r.result.message ?? ""}`).toBe("completed");
  const seq = expandSequence(sc.def.sequence);
  const params = Array.from({ length: r.result.triggers }, (_, i) => seq.params(i + 1).point as Record<string, unknown>);
  const got = { sc, file: r.file!, triggers: r.result.triggers, params };
  runs.set(name, got);
  return got;
}

async function scalar(file: string, key: string): Promise<Float64Array> {
  const s = await readStream(file, key);
  return Float64Array.from(s.rows);
}

const has = (r: Run, player: string) => r.sc.def.players.some((p) => p.name === player);
const closed = (p: Record<string, unknown>) => p.shutter === 0;

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.each(REGRESSION_SCENARIOS)("shipped scenario %s: physical invariants", (name) => {
  let r: Run;
  beforeAll(async () => {
    r = await run(name);
  }, 300_000);

  it("0 < transmission <= 1 with beam; undefined only with the shutter closed", async () => {
    if (!has(r, "io")) return;
    const t = await scalar(r.file, "io/transmission");
    expect(t.length).toBe(r.triggers);
    for (let i = 0; i < t.length; i++) {
      if (closed(r.params[i])) expect(Number.isNaN(t[i]), `trigger ${i + 1} (dark)`).toBe(true);
      else {
        expect(t[i], `trigger ${i + 1}`).toBeGreaterThan(0);
        expect(t[i], `trigger ${i + 1}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it("CCD: frames with beam at 10-70 % of full scale, saturated pixels < 0.1 % and counted", async () => {
    if (!has(r, "ccd")) return;
    const f = await readStream(r.file, "ccd/frame");
    const sat = await scalar(r.file, "ccd/saturated");
    const FULL = FULL_SCALE[r.sc.def.players.find((p) => p.name === "ccd")!.device];
    expect(FULL, "the camera's full scale").toBeGreaterThan(0);
    const [n, h, w] = f.shape;
    const per = h * w;
    const rows = f.rows as Uint16Array;
    let saturated = 0;
    for (let i = 0; i < n; i++) {
      const fr = rows.subarray(i * per, (i + 1) * per);
      let atFull = 0;
      for (const v of fr) if (v >= FULL) atFull++;
      expect(sat[i], `frame ${i + 1}: the saturated count covers the full-scale pixels`).toBeGreaterThanOrEqual(atFull);
      saturated += sat[i];
      if (closed(r.params[i])) continue;
      const sorted = Uint16Array.from(fr).sort();
      const p999 = sorted[Math.floor(per * 0.999)] / FULL;
      expect(p999, `frame ${i + 1}: 99.9th percentile / full scale`).toBeGreaterThan(0.1);
      expect(p999, `frame ${i + 1}: 99.9th percentile / full scale`).toBeLessThan(0.7);
    }
    expect(saturated / (n * per)).toBeLessThan(1e-3);
  });

  it("every ROI lies inside the detector's range (checked at load) and reads counts", async () => {
    const xrf = r.sc.def.players.find((p) => p.device === "sim:dante");
    if (!xrf) return;
    for (const roi of Object.keys((xrf.settings.rois ?? {}) as object)) {
      const v = await scalar(r.file, `${xrf.name}/roi_${roi}`);
      expect(v.reduce((a, b) => a + b, 0), `ROI ${roi} is never empty over the scan`).toBeGreaterThan(0);
    }
  });
});

describe("dark and flat fields (ccd-dark-flat)", () => {
  it("flat mean >= 3x dark mean; the photon-transfer gain matches E / 3.65 eV / sensitivity within 10 %", async () => {
    const r = await run("ccd-dark-flat");
    const f = await readStream(r.file, "ccd/frame");
    const [n, h, w] = f.shape;
    const per = h * w;
    const rows = f.rows as Uint16Array;
    const frame = (i: number) => rows.subarray(i * per, (i + 1) * per);
    const dark = [...Array(n).keys()].filter((i) => closed(r.params[i]));
    const flat = [...Array(n).keys()].filter((i) => !closed(r.params[i]));
    expect(dark.length).toBeGreaterThanOrEqual(2);
    expect(flat.length).toBeGreaterThanOrEqual(2);
    const mean = (a: Uint16Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const darkMean = dark.map((i) => mean(frame(i))).reduce((a, b) => a + b) / dark.length;
    const flatMean = flat.map((i) => mean(frame(i))).reduce((a, b) => a + b) / flat.length;
    expect(flatMean).toBeGreaterThanOrEqual(3 * darkMean);
    // photon transfer: var(F1 - F2) / 2 = g (m - dark) + read/dark variance, the latter from var(D1 - D2) / 2
    const halfDiffVar = (a: Uint16Array, b: Uint16Array) => {
      let s = 0,
        s2 = 0;
      for (let k = 0; k < a.length; k++) {
        const d = a[k] - b[k];
        s += d;
        s2 += d * d;
      }
      const m = s / a.length;
      return (s2 / a.length - m * m) / 2;
    };
    const noiseVar = halfDiffVar(frame(dark[0]), frame(dark[1]));
    const signalVar = halfDiffVar(frame(flat[0]), frame(flat[1])) - noiseVar;
    const signalMean = (mean(frame(flat[0])) + mean(frame(flat[1]))) / 2 - darkMean;
    const measured = signalVar / signalMean; // ADU per detected photon
    const ccd = r.sc.def.players.find((p) => p.name === "ccd")!;
    const gainIndex = (ccd.settings.gainIndex as number | undefined) ?? 1;
    const energy = 2000; // the twins' default incident energy; the scenario sets none
    const expected = energy / PI_CCD_DEFAULTS.pairEnergyEv / PI_CCD_DEFAULTS.sensitivityE[gainIndex];
    expect(measured / expected).toBeGreaterThan(0.9);
    expect(measured / expected).toBeLessThan(1.1);
    // the flats see the bare support membrane: the transmission there is exp(-mu t) of 100 nm Si3N4
    const t = await scalar(r.file, "io/transmission");
    const m = new Specimen({ seed: r.sc.def.seed }).membraneTransmission(energy);
    for (const i of flat) expect(Math.abs(t[i] - m)).toBeLessThan(0.01);
  });
});

describe("the specimen's maps are recovered from the shipped rasters", () => {
  // twinmic-raster: 576 points of 100 ms at ~1e8 ph/s; fast-scan: 30 points of 50 ms, too few XRF counts for
  // the weak lines (Fe L: yield ~0.005, a few counts per hot spot), so only absorption and Si are required.
  // Measured (seed of the scenarios): twinmic-raster transmission 0.997, CCD sums 0.9999, Si 0.965,
  // Mg 0.987, Fe 0.962; fast-scan transmission 0.996, CCD sums 0.9998, Si 0.93.
  it.each([
    ["twinmic-raster", { Si: 0.93, Mg: 0.95, Fe: 0.93 }],
    ["fast-scan", { Si: 0.85 }],
  ] as const)("%s: absorption from the transmission and the CCD sums, elements from the XRF ROIs", async (name, elements: Record<string, number>) => {
    const r = await run(name);
    const specimen = new Specimen({ seed: r.sc.def.seed });
    const x = await scalar(r.file, "stage/x");
    const y = await scalar(r.file, "stage/y");
    const energy = 2000;
    const truthAbs = Float64Array.from(x, (xi, i) => -Math.log(specimen.transmission(xi, y[i], energy)));
    const t = await scalar(r.file, "io/transmission");
    expect(pearson(Float64Array.from(t, (v) => -Math.log(v)), truthAbs)).toBeGreaterThan(0.98);
    const sum = await scalar(r.file, "ccd/sum");
    expect(pearson(Float64Array.from(sum, (v) => -Math.log(v)), truthAbs)).toBeGreaterThan(0.98);
    for (const [el, min] of Object.entries(elements)) {
      const roi = await scalar(r.file, `xrf/roi_${el}`);
      expect(pearson(roi, Float64Array.from(x, (xi, i) => specimen.concentration(el, xi, y[i]))), el).toBeGreaterThan(min);
    }
  });
});

describe("an ROI beyond the detector's range is a scenario error with file:line:col", () => {
  it("temperature-series with 1024 bins (0..1278.75 eV) refuses the Si ROI [1680, 1800] eV", () => {
    const text = readFileSync(join(HERE, "temperature-series.yaml"), "utf8").replace("bins: 2048", "bins: 1024");
    const file = join(out, "bad-roi.yaml");
    writeFileSync(file, text);
    let err: unknown;
    try {
      load(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    const problems = (err as ScenarioError).problems;
    expect(problems).toHaveLength(1);
    const line = text.split("\n").findIndex((l) => l.includes("Si: [1680, 1800]")) + 1;
    expect(problems[0]).toMatch(new RegExp(`bad-roi\\.yaml:${line}:\\d+: players\\[2\\]\\.settings\\.rois\\.Si .*1278\\.75 eV`));
  });
});

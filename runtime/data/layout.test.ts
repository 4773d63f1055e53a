/** The NeXus layout as data: placement, the default plot's choices, order independence, an energy stack. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { aliasPath, buildLayout, placeStream, transmissionSource, udunits, type ScanContext } from "./layout.ts";
import { NexusWriter } from "./nexus-writer.ts";
import { dumpAttr, dumpData } from "./testing/h5dump.ts";
import { validateNexus } from "./nxdl-validate.ts";
import type { RunInfo, StreamSpec } from "./types.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const run = (over: Partial<RunInfo> = {}): RunInfo => ({
  runId: "r-layout",
  title: "layout test",
  program: "donki",
  version: "0.1.0",
  startTime: new Date("2030-01-02T03:04:05Z"),
  plannedTriggers: 12,
  metadata: { sample: "test pattern" },
  devices: { stage: "positioner", io: "io", xrf: "mca", ccd: "area-detector", temperature: "setpoint" },
  raster: { axes: ["stage/y", "stage/x"], shape: [2, 3], snake: true, x: { start: 0, stop: 2, points: 3 }, y: { start: 0, stop: 1, points: 2 } },
  ...over,
});

const S: StreamSpec[] = [
  { player: "xrf", name: "spectrum", dtype: "uint32", shape: [8], units: "counts", role: "signal", axis: { name: "energy", units: "eV", offset: 0, step: 10 } },
  { player: "xrf", name: "roi_Fe", dtype: "float64", shape: [], units: "counts", role: "signal" },
  { player: "xrf", name: "dead_time", dtype: "float64", shape: [], units: "", role: "metadata" },
  { player: "io", name: "I0", dtype: "float64", shape: [], units: "counts", role: "monitor" },
  { player: "io", name: "It", dtype: "float64", shape: [], units: "counts", role: "signal" },
  { player: "stage", name: "x", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "stage", name: "y", dtype: "float64", shape: [], units: "um", role: "positioner" },
  { player: "temperature", name: "value", dtype: "float64", shape: [], units: "C", role: "monitor" },
  { player: "ccd", name: "frame", dtype: "uint16", shape: [2, 2], units: "counts", role: "signal" },
];

describe("layout", () => {
  it("places streams where NXstxm / NXfluo want them, in UDUNITS", () => {
    const ctx: ScanContext = { run: run(), streams: S };
    const at = (k: string) => placeStream(ctx, S.find((s) => `${s.player}/${s.name}` === k)!);
    expect(at("xrf/spectrum")).toMatchObject({ path: "/entry/instrument/fluorescence/data", axisPath: "/entry/instrument/fluorescence/energy" });
    expect(at("xrf/dead_time")).toMatchObject({ path: "/entry/instrument/fluorescence/dead_time_fraction", units: "1" });
    expect(at("io/I0")).toMatchObject({ path: "/entry/monitor/data", storeAs: "uint32" });
    expect(at("io/It").path).toBe("/entry/instrument/io/It");
    expect(at("stage/x").path).toBe("/entry/instrument/sample_x/data");
    expect(at("stage/y").path).toBe("/entry/instrument/sample_y/data");
    expect(at("temperature/value")).toMatchObject({ path: "/entry/instrument/temperature/value", units: "degC" });
    expect(at("ccd/frame").path).toBe("/entry/instrument/ccd/data");
    expect(udunits("C")).toBe("degC");
  });

  it("an alias names a path under /entry (the registry checks it when the player is made)", () => {
    expect(aliasPath("instrument/ccd/data", "x")).toBe("/entry/instrument/ccd/data");
    expect(aliasPath("/entry/instrument/transmission/It/", "x")).toBe("/entry/instrument/transmission/It");
    expect(() => aliasPath("/other/place", "device sim:io: 'aliases.It'")).toThrow(`device sim:io: 'aliases.It': alias must be a path under /entry, got "/other/place"`);
    expect(() => aliasPath("/entry/../x", "s")).toThrow(/alias must be a path under \/entry/);
  });

  it("does not depend on the order the players registered in", () => {
    const a = buildLayout({ run: run(), streams: S }, "single");
    const shuffled = [...S].reverse();
    const b = buildLayout({ run: run(), streams: shuffled }, "single");
    const norm = (n: typeof a) => n.filter((x) => x.type !== "stream" && x.type !== "group").map((x) => JSON.stringify(x)).sort();
    expect(norm(b)).toEqual(norm(a));
    const plot = a.find((x) => x.type === "group" && x.path === "/entry/data")!;
    expect(plot).toMatchObject({ attrs: { signal: "data", axes: ["sample_y", "sample_x"], auxiliary_signals: ["roi_Fe"] } });
  });

  it("takes the transmission from a `transmission` stream, else It/I0, else the first signal", () => {
    const tr: StreamSpec = { player: "io", name: "transmission", dtype: "float64", shape: [], units: "", role: "signal" };
    expect(transmissionSource({ run: run(), streams: [...S, tr] })).toEqual({ stream: "io/transmission" });
    expect(transmissionSource({ run: run(), streams: S })).toEqual({ num: "io/It", den: "io/I0" });
    const noIo = S.filter((s) => s.player !== "io");
    expect(transmissionSource({ run: run(), streams: noIo })).toEqual({ stream: "xrf/roi_Fe" });
    // no scalar signal at all: a monitor
    expect(transmissionSource({ run: run(), streams: noIo.filter((s) => s.player !== "xrf") })).toEqual({ stream: "temperature/value" });
  });

  it("an energy stack (a raster repeated over energy) is NXstxm's 'sample image stack' and validates", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "donki-layout-"));
    dirs.push(dir);
    const energies = [700, 710];
    const r = run({
      plannedTriggers: 12,
      raster: { axes: ["stage/y", "stage/x"], shape: [4, 3], snake: true, x: { start: 0, stop: 2, points: 3 }, y: { start: 0, stop: 1, points: 2 }, repeat: { param: "energy", values: energies } },
      energyPerTrigger: Array.from({ length: 12 }, (_, i) => energies[Math.floor(i / 6)]!),
    });
    const w = await NexusWriter.create({ dir, prefix: "stack", run: r, streams: S });
    const f64 = (v: number) => new Uint8Array(new Float64Array([v]).buffer);
    for (let t = 1; t <= 12; t++) {
      w.noteTrigger(t);
      w.write("xrf/spectrum", t, new Uint8Array(new Uint32Array(8).fill(t).buffer));
      w.write("xrf/roi_Fe", t, f64(t));
      w.write("xrf/dead_time", t, f64(0.01));
      w.write("io/I0", t, f64(1000));
      w.write("io/It", t, f64(10 * t));
      w.write("stage/x", t, f64(t % 3));
      w.write("stage/y", t, f64(0));
      w.write("temperature/value", t, f64(21));
      w.write("ccd/frame", t, new Uint8Array(new Uint16Array(4).fill(t).buffer));
    }
    const { path: file } = w.close({ status: "completed", lastTrigger: 12 });
    const v = await validateNexus(file);
    expect(v.errors).toEqual([]);
    expect(v.checked).toEqual(expect.arrayContaining(["/entry: NXstxm", "/entry/xrf: NXfluo"]));
    expect(dumpData(file, "/entry/data/stxm_scan_type")).toEqual(['"sample image stack"']);
    expect(dumpAttr(file, "/entry/data", "axes")).toBe('"energy", "sample_y", "sample_x"');
    expect(dumpData(file, "/entry/data/energy").map(Number)).toEqual(energies);
    expect(dumpData(file, "/entry/instrument/monochromator/energy").map(Number)).toEqual([700, 700, 700, 700, 700, 700, 710, 710, 710, 710, 710, 710]);
    // It/I0 = t / 100 on [energy, y, x], the second row of each image snaked
    expect(dumpData(file, "/entry/data/data").map(Number)).toEqual([0.01, 0.02, 0.03, 0.06, 0.05, 0.04, 0.07, 0.08, 0.09, 0.12, 0.11, 0.1]);
    // I0 counts stored as integers (NXfluo's monitor data is NX_INT)
    expect(dumpData(file, "/entry/monitor/data")[0]).toBe("1000");
    expect(dumpData(file, "/entry/xrf/spectrum/data").map(Number)).toEqual(new Array(8).fill(78));
  });
});

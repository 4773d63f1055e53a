/**
 * The files donki writes against the NeXus application definitions (docs/nexus/, NXDL files of the NIAC): every
 * shipped scenario, run through the real CLI in virtual time, and a rollover master, pass the validator; a file
 * with one required item removed fails it. The default plot is the same in every run of the same scenario.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateNexus } from "../runtime/data/nxdl-validate.ts";
import { dumpAttr, dumpData, h5dump } from "../runtime/data/testing/h5dump.ts";
import { type Dataset, type Group, h5ready, h5wasm } from "../runtime/data/h5util.ts";
import { DONKI, ROOT, tempDir } from "./helpers/procs.ts";

const SCENARIOS = readdirSync(join(ROOT, "scenarios")).filter((f) => f.endsWith(".yaml")).sort();
const dirs: string[] = [];
const dir = () => {
  const d = tempDir("donki-nexus-");
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** `donki run` (players in this CLI process, real sockets), in the scenario's virtual time. */
function run(scenario: string, out: string, extra: string[] = [], exitCode = 0): string {
  const r = spawnSync(process.execPath, [DONKI, "run", scenario, "--out", out, "--in-process", "--no-progress", ...extra], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, DONKI_LOG: "warn" },
  });
  if (r.status !== exitCode) throw new Error(`donki run ${scenario} exited ${r.status}: ${r.stderr}${r.stdout}`);
  const files = readdirSync(out).filter((f) => f.endsWith(".nxs") && !/_part\d+/.test(f));
  expect(files.length).toBe(1);
  return join(out, files[0]!);
}

const files = new Map<string, string>();
beforeAll(() => {
  for (const s of SCENARIOS) files.set(s, run(join("scenarios", s), dir()));
}, 900_000);

describe("NeXus application definitions", () => {
  it.each(SCENARIOS)("%s: the file satisfies NXstxm (and NXfluo where an MCA is in the scan)", async (s) => {
    const r = await validateNexus(files.get(s)!);
    expect(r.errors).toEqual([]);
    expect(r.checked).toContain("/entry: NXstxm");
    expect(r.checked).toContain("/entry/stxm: NXstxm");
    const text = readFileSync(join(ROOT, "scenarios", s), "utf8");
    const hasMca = /sim:dante/.test(text) || (/playersXml/.test(text) && /dante/.test(readFileSync(join(ROOT, "scenarios/twinmic-players.xml"), "utf8")));
    if (hasMca) expect(r.checked).toContain("/entry/xrf: NXfluo");
    else expect(r.checked).not.toContain("/entry/xrf: NXfluo");
  });

  it("a rollover master satisfies both definitions too", async () => {
    const out = dir();
    const yaml = readFileSync(join(ROOT, "scenarios/fast-scan.yaml"), "utf8").replace(
      "output: { directory: out, prefix: fast, flushEveryTriggers: 10 }",
      "output: { directory: out, prefix: roll, flushEveryTriggers: 10, rolloverTriggers: 12 }",
    );
    expect(yaml).toMatch(/rolloverTriggers: 12/);
    const sc = join(out, "roll.yaml");
    writeFileSync(sc, yaml);
    const master = run(sc, out);
    expect(readdirSync(out).filter((f) => /_part\d+\.nxs$/.test(f)).length).toBe(3);
    const r = await validateNexus(master);
    expect(r.errors).toEqual([]);
    expect(r.checked).toEqual(expect.arrayContaining(["/entry: NXstxm", "/entry/stxm: NXstxm", "/entry/xrf: NXfluo"]));
    // the master's plot is the whole raster, read back from the parts
    expect(dumpAttr(master, "/entry/data", "signal")).toBe('"data"');
    expect(dumpData(master, "/entry/data/data").filter((v) => v !== "nan").length).toBe(30);
  });

  describe("the validator fails on a file with one required item removed", () => {
    const cases: Array<[string, RegExp]> = [
      ["/entry/definition", /\/entry: no 'definition'/],
      ["/entry/instrument/source/probe", /source: required field 'probe' missing/],
      ["/entry/instrument/monochromator/energy", /monochromator: required field 'energy' missing/],
      ["/entry/instrument/monochromator/wavelength", /\/entry\/xrf\/instrument\/monochromator: required field 'wavelength' missing/],
      ["/entry/data/sample_x", /\/entry\/data: required field 'sample_x' missing/],
      ["/entry/sample/rotation_angle", /sample: required field 'rotation_angle' missing/],
      ["/entry/monitor/preset", /\/entry\/xrf\/monitor: required field 'preset' missing/],
      ["/entry/instrument/ccd/data", /\/entry\/instrument\/ccd: required field 'data' missing/],
    ];
    it("a faithful copy (no item removed) still passes: the failures below are the removal's", async () => {
      const f = files.get("fast-scan.yaml")!;
      const copy = join(dir(), "copy.nxs");
      await copyExcept(f, copy, null);
      expect((await validateNexus(copy)).errors).toEqual([]);
    });
    it.each(cases)("without %s", async (item, expected) => {
      const copy = join(dir(), "cut.nxs");
      await copyExcept(files.get("fast-scan.yaml")!, copy, item);
      const r = await validateNexus(copy);
      expect(r.errors.length).toBeGreaterThan(0);
      expect(r.errors.join("\n")).toMatch(expected);
    });
    it("donki validate: exit 0 for a valid file, 1 with the problem for a cut one, 2 for a file that is not HDF5", async () => {
      const good = files.get("fast-scan.yaml")!;
      const cut = join(dir(), "cut.nxs");
      await copyExcept(good, cut, "/entry/instrument/source/probe");
      const cli = (...args: string[]) => spawnSync(process.execPath, [DONKI, "validate", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      const a = cli(good);
      expect(a.status).toBe(0);
      expect(a.stdout).toMatch(/: valid \(\/entry\/stxm: NXstxm, \/entry\/xrf: NXfluo, \/entry: NXstxm\)/);
      const b = cli(good, cut);
      expect(b.status).toBe(1);
      expect(b.stdout).toMatch(/cut\.nxs: \d+ problems?[\s\S]*\/entry\/instrument\/source: required field 'probe' missing/);
      const txt = join(dir(), "notes.nxs");
      writeFileSync(txt, "not HDF5\n");
      const c = cli(txt);
      expect(c.status).toBe(2);
      expect(c.stderr).toMatch(/notes\.nxs: not an HDF5 file/);
    });
    it("units of the wrong category fail (temperature in coulomb)", async () => {
      const copy = join(dir(), "units.nxs");
      await copyExcept(files.get("fast-scan.yaml")!, copy, null, { "/entry/sample/temperature": { units: "C" } });
      const r = await validateNexus(copy);
      expect(r.errors.join("\n")).toMatch(/sample\/temperature: units "C" are not NX_TEMPERATURE/);
    });
  });
});

describe("the default plot", () => {
  const plotAttrs = (f: string) => ({
    root: dumpAttr(f, "/", "default"),
    entry: dumpAttr(f, "/entry", "default"),
    signal: dumpAttr(f, "/entry/data", "signal"),
    axes: dumpAttr(f, "/entry/data", "axes"),
    aux: dumpAttr(f, "/entry/data", "auxiliary_signals"),
  });

  it("the demo: same scenario, same @default / @signal / @axes in every run; h5dump shows definition = NXstxm", () => {
    const a = files.get("twinmic-raster.yaml")!;
    const b = run("scenarios/twinmic-raster.yaml", dir());
    expect(plotAttrs(b)).toEqual(plotAttrs(a));
    expect(plotAttrs(a)).toEqual({
      root: '"entry"',
      entry: '"data"',
      signal: '"data"',
      axes: '"sample_y", "sample_x"',
      aux: '"roi_O", "roi_Fe", "roi_Mg", "roi_Al", "roi_Si"',
    });
    const dump = h5dump(["-A", a]);
    expect(dump.code).toBe(0);
    // the field's URL attribute names the definition in the header; the value itself: h5dump -d
    expect(dump.out).toMatch(/DATASET "definition" \{[\s\S]*?ATTRIBUTE "URL"[\s\S]*?\(0\): "https:\/\/manual\.nexusformat\.org\/classes\/applications\/NXstxm\.html"/);
    expect(dumpData(a, "/entry/definition")).toEqual(['"NXstxm"']);
    expect(dumpData(a, "/entry/xrf/definition")).toEqual(['"NXfluo"']);
    // micrometre axes of the planned raster, the incident energy per point
    expect(dumpAttr(a, "/entry/data/sample_x", "units")).toBe('"um"');
    expect(dumpData(a, "/entry/data/sample_x").map(Number)[0]).toBeCloseTo(10, 6);
    expect(dumpData(a, "/entry/data/sample_x").map(Number)[23]).toBeCloseTo(90, 6);
    const e = dumpData(a, "/entry/instrument/monochromator/energy").map(Number);
    expect(e.length).toBe(576);
    expect(new Set(e)).toEqual(new Set([2000]));
    expect(dumpData(a, "/entry/instrument/monochromator/wavelength").map(Number)[0]).toBeCloseTo(0.61992, 4);
  }, 300_000);

  it("a partial raster (--triggers 50 of 24 x 24) has monotonic axes and NaN where nothing was measured", () => {
    const f = run("scenarios/twinmic-raster.yaml", dir(), ["--triggers", "50"], 3); // a partial raster says stopped
    for (const ax of ["sample_x", "sample_y"]) {
      const v = dumpData(f, `/entry/data/${ax}`).map(Number);
      expect(v.length).toBe(24);
      for (let i = 1; i < v.length; i++) expect(v[i]!).toBeGreaterThan(v[i - 1]!);
    }
    const img = dumpData(f, "/entry/data/data");
    expect(img.length).toBe(576);
    expect(img.filter((v) => v !== "nan").length).toBe(50);
  }, 300_000);

  it("the temperature series has a temperature dimension (degC), not three stacked rasters", async () => {
    const f = files.get("temperature-series.yaml")!;
    expect(dumpAttr(f, "/entry/data", "axes")).toBe('"temperature", "sample_y", "sample_x"');
    expect(h5dump(["-H", "-d", "/entry/data/data", f]).out).toMatch(/SIMPLE \{ \( 3, 8, 8 \)/);
    expect(dumpData(f, "/entry/data/temperature").map(Number)).toEqual([20, 40, 60]);
    expect(dumpAttr(f, "/entry/data/temperature", "units")).toBe('"degC"');
    expect(dumpAttr(f, "/entry/instrument/temperature/value", "units")).toBe('"degC"');
  });
});

// ------------------------------------------------------------------ a copy of a file without one item

type Attrs = Record<string, Record<string, string>>;

/** Copy an HDF5 file object by object (hard links become copies), leaving out `skip` and overriding attributes. */
async function copyExcept(src: string, dst: string, skip: string | null, override: Attrs = {}): Promise<void> {
  await h5ready();
  const a = new h5wasm.File(src, "r");
  const b = new h5wasm.File(dst, "w");
  try {
    const copyAttrs = (from: Group | Dataset, to: Group | Dataset, p: string) => {
      for (const [k, at] of Object.entries(from.attrs)) {
        const o = override[p]?.[k];
        if (o !== undefined) to.create_attribute(k, o);
        else to.create_attribute(k, at.value as never, at.shape as never, at.dtype as never);
      }
    };
    const walk = (from: Group, to: Group, p: string) => {
      copyAttrs(from, to, p || "/");
      for (const k of from.keys()) {
        const cp = `${p}/${k}`;
        // the subentries' instrument, sample and monitor are the entry's (hard links): leave the item out there too
        if (cp === skip || cp.replace(/^\/entry\/(stxm|xrf)\/(instrument|sample|monitor)(?=\/|$)/, "/entry/$2") === skip) continue;
        const o = from.get(k);
        if (o instanceof h5wasm.Group) {
          to.create_group(k);
          walk(o, to.get(k) as Group, cp);
        } else if (o instanceof h5wasm.Dataset) {
          const v = o.value;
          if (typeof v === "string") to.create_dataset({ name: k, data: v });
          else to.create_dataset({ name: k, data: v as never, shape: o.shape ?? [], dtype: o.dtype as string });
          copyAttrs(o, to.get(k) as Dataset, cp);
        }
      }
    };
    walk(a, b, "");
  } finally {
    a.close();
    b.close();
  }
}

/**
 * Overlap on the simulated TWINMIC endstation: the scenario fields are validated with their place in the file;
 * a raster with overlap gives the same datasets as the same raster without (apart from timestamps), in less
 * instrument time, exactly as `donki estimate` plans it; the file records the dead-time report (read back with
 * h5wasm and h5dump) and `donki validate` accepts it.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parse, stringify } from "yaml";
import { loadScenario, parseScenario, ScenarioError } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { estimateScenario } from "../runtime/cli/estimate.ts";
import { fingerprintFile, diffFingerprints } from "../runtime/data/fingerprint.ts";
import { h5ready, h5wasm } from "../runtime/data/h5util.ts";
import { silentLogger } from "../runtime/log.ts";
import * as catalogue from "../drivers/registry.ts";
import { DONKI, ROOT } from "./helpers/procs.ts";

const dir = mkdtempSync(join(tmpdir(), "donki-overlap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = `title: overlap check
seed: 7
players:
  - name: stage
    level: 0
    device: sim:pi-stage
  - name: temperature
    level: 1
    device: sim:temperature
  - name: ccd
    level: 2
    device: sim:pi-ccd
    settings: { roi: { x: 419, y: 407, width: 501, height: 486 }, binning: 3, readoutRateHz: 2000000 }
  - name: xrf
    level: 2
    device: sim:dante
    settings: { bins: 1024, rois: { Fe: [660, 750] } }
  - name: io
    level: 2
    device: sim:io
sequence:
  raster: { x: { start: 20, stop: 80, points: 6 }, y: { start: 20, stop: 80, points: 5 }, snake: true, positioner: stage }
  dwell: 0.05
`;

/** The same scenario with every overlap-capable player's choice set. */
const withOverlap = (mode: "readout" | "none") =>
  BASE.replace("    device: sim:pi-ccd\n", `    device: sim:pi-ccd\n    overlap: ${mode}\n`).replace("    device: sim:dante\n", `    device: sim:dante\n    overlap: ${mode}\n`);

function problems(text: string, name: string): string[] {
  try {
    parseScenario(text, join(dir, name), { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
  } catch (e) {
    if (e instanceof ScenarioError) return e.problems;
    throw e;
  }
  throw new Error(`${name} was accepted`);
}

describe("scenario fields overlap and actOnChange", () => {
  it("a bad value or a device without read-out is reported with file, line, column and player", () => {
    const bad = BASE.replace("    device: sim:io\n", "    device: sim:io\n    overlap: always\n");
    expect(problems(bad, "bad-value.yaml").join("\n")).toMatch(/bad-value\.yaml:21:14: players\[4\]\.overlap: .*"readout"\|"none"/);
    const noReadout = BASE.replace("    device: sim:io\n", "    device: sim:io\n    overlap: readout\n");
    expect(problems(noReadout, "no-readout.yaml")).toEqual([expect.stringMatching(/no-readout\.yaml:21:14: players\[4\]\.overlap \(io, sim:io\): device 'sim:io' has no read-out to overlap/)]);
    const notSetpoint = BASE.replace("    device: sim:pi-ccd\n", "    device: sim:pi-ccd\n    actOnChange: false\n");
    expect(problems(notSetpoint, "not-setpoint.yaml")).toEqual([expect.stringMatching(/not-setpoint\.yaml:13:18: players\[2\]\.actOnChange \(ccd, sim:pi-ccd\): applies to set-point devices/)]);
  });
});

describe("a raster with and without overlap", () => {
  it("same datasets apart from timestamps; less instrument time, as planned; the dead-time report in the file", async () => {
    const runs: Record<string, { file: string; sim: number; est: number; eff: number | null }> = {};
    for (const mode of ["none", "readout"] as const) {
      const path = join(dir, `${mode}.yaml`);
      writeFileSync(path, withOverlap(mode));
      const sc = loadScenario(path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
      const est = await estimateScenario(sc, catalogue);
      const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(dir, mode), inProcess: true, time: { mode: "virtual" } });
      expect(r.result.status).toBe("completed");
      expect(r.result.triggers).toBe(30);
      runs[mode] = { file: r.file!, sim: r.simulatedS, est: est.totalS, eff: r.deadTime?.efficiency.actual ?? null };
    }
    // the data does not depend on when the read-out happened
    expect(diffFingerprints(await fingerprintFile(runs.none.file), await fingerprintFile(runs.readout.file))).toEqual([]);
    // overlap hides the read-out behind the next move: less instrument time, and the estimate is the run
    expect(runs.readout.sim).toBeLessThan(runs.none.sim);
    for (const m of Object.values(runs)) expect(Math.abs(m.est - m.sim) / m.sim).toBeLessThan(1e-6);
    expect(runs.readout.eff!).toBeGreaterThan(runs.none.eff!);

    // the report in the file: actual next to planned, per player and phase
    await h5ready();
    const f = new h5wasm.File(runs.readout.file, "r");
    try {
      const v = (p: string) => Number((f.get(p) as InstanceType<typeof h5wasm.Dataset>).value);
      expect((f.get("/entry/dead_time") as InstanceType<typeof h5wasm.Group>).attrs.NX_class.value).toBe("NXcollection");
      expect(v("/entry/dead_time/instrument_time")).toBeCloseTo(runs.readout.sim, 9);
      expect(v("/entry/dead_time/instrument_time_planned")).toBeCloseTo(runs.readout.est, 9);
      expect(v("/entry/dead_time/efficiency")).toBeCloseTo(30 * 0.05 / runs.readout.sim, 9);
      expect((f.get("/entry/dead_time/ccd/overlap") as InstanceType<typeof h5wasm.Dataset>).value).toBe("readout");
      expect(v("/entry/dead_time/ccd/readout")).toBeGreaterThan(0);
      expect(v("/entry/dead_time/ccd/readout")).toBeCloseTo(v("/entry/dead_time/ccd/readout_planned"), 9);
      expect(v("/entry/dead_time/ccd/wait")).toBeCloseTo(v("/entry/dead_time/ccd/wait_planned"), 9);
    } finally {
      f.close();
    }
    const dump = spawnSync("h5dump", ["-d", "/entry/dead_time/efficiency", runs.readout.file], { encoding: "utf8" });
    expect(dump.status).toBe(0);
    expect(dump.stdout).toMatch(/H5T_IEEE_F64LE/);
    const val = spawnSync(process.execPath, [DONKI, "validate", runs.readout.file], { cwd: ROOT, encoding: "utf8" });
    expect(val.status, val.stderr + val.stdout).toBe(0);
  }, 180_000);
});

describe("the iXon in frame transfer in place of the CCD", () => {
  /** The CCD replaced by the iXon twin at 1 MHz (19 ms read-out: longer than the stage move). */
  const ixon = (overlap: "readout" | "none", frameTransfer: boolean) =>
    BASE.replace(
      "    device: sim:pi-ccd\n    settings: { roi: { x: 419, y: 407, width: 501, height: 486 }, binning: 3, readoutRateHz: 2000000 }\n",
      `    device: sim:andor-ixon\n    overlap: ${overlap}\n    settings: { readoutRateHz: 1000000, frameTransfer: ${frameTransfer} }\n`,
    );

  it("same datasets sequential, overlapped, and overlapped with the next exposure during the read-out; as planned", async () => {
    const runs: Record<string, { file: string; sim: number; est: number }> = {};
    for (const [name, text] of [["sequential", ixon("none", true)], ["overlap", ixon("readout", false)], ["frame transfer", ixon("readout", true)]] as const) {
      expect(text).toContain("sim:andor-ixon");
      const path = join(dir, `ixon-${name.replace(" ", "-")}.yaml`);
      writeFileSync(path, text);
      const sc = loadScenario(path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
      const est = await estimateScenario(sc, catalogue);
      const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(dir, `ixon-${name.replace(" ", "-")}`), inProcess: true, time: { mode: "virtual" } });
      expect(r.result.status).toBe("completed");
      expect(r.result.triggers).toBe(30);
      runs[name] = { file: r.file!, sim: r.simulatedS, est: est.totalS };
      if (name === "frame transfer") expect(est.players.ccd.pipelined).toBe(true);
    }
    const fp = await fingerprintFile(runs.sequential.file);
    expect(diffFingerprints(fp, await fingerprintFile(runs.overlap.file))).toEqual([]);
    expect(diffFingerprints(fp, await fingerprintFile(runs["frame transfer"].file))).toEqual([]);
    // overlap hides the read-out behind the move; frame transfer also behind the next exposure
    expect(runs.overlap.sim).toBeLessThan(runs.sequential.sim);
    expect(runs["frame transfer"].sim).toBeLessThan(runs.overlap.sim);
    for (const m of Object.values(runs)) expect(Math.abs(m.est - m.sim) / m.sim).toBeLessThan(1e-6);

    // in scaled real time the next exposure really runs during the read-out (two actions at once in the player):
    // the run completes without a fault and writes the same datasets (no timing is asserted)
    const path = join(dir, "ixon-scaled.yaml");
    writeFileSync(path, `${ixon("readout", true)}policy: { onFault: abort }\n`);
    const sc = loadScenario(path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
    const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(dir, "ixon-scaled"), inProcess: true, time: { mode: "scaled", scale: 0.2 } });
    expect(r.result.status).toBe("completed");
    expect(r.result.faults).toEqual([]);
    expect(diffFingerprints(fp, await fingerprintFile(r.file!))).toEqual([]);
  }, 180_000);
});

describe("the shipped demo (scenarios/twinmic-raster.yaml), sequential and overlapped", () => {
  type Player = { name: string; device: string; overlap?: string };
  type Def = { players: Player[]; sequence: { raster: { x: { points: number }; y: { points: number } } }; output: { directory: string } };
  const demoPath = join(ROOT, "scenarios/twinmic-raster.yaml");
  const demo = () => parse(readFileSync(demoPath, "utf8")) as Def;

  it("plans >= 85 % of the instrument time exposing with its defaults (the camera in frame transfer)", async () => {
    const sc = loadScenario(demoPath, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
    const est = await estimateScenario(sc, catalogue);
    expect(est.triggers).toBe(576);
    const d = demo();
    const ccd = d.players.find((p) => p.name === "ccd")!;
    expect(ccd.device).toBe("sim:andor-ixon");
    expect(est.players.ccd.pipelined).toBe(true);
    expect(57.6 / est.totalS).toBeGreaterThanOrEqual(0.85);
  });

  it("a short version (6 x 4 points): same datasets sequential and overlapped, apart from timestamps; as planned", async () => {
    const runs: Record<string, { file: string; sim: number; est: number }> = {};
    for (const mode of ["sequential", "overlap"] as const) {
      const d = demo();
      d.sequence.raster.x.points = 6;
      d.sequence.raster.y.points = 4;
      d.output.directory = join(dir, `demo-${mode}`);
      // sequential read-out: the camera and DANTE acknowledge after their read-out (act on change stays on in both:
      // without it the temperature player records a fresh read-back at every trigger, a different record by design)
      if (mode === "sequential") for (const p of d.players) if (p.device === "sim:andor-ixon" || p.device === "sim:dante") p.overlap = "none";
      const path = join(dir, `demo-${mode}.yaml`);
      writeFileSync(path, stringify(d));
      const sc = loadScenario(path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
      const est = await estimateScenario(sc, catalogue);
      const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(dir, `demo-${mode}`), inProcess: true, time: { mode: "virtual" } });
      expect(r.result.status).toBe("completed");
      expect(r.result.triggers).toBe(24);
      runs[mode] = { file: r.file!, sim: r.simulatedS, est: est.totalS };
      if (mode === "overlap") expect(est.players.ccd.pipelined).toBe(true);
    }
    const a = await fingerprintFile(runs.sequential.file);
    const b = await fingerprintFile(runs.overlap.file);
    expect(Object.keys(a.datasets)).toContain("/entry/instrument/ccd/data");
    expect(diffFingerprints(a, b)).toEqual([]);
    expect(runs.overlap.sim).toBeLessThan(runs.sequential.sim);
    for (const m of Object.values(runs)) expect(Math.abs(m.est - m.sim) / m.sim).toBeLessThan(1e-6);
  }, 180_000);
});

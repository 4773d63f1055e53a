/** Scenario files: validation errors name file, line and field; XML player lists; sequence expansion. */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { loadScenario, ScenarioError } from "../runtime/scenario/load.ts";
import { expandSequence } from "../runtime/scenario/sequence.ts";
import { deviceNames } from "../drivers/registry.ts";
import { ROOT } from "./helpers/procs.ts";

const F = (n: string) => join(ROOT, "test/fixtures/scenarios", n);

function problems(file: string): string[] {
  try {
    loadScenario(file, { knownDevices: deviceNames() });
  } catch (e) {
    if (e instanceof ScenarioError) return e.problems;
    throw e;
  }
  throw new Error(`${file} was accepted`);
}

describe("scenario instrument section", () => {
  it("defaults to TWINMIC at Elettra, 2 keV", () => {
    const s = loadScenario(join(ROOT, "scenarios/fast-scan.yaml"));
    expect(s.def.instrument).toEqual({
      name: "TWINMIC",
      source: { name: "Elettra", type: "Synchrotron X-ray Source", probe: "x-ray" },
      monochromator: { energy_eV: 2000 },
      sample: { rotation_angle: 0 },
    });
  });
  it("the incident energy reaches every trigger as params.energy (eV) unless the sequence sets it", async () => {
    const { withEnergy } = await import("../runtime/cli/run.ts");
    const raster = expandSequence(loadScenario(join(ROOT, "scenarios/fast-scan.yaml")).def.sequence);
    expect(withEnergy(raster.params(7), 1500).point).toMatchObject({ energy: 1500 });
    const stack = expandSequence({ line: { axis: "energy", start: 700, stop: 720, points: 3 } } as never);
    expect(withEnergy(stack.params(3), 1500).point).toMatchObject({ energy: 720 });
  });
});

describe("scenario validation", () => {
  const cases: Array<[string, RegExp[]]> = [
    ["bad-syntax.yaml", [/bad-syntax\.yaml:5:1: YAML syntax: /]],
    ["bad-level.yaml", [/bad-level\.yaml:7:12: players\[1\]\.level: expected number, received string/]],
    ["bad-unknown-field.yaml", [/bad-unknown-field\.yaml:6:\d+: players\[0\]: unknown field 'exposure'/]],
    ["bad-two-sequences.yaml", [/bad-two-sequences\.yaml:5:3: sequence: has line and time: give exactly one of raster, line, points or time/]],
    ["bad-duplicate-player.yaml", [/bad-duplicate-player\.yaml:4:\d+: players\[1\]\.name: player name 'io' is used twice/]],
    ["bad-missing-title.yaml", [/bad-missing-title\.yaml:1:1: title: is required/, /bad-missing-title\.yaml:4:\d+: sequence\.raster\.x\.points: Too small/]],
    ["bad-device.yaml", [/bad-device\.yaml:3:\d+: players\[0\]\.device: unknown device 'sim:hal9000'/]],
    ["bad-xml.yaml", [/bad-players\.xml:3: player #2 \('bad'\): level: expected number/]],
    [
      "bad-instrument.yaml",
      [/bad-instrument\.yaml:3:\d+: instrument\.source\.probe: .*x-ray/, /bad-instrument\.yaml:4:\d+: instrument\.monochromator\.energy_eV: Too small/],
    ],
  ];
  for (const [file, expected] of cases) {
    it(`rejects ${file} with a located message`, () => {
      const p = problems(F(file));
      expect(p.length).toBe(expected.length);
      expected.forEach((re, i) => expect(p[i]).toMatch(re));
    });
  }

  it("accepts every shipped scenario", () => {
    const dir = join(ROOT, "scenarios");
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) expect(() => loadScenario(join(dir, f), { knownDevices: deviceNames() })).not.toThrow();
  });

  it("translates the XML player list into the same model as YAML", () => {
    const s = loadScenario(join(ROOT, "scenarios/xml-players-scan.yaml"));
    expect(s.def.players).toEqual([
      { name: "stage", level: 0, device: "sim:pi-stage", settings: { axes: { x: "1", y: "2" } }, host: "local", join: "next-trigger" },
      { name: "ccd", level: 2, device: "sim:pi-ccd", settings: { roi: { x: 336, y: 325, width: 668, height: 650 }, binning: 4, gainIndex: 0, readoutRateHz: 2000000 }, host: "local", join: "next-trigger" },
      { name: "io", level: 2, device: "sim:io", settings: {}, host: "local", join: "next-trigger" },
    ]);
  });
});

describe("sequence expansion", () => {
  it("a snake raster runs odd rows backwards and gives the image shape", () => {
    const s = expandSequence({ raster: { x: { start: 0, stop: 20, points: 3 }, y: { start: 5, stop: 6, points: 2 }, snake: true }, dwell: 0.1 });
    expect(s.count).toBe(6);
    expect(s.raster!.shape).toEqual([2, 3]);
    const pts = [1, 2, 3, 4, 5, 6].map((t) => s.params(t).point!);
    expect(pts.map((p) => [p.x, p.y])).toEqual([[0, 5], [10, 5], [20, 5], [20, 6], [10, 6], [0, 6]]);
    expect(pts[0].dwell).toBe(0.1);
  });

  it("repeat wraps the inner sequence with an outer parameter", () => {
    const s = expandSequence({ line: { axis: "x", start: 0, stop: 1, points: 2, fixed: { y: 3 } }, repeat: { param: "temperature", values: [20, 40] } });
    expect(s.count).toBe(4);
    expect([1, 2, 3, 4].map((t) => s.params(t).point)).toEqual([
      { y: 3, x: 0, index: 0, temperature: 20 },
      { y: 3, x: 1, index: 1, temperature: 20 },
      { y: 3, x: 0, index: 0, temperature: 40 },
      { y: 3, x: 1, index: 1, temperature: 40 },
    ]);
  });

  it("fixed per-level and per-player parameters travel with every trigger", () => {
    const s = expandSequence({ points: [{ x: 1 }], dwell: 0.5, params: { levels: { "2": { gain: 3 } }, players: { ccd: { roi: "small" } } } });
    expect(s.params(1)).toEqual({ point: { x: 1, index: 0, dwell: 0.5 }, levels: { 2: { gain: 3 } }, players: { ccd: { roi: "small" } } });
  });

  it("an unbounded time series has no count", () => {
    const s = expandSequence({ time: { count: null, fixed: { x: 1 } } });
    expect(s.count).toBeNull();
    expect(s.params(1000).point).toEqual({ x: 1, index: 999 });
  });
});

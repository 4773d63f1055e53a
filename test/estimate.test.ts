/** donki estimate: the timing-model prediction agrees with what the virtual-time run of the same scenario took. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadScenario } from "../runtime/scenario/load.ts";
import { estimateScenario } from "../runtime/cli/estimate.ts";
import * as catalogue from "../drivers/registry.ts";
import { DONKI, ROOT } from "./helpers/procs.ts";

describe("donki estimate", () => {
  for (const name of ["fast-scan", "twinmic-raster", "temperature-series", "ccd-dark-flat", "xml-players-scan"]) {
    it(`${name}: estimate within 0.5% of the simulated duration of the real (virtual-time) run`, async () => {
      const golden = JSON.parse(readFileSync(join(ROOT, "scenarios/golden", `${name}.json`), "utf8"));
      const e = await estimateScenario(loadScenario(join(ROOT, "scenarios", `${name}.yaml`)), catalogue);
      expect(e.triggers).toBe(golden.triggers);
      expect(Math.abs(e.totalS - golden.simulatedS) / golden.simulatedS).toBeLessThan(0.005);
      expect(e.unmodelled).toEqual([]);
    });
  }

  it("prints a breakdown by level and phase", () => {
    const r = spawnSync(process.execPath, [DONKI, "estimate", "scenarios/twinmic-raster.yaml"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/raster 24 x 24 \(snake\): 576 triggers/);
    expect(r.stdout).toMatch(/level 0\s+stage\s+[\d.]+ s\s+move [\d.]+ s, settle [\d.]+ s/);
    expect(r.stdout).toMatch(/level 2\s+ccd, xrf, io .*exposure .*wait .*\(slowest: ccd 576x\)/);
    expect(r.stdout).toMatch(/total\s+77\.97 s/);
    expect(r.stdout).toMatch(/overlap: ccd, xrf read out during the next trigger's lower levels/);
    expect(r.stdout).toMatch(/efficiency 73\.9 % \(exposure 57\.60 s of 77\.97 s\)/);
  });
});

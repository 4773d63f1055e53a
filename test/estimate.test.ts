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
    // the iXon in frame transfer: its 5.4 ms read-out runs during the next move and exposure, so level 2 waits for
    // nothing but the exposure and the I/O read-back (docs/benchmarks.md "Scan efficiency")
    expect(r.stdout).toMatch(/level 2\s+ccd, xrf, io\s+[\d.]+ s\s+exposure 57\.60 s, overhead [\d.]+ s\s+\(slowest: io 576x\)/);
    expect(r.stdout).not.toMatch(/level 2.*wait/);
    expect(r.stdout).toMatch(/total\s+62\.82 s/);
    expect(r.stdout).toMatch(/overlap: ccd, xrf read out during the next trigger's lower levels \(ccd: and during its own next exposure, frame transfer\)/);
    expect(r.stdout).toMatch(/efficiency 91\.7 % \(exposure 57\.60 s of 62\.82 s\)/);
  });
});

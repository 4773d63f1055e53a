/**
 * Deadlines from the timing model: without a fixed actionTimeout, each action's deadline is what its device's model
 * expects for that trigger x 1.5 (x the time scale) + a margin; the timeout fault names the player, the phase and
 * the expected vs elapsed time. A scenario's fixed actionTimeout still applies. No timing is asserted.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseScenario } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { estimateScenario } from "../runtime/cli/estimate.ts";
import { modelDeadlines, DEADLINE_FACTOR, DEADLINE_MARGIN_S } from "../runtime/cli/deadlines.ts";
import { silentLogger } from "../runtime/log.ts";
import * as catalogue from "../drivers/registry.ts";

const dir = mkdtempSync(join(tmpdir(), "donki-deadlines-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCENARIO = (extra: string) => `title: deadlines
players:
  - name: stage
    level: 0
    device: sim:pi-stage
  - name: ccd
    level: 2
    device: sim:pi-ccd
    settings: { roi: { x: 419, y: 407, width: 501, height: 486 }, binning: 3, readoutRateHz: 2000000 }
${extra}sequence:
  raster: { x: { start: 20, stop: 80, points: 3 }, y: { start: 20, stop: 80, points: 2 }, positioner: stage }
  dwell: 0.1
`;

describe("deadlines from the timing model", () => {
  it("each action may take what the model expects for it x 1.5 + margin; a fixed actionTimeout wins", async () => {
    const sc = parseScenario(SCENARIO(""), join(dir, "a.yaml"));
    const est = await estimateScenario(sc, catalogue);
    const f = modelDeadlines(est, { mode: "real" }, () => false)!;
    const ack = est.expected.ccd.ack;
    // trigger 1: clear + exposure; later ones wait for the previous read-out (overlap)
    expect(ack[0]).toBeCloseTo(0.039 + 0.1, 6);
    const d = f("ccd", 2, "action")!;
    expect(d.ms).toBe(Math.round((DEADLINE_FACTOR * ack[1] + DEADLINE_MARGIN_S.real) * 1000));
    expect(d.note).toMatch(/timing model expects its acknowledgement \(.*exposure.*\) after 0\.1\d\d s of instrument time/);
    expect(f("ccd", 2, "readout")!.note).toMatch(/its read-out after 0\.035 s/);
    expect(f("unknown", 1, "action")).toBeUndefined();
    expect(modelDeadlines(est, { mode: "real" }, (p) => p === "ccd")!("ccd", 1, "action")).toBeUndefined();
  });

  it("a detector that hangs is reported with player, phase, expected and elapsed time", async () => {
    const sc = parseScenario(SCENARIO("    faults: [{ at: { trigger: 3, method: acquire }, kind: timeout }]\npolicy: { onFault: abort }\n"), join(dir, "b.yaml"));
    const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(dir, "b"), inProcess: true, time: { mode: "scaled", scale: 0.05 } });
    expect(r.result.status, JSON.stringify(r.result.faults)).toBe("aborted");
    const f = r.result.faults.find((x) => x.kind === "timeout");
    expect(f).toMatchObject({ player: "ccd", trig: 3, lvl: 2 });
    expect(f!.message).toMatch(/^phase action: no ack: the timing model expects its acknowledgement \(.*\) after 0\.\d+ s of instrument time; deadline 1\.5 x expected x time scale 0\.05 \+ 5 s; elapsed \d+\.\d\d s of wall time \(deadline \d+\.\d\d s\)$/);
  }, 120_000);
});

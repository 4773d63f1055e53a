/**
 * Scan efficiency of the TWINMIC demo raster (scenarios/twinmic-raster.yaml, 24 x 24, 100 ms dwell; the STXM
 * transmission camera is the Andor iXon twin, 2x2 binned at 1 MHz, frame transfer): exposure / instrument time, in
 * virtual time (the twins' timing models), measured in one run for each variant:
 *   sequential      every player acknowledges after its read-out, the temperature is read back at every trigger
 *                   (how donki ran before overlap, and how DonkiOrchestra runs)
 *   act on change   the same, but the temperature player skips an unchanged set-point
 *   overlap         the shipped defaults: the camera releases at the frame-transfer shift and exposes the next point
 *                   while the storage area reads out; DANTE acknowledges at the end of the dwell
 *   overlap, no camera  the same raster without the camera (XRF + I0 mapping)
 *   iXon, no FT     the demo camera without frame transfer (keep-clean, exposure, shift, read-out), overlap on
 *   PI CCD ...      the Princeton X-ray CCD (TWINMIC's full-field camera; the demo's camera until 2026-12-01) in place
 *                   of the iXon, as it was configured (501 x 486 ROI binned 3x3 at 2 MHz): sequential, overlap, and
 *                   overlap at 250 ms dwell. A full-frame sensor cannot expose during its own read-out (35 ms here,
 *                   19.5 ms of it the 1300 row shifts), so at 100 ms dwell it stays at 73.9 % (bound 83.6 %), and
 *                   needs a dwell above ~201 ms for 85 % (200 ms gives 84.97 %)
 * Each run's instrument time is compared with `donki estimate`'s for the same scenario.
 *   node --import tsx bench/efficiency.ts
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { parseScenario } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { estimateScenario } from "../runtime/cli/estimate.ts";
import { silentLogger } from "../runtime/log.ts";
import * as catalogue from "../drivers/registry.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface EfficiencyRow {
  variant: string;
  triggers: number;
  exposureS: number;
  instrumentS: number;
  efficiency: number;
  estimateS: number;
  /** (estimate - run) / run */
  estimateError: number;
  wallS: number;
}

type Def = { players: Array<Record<string, unknown> & { name: string; device: string }>; title: string };

const OVERLAPPING = new Set(["sim:pi-ccd", "sim:andor-ixon", "sim:dante"]);

const sequential = (d: Def) => {
  for (const p of d.players) {
    if (OVERLAPPING.has(p.device)) p.overlap = "none";
    if (p.device === "sim:temperature") p.actOnChange = false;
  }
};

const VARIANTS: Array<[string, (d: Def) => void]> = [
  ["sequential", sequential],
  ["act on change", (d) => {
    for (const p of d.players) if (OVERLAPPING.has(p.device)) p.overlap = "none";
  }],
  ["overlap (defaults)", () => {}],
  ["overlap, no camera", (d) => {
    d.players = d.players.filter((p) => p.name !== "ccd");
  }],
  ["iXon, no FT", (d) => {
    camera(d).settings = { ...(camera(d).settings as object), frameTransfer: false };
  }],
  ["PI CCD, sequential", (d) => {
    piCcd(d);
    sequential(d);
  }],
  ["PI CCD, overlap", piCcd],
  ["PI CCD, 250 ms dwell", (d) => {
    piCcd(d);
    (d as Def & { sequence: { dwell: number } }).sequence.dwell = 0.25;
  }],
];

const camera = (d: Def) => d.players.find((q) => q.name === "ccd")!;

/** The PI X-ray CCD twin in place of the iXon, as the demo configured it before 2026-12-01 (overlap: its default). */
function piCcd(d: Def): void {
  const p = camera(d);
  p.device = "sim:pi-ccd";
  p.settings = { roi: { x: 419, y: 407, width: 501, height: 486 }, binning: 3, gainIndex: 0, readoutRateHz: 2000000 };
}

export async function benchEfficiency(opts: { log?: (s: string) => void } = {}): Promise<EfficiencyRow[]> {
  const log = opts.log ?? console.log;
  const path = join(ROOT, "scenarios/twinmic-raster.yaml");
  const rows: EfficiencyRow[] = [];
  for (const [variant, change] of VARIANTS) {
    const def = parse(readFileSync(path, "utf8")) as Def;
    change(def);
    def.title = `${def.title} (${variant})`;
    const sc = parseScenario(stringify(def), path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
    const est = await estimateScenario(sc, catalogue);
    const out = mkdtempSync(join(tmpdir(), "donki-efficiency-"));
    try {
      const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: out, inProcess: true, time: { mode: "virtual" } });
      if (r.result.status !== "completed") throw new Error(`${variant}: ${r.result.status} ${r.result.message ?? ""}`);
      const d = r.deadTime!;
      const row: EfficiencyRow = {
        variant,
        triggers: r.result.triggers,
        exposureS: d.exposureS.actual ?? NaN,
        instrumentS: r.simulatedS,
        efficiency: d.efficiency.actual ?? NaN,
        estimateS: est.totalS,
        estimateError: (est.totalS - r.simulatedS) / r.simulatedS,
        wallS: r.wallS,
      };
      rows.push(row);
      log(
        `${variant.padEnd(20)} ${row.triggers} triggers: exposure ${row.exposureS.toFixed(2)} s of ${row.instrumentS.toFixed(2)} s instrument time = ${(100 * row.efficiency).toFixed(2)} %` +
          `  (estimate ${row.estimateS.toFixed(2)} s, ${pct3(row.estimateError)} %; wall ${row.wallS.toFixed(1)} s)`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return rows;
}

/** A fraction as a percentage with 3 decimals, without "-0.000" for a rounding residue. */
function pct3(f: number): string {
  const v = (100 * f).toFixed(3);
  return /^-0\.0+$/.test(v) ? v.slice(1) : v;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await benchEfficiency();

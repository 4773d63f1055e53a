/**
 * Scan efficiency of the TWINMIC demo raster (scenarios/twinmic-raster.yaml, 24 x 24, 100 ms dwell): exposure /
 * instrument time, in virtual time (the twins' timing models), measured in one run for each variant:
 *   sequential      every player acknowledges after its read-out, the temperature is read back at every trigger
 *                   (how donki ran before overlap, and how DonkiOrchestra runs)
 *   act on change   the same, but the temperature player skips an unchanged set-point
 *   overlap         the shipped defaults: CCD and DANTE acknowledge at the end of the exposure / dwell
 *   overlap, no CCD the same raster without the CCD (XRF + I0 mapping): what overlap gives when no full-frame
 *                   read-out bounds the cycle
 *   PI CCD 250 ms   the shipped raster at 250 ms dwell: a full-frame CCD's cycle is dwell + read-out (35 ms here),
 *                   so it needs a dwell above ~201 ms for 85 % (200 ms gives 84.97 %)
 *   iXon ...        the Andor iXon twin (128 x 128 EMCCD with a storage area) in place of the PI CCD, all of its
 *                   sensor, overlap on: at 10 MHz (EM amplifier, its default) with frame transfer, and at 1 MHz (the
 *                   EM amplifier's slowest, lowest-noise rate: 19 ms read-out, longer than the stage move) without
 *                   and with frame transfer. With frame transfer the next exposure runs while the storage area reads
 *                   out (the Player starts the next trigger's action at the shift).
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

const VARIANTS: Array<[string, (d: Def) => void]> = [
  ["sequential", (d) => {
    for (const p of d.players) {
      if (p.device === "sim:pi-ccd" || p.device === "sim:dante") p.overlap = "none";
      if (p.device === "sim:temperature") p.actOnChange = false;
    }
  }],
  ["act on change", (d) => {
    for (const p of d.players) if (p.device === "sim:pi-ccd" || p.device === "sim:dante") p.overlap = "none";
  }],
  ["overlap (defaults)", () => {}],
  ["overlap, no CCD", (d) => {
    d.players = d.players.filter((p) => p.device !== "sim:pi-ccd");
  }],
  ["PI CCD, 250 ms dwell", (d) => {
    (d as Def & { sequence: { dwell: number } }).sequence.dwell = 0.25;
  }],
  ["iXon 10 MHz, FT", (d) => ixon(d, { readoutRateHz: 10e6, frameTransfer: true })],
  ["iXon 1 MHz, no FT", (d) => ixon(d, { readoutRateHz: 1e6, frameTransfer: false })],
  ["iXon 1 MHz, FT", (d) => ixon(d, { readoutRateHz: 1e6, frameTransfer: true })],
];

/** The iXon twin in place of the PI CCD: its whole 128 x 128 sensor, no binning, overlap (the default). */
function ixon(d: Def, s: { readoutRateHz: number; frameTransfer: boolean }): void {
  const p = d.players.find((q) => q.device === "sim:pi-ccd")!;
  p.device = "sim:andor-ixon";
  p.settings = { readoutRateHz: s.readoutRateHz, frameTransfer: s.frameTransfer };
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
          `  (estimate ${row.estimateS.toFixed(2)} s, ${(100 * row.estimateError).toFixed(3)} %; wall ${row.wallS.toFixed(1)} s)`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await benchEfficiency();

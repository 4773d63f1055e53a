/**
 * Overlap through the vendor drivers: a 6 x 6 raster at 0.1 s dwell with the PI CCD (3x3 binned, 2 MHz) and the
 * DANTE (2048 bins) at level 1, run with `overlap: none` and `overlap: readout`, once with the real drivers
 * (`pi-pvcam`, `dante`) over their SDK twins (the fake vendor libraries at the C-function boundary) and once with the
 * twins (`sim:pi-ccd`, `sim:dante`). Virtual time (the twins' timing models), so the figures do not depend on the
 * machine's load: the drivers must give the twins' instrument time and `estimate`'s, and overlap must shorten it.
 *   node --import tsx bench/vendor-overlap.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseScenario } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { estimateScenario } from "../runtime/cli/estimate.ts";
import { silentLogger } from "../runtime/log.ts";
import * as catalogue from "../drivers/registry.ts";

export interface VendorOverlapRow {
  devices: "vendor drivers" | "twins";
  overlap: "none" | "readout";
  instrumentS: number;
  efficiency: number;
  estimateS: number;
}

function scenario(vendor: boolean, overlap: "none" | "readout"): string {
  const ccd = vendor ? "pi-pvcam" : "sim:pi-ccd";
  const xrf = vendor ? "dante" : "sim:dante";
  const sdk = vendor ? "sdk: twin, " : "";
  return `title: vendor overlap bench
seed: 4
players:
  - { name: stage, level: 0, device: sim:pi-stage }
  - { name: ccd, level: 1, device: ${ccd}, overlap: ${overlap}, settings: { ${sdk}binning: 3, readoutRateHz: 2000000, frames: false } }
  - { name: xrf, level: 1, device: ${xrf}, overlap: ${overlap}, settings: { ${sdk}bins: 2048 } }
sequence:
  raster: { x: { start: 30, stop: 70, points: 6 }, y: { start: 30, stop: 70, points: 6 } }
  dwell: 0.1
`;
}

export async function benchVendorOverlap(opts: { log?: (s: string) => void } = {}): Promise<VendorOverlapRow[]> {
  const log = opts.log ?? console.log;
  const rows: VendorOverlapRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), "donki-vendor-overlap-"));
  try {
    for (const vendor of [true, false]) {
      for (const overlap of ["none", "readout"] as const) {
        const path = join(dir, `${vendor ? "vendor" : "twin"}-${overlap}.yaml`);
        const sc = parseScenario(scenario(vendor, overlap), path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
        const est = await estimateScenario(sc, catalogue);
        const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(dir, `${vendor}-${overlap}`), inProcess: true, time: { mode: "virtual" } });
        if (r.result.status !== "completed") throw new Error(`${path}: ${r.result.status} ${r.result.message ?? ""}`);
        const row: VendorOverlapRow = { devices: vendor ? "vendor drivers" : "twins", overlap, instrumentS: r.simulatedS, efficiency: r.deadTime?.efficiency.actual ?? NaN, estimateS: est.totalS };
        rows.push(row);
        log(`${row.devices.padEnd(15)} overlap ${overlap.padEnd(8)} ${r.result.triggers} triggers: ${row.instrumentS.toFixed(2)} s of instrument time, ${(100 * row.efficiency).toFixed(1)} % exposing (estimate ${row.estimateS.toFixed(2)} s)`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await benchVendorOverlap();

/**
 * Regression scans: run the shipped scenarios in virtual time and compare each run's fingerprint (per-dataset
 * hashes, per-stream completeness, trigger count, simulated duration) with scenarios/golden/<name>.json.
 *
 *   npm run regress                 # compare (exit 1 on any difference)
 *   npm run regress -- --update     # accept the current results as the new golden files (a deliberate change)
 *   npm run regress -- fast-scan    # only some scenarios
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenario } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { fingerprintFile, diffFingerprints, type Fingerprint } from "../runtime/data/fingerprint.ts";
import { createLogger } from "../runtime/log.ts";
import * as catalogue from "../drivers/registry.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/** The scenarios checked in CI (all shipped ones that run in virtual time in a few seconds). */
export const REGRESSION_SCENARIOS = ["fast-scan", "twinmic-raster", "temperature-series", "ccd-dark-flat", "xml-players-scan", "python-centroid"];

export interface Golden {
  scenario: string;
  seed: number;
  triggers: number;
  status: string;
  simulatedS: number;
  streams: Record<string, { complete: boolean; missing: number }>;
  fingerprint: Fingerprint;
}

export async function regressionRun(name: string, outDir: string): Promise<Golden> {
  const sc = loadScenario(join(HERE, `${name}.yaml`), { knownDevices: catalogue.deviceNames(), checkSettings: catalogue.checkSettings });
  const r = await runScenario(sc, { catalogue, log: createLogger("regress", process.env.DONKI_LOG ?? "warn"), outDir, time: { mode: "virtual" } });
  if (!r.file) throw new Error(`${name}: no file written (${r.result.status}: ${r.result.message ?? ""})`);
  const streams: Golden["streams"] = {};
  for (const s of [...r.perStream].sort((a, b) => a.key.localeCompare(b.key))) streams[s.key] = { complete: s.complete, missing: s.missing.length };
  return { scenario: name, seed: sc.def.seed, triggers: r.result.triggers, status: r.result.status, simulatedS: r.simulatedS, streams, fingerprint: await fingerprintFile(r.file) };
}

export function compareGolden(g: Golden, a: Golden): string[] {
  const out: string[] = [];
  if (g.triggers !== a.triggers) out.push(`triggers: expected ${g.triggers}, got ${a.triggers}`);
  if (g.status !== a.status) out.push(`status: expected ${g.status}, got ${a.status}`);
  if (Math.abs(g.simulatedS - a.simulatedS) > 1e-9 * Math.max(1, g.simulatedS)) out.push(`simulated duration: expected ${g.simulatedS} s, got ${a.simulatedS} s`);
  const keys = new Set([...Object.keys(g.streams), ...Object.keys(a.streams)]);
  for (const k of keys) {
    const x = g.streams[k];
    const y = a.streams[k];
    if (!x || !y || x.complete !== y.complete || x.missing !== y.missing) out.push(`stream ${k}: expected ${JSON.stringify(x)}, got ${JSON.stringify(y)}`);
  }
  out.push(...diffFingerprints(g.fingerprint, a.fingerprint));
  return out;
}

async function main(): Promise<number> {
  const update = process.argv.includes("--update");
  const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const names = only.length ? only : REGRESSION_SCENARIOS;
  const out = mkdtempSync(join(tmpdir(), "donki-regress-"));
  let failures = 0;
  try {
    for (const name of names) {
      const t0 = performance.now();
      const actual = await regressionRun(name, out);
      const goldenPath = join(HERE, "golden", `${name}.json`);
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      if (update) {
        writeFileSync(goldenPath, JSON.stringify(actual, null, 2) + "\n");
        console.log(`updated  ${name} (${actual.triggers} triggers, ${Object.keys(actual.fingerprint.datasets).length} datasets, ${secs} s)`);
        continue;
      }
      if (!existsSync(goldenPath)) {
        console.log(`MISSING  ${name}: no golden file ${goldenPath} (run: npm run regress -- --update ${name})`);
        failures++;
        continue;
      }
      const diff = compareGolden(JSON.parse(readFileSync(goldenPath, "utf8")) as Golden, actual);
      if (diff.length) {
        failures++;
        console.log(`DIFFERS  ${name}:`);
        for (const d of diff.slice(0, 20)) console.log(`  ${d}`);
      } else console.log(`ok       ${name} (${actual.triggers} triggers, ${Object.keys(actual.fingerprint.datasets).length} datasets, ${secs} s)`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  if (failures) console.log(`${failures} scenario(s) differ from their golden files; if the change is deliberate: npm run regress -- --update`);
  return failures ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(await main());

/**
 * Settings validated at load, through the real CLI: a misspelt device setting is refused with file:line:col and a
 * "did you mean" in estimate, run, director and player (exit 2, no stack trace, nothing started); the scenario's own
 * mistakes (a YAML indentation slip, `time: scale:0.2`) say where and what is allowed; suspicious but legal forms
 * (a level gap) are warnings and the scan still runs.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DONKI, ROOT, tempDir } from "./helpers/procs.ts";

function donki(args: string[]) {
  const r = spawnSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, DONKI_LOG: "warn" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => expect(s).not.toMatch(/\bat .*\.(ts|js|mjs):\d+|Error:/);

/** The demo scenario with one line edited; returns its path and the 1-based line of the edit. */
function variant(dir: string, name: string, from: RegExp, to: string): { file: string; line: number } {
  const lines = readFileSync(join(ROOT, "scenarios/twinmic-raster.yaml"), "utf8").split("\n");
  const i = lines.findIndex((l) => from.test(l));
  expect(i, `${from} in the demo scenario`).toBeGreaterThanOrEqual(0);
  lines[i] = lines[i].replace(from, to);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, lines.join("\n"));
  return { file, line: i + 1 };
}

describe("device settings validated at load (real CLI)", () => {
  it("a misspelt setting (bnis) is refused with its line and a did-you-mean by estimate, run and director; nothing is written", () => {
    const dir = tempDir();
    const { file, line } = variant(dir, "bnis", /\bbins: 2048/, "bnis: 2048");
    for (const args of [["estimate", file], ["run", file, "--out", dir, "--no-progress"], ["director", file, "--out", dir, "--no-progress", "--port", "0", "--control-port", "0", "--event-port", "0"]]) {
      const r = donki(args);
      expect(r.code, `${args[0]}: ${r.err}`).toBe(2);
      expect(r.err).toContain(`bnis.yaml:${line}:7: players[3].settings.bnis (xrf, sim:dante): unknown setting 'bnis' (did you mean \`bins\`?)`);
      noStack(r.err);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith(".nxs"))).toEqual([]);
  });

  it("a value out of range (bins: 2000) and a reversed ROI: one located line each in estimate, no stack trace", () => {
    const dir = tempDir();
    const bins = variant(dir, "bins", /\bbins: 2048/, "bins: 2000");
    let r = donki(["estimate", bins.file]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`bins\\.yaml:${bins.line}:\\d+: players\\[3\\]\\.settings\\.bins \\(xrf, sim:dante\\): must be 1024, 2048 or 4096`));
    noStack(r.err);
    const rev = variant(dir, "rev", /Fe: \[660, 750\]/, "Fe: [750, 660]");
    r = donki(["estimate", rev.file]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`rev\\.yaml:${rev.line}:\\d+: players\\[3\\]\\.settings\\.rois\\.Fe .*low edge 750 eV must be below the high edge 660 eV`));
  });

  it("donki player --settings with a misspelt key: exit 2 naming the key, before connecting", () => {
    const r = donki(["player", "--name", "xrf", "--level", "2", "--director", "tcp://127.0.0.1:1", "--device", "sim:dante", "--settings", '{"bnis": 2048}']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/player 'xrf': .*settings\.bnis: unknown setting 'bnis' \(did you mean `bins`\?\)/);
    noStack(r.err);
  });

  it("a YAML indentation slip shows the reason, the lines and a hint; time: scale:0.2 says which forms are allowed", () => {
    const dir = tempDir();
    const ind = variant(dir, "indent", /^ {2}- name: temperature/, " - name: temperature");
    let r = donki(["estimate", ind.file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`indent.yaml:${ind.line}:1: YAML syntax: A block sequence may not be used as an implicit map key (check the indentation`);
    expect(r.err).toContain("    |  - name: temperature");
    expect(r.err).toMatch(/more YAML errors? after this one/);
    const t = variant(dir, "time", /^time: virtual/, "time: scale:0.2");
    r = donki(["estimate", t.file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`time.yaml:${t.line}:7: time: must be virtual, real or { scale: FACTOR }`);
    expect(r.err).toContain('got "scale:0.2"');
    const k = variant(dir, "seeed", /^seed: 2026/, "seeed: 2026");
    r = donki(["estimate", k.file]);
    expect(r.err).toContain(`seeed.yaml:${k.line}:1: (top level): unknown field 'seeed' (did you mean \`seed\`?)`);
  });

  it("a level gap (0 -> 5) is a located warning and the estimate still runs", () => {
    const dir = tempDir();
    const g = variant(dir, "gap", /^ {4}level: 1$/, "    level: 5"); // levels 0, 2, 5
    const r = donki(["estimate", g.file]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`donki: warning: ${g.file}:${g.line}:12: players[1].level (temperature, sim:temperature): level 5 follows level 2: no player has levels 3..4 (legal, levels act in order; a typo for 3?)`);
    expect(r.out).toMatch(/level 5 {2}temperature/);
  });
});

/**
 * A resumed scan is one scan: `donki inspect DIR` lists the crashed/stopped file and its continuation as one line
 * (all the triggers, both files), and `donki quicklook` of the continuation draws every point of the raster, the
 * ones taken before the resume included. Real CLI and processes.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PNG } from "pngjs";
import { quicklook, MISSING } from "../runtime/data/quicklook.ts";
import { DONKI, ROOT, tempDir } from "./helpers/procs.ts";

function donki(args: string[]) {
  const r = spawnSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, DONKI_LOG: "error" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("a resumed scan is shown and plotted as one scan", () => {
  it("inspect DIR: one line with every trigger and both files; quicklook: the whole raster", { timeout: 240_000 }, async () => {
    const out = tempDir();
    expect(donki(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--triggers", "12"]).code).toBe(3);
    const first = join(out, "fast_00001.nxs");
    const resumed = donki(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--resume", first]);
    expect(resumed.code, resumed.err).toBe(0);
    const second = join(out, "fast_00001_resume1.nxs");

    const ls = donki(["inspect", out]);
    expect(ls.code, ls.err).toBe(0);
    const lines = ls.out.trimEnd().split("\n");
    expect(lines).toHaveLength(2); // header + one scan
    expect(lines[1]).toMatch(/^\s+1\s+completed\s+30\/30\s/);
    expect(lines[1]).toContain(`${first} + ${second} (resumed)`);
    const json = JSON.parse(donki(["inspect", out, "--json"]).out) as Array<{ scanNumber: number; issued: number; files?: string[] }>;
    expect(json).toEqual([expect.objectContaining({ scanNumber: 1, issued: 30, files: [first, second] })]);

    const q = await quicklook(second, { out: join(out, "q.png") });
    expect(q.triggers).toEqual({ first: 1, last: 30 });
    expect(q.continues).toEqual(["fast_00001.nxs"]);
    const png = PNG.sync.read(readFileSync(q.png));
    const map = q.layout.find((l) => l.kind === "map")!;
    // every cell of the 6 x 5 raster has data (before the fix the 12 points of the first file were "no data")
    for (let row = 0; row < map.rows!; row++)
      for (let col = 0; col < map.cols!; col++) {
        const x = map.x + Math.floor(((col + 0.5) * map.width) / map.cols!);
        const y = map.y + Math.floor(((map.rows! - 1 - row + 0.5) * map.height) / map.rows!);
        const o = (y * png.width + x) * 4;
        expect([png.data[o], png.data[o + 1], png.data[o + 2]], `cell ${row},${col}`).not.toEqual([...MISSING]);
      }
  });
});

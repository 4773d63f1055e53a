/**
 * Nothing acquired is lost: the donki process killed with SIGKILL mid-scan leaves a file that h5dump opens with
 * every trigger up to the last flush; its local players exit; the run resumes into a new file (same scan number)
 * from the first missing trigger.
 */
import { afterEach, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readRunSummary, readStream } from "../runtime/data/reader.ts";
import { EventStream } from "../runtime/control/client.ts";
import { DONKI, ROOT, killAll, reportedEndpoints, startProcess, tempDir, until } from "./helpers/procs.ts";


afterEach(() => killAll());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function playerPids(parent: number): number[] {
  const out = spawnSync("ps", ["-o", "pid=", "--ppid", String(parent)], { encoding: "utf8" }).stdout.trim(); // exit 1 when none
  return out ? out.split(/\s+/).map(Number) : [];
}

describe("crash safety", () => {
  it("SIGKILL of the donki process mid-scan, then --resume: every trigger ends up in exactly one of the two files", { timeout: 180_000 }, async () => {
    const out = tempDir();
    const p = startProcess(["run", "test/fixtures/scenarios/crash-scan.yaml", "--out", out, "--no-progress"], { DONKI_SHOW_ENDPOINTS: "1" });
    const events = new EventStream((await reportedEndpoints(p)).events, ["trigger"]);
    const nxs = () => readdirSync(out).filter((f) => f.endsWith(".nxs"));
    await until(() => nxs().length === 1, 30_000, "the scan file");
    const file = join(out, nxs()[0]);
    await until(() => playerPids(p.child.pid!).length === 3, 10_000, "3 player processes");
    const players = playerPids(p.child.pid!);
    // let it run past a few flushes (every 5 triggers), then kill -9
    await events.next((e) => (e.body.trig as number) >= 15, 60_000);
    events.close();
    p.child.kill("SIGKILL");
    await p.exited;
    // the players notice their parent is gone and exit (no orphans left running)
    await until(() => players.every((pid) => !alive(pid)), 10_000, "orphaned players to exit");

    // the file opens with the independent reader and with h5wasm
    execFileSync("h5dump", ["-H", file], { encoding: "utf8" });
    const crashed = await readRunSummary(file);
    expect(crashed.status).toBe("incomplete");
    const x1 = await readStream(file, "stage/x");
    const have = Array.from(x1.mask).map((m, i) => (m ? i + 1 : 0)).filter(Boolean);
    expect(have.length).toBeGreaterThanOrEqual(10); // flushes happened (every 5 triggers)
    expect(have.length).toBeLessThan(100);
    // every flushed row is real data (positions on the raster)
    const xs = x1.rows as Float64Array;
    for (const t of have) expect(xs[t - 1]).toBeGreaterThan(9);

    // resume in virtual time from the first missing trigger
    const r = spawnSync(process.execPath, [DONKI, "run", "test/fixtures/scenarios/crash-scan.yaml", "--out", out, "--no-progress", "--resume", file, "--time", "virtual"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/COMPLETED/);
    expect(r.stdout).toMatch(/resumed/);
    const second = join(out, nxs().find((f) => f !== nxs()[0] && f.includes("resume"))!);
    const resumed = await readRunSummary(second);
    expect(resumed.scanNumber).toBe(crashed.scanNumber);
    expect(resumed.resumedFrom).toContain(nxs()[0]);
    expect(resumed.status).toBe("completed");
    // the first trigger missing in any stream of the crashed file
    let first = Infinity;
    for (const st of crashed.perStream) {
      const m = Array.from((await readStream(file, st.key)).mask);
      const gap = m.indexOf(0);
      first = Math.min(first, gap === -1 ? m.length + 1 : gap + 1);
    }
    expect(resumed.firstTrigger).toBe(first);
    expect(resumed.lastTrigger).toBe(100);
    expect(resumed.perStream.every((s) => s.complete)).toBe(true);
    // triggers 1..first-1 from the crashed file + first..100 from the resumed one = the whole raster
    for (const st of crashed.perStream) {
      const m = Array.from((await readStream(file, st.key)).mask).slice(0, first - 1);
      expect(m.every((v) => v === 1)).toBe(true);
    }
  });
});

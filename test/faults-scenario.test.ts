/** Fault injection from the scenario, through the real CLI: the twins fail where told and the run's policy applies. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readRunSummary } from "../runtime/data/reader.ts";
import { DONKI, ROOT, tempDir } from "./helpers/procs.ts";

function scenario(dir: string, ioExtra: string, policy: string): string {
  const text = readFileSync(join(ROOT, "scenarios/fast-scan.yaml"), "utf8")
    .replace("  - name: io\n    level: 2\n    device: sim:io\n", `  - name: io\n    level: 2\n    device: sim:io\n${ioExtra}`)
    .replace("policy: { onFault: abort, actionTimeout: 30 }", policy);
  const p = join(dir, "faulty.yaml");
  writeFileSync(p, text);
  return p;
}

function run(sc: string, out: string) {
  return spawnSync(process.execPath, [DONKI, "run", sc, "--out", out, "--no-progress", "--json"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
}

describe("fault injection from the scenario", () => {
  it("a device error at trigger 7 with policy abort: the run aborts there, naming the player and trigger; the file keeps triggers 1-6", async () => {
    const dir = tempDir();
    const r = run(scenario(dir, "    faults: [{ at: { trigger: 7 }, kind: error, code: 99 }]\n", "policy: { onFault: abort, actionTimeout: 30 }"), dir);
    expect(r.status).toBe(1);
    const rep = JSON.parse(r.stdout);
    expect(rep.result.status).toBe("aborted");
    expect(rep.result.message).toMatch(/player 'io' failed at trigger 7, level 2/);
    const s = await readRunSummary(join(dir, readdirSync(dir).find((f) => f.endsWith(".nxs"))!));
    expect(s.status).toBe("aborted");
    // triggers 1-6 are complete in every stream; trigger 7 was started (level 0/1 data is kept) but io never delivered
    for (const st of s.perStream) expect(st.missing.filter((t) => t <= 6)).toEqual([]);
    expect(s.perStream.find((p) => p.key === "io/It")!.missing).toContain(7);
  });

  it("a timeout at trigger 4 with policy retry: the action deadline fires, the trigger is re-sent, the scan completes", () => {
    const dir = tempDir();
    const r = run(scenario(dir, "    faults: [{ at: { trigger: 4 }, kind: timeout }]\n    policy: { onFault: retry, retries: 2, actionTimeout: 1 }\n", "policy: { onFault: abort, actionTimeout: 30 }"), dir);
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.result.status).toBe("completed");
    expect(rep.result.faults).toEqual([expect.objectContaining({ trig: 4, player: "io", kind: "timeout", action: "retry" })]);
    expect(rep.perStream.every((s: { complete: boolean }) => s.complete)).toBe(true);
  });
});

/** CURVE from the command line: keys, a Director with authorised keys, its own players, and control clients. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, statSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DONKI, ROOT, killAll, reportedEndpoints, startProcess, tempDir, until } from "./helpers/procs.ts";

const donki = (args: string[], timeout = 30_000) => spawnSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8", timeout });

describe("CURVE on the command line", () => {
  it("donki run --curve/--authorized: its local players work, an authorised ctl client works, an unknown one gets nothing", async () => {
    const dir = tempDir();
    const dkey = join(dir, "director.key");
    const okKey = join(dir, "operator.key");
    const badKey = join(dir, "stranger.key");
    const dpub = donki(["keys", "--out", dkey]).stdout.trim();
    const okPub = donki(["keys", "--out", okKey]).stdout.trim();
    donki(["keys", "--out", badKey]);
    expect(statSync(dkey).mode & 0o777).toBe(0o600);
    expect(readFileSync(dkey, "utf8")).toMatch(/^public: \S{40}\nsecret: \S{40}\n$/);
    expect(donki(["keys", "--out", dkey]).status).toBe(2); // never overwrites a key file
    const auth = join(dir, "authorized");
    writeFileSync(auth, `# operators\n${okPub}\n`);
    const p = startProcess(["run", "test/fixtures/scenarios/slow-scan.yaml", "--out", dir, "--no-progress", "--curve", dkey, "--authorized", auth], { DONKI_SHOW_ENDPOINTS: "1" });
    try {
      const { control } = await reportedEndpoints(p);
      const ctl = (key: string, cmd = "status") => donki(["ctl", cmd, "--control", control, "--curve-server-key", dpub, "--curve-key-file", key, "--timeout", "2000", ...(cmd === "status" ? ["--json"] : [])], 20_000);
      await until(() => readdirSync(dir).some((f) => f.endsWith(".nxs")), 60_000, "the scan file (the Director is up)");
      // the authorised client gets answers once the run is under way (planning needs the local CURVE players)
      let seen = "";
      await until(() => {
        const r = ctl(okKey);
        seen = r.status === 0 ? JSON.parse(r.stdout).state : `exit ${r.status}: ${r.stderr.trim()}`;
        return seen === "running" || seen === "paused";
      }, 60_000, "an authorised status reply from a running scan").catch((e: Error) => {
        throw new Error(`${e.message} (last: ${seen}; donki stderr: ${p.err.join(" | ").slice(-800)})`);
      });
      const stranger = ctl(badKey);
      expect(stranger.status).toBe(1);
      expect(stranger.stderr).toMatch(/no reply from the Director/);
      const plain = donki(["ctl", "status", "--control", control, "--timeout", "2000"], 20_000);
      expect(plain.status).toBe(1);
      expect(ctl(okKey, "stop").status).toBe(0);
      expect(await p.exited).toBe(3);
      expect(p.out.join("\n")).toMatch(/STOPPED/);
    } finally {
      killAll();
    }
  }, 150_000);

  it("--curve without --authorized is bad input", () => {
    const dir = tempDir();
    donki(["keys", "--out", join(dir, "d.key")]);
    const r = donki(["run", "scenarios/fast-scan.yaml", "--curve", join(dir, "d.key"), "--out", dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--authorized/);
  });
});

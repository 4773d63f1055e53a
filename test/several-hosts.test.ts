/**
 * Several hosts, through the real CLI and processes: `donki director` prints its endpoints, the players it expects
 * and how to start them; `donki player --scenario FILE --name NAME` takes device, settings, level, seed and time from
 * the scenario; a misnamed player is refused with a did-you-mean on both sides; the status names whom the Director
 * waits for; when the scan is over the Director tells the players (`shutdown`) and they exit 0 instead of trying to
 * register again. The Python reference player ends the same way.
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { ControlClient } from "../runtime/control/client.ts";
import { missingModules, pythonEnv } from "../runtime/cli/python.ts";
import { FIXTURES, reportedEndpoints, startExecutable, startProcess, tempDir, until } from "./helpers/procs.ts";

const SCENARIO = "scenarios/fast-scan.yaml";
const NAMES = ["stage", "temperature", "ccd", "xrf", "io"];

describe("donki director with players started by hand from the scenario", () => {
  it("roll call, refusal of a misspelt name, status waitingFor, player --scenario, and players that leave when the Director shuts down", async () => {
    const out = tempDir();
    const dir = startProcess(["director", SCENARIO, "--out", out, "--no-progress", "--port", "0", "--control-port", "0", "--event-port", "0", "--wait", "90"]);
    const ep = await reportedEndpoints(dir);
    const token = join(out, "donki-run.token");
    await until(() => dir.err.some((l) => /waiting up to 90 s for them \(--wait SECONDS to change\)/.test(l)), 30_000, "the roll call");
    expect(dir.err.join("\n")).toContain(`donki director: expecting 5 players: stage (level 0, on any host), temperature (level 1, on any host)`);
    expect(dir.err.join("\n")).toContain(`donki player --scenario ${SCENARIO} --name NAME --director ${ep.player} --token-file ${token}`);

    // a name the scenario does not have: refused by the player itself (did you mean) ...
    const stag = startProcess(["player", "--scenario", SCENARIO, "--name", "stag", "--director", ep.player, "--token-file", token]);
    expect(await stag.exited).toBe(2);
    expect(stag.err.join("\n")).toContain(`${SCENARIO} has no player 'stag' (did you mean \`stage\`?)`);
    // ... and by the Director, which tells the operator how to take it anyway
    const stag2 = startProcess(["player", "--name", "stag", "--level", "0", "--device", "sim:io", "--director", ep.player, "--token-file", token]);
    expect(await stag2.exited).toBe(2);
    await until(() => dir.err.some((l) => l.includes("refused a player named 'stag'")), 30_000, "the refusal line");
    expect(dir.err.find((l) => l.includes("refused a player named 'stag'"))).toContain(`not a player of this scenario (did you mean \`stage\`?) (expected: stage, temperature, ccd, xrf, io); to take it anyway: donki ctl admit stag --control ${ep.control}`);

    // the status names whom it waits for
    const ctl = new ControlClient(ep.control);
    try {
      const r = await ctl.request("status", {}, 10_000);
      expect(r.status!.waitingFor).toEqual(NAMES);
    } finally {
      ctl.close();
    }

    // the players: name, endpoint and token only; the ccd overrides one setting on the command line
    const players = NAMES.map((n) => startProcess(["player", "--scenario", SCENARIO, "--name", n, "--director", ep.player, "--token-file", token, ...(n === "ccd" ? ["--settings", '{"gainIndex": 1}'] : [])]));
    for (const [i, p] of players.entries()) await p.waitFor(new RegExp(`player ${NAMES[i]} registered \\(level ${[0, 1, 2, 2, 2][i]}\\)`), 60_000);
    expect(await dir.exited).toBe(0);
    expect(dir.out.join("\n")).toMatch(/COMPLETED/);
    expect(dir.out.join("\n")).toMatch(/triggers:\s+30 of 30/);
    expect(dir.err.join("\n")).toMatch(/all 5 players are here/);
    // told by the Director, every player leaves with exit 0 (no "registering again" loop)
    for (const [i, p] of players.entries()) {
      expect(await p.exited, NAMES[i]).toBe(0);
      expect(p.err.join("\n")).toMatch(new RegExp(`donki player '${NAMES[i]}': the Director at \\S+ has shut down \\(its run of 'Fast test raster .*' is over\\); exiting`));
      expect(p.err.join("\n")).not.toMatch(/registering again/);
    }
  });

  it("a bad --scenario or a player without a level: exit 2 with the reason", async () => {
    const dir = tempDir();
    const noLevel = startProcess(["player", "--name", "x", "--director", "tcp://127.0.0.1:1", "--device", "sim:io"]);
    expect(await noLevel.exited).toBe(2);
    expect(noLevel.err.join("\n")).toMatch(/give --level N, or --scenario FILE/);
    const missing = startProcess(["player", "--scenario", join(dir, "nope.yaml"), "--name", "x", "--director", "tcp://127.0.0.1:1"]);
    expect(await missing.exited).toBe(2);
    expect(missing.err.join("\n")).toMatch(/nope\.yaml: not found/);
    // flags override the scenario's values, and what results is checked like the scenario itself
    const bad = startProcess(["player", "--scenario", SCENARIO, "--name", "xrf", "--director", "tcp://127.0.0.1:1", "--settings", '{"bnis": 1024}']);
    expect(await bad.exited).toBe(2);
    expect(bad.err.join("\n")).toMatch(/player 'xrf': device sim:dante: settings\.bnis: unknown setting 'bnis' \(did you mean `bins`\?\)/);
  });
});

const PY = ["/usr/bin/python3", "python3"].find((p) => missingModules(p, ["zmq", "msgpack", "numpy"])?.length === 0);

describe.skipIf(!PY)("the Python reference player and the Director's shutdown", () => {
  it("python3 -m donki_player exits 0 with the reason when the Director shuts down", async () => {
    const d = new Director({ hbIntervalMs: 100, hbTimeoutMs: 1000 });
    const ep = await d.start();
    try {
      const py = startExecutable(PY!, ["-m", "donki_player", "--name", "py", "--level", "0", "--director", ep.player, "--script", join(FIXTURES, "python", "recording_player.py")], pythonEnv());
      await py.waitFor(/registered/, 60_000);
      await d.close("the scan is over");
      expect(await py.exited).toBe(0);
      expect(py.err.join("\n")).toMatch(/player 'py': the Director at \S+ has shut down \(the scan is over\); exiting/);
    } finally {
      await d.close();
    }
  });
});

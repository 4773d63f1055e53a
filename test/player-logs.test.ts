/**
 * Players on other hosts reach the operator: their log records travel to the Director (`log` messages,
 * docs/protocol.md) and are shown on `donki run`'s terminal and in its --log-file with the player's name and host.
 * The players `donki run` starts itself do not forward (their stderr is shown already: no line twice). A flood is
 * cut by the Director's per-player rate limit and counted.
 */
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { missingModules, pythonEnv } from "../runtime/cli/python.ts";
import { FIXTURES, killAllAndWait, reportedEndpoints, startExecutable, startProcess, tempDir, until } from "./helpers/procs.ts";

const CHATTY = join(FIXTURES, "chatty-player.ts");
const CHATTY_PY = join(FIXTURES, "python", "chatty_player.py");
const PY = ["/usr/bin/python3", "python3"].find((p) => missingModules(p, ["zmq", "msgpack", "numpy"])?.length === 0);

afterEach(async () => {
  await killAllAndWait();
});

describe("players' logs reach the operator through the Director", () => {
  it("a remote TS player's (and Python player's) warnings appear on donki run's terminal and log file, once; a flood is cut and counted", async () => {
    const dir = tempDir();
    const logFile = join(dir, "run.log");
    const N = 6;
    const sc = join(dir, "logs.yaml");
    writeFileSync(
      sc,
      `title: players' logs
players:
  - { name: local, level: 0, device: "script:${CHATTY}", settings: { tag: localtag } }
  - { name: remote, level: 1, device: "script:${CHATTY}", host: elsewhere }
${PY ? `  - { name: pyremote, level: 1, device: "python:${CHATTY_PY}", host: elsewhere }\n` : ""}sequence:
  time: { count: ${N} }
`,
    );
    const run = startProcess(["run", sc, "--out", dir, "--no-progress", "--json", "--log-file", logFile]);
    const ep = await reportedEndpoints(run);
    const token = join(dir, "donki-run.token");
    await until(() => existsSync(token), 30_000, "the token file");
    const remote = startProcess(["player", "--name", "remote", "--level", "1", "--director", ep.player, "--script", CHATTY, "--token-file", token, "-o", "tag=remotetag", "-o", "flood=2", "-o", "floodLines=400", "-o", `quietAfter=${N}`]);
    const py = PY ? startExecutable(PY, ["-m", "donki_player", "--name", "pyremote", "--level", "1", "--director", ep.player, "--script", CHATTY_PY, "--token-file", token, "-o", "tag=pytag"], pythonEnv()) : null;
    expect(await run.exited, run.err.join("\n")).toBe(0);
    await remote.exited;
    if (py) await py.exited;
    const err = run.err.join("\n");

    // the remote player's warnings: shown by the Director in the human form, with the player's name and host
    // (triggers 1 and 2 come before the flood; later ones may fall under the rate limit right after it)
    for (const t of [1, 2]) {
      const lines = run.err.filter((l) => l.includes(`remotetag: trigger ${t}`));
      expect(lines.length, `remote trigger ${t}:\n${err}`).toBe(1);
      expect(lines[0]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN  remote@\\S+: remotetag: trigger ${t}  trigger=${t} pixel=\\[3,4\\]$`));
    }
    // the flood: the first burst shown, the rest counted, then the record after a pause shown; nothing twice,
    // nothing unaccounted for
    const flood = run.err.filter((l) => l.includes("remotetag: flood line")).length;
    expect(flood).toBeGreaterThan(50);
    expect(flood).toBeLessThan(400);
    const shown = run.err.filter((l) => /WARN {2}remote@\S+: remotetag: /.test(l)).length;
    const droppedLines = run.err.filter((l) => /log record\(s\) from player 'remote' not shown \(over 20\/s\)/.test(l));
    expect(droppedLines.length, err).toBeGreaterThanOrEqual(1);
    const dropped = droppedLines.reduce((a, l) => a + Number(/(\d+) log record/.exec(l)![1]), 0);
    expect(shown + dropped).toBe(N - 1 + 400 + 1);
    expect(run.err.some((l) => l.includes("remotetag: after the flood"))).toBe(true);
    // the local player's lines once each (its stderr, not forwarded as well)
    for (let t = 1; t <= N; t++) expect(run.err.filter((l) => l.includes(`localtag: trigger ${t}`)).length, `local trigger ${t}`).toBe(1);
    if (py) for (let t = 1; t <= N; t++) expect(run.err.filter((l) => /WARN {2}pyremote@\S+: pytag: trigger \d+/.test(l) && l.includes(`trigger ${t}`)).length, `python trigger ${t}:\n${err}`).toBe(1);

    // the log file: JSON records that say who and where
    const recs = readFileSync(logFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const fwd = recs.filter((r) => r.forwarded === true && r.player === "remote" && String(r.msg).startsWith("remotetag: trigger"));
    expect(fwd.map((r) => r.msg).slice(0, 2)).toEqual(["remotetag: trigger 1", "remotetag: trigger 2"]);
    expect(typeof fwd[0]!.host).toBe("string");
  }, 120_000);
});

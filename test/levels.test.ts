/**
 * Levels and settings as the original meant them (issue 12), with real processes: a remote player's level comes
 * from its hello unless the scenario pins one (then the pinned level applies and both sides are told), and each
 * player receives its scenario section in `pre.config`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, killAllAndWait, reportedEndpoints, startProcess, tempDir, until } from "./helpers/procs.ts";

afterEach(async () => {
  await killAllAndWait();
});

describe("levels and pre.config", () => {
  it("a pinned level overrides the declared one (reported to player and operator); an unpinned remote level is the declared one; pre.config is the scenario section", async () => {
    const out = tempDir();
    const log = join(out, "actions.log");
    const script = join(FIXTURES, "recording-player.ts");
    const sc = join(out, "levels.yaml");
    writeFileSync(
      sc,
      `title: remote levels
time: virtual
players:
  - { name: a, level: 0, device: "script:${script}", settings: { log: "${log}" } }
  - { name: pinned, level: 1, device: "script:${script}", host: elsewhere, settings: { gain: 3 } }
  - { name: free, device: "script:${script}", host: elsewhere }
sequence:
  time: { count: 5 }
output: { directory: out, prefix: levels }
`,
    );
    const d = startProcess(["run", sc, "--out", out, "--no-progress", "--json"], { DONKI_SHOW_ENDPOINTS: "1" });
    const { player } = await reportedEndpoints(d);
    const tokenFile = join(out, "donki-run.token");
    await until(() => existsSync(tokenFile), 30_000, "the token file");
    const remote = (name: string, level: number) => startProcess(["player", "--name", name, "--level", String(level), "--director", player, "--script", script, "-o", `log=${log}`, "--token-file", tokenFile]);
    const pinned = remote("pinned", 4);
    const free = remote("free", 2);
    await pinned.waitFor(/registered/);
    expect(pinned.out.join("\n")).toMatch(/registered \(level 1\)/);
    await until(() => pinned.err.some((l) => /declared level 4; the scenario pins level 1/.test(l)), 10_000, "the player's notice");
    await free.waitFor(/registered \(level 2\)/);
    expect(await d.exited).toBe(0);
    expect(d.err.join("\n")).toMatch(/declared level 4; the scenario pins level 1/);
    const lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
    const starts = (who: string) => lines.filter((l) => l.startsWith(`${who} start `)).map((l) => l.split(" ").slice(2, 4).map(Number));
    expect(starts("pinned")).toEqual([1, 2, 3, 4, 5].map((t) => [t, 1]));
    expect(starts("free")).toEqual([1, 2, 3, 4, 5].map((t) => [t, 2]));
    expect(starts("a")).toEqual([1, 2, 3, 4, 5].map((t) => [t, 0]));
    const pre = (who: string) => JSON.parse(lines.find((l) => l.startsWith(`${who} pre `))!.split(" ").slice(3).join(" "));
    expect(pre("pinned")).toMatchObject({ name: "pinned", level: 1, device: `script:${script}`, host: "elsewhere", settings: { gain: 3 }, join: "next-trigger" });
    expect(pre("free")).toMatchObject({ name: "free", host: "elsewhere", settings: {} });
    expect(pre("free").level).toBeUndefined();
  }, 120_000);
});

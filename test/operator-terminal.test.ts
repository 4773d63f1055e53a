/**
 * The operator's screen, through the real CLI: `donki run` in a pseudo-terminal (util-linux `script`), its output
 * read through a terminal emulator (@xterm/headless), through a fault pause; and without a terminal (a pipe): plain
 * status lines, no escape sequences. Every wait is on a condition, bounded.
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import xterm from "@xterm/headless";
import { DONKI, ROOT, startProcess, tempDir, until, killAllAndWait } from "./helpers/procs.ts";

const { Terminal } = xterm;

/** fast-scan with the I/O counters failing at trigger 7 and the run's policy `pause`. */
function faultyScenario(dir: string): string {
  const text = readFileSync(join(ROOT, "scenarios/fast-scan.yaml"), "utf8")
    .replace("  - name: io\n    level: 2\n    device: sim:io\n", "  - name: io\n    level: 2\n    device: sim:io\n    faults: [{ at: { trigger: 7 }, kind: error, code: 99 }]\n")
    .replace("policy: { onFault: abort, actionTimeout: 30 }", "policy: { onFault: pause, actionTimeout: 30 }");
  expect(text).toMatch(/faults: \[\{ at: \{ trigger: 7 \}/);
  expect(text).toMatch(/onFault: pause/);
  const p = join(dir, "faulty.yaml");
  writeFileSync(p, text);
  return p;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface PtyRun {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Every row of the emulated terminal (scrollback and screen), as text. */
  rows(): Promise<string[]>;
  /** The rows on the screen now (the last `rows` of the buffer). */
  screen(): Promise<string[]>;
  raw(): string;
  type(keys: string): void;
}

const running: ChildProcess[] = [];

/** `donki ARGS` in a pseudo-terminal of COLS x ROWS; its output fed to a terminal emulator. */
function runInPty(args: string[], cols = 110, rows = 30): PtyRun {
  const cmd = `stty cols ${cols} rows ${rows}; exec ${sh(process.execPath)} ${sh(DONKI)} ${args.map(sh).join(" ")}`;
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, DONKI_LOG: "warn", TERM: "xterm-256color" } });
  running.push(child);
  const term = new Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  let raw = "";
  let parsed: Promise<void> = Promise.resolve();
  child.stdout!.on("data", (b: Buffer) => {
    raw += b.toString();
    parsed = parsed.then(() => new Promise<void>((res) => term.write(b, res)));
  });
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  const all = async () => {
    await parsed;
    const buf = term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) out.push(buf.getLine(i)?.translateToString(true) ?? "");
    return out;
  };
  return {
    child,
    exited,
    rows: all,
    async screen() {
      await parsed;
      const buf = term.buffer.active;
      return (await all()).slice(buf.baseY, buf.baseY + rows);
    },
    raw: () => raw,
    type: (keys) => void child.stdin!.write(keys),
  };
}

afterEach(async () => {
  for (const c of running.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  await killAllAndWait();
});

describe("the operator's terminal", () => {
  it("donki run in a terminal: a fault pause shows PAUSED with its reason in the status area, logs above it, no raw JSON; the summary after the area is cleared", async () => {
    const dir = tempDir();
    const run = runInPty(["run", faultyScenario(dir), "--out", dir]);
    let screen: string[] = [];
    // the status area's first row names the state; a fault pause gives its reason there. The count reaches the last
    // completed trigger once that trigger's late rows (overlap) and its journal record are in, which under load can
    // be just after the pause is shown: wait for both
    await until(async () => (screen = await run.screen()).some((l) => /^PAUSED: /.test(l)) && screen.some((l) => /\] trigger 6\/30 /.test(l)), 180_000, "PAUSED in the status area at trigger 6/30").catch((e: Error) => {
      throw new Error(`${e.message}\n--- screen ---\n${screen.join("\n")}\n--- raw ---\n${run.raw().slice(-3000)}`);
    });
    const head = screen.findIndex((l) => /^PAUSED: /.test(l));
    const area = screen.slice(head).join("\n");
    expect(area).toMatch(/^PAUSED: player 'io' failed at trigger 7, level 2: .*injected error/m);
    expect(area).toMatch(/r resumes, s stops/);
    // the count stops at the last completed trigger; the ETA is not counting the pause
    expect(area).toMatch(/\] trigger 6\/30 +20%/);
    expect(area).toMatch(/ETA .* after resume/);
    expect(area).toMatch(/^point x=\S+ y=\S+/m);
    expect(area).toMatch(/instrument .* of ~.*levels 0: .* 1: .* 2: /);
    // the logs are above the status area, in the human form (local time, level, who)
    const above = screen.slice(0, head).join("\n");
    expect(above).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  director: player 'io' failed at trigger 7/m);
    expect(above).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ERROR io: action failed/m);
    expect(above).toMatch(/^donki: PAUSED: player 'io' failed at trigger 7/m);

    run.type("s"); // the key: stop after the current trigger
    expect(await run.exited).toBe(3); // stopped
    const rows = await run.rows();
    const text = rows.join("\n");
    // no raw JSON log line anywhere; the status area was cleared (no bar left on the screen), the summary follows
    expect(rows.filter((l) => /^\s*\{.*"level"/.test(l) || /"msg":/.test(l))).toEqual([]);
    expect(rows.filter((l) => /^\[[#-]+\] trigger/.test(l) || /^(PAUSED|STOPPING|CLOSEOUT|RUNNING): /.test(l))).toEqual([]);
    expect(text).toMatch(/^Fast test raster \(TWINMIC twins, small\): STOPPED \(stopped by the operator \(key s\)\)$/m);
    expect(text).toMatch(/^ {4}trigger 7 missing in 3 streams \(io\/I0, io\/It, io\/transmission\)$/m);
    const summary = rows.findIndex((l) => /: STOPPED \(/.test(l));
    expect(rows.slice(summary + 1).join("\n")).not.toMatch(/WARN|ERROR|\{/); // nothing printed after the summary
  }, 300_000);

  it("without a terminal: no bar and no escape sequences, a plain status line with the state; --log-format json and --log-file keep JSON for scripts", async () => {
    const dir = tempDir();
    const logFile = join(dir, "run.log");
    const p = startProcess(["run", faultyScenario(dir), "--out", dir, "--log-file", logFile]);
    // the pause is told at once, then the status line (every few seconds) says it with the count
    await until(() => p.err.some((l) => /^donki: PAUSED: player 'io' failed at trigger 7/.test(l)), 180_000, "the pause told");
    await until(() => p.err.some((l) => /^donki: PAUSED: .* \| trigger 6\/30 +20% .*\| instrument /.test(l)), 60_000, "a plain status line while paused");
    p.kill("SIGTERM");
    expect(await p.exited).toBe(3);
    const err = p.err.join("\n");
    expect(err).not.toMatch(/\x1b\[/);
    expect(err).not.toMatch(/"level":/);
    expect(err).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  director: player 'io' failed at trigger 7/m);
    expect(p.out.join("\n")).toMatch(/STOPPED \(stopped by SIGTERM\)/);
    // the log file: JSON lines, the player's own record among them (it came through the Director's process)
    expect(existsSync(logFile)).toBe(true);
    const recs = readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.some((r) => r.name === "player:io" && r.level === 50 && /injected error/.test(String(r.err)))).toBe(true);
    expect(recs.some((r) => r.component === "director" && r.level === 40 && /player 'io' failed at trigger 7/.test(String(r.msg)))).toBe(true);
  }, 300_000);

  it("--log-format json: the logs on stderr are pino's JSON lines; -q: errors only, no status lines", async () => {
    const dir = tempDir();
    const p = startProcess(["run", faultyScenario(dir), "--out", dir, "--log-format", "json", "--no-progress"]);
    await until(() => p.err.some((l) => /"msg":"player 'io' failed at trigger 7/.test(l)), 180_000, "the fault logged as JSON");
    p.kill("SIGTERM");
    expect(await p.exited).toBe(3);
    const json = p.err.filter((l) => l.startsWith("{"));
    for (const l of json) expect(() => JSON.parse(l)).not.toThrow();
    expect(json.some((l) => JSON.parse(l).name === "player:io")).toBe(true);

    const q = startProcess(["run", faultyScenario(dir), "--out", dir, "-q"]);
    await until(() => q.err.some((l) => /ERROR io: action failed/.test(l)), 180_000, "the player's error shown with -q");
    q.kill("SIGTERM");
    expect(await q.exited).toBe(3);
    expect(q.err.join("\n")).not.toMatch(/WARN|PAUSED|\| trigger/);
  }, 400_000);
});

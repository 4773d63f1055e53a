/**
 * Python players (clients/python/donki_player) in real scans: real `python3 -m donki_player` processes against a
 * real Director, data read back from the NeXus file (h5wasm and h5dump). Skipped, with the reason, only when no
 * interpreter with pyzmq, msgpack and numpy is present (.ci/run installs Debian's python3-zmq, python3-msgpack,
 * python3-numpy, python3-tango).
 */
import { afterEach, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as zmq from "zeromq";
import { Director } from "../runtime/director/director.ts";
import { EventStream } from "../runtime/control/client.ts";
import { encode } from "../runtime/protocol/codec.ts";
import { missingModules, pythonEnv } from "../runtime/cli/python.ts";
import { readStream } from "../runtime/data/reader.ts";
import { DONKI, FIXTURES, ROOT, killAllAndWait, readLog, reportedEndpoints, startExecutable, startProcess, tempDir, until, type LogLine, type Proc } from "./helpers/procs.ts";

/** The interpreter the tests use, or why there is none. */
function findPython(mods: string[]): { python: string | null; why: string } {
  const cands = process.env.DONKI_PYTHON ? [process.env.DONKI_PYTHON] : ["/usr/bin/python3", "python3"];
  const why: string[] = [];
  for (const py of cands) {
    const m = missingModules(py, mods);
    if (m && m.length === 0) return { python: py, why: "" };
    why.push(m === null ? `${py} cannot be run` : `${py} lacks ${m.join(", ")}`);
  }
  return { python: null, why: why.join("; ") };
}
const PY = findPython(["zmq", "msgpack", "numpy"]);
const PY_TANGO = findPython(["zmq", "msgpack", "numpy", "tango"]);
const PYFIX = join(FIXTURES, "python");
const REC_PY = join(PYFIX, "recording_player.py");
const REC_TS = join(FIXTURES, "recording-player.ts");

let director: Director | undefined;
const closers: Array<() => void> = [];
afterEach(async () => {
  await killAllAndWait();
  for (const c of closers.splice(0)) c();
  await director?.close();
  director = undefined;
});

function pythonPlayer(args: string[], env: Record<string, string> = {}): Proc {
  return startExecutable(PY.python!, ["-m", "donki_player", ...args], { ...pythonEnv(), ...env });
}

interface RunJson {
  result: { status: string; triggers: number; message?: string; faults: Array<{ trig: number; lvl: number; player: string; kind: string; action: string; message: string }> };
  file: string;
  perStream: Array<{ key: string; complete: boolean; missing: number[] }>;
}

async function donkiRun(scenario: string, out: string, extra: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; report: RunJson | null; p: Proc }> {
  const p = startProcess(["run", scenario, "--out", out, "--no-progress", "--json", ...extra], env);
  const code = await p.exited;
  const text = p.out.join("\n");
  let report: RunJson | null = null;
  try {
    report = JSON.parse(text) as RunJson;
  } catch {
    report = null;
  }
  return { code, report, p };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

function h5values(file: string, path: string): number[] {
  const out = execFileSync("h5dump", ["-d", path, "-y", "-w", "0", file], { encoding: "utf8" });
  return /DATA \{([^}]*)\}/.exec(out)![1].split(",").map((s) => Number(s.trim()));
}

/** For every trigger: every action of a level starts after every action of the levels before it ended. */
function checkLevels(lines: LogLine[], triggers: number): void {
  for (let t = 1; t <= triggers; t++) {
    const idx = lines.map((l, i) => ({ ...l, i })).filter((l) => l.trig === t && (l.event === "start" || l.event === "end"));
    const levels = [...new Set(idx.map((l) => l.lvl))].sort((a, b) => a - b);
    for (let k = 1; k < levels.length; k++) {
      const lastEndBefore = Math.max(...idx.filter((l) => l.event === "end" && l.lvl < levels[k]).map((l) => l.i));
      const firstStart = Math.min(...idx.filter((l) => l.event === "start" && l.lvl === levels[k]).map((l) => l.i));
      expect(firstStart, `trigger ${t}: level ${levels[k]} started before level ${levels[k - 1]} ended`).toBeGreaterThan(lastEndBefore);
    }
  }
}

describe.skipIf(!PY.python)(`Python players in real scans${PY.python ? "" : ` (skipped: ${PY.why}; apt install python3-zmq python3-msgpack python3-numpy)`}`, () => {
  it("the Python unit tests (payloads, message checks, script loading) pass", () => {
    const r = spawnSync(PY.python!, ["-m", "unittest", "discover", "-s", join(ROOT, "clients/python/tests")], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...pythonEnv() }, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Ran \d+ tests[\s\S]*OK/);
  });

  it("donki run: Python and TypeScript players in one scan; levels respected; every row in the file with the right values", async () => {
    const dir = tempDir();
    const log = join(dir, "actions.log");
    const sc = join(dir, "mixed.yaml");
    const N = 12;
    writeFileSync(
      sc,
      `title: python and typescript players
players:
  - { name: stage, level: 0, device: "script:${REC_TS}", settings: { log: "${log}" } }
  - { name: pyA, level: 1, device: "python:${REC_PY}", settings: { log: "${log}", streams: "scalar,frame", frameH: 6, frameW: 5 } }
  - { name: tsB, level: 1, device: "script:${REC_TS}", settings: { log: "${log}", streams: scalar } }
  - { name: pyC, level: 2, device: "python:${REC_PY}", settings: { log: "${log}", streams: scalar, delayMs: 2 } }
sequence:
  line: { axis: x, start: 0, stop: 11, points: ${N} }
`,
    );
    const { code, report, p } = await donkiRun(sc, dir);
    expect(code, p.err.join("\n")).toBe(0);
    expect(report!.result.status).toBe("completed");
    expect(report!.result.triggers).toBe(N);
    expect(report!.perStream.every((s) => s.complete)).toBe(true);
    const lines = readLog(log);
    for (const pl of ["stage", "pyA", "tsB", "pyC"]) {
      expect(lines.filter((l) => l.player === pl && l.event === "end").map((l) => l.trig), pl).toEqual(range(1, N));
      expect(lines.filter((l) => l.player === pl && l.event === "pre").length, `${pl} pre`).toBe(1);
      expect(lines.filter((l) => l.player === pl && l.event === "post").length, `${pl} post`).toBe(1);
    }
    checkLevels(lines, N);
    // the Python player saw the scan point as its trigger parameters
    const s5 = lines.find((l) => l.player === "pyA" && l.event === "start" && l.trig === 5)!;
    expect(s5.rest).toContain("('x', 4)");
    // rows: h5wasm and h5dump
    const file = report!.file;
    const a = await readStream(file, "pyA/value");
    expect(Array.from(a.rows)).toEqual(range(1, N).map((t) => t * 10 + 1));
    expect(Array.from(a.mask)).toEqual(range(1, N).map(() => 1));
    const f = await readStream(file, "pyA/frame");
    expect(f.shape).toEqual([N, 6, 5]);
    expect(f.dtype).toBe("uint16");
    for (let t = 1; t <= N; t++) expect(Array.from(f.rows).slice((t - 1) * 30, t * 30).every((v) => v === t)).toBe(true);
    expect(h5values(file, "/entry/instrument/pyC/value")).toEqual(range(1, N).map((t) => t * 10 + 2));
    expect(h5values(file, "/entry/instrument/tsB/value")).toEqual(range(1, N).map((t) => t * 10 + 1));
  }, 120_000);

  it("overlap in Python: ctx.release() acknowledges early, the next trigger's stage move runs during the read-out, every row lands", async () => {
    const dir = tempDir();
    const log = join(dir, "actions.log");
    const sc = join(dir, "overlap.yaml");
    const N = 6;
    writeFileSync(
      sc,
      `title: python overlap
players:
  - { name: stage, level: 0, device: "script:${REC_TS}", settings: { log: "${log}" } }
  - { name: pyA, level: 1, device: "python:${REC_PY}", settings: { log: "${log}", streams: scalar, releaseUntil: stage, last: ${N} } }
sequence:
  line: { axis: x, start: 0, stop: 5, points: ${N} }
`,
    );
    const { code, report, p } = await donkiRun(sc, dir);
    expect(code, p.err.join("\n")).toBe(0);
    expect(report!.result.status).toBe("completed");
    expect(report!.perStream.every((s) => s.complete)).toBe(true);
    const lines = readLog(log);
    // trigger t's action ended only after the stage started trigger t+1 (it waits for that in its read-out)
    const at = (pl: string, ev: string, t: number) => lines.findIndex((l) => l.player === pl && l.event === ev && l.trig === t);
    for (let t = 1; t < N; t++) expect(at("stage", "start", t + 1)).toBeLessThan(at("pyA", "end", t));
    expect(h5values(report!.file, "/entry/instrument/pyA/value")).toEqual(range(1, N).map((t) => t * 10 + 1));
  }, 120_000);

  it("frame transfer in Python: ctx.release(next=True) starts the player's next action during this one's read-out, at most one in the background, every row lands", async () => {
    const dir = tempDir();
    const log = join(dir, "actions.log");
    const sc = join(dir, "overlap-next.yaml");
    const N = 6;
    // each action's "read-out" ends only once this same player has started its next trigger's action: without
    // `next` that cannot happen (the next trigger would wait in the player for this action: 20 s each, then out of order)
    writeFileSync(
      sc,
      `title: python overlap with next
players:
  - { name: stage, level: 0, device: "script:${REC_TS}", settings: { log: "${log}" } }
  - { name: pyA, level: 1, device: "python:${REC_PY}", settings: { log: "${log}", streams: "scalar,frame", frameH: 4, frameW: 3, releaseUntil: pyA, releaseNext: 1, last: ${N} } }
sequence:
  line: { axis: x, start: 0, stop: 5, points: ${N} }
`,
    );
    const { code, report, p } = await donkiRun(sc, dir);
    expect(code, p.err.join("\n")).toBe(0);
    expect(report!.result.status).toBe("completed");
    expect(report!.result.faults).toEqual([]);
    expect(report!.perStream.every((s) => s.complete)).toBe(true);
    const lines = readLog(log);
    const at = (pl: string, ev: string, t: number) => lines.findIndex((l) => l.player === pl && l.event === ev && l.trig === t);
    for (let t = 1; t < N; t++) {
      // trigger t+1's action started while trigger t's was still reading out (after t released)
      expect(at("pyA", "released", t)).toBeLessThan(at("pyA", "start", t + 1));
      expect(at("pyA", "start", t + 1), `trigger ${t + 1} started before ${t} ended`).toBeLessThan(at("pyA", "end", t));
      // the levels still hold: trigger t+1 reached pyA only after its stage move
      expect(at("stage", "end", t + 1)).toBeLessThan(at("pyA", "start", t + 1));
    }
    // at most one action in the background: t+2 starts only after t has returned
    for (let t = 1; t + 2 <= N; t++) expect(at("pyA", "end", t)).toBeLessThan(at("pyA", "start", t + 2));
    expect(h5values(report!.file, "/entry/instrument/pyA/value")).toEqual(range(1, N).map((t) => t * 10 + 1));
    const f = await readStream(report!.file, "pyA/frame");
    for (let t = 1; t <= N; t++) expect(Array.from(f.rows).slice((t - 1) * 12, t * 12).every((v) => v === t)).toBe(true);
  }, 120_000);

  it("the shipped example (scenarios/python-centroid.yaml): the Python beam camera at level 2 pushes region sum and centre of mass for every raster point", async () => {
    const dir = tempDir();
    const { code, report, p } = await donkiRun(join(ROOT, "scenarios/python-centroid.yaml"), dir, ["--triggers", "16"]);
    expect(code, p.err.join("\n")).toBe(3); // 16 of the raster's 48 points: a partial scan says stopped
    expect(report!.result.triggers).toBe(16);
    expect(report!.perStream.map((s) => s.key)).toEqual(expect.arrayContaining(["beamcam/roi_sum", "beamcam/com_x", "beamcam/com_y"]));
    expect(report!.perStream.every((s) => s.complete)).toBe(true);
    const sum = Array.from((await readStream(report!.file, "beamcam/roi_sum")).rows).slice(0, 16);
    const cx = Array.from((await readStream(report!.file, "beamcam/com_x")).rows).slice(0, 16);
    // the spot sits near the camera's centre (32, 24); the specimen's discs absorb: some points get far fewer counts
    for (const v of cx) expect(Math.abs(v - 32)).toBeLessThan(12);
    expect(Math.min(...sum)).toBeLessThan(0.8 * Math.max(...sum));
  }, 120_000);

  it("an exception in a Python action is an error ack with the player's message: retry re-sends and completes, abort ends the run naming player and trigger", async () => {
    const dir = tempDir();
    const mk = (policy: string, failAt: number, failTimes: number) => {
      const sc = join(dir, `fail-${policy}.yaml`);
      writeFileSync(
        sc,
        `title: failing python action
players:
  - { name: ok, level: 0, device: "python:${REC_PY}", settings: { streams: scalar } }
  - { name: bad, level: 1, device: "python:${REC_PY}", settings: { streams: scalar, failAt: ${failAt}, failTimes: ${failTimes} } }
sequence:
  time: { count: 8 }
policy: { onFault: ${policy}, retries: 2 }
`,
      );
      return sc;
    };
    const retry = await donkiRun(mk("retry", 3, 1), join(dir, "retry"));
    expect(retry.code, retry.p.err.join("\n")).toBe(0);
    expect(retry.report!.result.triggers).toBe(8);
    expect(retry.report!.result.faults).toEqual([
      { trig: 3, lvl: 1, player: "bad", kind: "error", action: "retry", message: "RuntimeError: bad: simulated failure at trigger 3" },
    ]);
    expect(Array.from((await readStream(retry.report!.file, "bad/value")).rows)).toEqual(range(1, 8).map((t) => t * 10 + 1));

    const abort = await donkiRun(mk("abort", 4, 99), join(dir, "abort"));
    expect(abort.code).toBe(1);
    expect(abort.report!.result.status).toBe("aborted");
    expect(abort.report!.result.triggers).toBe(3);
    expect(abort.report!.result.message).toMatch(/player 'bad' failed at trigger 4, level 1: RuntimeError: bad: simulated failure at trigger 4/);
    // nothing acquired is lost: triggers 1..3 are in the file
    const rows = await readStream(abort.report!.file, "ok/value");
    expect(Array.from(rows.rows).slice(0, 3)).toEqual([10, 20, 30]);
  }, 120_000);

  it("a Python action past its deadline is cancelled (it stops in ctx.sleep), and the re-sent trigger is acted on", async () => {
    const dir = tempDir();
    const log = join(dir, "actions.log");
    const sc = join(dir, "hang.yaml");
    writeFileSync(
      sc,
      `title: hanging python action
players:
  - { name: slow, level: 0, device: "python:${REC_PY}", settings: { log: "${log}", streams: scalar, hangAt: 3, hangTimes: 1 } }
sequence:
  time: { count: 5 }
policy: { onFault: retry, retries: 1, actionTimeout: 1 }
`,
    );
    const { code, report, p } = await donkiRun(sc, dir);
    expect(code, p.err.join("\n")).toBe(0);
    expect(report!.result.triggers).toBe(5);
    expect(report!.result.faults.map((f) => [f.trig, f.kind, f.action])).toEqual([[3, "timeout", "retry"]]);
    const lines = readLog(log).filter((l) => l.trig === 3);
    // hang, then (after the cancel freed the worker) the re-sent trigger ran to its end
    expect(lines.map((l) => l.event)).toEqual(["start", "hang", "start", "end"]);
    expect(Array.from((await readStream(report!.file, "slow/value")).rows)).toEqual([10, 20, 30, 40, 50]);
  }, 120_000);

  it("a Python action longer than the heartbeat timeout is not mistaken for a dead player (heartbeats go on during it)", async () => {
    const dir = tempDir();
    const sc = join(dir, "long.yaml");
    writeFileSync(
      sc,
      `title: long python action
players:
  - { name: long, level: 0, device: "python:${REC_PY}", settings: { streams: scalar, delayMs: 3000 } }
sequence:
  time: { count: 2 }
heartbeat: { interval: 100, timeout: 1200 }
`,
    );
    const { code, report, p } = await donkiRun(sc, dir);
    expect(code, p.err.join("\n")).toBe(0);
    expect(report!.result.triggers).toBe(2);
    expect(report!.result.faults).toEqual([]);
  }, 60_000);

  it("kill -9 of a Python player mid-run: lost within the heartbeat timeout, the run pauses, a new process of the same name finishes it", async () => {
    director = new Director({ hbIntervalMs: 200, hbTimeoutMs: 1000 });
    const ep = await director.start();
    const events = new EventStream(ep.events);
    closers.push(() => events.close());
    const log = join(tempDir(), "actions.log");
    const hb = ["--hb-interval", "200", "--hb-timeout", "1000"];
    const args = (name: string, level: number) => ["--name", name, "--level", String(level), "--director", ep.player, "--script", REC_PY, "-o", `log=${log}`, "-o", "delayMs=10", ...hb];
    await pythonPlayer(args("stage", 0)).waitFor(/registered/);
    const victim = pythonPlayer(args("det", 1));
    await victim.waitFor(/registered/);
    const N = 60;
    const run = director.run({ triggers: N, require: ["stage", "det"] });
    const ends = (p: string) => readLog(log).filter((l) => l.player === p && l.event === "end").map((l) => l.trig);
    await until(() => ends("det").length >= 10, 30_000, "10 triggers");
    const killedAt = performance.now();
    victim.kill("SIGKILL");
    const lost = await events.next((e) => e.topic === "player" && e.body.event === "lost" && e.body.name === "det", 10_000);
    expect(lost.at - killedAt).toBeLessThan(1000 + 200 + 500);
    await events.next((e) => e.topic === "state" && e.body.state === "paused", 5000, true);
    expect(director.status().pausedBecause).toContain("det");
    await pythonPlayer(args("det", 1)).waitFor(/registered/);
    const r = await run;
    expect(r.status).toBe("completed");
    expect(r.triggers).toBe(N);
    expect(ends("stage")).toEqual(range(1, N));
    expect([...new Set(ends("det"))].sort((a, b) => a - b)).toEqual(range(1, N));
    expect(r.faults.some((f) => f.player === "det" && f.kind === "lost" && f.action === "pause")).toBe(true);
    // the new process was set up (pre) before it acted
    expect(readLog(log).filter((l) => l.player === "det" && l.event === "pre").length).toBe(2);
  }, 120_000);

  it("CURVE on: donki run's own Python player (run keys) and a remote one with an authorised key file complete the scan; an unauthorised one is told why it got no answer", async () => {
    const dir = tempDir();
    const donkiSync = (args: string[]) => execFileSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8" }).trim();
    const dkey = join(dir, "director.key");
    const pkey = join(dir, "remote.key");
    const skey = join(dir, "stranger.key");
    const dpub = donkiSync(["keys", "--out", dkey]);
    const ppub = donkiSync(["keys", "--out", pkey]);
    donkiSync(["keys", "--out", skey]);
    const auth = join(dir, "authorized");
    writeFileSync(auth, `${ppub}\n`);
    const sc = join(dir, "curve.yaml");
    writeFileSync(
      sc,
      `title: python players with CURVE
players:
  - { name: local, level: 0, device: "python:${REC_PY}", settings: { streams: scalar } }
  - { name: remote, level: 1, device: "python:${REC_PY}", host: elsewhere }
sequence:
  time: { count: 6 }
`,
    );
    const run = startProcess(["run", sc, "--out", dir, "--no-progress", "--json", "--curve", dkey, "--authorized", auth]);
    // a scenario with players on other hosts makes donki run print its endpoints
    const { player } = await reportedEndpoints(run);
    // the roll call tells how to start the remote player: the Director's key, quoted for the shell
    await until(() => run.err.some((l) => l.includes("start each on its host")), 30_000, "the roll call");
    expect(run.err.join("\n")).toContain(`--director ${player} --curve-server-key '${dpub}' --curve-key-file HOST_KEY_FILE`);
    const stranger = pythonPlayer(["--name", "remote", "--level", "1", "--director", player, "--script", REC_PY, "--curve-server-key", dpub, "--curve-key-file", skey, "--register-timeout", "2"]);
    expect(await stranger.exited).toBe(2);
    expect(stranger.err.join("\n")).toMatch(/no answer from the Director .* within 2 s \(with CURVE an unauthorised key or a wrong server key gets no answer at all\)/);
    const remote = pythonPlayer(["--name", "remote", "--level", "1", "--director", player, "--script", REC_PY, "-o", "streams=scalar", "--curve-server-key", dpub, "--curve-key-file", pkey, "--register-timeout", "40"]);
    await remote.waitFor(/registered/, 45_000).catch((e: Error) => {
      throw new Error(`${e.message}\ndonki run said: ${run.err.join("\n")}`);
    });
    expect(await run.exited, run.err.join("\n")).toBe(0);
    const report = JSON.parse(run.out.join("\n")) as RunJson;
    expect(report.result.triggers).toBe(6);
    expect(Array.from((await readStream(report.file, "remote/value")).rows)).toEqual(range(1, 6).map((t) => t * 10 + 1));
    expect(Array.from((await readStream(report.file, "local/value")).rows)).toEqual(range(1, 6).map((t) => t * 10));
  }, 120_000);

  it("a Director that speaks another protocol version, a reject, and an interpreter without pyzmq: each a clear error and exit code 2", async () => {
    // a fake Director answering in protocol version 2
    const r = new zmq.Router({ linger: 0 });
    await r.bind("tcp://127.0.0.1:*");
    closers.push(() => r.close());
    const ep = r.lastEndpoint!;
    void (async () => {
      let n = 0;
      for await (const [id] of r) {
        n++;
        const msg = n === 1 ? { v: 2, type: "welcome", name: "x", session: "s", hbInterval: 500, hbTimeout: 3000 } : { v: 1, type: "reject", reason: "level 7 is not allowed here" };
        await r.send([id, encode(msg)]);
      }
    })().catch(() => {});
    const a = pythonPlayer(["--name", "x", "--level", "0", "--director", ep, "--script", REC_PY]);
    expect(await a.exited).toBe(2);
    expect(a.err.join("\n")).toMatch(/the Director at tcp:\/\/127\.0\.0\.1:\d+ speaks protocol version 2; this donki_player speaks version 1/);
    const b = pythonPlayer(["--name", "y", "--level", "0", "--director", ep, "--script", REC_PY]);
    expect(await b.exited).toBe(2);
    expect(b.err.join("\n")).toMatch(/player 'y' rejected by the Director: level 7 is not allowed here/);

    // an interpreter that cannot import zmq (python3 -S: no site-packages) named in the scenario
    const dir = tempDir();
    const nozmq = join(dir, "python-without-zmq");
    writeFileSync(nozmq, `#!/bin/sh\nexec ${PY.python} -S "$@"\n`);
    chmodSync(nozmq, 0o755);
    const sc = join(dir, "nozmq.yaml");
    writeFileSync(sc, `title: no zmq\nplayers:\n  - { name: p, level: 0, device: "python:${REC_PY}", python: "${nozmq}" }\nsequence:\n  time: { count: 2 }\n`);
    const res = await donkiRun(sc, dir);
    expect(res.code).toBe(2);
    expect(res.p.err.join("\n")).toMatch(/player 'p' \(python:.*\) needs a Python 3 with zmq, msgpack: .*python-without-zmq cannot import 'zmq', 'msgpack' \(apt install python3-zmq python3-msgpack\)/);
    expect(readdirSync(dir).filter((f) => f.endsWith(".nxs"))).toEqual([]);
  }, 60_000);
});

describe.skipIf(!PY_TANGO.python)(`the Tango player${PY_TANGO.python ? "" : ` (skipped: ${PY_TANGO.why}; apt install python3-tango)`}`, () => {
  it("a Tango device (PyTango DeviceTestContext, no database) driven per trigger from the XML player list: setpoint written, command run, attributes recorded per trigger", async () => {
    const dev = startExecutable(PY_TANGO.python!, [join(PYFIX, "tango_sim_device.py")]);
    const trl = (await dev.waitFor(/^tango:\/\//, 30_000)).trim();
    const dir = tempDir();
    writeFileSync(
      join(dir, "players.xml"),
      `<players>
  <player name="stage" priority="0" device="script:${REC_TS}"/>
  <player name="cryo" priority="1" device="tango:${trl}">
    <setting name="write" value='{"setpoint": "temperature"}'/>
    <setting name="command" value="Apply"/>
    <setting name="waitState" value="true"/>
    <setting name="read" value='["temperature", "applied", {"attr": "profile", "stream": "spectrum"}]'/>
  </player>
</players>
`,
    );
    const sc = join(dir, "tango.yaml");
    writeFileSync(sc, `title: tango player\nplayersXml: players.xml\nsequence:\n  line: { axis: temperature, start: 280, stop: 300, points: 5 }\n`);
    const { code, report, p } = await donkiRun(sc, dir, [], { DONKI_PYTHON: PY_TANGO.python! });
    expect(code, p.err.join("\n")).toBe(0);
    expect(report!.result.triggers).toBe(5);
    const file = report!.file;
    const sp = [280, 285, 290, 295, 300];
    expect(h5values(file, "/entry/instrument/cryo/temperature")).toEqual(sp.map((s) => s + 0.25));
    expect(Array.from((await readStream(file, "cryo/applied")).rows)).toEqual([1, 2, 3, 4, 5]);
    const spec = await readStream(file, "cryo/spectrum");
    expect(spec.shape).toEqual([5, 8]);
    expect(Array.from(spec.rows)).toEqual(sp.flatMap((s) => range(0, 7).map((i) => s + i)));
    // units come from the device's attribute configuration
    const units = execFileSync("h5dump", ["-a", "/entry/instrument/cryo/temperature/units", file], { encoding: "utf8" });
    expect(units).toMatch(/"K"/);

    // the same device configured in the YAML scenario, with a command that takes a trigger parameter
    const yaml = (settings: string) =>
      `title: tango player (yaml)\nplayers:\n  - { name: cryo, level: 0, device: "tango:${trl}", settings: ${settings} }\nsequence:\n  points: [{ t: 10 }, { t: 20 }, { t: 30 }]\n`;
    writeFileSync(sc, yaml(`{ command: { name: GoTo, arg: "$t" }, read: [temperature] }`));
    const y = await donkiRun(sc, join(dir, "yaml"), [], { DONKI_PYTHON: PY_TANGO.python! });
    expect(y.code, y.p.err.join("\n")).toBe(0);
    expect(h5values(y.report!.file, "/entry/instrument/cryo/temperature")).toEqual([10.25, 20.25, 30.25]);
    // a configuration that names what the device does not have: exit 2, naming player, device and what it has
    writeFileSync(sc, yaml(`{ command: Fly, read: [temperature] }`));
    const bad = await donkiRun(sc, join(dir, "bad"), [], { DONKI_PYTHON: PY_TANGO.python! });
    expect(bad.code).not.toBe(0);
    expect(bad.p.err.join("\n")).toMatch(/Tango player 'cryo' \(tango:\/\/.*\): no command 'Fly' \(commands: .*apply.*goto/);
  }, 120_000);
});

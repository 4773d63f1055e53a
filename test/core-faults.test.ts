/**
 * Liveness, policies and control, each against real player processes. Several of these pin what the original
 * DonkiOrchestra got wrong (see docs/protocol.md and the issue): waiting forever on a failed action, ignoring
 * re-sent triggers, dropping a player that missed one trigger, crashing on registration during a run.
 */
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { ControlClient, EventStream } from "../runtime/control/client.ts";
import { killAll, readLog, startPlayer, tempDir, until, type LogLine } from "./helpers/procs.ts";

let director: Director | undefined;
const closers: Array<() => void> = [];
afterEach(async () => {
  killAll();
  for (const c of closers.splice(0)) c();
  await director?.close();
  director = undefined;
});

const ends = (log: LogLine[], player: string) => log.filter((l) => l.player === player && l.event === "end").map((l) => l.trig);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

async function setup(hb = { hbIntervalMs: 200, hbTimeoutMs: 1000 }) {
  director = new Director(hb);
  const ep = await director.start();
  const events = new EventStream(ep.events);
  const control = new ControlClient(ep.control);
  closers.push(() => events.close(), () => control.close());
  const log = join(tempDir(), "actions.log");
  return { ep, events, control, log };
}

describe("liveness and fault policies", () => {
  it("a player killed with SIGKILL mid-run: the Director notices within the heartbeat timeout, pauses, and resumes when a new process of the same name rejoins; nothing skipped or done twice", async () => {
    const { ep, events, log } = await setup();
    const hbArgs = ["--hb-interval", "200", "--hb-timeout", "1000"];
    await startPlayer({ name: "stage", level: 0, director: ep.player, opts: { log, delayMs: 10 }, extra: hbArgs });
    const ccd = await startPlayer({ name: "ccd", level: 1, director: ep.player, opts: { log, delayMs: 10 }, extra: hbArgs });
    await startPlayer({ name: "io", level: 1, director: ep.player, opts: { log, delayMs: 10 }, extra: hbArgs });
    const N = 60;
    const run = director!.run({ triggers: N, require: ["stage", "ccd", "io"] });
    await until(() => ends(readLog(log), "ccd").length >= 10, 20_000, "10 triggers");
    const killedAt = performance.now();
    ccd.kill("SIGKILL");
    const lost = await events.next((e) => e.topic === "player" && e.body.event === "lost" && e.body.name === "ccd", 10_000);
    // detected within the heartbeat timeout (+ one heartbeat interval and tick of slack)
    expect(lost.at - killedAt).toBeLessThan(1000 + 200 + 500);
    await events.next((e) => e.topic === "state" && e.body.state === "paused", 5000, true);
    const st = director!.status();
    expect(st.state).toBe("paused");
    expect(st.pausedBecause).toContain("ccd");
    const pausedTrig = st.trig!;
    // nothing moves while paused
    const stageBefore = ends(readLog(log), "stage").length;
    await new Promise((r) => setTimeout(r, 300));
    expect(ends(readLog(log), "stage").length).toBe(stageBefore);
    // a new ccd process rejoins under the same name
    await startPlayer({ name: "ccd", level: 1, director: ep.player, opts: { log, delayMs: 10 }, extra: hbArgs });
    const r = await run;
    expect(r.status).toBe("completed");
    expect(r.triggers).toBe(N);
    const lines = readLog(log);
    expect(ends(lines, "stage")).toEqual(range(1, N));
    expect(ends(lines, "io")).toEqual(range(1, N));
    // the ccd's trigger history across both processes: every trigger exactly once, the interrupted one re-done
    const ccdEnds = ends(lines, "ccd");
    expect([...new Set(ccdEnds)].sort((a, b) => a - b)).toEqual(range(1, N));
    expect(ccdEnds.length).toBeLessThanOrEqual(N + 1);
    expect(r.faults.some((f) => f.player === "ccd" && f.kind === "lost" && f.trig === pausedTrig && f.action === "pause")).toBe(true);
    // the new process was set up (pre) before it acted
    const pres = lines.filter((l) => l.player === "ccd" && l.event === "pre");
    expect(pres.length).toBe(2);
  });

  it("an action that throws sends an error ack; policy 'abort' ends the run naming player and trigger (never waits forever)", async () => {
    const { ep, log } = await setup();
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log } });
    await startPlayer({ name: "bad", level: 1, director: ep.player, opts: { log, failAt: 4 } });
    const r = await director!.run({ triggers: 10, require: ["a", "bad"], policy: { onFault: "abort" } });
    expect(r.status).toBe("aborted");
    expect(r.triggers).toBe(3);
    expect(r.message).toContain("'bad'");
    expect(r.message).toContain("trigger 4");
    expect(r.message).toContain("simulated failure at trigger 4");
    expect(director!.counters.errorAcks).toBe(1);
    // closeout still reached the players
    await until(() => readLog(log).filter((l) => l.event === "post").length === 2, 5000, "post-operation on both players");
    expect(readLog(log).find((l) => l.player === "a" && l.event === "post")!.rest).toBe("");
  });

  it("policy 'retry' re-sends the same trigger and the player acts on it again (re-sent triggers are not ignored)", async () => {
    const { ep, log } = await setup();
    await startPlayer({ name: "flaky", level: 0, director: ep.player, opts: { log, failAt: 3, failTimes: 2 } });
    const r = await director!.run({ triggers: 6, require: ["flaky"], policy: { onFault: "retry", retries: 3 } });
    expect(r.status).toBe("completed");
    const lines = readLog(log);
    expect(lines.filter((l) => l.event === "start" && l.trig === 3).length).toBe(3);
    expect(ends(lines, "flaky")).toEqual(range(1, 6));
    expect(r.faults.map((f) => f.action)).toEqual(["retry", "retry"]);
  });

  it("policy 'pause' on an error ack pauses at that trigger; resume from the control socket re-sends it; the player keeps taking part afterwards", async () => {
    const { ep, events, control, log } = await setup();
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log } });
    await startPlayer({ name: "b", level: 1, director: ep.player, opts: { log, failAt: 3, failTimes: 1 } });
    const run = director!.run({ triggers: 8, require: ["a", "b"] });
    await events.next((e) => e.topic === "fault" && e.body.player === "b", 10_000, true);
    await until(async () => (await control.status()).state === "paused", 5000, "paused state");
    const s = await control.status();
    expect(s.trig).toBe(3);
    expect(s.counters.errorAcks).toBe(1);
    await control.command("resume");
    const r = await run;
    expect(r.status).toBe("completed");
    const lines = readLog(log);
    expect(ends(lines, "a")).toEqual(range(1, 8));
    expect(ends(lines, "b")).toEqual(range(1, 8));
  });

  it("an action that misses its deadline: the Director pauses, and after resume the player acts on the following triggers (not dropped for the rest of the run)", async () => {
    const { ep, control, log } = await setup();
    await startPlayer({ name: "slow", level: 0, director: ep.player, opts: { log, failAt: "", delayMs: 0, slowAt: 2 } , script: join(import.meta.dirname, "fixtures/slow-player.ts") });
    const run = director!.run({ triggers: 6, require: ["slow"], policy: { actionTimeoutMs: 300 } });
    await until(() => director!.status().state === "paused", 10_000, "pause after the timeout");
    expect(director!.counters.timeouts).toBe(1);
    await until(() => ends(readLog(log), "slow").includes(2), 10_000, "the slow action to finish");
    await control.command("resume");
    const r = await run;
    expect(r.status).toBe("completed");
    const lines = readLog(log);
    expect(lines.filter((l) => l.event === "start" && l.trig === 2).length).toBe(2);
    expect([...new Set(ends(lines, "slow"))]).toEqual(range(1, 6));
    // the late ack of the first attempt was recognised as stale and ignored
    expect(director!.counters.stale).toBeGreaterThanOrEqual(1);
  });

  it("pause, resume, stop and abort from the control socket", async () => {
    const { ep, control, log } = await setup();
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 10 } });
    // unbounded run: goes until stopped
    const run = director!.run({ triggers: null, require: ["a"] });
    await until(() => ends(readLog(log), "a").length >= 5, 10_000, "5 triggers");
    await control.command("pause");
    await until(async () => (await control.status()).state === "paused", 5000, "paused");
    const n1 = ends(readLog(log), "a").length;
    await new Promise((r) => setTimeout(r, 300));
    expect(ends(readLog(log), "a").length).toBeLessThanOrEqual(n1 + 1);
    await control.command("resume");
    await until(() => ends(readLog(log), "a").length >= n1 + 5, 10_000, "progress after resume");
    await control.command("stop");
    const r = await run;
    expect(r.status).toBe("stopped");
    expect(ends(readLog(log), "a")).toEqual(range(1, r.triggers));
    expect(readLog(log).find((l) => l.event === "post")?.trig).toBeNaN();

    // abort: stops now, the hanging action is aborted, closeout still happens
    await startPlayer({ name: "h", level: 1, director: ep.player, opts: { log, hangAt: 3 } });
    const run2 = director!.run({ triggers: 10, require: ["a", "h"] });
    await until(() => readLog(log).some((l) => l.player === "h" && l.event === "start" && l.trig === 3), 10_000, "h hangs at 3");
    await control.command("abort");
    const r2 = await run2;
    expect(r2.status).toBe("aborted");
    expect(r2.triggers).toBe(2);
    await until(() => readLog(log).filter((l) => l.player === "h" && l.event === "post").length === 1, 5000, "post after abort");
    expect(readLog(log).find((l) => l.player === "h" && l.event === "post")!.rest).toBe("");
  });

  it("an operator can disable a lost player to release a paused run", async () => {
    const { ep, control, log } = await setup();
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 5 }, extra: ["--hb-interval", "200"] });
    const b = await startPlayer({ name: "b", level: 1, director: ep.player, opts: { log, delayMs: 5 }, extra: ["--hb-interval", "200"] });
    const run = director!.run({ triggers: 30, require: ["a", "b"] });
    await until(() => ends(readLog(log), "b").length >= 3, 10_000, "3 triggers");
    b.kill("SIGKILL");
    await until(() => director!.status().state === "paused", 5000, "pause");
    await control.command("disable", { player: "b" });
    const r = await run;
    expect(r.status).toBe("completed");
    expect(ends(readLog(log), "a")).toEqual(range(1, 30));
  });
});

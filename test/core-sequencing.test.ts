/** Director + real player processes on 127.0.0.1: level ordering, joins, leaves. */
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { killAll, readLog, startPlayer, tempDir, until, type LogLine } from "./helpers/procs.ts";

let director: Director | undefined;
afterEach(async () => {
  killAll();
  await director?.close();
  director = undefined;
});

function actions(log: LogLine[], player: string, event = "end"): number[] {
  return log.filter((l) => l.player === player && l.event === event).map((l) => l.trig);
}

describe("trigger sequencing through priority levels", () => {
  it("runs every level in order for every trigger, several players per level", async () => {
    director = new Director();
    const ep = await director.start();
    const log = join(tempDir(), "actions.log");
    const specs = [
      { name: "stageX", level: 0 },
      { name: "stageY", level: 0 },
      { name: "temp", level: 1 },
      { name: "ccd", level: 2 },
      { name: "io", level: 2 },
    ];
    await Promise.all(specs.map((s) => startPlayer({ ...s, director: ep.player, opts: { log, delayMs: 20 } })));
    const N = 8;
    const r = await director.run({
      triggers: N,
      params: (t) => ({ point: { x: t, y: -t }, levels: { 1: { setpoint: 20 + t } } }),
      config: { ccd: { exposure: 0.1 } },
      require: specs.map((s) => s.name),
    });
    expect(r.status).toBe("completed");
    expect(r.triggers).toBe(N);
    const lines = readLog(log);
    // each player acted exactly once per trigger, in order
    for (const s of specs) expect(actions(lines, s.name)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // ordering: for every trigger, all ends of level L come before any start of level L+1, and level L+1 of
    // trigger t ends before level 0 of trigger t+1 starts
    const idx = (p: (l: LogLine) => boolean) => lines.findIndex(p);
    const lastIdx = (p: (l: LogLine) => boolean) => lines.length - 1 - [...lines].reverse().findIndex(p);
    for (let t = 1; t <= N; t++) {
      for (const [a, b] of [[0, 1], [1, 2]]) {
        const lastEndA = lastIdx((l) => l.event === "end" && l.trig === t && l.lvl === a);
        const firstStartB = idx((l) => l.event === "start" && l.trig === t && l.lvl === b);
        expect(lastEndA).toBeLessThan(firstStartB);
      }
      if (t < N) {
        expect(lastIdx((l) => l.event === "end" && l.trig === t && l.lvl === 2)).toBeLessThan(idx((l) => l.event === "start" && l.trig === t + 1));
      }
    }
    // players of one level act concurrently: for some trigger, both level-0 players started before either ended
    // (any trigger: on a loaded 2-core machine one of them may occasionally be scheduled late)
    const overlapped = Array.from({ length: N }, (_, i) => i + 1).some((t) => {
      const ev = lines.filter((l) => l.trig === t && l.lvl === 0).map((l) => l.event);
      return ev[0] === "start" && ev[1] === "start";
    });
    expect(overlapped).toBe(true);
    // parameters: scan point for everyone, per-level extras for level 1
    const tempStart = lines.find((l) => l.player === "temp" && l.event === "start" && l.trig === 3)!;
    expect(JSON.parse(tempStart.rest)).toEqual({ x: 3, y: -3, setpoint: 23 });
    const ccdStart = lines.find((l) => l.player === "ccd" && l.event === "start" && l.trig === 2)!;
    expect(JSON.parse(ccdStart.rest)).toEqual({ x: 2, y: -2 });
    // planning and closeout reached every player, with its own config
    expect(lines.filter((l) => l.event === "pre").length).toBe(specs.length);
    expect(lines.find((l) => l.player === "ccd" && l.event === "pre")!.lvl).toBeNaN();
    expect(readLog(log).filter((l) => l.event === "post").length).toBeGreaterThanOrEqual(0);
    await until(() => readLog(log).filter((l) => l.event === "post").length === specs.length, 5000, "post on every player");
    // simulated time: per trigger, sum over levels of the max dt (0.001*(lvl+1)) = 0.006 s
    expect(r.simTime).toBeCloseTo(N * 0.006, 9);
  });

  it("a player that registers during collection takes part from the next trigger boundary, without disturbing the run", async () => {
    director = new Director();
    const ep = await director.start();
    const log = join(tempDir(), "actions.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 20 } });
    // an unbounded run, stopped once the late player has acted a few times: the test does not depend on how long a
    // player process takes to start on a loaded machine
    const run = director.run({ triggers: null, require: ["a"] });
    await until(() => actions(readLog(log), "a").length >= 5, 20_000, "5 triggers");
    const before = actions(readLog(log), "a").length;
    await startPlayer({ name: "late", level: 1, director: ep.player, opts: { log } });
    await until(() => actions(readLog(log), "late").length >= 5, 30_000, "the late player's first actions");
    director.stop();
    const r = await run;
    expect(r.status).toBe("stopped");
    const N = r.lastTrigger;
    const lines = readLog(log);
    expect(actions(lines, "a")).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const late = actions(lines, "late");
    expect(late.length).toBeGreaterThan(0);
    expect(late[0]).toBeGreaterThan(before);
    // from its first trigger on, it did every trigger
    expect(late).toEqual(Array.from({ length: N - late[0] + 1 }, (_, i) => late[0] + i));
    // it was set up (pre) before its first action
    const preIdx = lines.findIndex((l) => l.player === "late" && l.event === "pre");
    const firstAct = lines.findIndex((l) => l.player === "late" && l.event === "start");
    expect(preIdx).toBeGreaterThanOrEqual(0);
    expect(preIdx).toBeLessThan(firstAct);
    expect(r.faults).toEqual([]);
  });

  it("a player that leaves cleanly is removed at a trigger boundary; the run goes on without pausing", async () => {
    director = new Director();
    const ep = await director.start();
    const log = join(tempDir(), "actions.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 15 } });
    const b = await startPlayer({ name: "b", level: 1, director: ep.player, opts: { log, delayMs: 15 } });
    const N = 40;
    const run = director.run({ triggers: N, require: ["a", "b"] });
    await until(() => actions(readLog(log), "b").length >= 5, 20_000, "5 triggers");
    b.kill("SIGTERM");
    expect(await b.exited).toBe(0);
    const r = await run;
    expect(r.status).toBe("completed");
    expect(r.faults).toEqual([]);
    const lines = readLog(log);
    expect(actions(lines, "a")).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const bt = actions(lines, "b");
    expect(bt.length).toBeLessThan(N);
    // b did a contiguous prefix: every trigger it started it also finished
    expect(bt).toEqual(Array.from({ length: bt.length }, (_, i) => i + 1));
    expect(actions(lines, "b", "start")).toEqual(bt);
    expect(director.registry.get("b")).toBeUndefined();
  });
});

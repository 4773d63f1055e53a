/** The status area's arithmetic on a clock the test moves: ETA over running time only, reasons said for a human. */
import { describe, expect, it } from "vitest";
import { RunProgress, fmtSeconds } from "./progress.ts";
import { prettyRecord } from "../../log-format.ts";
import { formatDirectorStatus } from "./status-table.ts";
import { speedVsReal } from "../run.ts";

function progress(planned: number | null, mode: "virtual" | "real" | "scaled" = "scaled") {
  let now = 0;
  const p = new RunProgress(() => now);
  p.start({ planned, time: mode === "scaled" ? { mode, scale: 0.5 } : { mode }, pointOf: (t) => ({ x: t * 0.5, y: 2, energy: 520 }) });
  return { p, advance: (ms: number) => (now += ms) };
}

describe("RunProgress", () => {
  it("the ETA follows instrument time over running time: a pause neither lowers the rate nor moves the ETA", () => {
    const { p, advance } = progress(100);
    p.setState("running");
    // 20 triggers, 1 s of instrument time each, 0.5 s of wall time each (scale 0.5)
    for (let t = 1; t <= 20; t++) {
      advance(500);
      p.onTrigger(t, t * 1.0);
    }
    expect(p.rate()).toBeCloseTo(2, 5);
    expect(p.eta()).toBeCloseTo(40, 5); // 80 left x 1 s x 0.5 wall-s per instrument s
    p.setState("paused", "operator");
    advance(60_000); // a minute of pause
    expect(p.rate()).toBeCloseTo(2, 5);
    expect(p.eta()).toBeCloseTo(40, 5);
    expect(p.lines(100)[1]).toMatch(/ETA 40 s after resume/);
    p.setState("running");
    advance(500);
    p.onTrigger(21, 21);
    expect(p.eta()).toBeCloseTo(39.5, 5);
  });

  it("longer instrument time per trigger (row ends, slower points) lengthens the ETA even at the same trigger rate so far", () => {
    const { p, advance } = progress(10);
    p.setState("running");
    for (let t = 1; t <= 5; t++) {
      advance(1000);
      p.onTrigger(t, t * 2);
    }
    expect(p.eta()).toBeCloseTo(5, 5);
  });

  it("states and reasons: a fault pause names the player and its fault; the point and per-level time are shown; real time shows no instrument time", () => {
    const { p, advance } = progress(30);
    p.setState("running");
    advance(1000);
    p.onTrigger(6, 0.9);
    p.onFault("io", "error: injected error");
    p.setState("paused");
    p.onStatus({ state: "paused", pausedBecause: "fault:io, operator", trig: 7, lvl: 2, simTime: 0.9, levelSimS: [0.1, 0.05, 0.75] });
    const lines = p.lines(120);
    expect(lines[0]).toBe("PAUSED: player io faulted: error: injected error; paused by the operator  -- r resumes, s stops, a aborts (or donki ctl resume|stop|abort)");
    expect(lines[1]).toMatch(/^\[#+-+\] trigger 6\/30  20%  6\.0\/s  ETA /);
    expect(lines[2]).toBe("point x=3.5 y=2 energy=520");
    expect(lines[3]).toMatch(/^instrument 0\.9 s of ~4\.5 s  \|  levels 0: 0\.1 s  1: 0\.1 s  2: 0\.8 s$/);
    expect(p.line()).toMatch(/^donki: PAUSED: player io faulted: .* \| trigger 6\/30 +20% /);

    const r = progress(10, "real");
    r.p.setState("running");
    r.advance(1000);
    r.p.onTrigger(1, 0);
    expect(r.p.lines(100).join("\n")).not.toMatch(/instrument|sim /);
    expect(r.p.eta()).toBeCloseTo(9, 5);
  });

  it("an unbounded run has no bar and no ETA; the hint replaces the keys line", () => {
    const { p, advance } = progress(null);
    p.setState("stopping", "stopped by Ctrl-C");
    p.hint = "Ctrl-C again aborts";
    advance(1000);
    p.onTrigger(3, 1);
    const l = p.lines(80);
    expect(l[0]).toBe("STOPPING: stopped by Ctrl-C  -- Ctrl-C again aborts");
    expect(l[1]).toBe("trigger 3");
  });

  it("formats: durations, speed against real time (never '0x faster'), human log lines, the status table", () => {
    expect(fmtSeconds(4.21)).toBe("4.2 s");
    expect(fmtSeconds(75)).toBe("1 min 15 s");
    expect(fmtSeconds(7300)).toBe("2 h 01 min");
    expect(speedVsReal(100, 1)).toBe("100x faster than real time");
    expect(speedVsReal(0.2, 0.5)).toBe("2.5x slower than real time");
    expect(speedVsReal(1, 1)).toBe("about real time");
    const t = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
    expect(prettyRecord({ level: 40, time: t, pid: 1, name: "donki", component: "director", player: "io", trig: 7, msg: "player 'io' failed" })).toBe("03:04:05.067 WARN  director: player 'io' failed  player=io trig=7");
    expect(prettyRecord({ level: 50, time: t, pid: 1, name: "player:xrf", err: "no detector" , msg: "action failed" })).toBe('03:04:05.067 ERROR xrf: action failed  err="no detector"');
    const table = formatDirectorStatus({
      state: "paused",
      pausedBecause: "fault:io",
      run: "r1-x",
      trig: 7,
      lvl: 2,
      triggers: 30,
      simTime: 0.9,
      players: [
        { name: "io", level: 2, enabled: true, alive: false, lastSeenMs: 4200, host: "h", pid: 12 },
        { name: "stage", level: 0, enabled: true, alive: true, lastSeenMs: 120, host: "h", pid: 11 },
      ],
      counters: { malformed: 0, badVersion: 0, stale: 0, unknownPeer: 0, errorAcks: 1, timeouts: 0, lost: 1, rejectedData: 0, refused: 0, rateLimited: 0, pruned: 0 },
    });
    expect(table).toBe(
      [
        "state:     PAUSED (fault:io)",
        "run:       r1-x  trigger 7 of 30, level 2",
        "time:      0.9 s of instrument time",
        "players:   1 alive of 2",
        "  name   level  state  last heard  host  pid",
        "  stage  0      ok     120 ms ago  h     11",
        "  io     2      LOST   4.2 s ago   h     12",
        "counters:  errorAcks 1, lost 1",
      ].join("\n"),
    );
  });
});

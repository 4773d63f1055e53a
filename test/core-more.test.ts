/** More runtime-core behaviour with real player processes: priorities between triggers, Director restart, back-pressure. */
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { ControlClient } from "../runtime/control/client.ts";
import type { DataSink } from "../runtime/director/sink.ts";
import { killAll, readLog, startPlayer, tempDir, until } from "./helpers/procs.ts";

const directors: Director[] = [];
afterEach(async () => {
  killAll();
  for (const d of directors.splice(0)) await d.close();
});

async function director(opts: ConstructorParameters<typeof Director>[0] = {}) {
  const d = new Director(opts);
  directors.push(d);
  return { d, ep: await d.start() };
}

/** A Director on a port another one just closed: retried while the port is still in use (at most 10 s). */
async function restartOn(port: number, opts: ConstructorParameters<typeof Director>[0]): Promise<Director> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const d = new Director({ ...opts, playerPort: port });
    try {
      await d.start();
      directors.push(d);
      return d;
    } catch (e) {
      await d.close().catch(() => {});
      if (!/in use/i.test((e as Error).message) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("priorities, restarts, back-pressure", () => {
  it("with allowPriorityChange, a priority change from the control socket applies at the next trigger boundary", async () => {
    const { d, ep } = await director();
    const log = join(tempDir(), "a.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 10 } });
    await startPlayer({ name: "b", level: 1, director: ep.player, opts: { log, delayMs: 10 } });
    const ctl = new ControlClient(ep.control);
    try {
      const run = d.run({ triggers: 40, require: ["a", "b"], allowPriorityChange: true });
      await until(() => readLog(log).filter((l) => l.player === "b" && l.event === "end").length >= 5, 10_000, "5 triggers");
      await ctl.command("priority", { player: "b", level: 0 }); // b now acts together with a
      const r = await run;
      expect(r.status).toBe("completed");
      const lines = readLog(log);
      const lvlOf = (t: number) => lines.find((l) => l.player === "b" && l.event === "start" && l.trig === t)!.lvl;
      const firstAt0 = Array.from({ length: 40 }, (_, i) => i + 1).find((t) => lvlOf(t) === 0)!;
      expect(firstAt0).toBeGreaterThan(5);
      for (let t = 1; t <= 40; t++) expect(lvlOf(t)).toBe(t < firstAt0 ? 1 : 0); // switched once, at a boundary
      expect(d.status().players.find((p) => p.name === "b")!.level).toBe(0);
    } finally {
      ctl.close();
    }
  });

  it("players notice a restarted Director and register again by themselves (heartbeats both ways)", async () => {
    const { d, ep } = await director({ hbIntervalMs: 100, hbTimeoutMs: 500 });
    const port = Number(ep.player.split(":").pop());
    const log = join(tempDir(), "a.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log }, extra: ["--hb-interval", "100", "--hb-timeout", "500"] });
    expect((await d.run({ triggers: 3, require: ["a"] })).status).toBe("completed");
    await d.close();
    // the closed Director's port is released by ZeroMQ's I/O thread: on a loaded machine a moment later (bounded retry)
    const d2 = await restartOn(port, { hbIntervalMs: 100, hbTimeoutMs: 500 });
    await d2.waitForPlayers(["a"], 10_000);
    const r = await d2.run({ triggers: 3, require: ["a"] });
    expect(r.status).toBe("completed");
    expect(readLog(log).filter((l) => l.event === "end").map((l) => l.trig)).toEqual([1, 2, 3, 1, 2, 3]);
  });

  it("back-pressure: while the data sink is full the Director issues no new trigger, then goes on", async () => {
    const { d, ep } = await director();
    const log = join(tempDir(), "a.log");
    await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, streams: "scalar" } });
    let full = false;
    let release: (() => void) | null = null;
    const accepted: number[] = [];
    const sink: DataSink = {
      open: async () => {},
      addStream: () => {},
      accept: (_p, _s, t) => {
        accepted.push(t);
        if (t === 5) full = true; // the writer "falls behind" after trigger 5
      },
      noteTrigger: () => {},
      hasCapacity: () => !full,
      whenCapacity: () => new Promise<void>((r) => (release = r)),
      missing: () => 0,
      close: async () => ({}),
    };
    const run = d.run({ triggers: 10, require: ["a"], sink });
    await until(() => release !== null, 10_000, "the Director to wait for capacity");
    await new Promise((r) => setTimeout(r, 300));
    const during = readLog(log).filter((l) => l.event === "start").length;
    expect(during).toBe(5); // nothing issued while full
    full = false;
    release!();
    const r = await run;
    expect(r.status).toBe("completed");
    expect(accepted).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

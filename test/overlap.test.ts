/**
 * Overlap (docs/protocol.md "Overlap"): a player acknowledges at the end of its exposure, reads out while the next
 * trigger's lower levels act, and ends the action with `complete` after its rows. A trigger is done (sink
 * noteTrigger = the journal's DONE record, progress, events) only when every row of it arrived. Real sockets,
 * in-process players; no timing is asserted: the read-out waits for the next trigger's stage move, which can only
 * happen if the Director released the level early.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Director } from "../runtime/director/director.ts";
import { Player, type PlayerBehaviour } from "../runtime/player/player.ts";
import type { DataSink } from "../runtime/director/sink.ts";
import { until } from "./helpers/procs.ts";

let director: Director | undefined;
const players: Player[] = [];
afterEach(async () => {
  for (const p of players.splice(0)) await p.close();
  await director?.close();
  director = undefined;
});

/** What the sink saw, in order: "row stream trig" and "done trig". */
function recordingSink(events: string[]): DataSink {
  return {
    open: async () => {},
    addStream: () => {},
    accept: (player, stream, trig) => void events.push(`row ${player}/${stream} ${trig}`),
    noteTrigger: (trig) => void events.push(`done ${trig}`),
    hasCapacity: () => true,
    whenCapacity: async () => {},
    missing: () => 0,
    close: async () => ({}),
  };
}

async function start(name: string, level: number, behaviour: PlayerBehaviour, ep: string): Promise<Player> {
  const p = new Player({ name, level, director: ep, behaviour, hbIntervalMs: 100 });
  players.push(p);
  await p.start();
  return p;
}

describe("overlap: acknowledge at the end of the exposure, read out during the next move", () => {
  it("the next trigger's move happens during the read-out; each trigger is done only after its late rows", async () => {
    director = new Director({ hbTimeoutMs: 10_000 }); // a loaded machine may stall a process for seconds: not a lost player here
    const ep = (await director.start()).player;
    const N = 5;
    const moved = new Set<number>();
    const log: string[] = [];
    await start("stage", 0, {
      streams: [{ name: "x", dtype: "float64", shape: [], role: "positioner" }],
      action: (trig) => {
        moved.add(trig);
        log.push(`move ${trig}`);
        return { data: { x: trig } };
      },
    }, ep);
    const cam = await start("cam", 2, {
      streams: [{ name: "sum", dtype: "float64", shape: [], role: "signal" }],
      action: async (trig, _p, ctx) => {
        log.push(`expose ${trig}`);
        ctx.release();
        // the read-out ends only once the stage has moved for the next trigger: without the early ack the
        // Director would never send that move and this would hang (then the test times out)
        if (trig < N) await until(() => moved.has(trig + 1), 10_000, `the move of trigger ${trig + 1} during the read-out of ${trig}`);
        log.push(`readout ${trig}`);
        ctx.push("sum", trig * 10);
      },
    }, ep);
    const events: string[] = [];
    const r = await director.run({ triggers: N, require: ["stage", "cam"], sink: recordingSink(events) });
    expect(r.status).toBe("completed");
    expect(r.lastTrigger).toBe(N);
    expect(cam.counters.released).toBe(N);
    // the player acted on its triggers one at a time: trigger t+1's exposure after trigger t's read-out
    for (let t = 1; t < N; t++) expect(log.indexOf(`readout ${t}`)).toBeLessThan(log.indexOf(`expose ${t + 1}`));
    // every trigger counted done only after its camera row arrived, and in order
    const done = events.filter((e) => e.startsWith("done")).map((e) => Number(e.split(" ")[1]));
    expect(done).toEqual([1, 2, 3, 4, 5]);
    for (let t = 1; t <= N; t++) expect(events.indexOf(`row cam/sum ${t}`)).toBeLessThan(events.indexOf(`done ${t}`));
  });

  it("release with next (frame transfer): the next trigger's action runs during this read-out, at most one in the background", async () => {
    director = new Director({ hbTimeoutMs: 10_000 });
    const ep = (await director.start()).player;
    const N = 6;
    const exposed = new Set<number>();
    const log: string[] = [];
    let inFlight = 0;
    let most = 0;
    await start("stage", 0, { streams: [{ name: "x", dtype: "float64", shape: [], role: "positioner" }], action: (trig) => ({ data: { x: trig } }) }, ep);
    const cam = await start("cam", 2, {
      streams: [{ name: "sum", dtype: "float64", shape: [], role: "signal" }],
      action: async (trig, _p, ctx) => {
        most = Math.max(most, ++inFlight);
        log.push(`expose ${trig}`);
        exposed.add(trig);
        ctx.release(undefined, { next: true });
        // the storage area reads out only once the next exposure has begun: without `next` the Player would hold
        // trigger t+1 until this action returned, and this would hang (then the test times out)
        if (trig < N) await until(() => exposed.has(trig + 1), 10_000, `the exposure of trigger ${trig + 1} during the read-out of ${trig}`);
        log.push(`readout ${trig}`);
        ctx.push("sum", trig * 10);
        inFlight--;
      },
    }, ep);
    const events: string[] = [];
    const r = await director.run({ triggers: N, require: ["stage", "cam"], sink: recordingSink(events) });
    expect(r.status).toBe("completed");
    expect(r.faults).toEqual([]);
    expect(cam.counters.released).toBe(N);
    for (let t = 1; t < N; t++) expect(log.indexOf(`expose ${t + 1}`)).toBeLessThan(log.indexOf(`readout ${t}`));
    // a third action waits until the one in the background returned
    expect(most).toBe(2);
    for (let t = 2; t < N; t++) expect(log.indexOf(`readout ${t - 1}`)).toBeLessThan(log.indexOf(`expose ${t + 1}`));
    const done = events.filter((e) => e.startsWith("done")).map((e) => Number(e.split(" ")[1]));
    expect(done).toEqual([1, 2, 3, 4, 5, 6]);
    for (let t = 1; t <= N; t++) expect(events.indexOf(`row cam/sum ${t}`)).toBeLessThan(events.indexOf(`done ${t}`));
  });

  it("a read-out that fails after the ack leaves a gap named in a fault; the run goes on", async () => {
    director = new Director({ hbTimeoutMs: 10_000 }); // a loaded machine may stall a process for seconds: not a lost player here
    const ep = (await director.start()).player;
    await start("stage", 0, { streams: [{ name: "x", dtype: "float64", shape: [], role: "positioner" }], action: (trig) => ({ data: { x: trig } }) }, ep);
    await start("cam", 2, {
      streams: [{ name: "sum", dtype: "float64", shape: [], role: "signal" }],
      action: async (trig, _p, ctx) => {
        ctx.release();
        await new Promise((res) => setImmediate(res));
        if (trig === 2) throw new Error("read-out FIFO overrun");
        ctx.push("sum", trig);
      },
    }, ep);
    const events: string[] = [];
    const r = await director.run({ triggers: 3, require: ["stage", "cam"], sink: recordingSink(events) });
    expect(r.lastTrigger).toBe(3);
    const gap = r.faults.find((f) => f.action === "gap");
    expect(gap).toMatchObject({ player: "cam", trig: 2, lvl: 2, kind: "error" });
    expect(gap!.message).toContain("read-out FIFO overrun");
    expect(events).not.toContain("row cam/sum 2");
    expect(events.filter((e) => e.startsWith("done"))).toEqual(["done 1", "done 2", "done 3"]);
  });

  it("a player that never completes: the last trigger waits for its read-out (bounded), then the gap is recorded", async () => {
    director = new Director({ hbTimeoutMs: 10_000 }); // a loaded machine may stall a process for seconds: not a lost player here
    const ep = (await director.start()).player;
    await start("cam", 0, {
      streams: [{ name: "sum", dtype: "float64", shape: [], role: "signal" }],
      action: async (trig, _p, ctx) => {
        ctx.release();
        // hangs in its read-out until the Director gives up and cancels it
        if (trig === 2) await new Promise((_, rej) => ctx.signal.addEventListener("abort", () => rej(ctx.signal.reason), { once: true }));
        ctx.push("sum", trig);
      },
    }, ep);
    const events: string[] = [];
    const r = await director.run({ triggers: 2, require: ["cam"], sink: recordingSink(events), closeoutDataTimeoutMs: 300 });
    expect(r.faults.find((f) => f.action === "gap")).toMatchObject({ player: "cam", trig: 2 });
    expect(r.status).toBe("completed");
    expect(events).toContain("row cam/sum 1");
    expect(events.filter((e) => e.startsWith("done"))).toEqual(["done 1", "done 2"]);
  });

  it("a read-out past its deadline during the run: cancelled, a gap named in a fault, the next trigger goes on", async () => {
    director = new Director({ hbTimeoutMs: 10_000 }); // a loaded machine may stall a process for seconds: not a lost player here
    const ep = (await director.start()).player;
    await start("stage", 0, { streams: [{ name: "x", dtype: "float64", shape: [], role: "positioner" }], action: (trig) => ({ data: { x: trig } }) }, ep);
    await start("cam", 1, {
      streams: [{ name: "sum", dtype: "float64", shape: [], role: "signal" }],
      action: async (trig, _p, ctx) => {
        ctx.release();
        if (trig === 2) await new Promise((_, rej) => ctx.signal.addEventListener("abort", () => rej(ctx.signal.reason), { once: true }));
        ctx.push("sum", trig);
      },
    }, ep);
    const events: string[] = [];
    const r = await director.run({
      triggers: 4,
      require: ["stage", "cam"],
      sink: recordingSink(events),
      // the read-out's own deadline (the action's stays the default 30 s)
      deadline: (_p, _t, phase) => (phase === "readout" ? { ms: 300, note: "test read-out deadline" } : undefined),
    });
    expect(r.status).toBe("completed");
    const gap = r.faults.find((f) => f.action === "gap");
    expect(gap).toMatchObject({ player: "cam", trig: 2, lvl: 1, kind: "timeout" });
    expect(gap!.message).toMatch(/^phase read-out: no 'complete' for trigger 2 after its ack: test read-out deadline; elapsed \d+\.\d\d s of wall time \(deadline 0\.30 s\)$/);
    expect(events.filter((e) => e.startsWith("row cam"))).toEqual(["row cam/sum 1", "row cam/sum 3", "row cam/sum 4"]);
    expect(events.filter((e) => e.startsWith("done"))).toEqual(["done 1", "done 2", "done 3", "done 4"]);
  });
});

/**
 * The Player's action path (runtime/player/player.ts) over real sockets on 127.0.0.1: a synchronous action is
 * acknowledged at once, an asynchronous one (a promise, or another thenable) when it settles; rows pushed through
 * ctx and returned as `data` arrive tagged with their trigger; an action that throws (at once or later) sends an
 * error ack with its message; the triggers of one player never overlap.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Director } from "../runtime/director/director.ts";
import type { DataSink, StreamKey } from "../runtime/director/sink.ts";
import { Player, fromAction, type ActionFn } from "../runtime/player/player.ts";
import type { StreamDecl } from "../runtime/protocol/messages.ts";

let director: Director | undefined;
const players: Player[] = [];
afterEach(async () => {
  for (const p of players.splice(0)) await p.close();
  await director?.close();
  director = undefined;
});

/** Rows by "player/stream" -> trigger -> value (float64 scalars). */
function memorySink() {
  const rows = new Map<string, Map<number, number>>();
  const sink: DataSink = {
    async open(_run, streams: StreamKey[]) {
      for (const s of streams) rows.set(`${s.player}/${s.decl.name}`, new Map());
    },
    addStream: (s) => void rows.set(`${s.player}/${s.decl.name}`, rows.get(`${s.player}/${s.decl.name}`) ?? new Map()),
    accept: (player, stream, trig, payload) => void rows.get(`${player}/${stream}`)?.set(trig, payload.readDoubleLE(0)),
    noteTrigger: () => {},
    hasCapacity: () => true,
    whenCapacity: async () => {},
    missing: () => 0,
    async close() {},
  };
  return { sink, rows };
}

const scalar = (name: string): StreamDecl => ({ name, dtype: "float64", shape: [], role: "signal" });

describe("player actions", () => {
  it("sync, async and thenable actions: rows before the ack, one trigger at a time, errors reported with the trigger", async () => {
    director = new Director();
    const ep = await director.start();
    const failed = { sync: false, async: false };
    // per player: an action starting while the previous one of the same player is still running
    const busy = { sync: 0, async: 0 };
    let overlapped = false;
    const guard = <T>(f: () => T): T => {
      if (busy.sync++) overlapped = true;
      try {
        return f();
      } finally {
        busy.sync--;
      }
    };
    const actions: Record<string, ActionFn> = {
      sync: (trig, _params, ctx) =>
        guard(() => {
          ctx.push("a", trig);
          if (trig === 3 && !failed.sync) {
            failed.sync = true;
            throw new Error("sync failure at 3");
          }
          return { dt: 0.001, data: { b: trig * 10 } };
        }),
      async: async (trig, _params, ctx) => {
        if (busy.async++) overlapped = true;
        await new Promise((r) => setTimeout(r, 2));
        ctx.push("a", trig + 0.5);
        busy.async--;
        if (trig === 4 && !failed.async) {
          failed.async = true;
          throw new Error("async failure at 4");
        }
        return { dt: 0.002 };
      },
      // a wrapper that copies the context (drivers/registry.ts does, for USB hot-unplug): its methods still work
      wrapped: (trig, _params, ctx) => {
        const c = { ...ctx, signal: new AbortController().signal };
        c.push("a", trig * 2);
        c.release(); // overlap: ack now, `complete` when the action returns
        return { dt: 0.001 };
      },
      thenable: (trig, _params, ctx) => ({
        then(resolve: (v: unknown) => void) {
          setTimeout(() => {
            ctx.push("a", -trig);
            resolve({ dt: 0.003 });
          }, 1);
        },
      }) as unknown as Promise<void>,
    };
    for (const [name, action] of Object.entries(actions)) {
      const p = new Player({ name, level: 0, director: ep.player, behaviour: fromAction(action, [scalar("a"), scalar("b")]) });
      players.push(p);
      await p.start();
    }
    const { sink, rows } = memorySink();
    // each failure happens once: the trigger is re-sent (policy retry) and succeeds
    const r = await director.run({ triggers: 5, sink, require: Object.keys(actions), policy: { onFault: "retry", retries: 2 } });
    expect(r.status).toBe("completed");
    expect(r.triggers).toBe(5);
    const t = [1, 2, 3, 4, 5];
    expect([...rows.get("sync/a")!].sort((x, y) => x[0] - y[0])).toEqual(t.map((i) => [i, i]));
    expect([...rows.get("sync/b")!].sort((x, y) => x[0] - y[0])).toEqual(t.map((i) => [i, i * 10]));
    expect([...rows.get("async/a")!].sort((x, y) => x[0] - y[0])).toEqual(t.map((i) => [i, i + 0.5]));
    expect([...rows.get("wrapped/a")!].sort((x, y) => x[0] - y[0])).toEqual(t.map((i) => [i, i * 2]));
    expect([...rows.get("thenable/a")!].sort((x, y) => x[0] - y[0])).toEqual(t.map((i) => [i, -i]));
    const faults = r.faults.map((f) => `${f.player} ${f.trig} ${f.action} ${f.message}`);
    expect(faults).toEqual(expect.arrayContaining([expect.stringMatching(/^sync 3 retry .*sync failure at 3/), expect.stringMatching(/^async 4 retry .*async failure at 4/)]));
    expect(faults).toHaveLength(2);
    expect(overlapped).toBe(false);
    // the slowest ack of each trigger sets the simulated time: 0.003 s per trigger
    expect(r.simTime).toBeCloseTo(5 * 0.003, 9);
    expect(players.map((p) => p.counters.actions)).toEqual([6, 6, 5, 5]);
    expect(players.map((p) => p.counters.errors)).toEqual([1, 1, 0, 0]);
    expect(players.map((p) => p.counters.released)).toEqual([0, 0, 5, 0]);
  }, 60_000);
});

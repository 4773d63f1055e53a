/**
 * Closeout is bounded by what can still arrive, and the Director answers status while it closes out. Real player
 * processes, real sockets, a real NeXus sink.
 *
 * The cause of a slow stop after disable/enable (11-13 s): a player disabled while a trigger was under way sat that
 * trigger out, but the sink still expected its row for it, so closeout waited its whole late-data timeout (10 s) for
 * a row that could never come. Now its rows are expected up to the last trigger it was asked to act on, and a
 * player that answered `done` has sent every row it will send (rows travel before `done`).
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { Director } from "../runtime/director/director.ts";
import { NexusSink } from "../runtime/data/nexus-sink.ts";
import { ControlClient } from "../runtime/control/client.ts";
import { readLog, sleep, startPlayer, tempDir, until } from "./helpers/procs.ts";

function sinkIn(dir: string) {
  return new NexusSink({ dir, prefix: "c", run: { title: "closeout", scenarioText: "", scenarioHash: "", scenarioName: "c", program: "donki", version: "0", metadata: {}, devices: {} } as never });
}

describe("closeout", () => {
  it("after a disable during a trigger and an enable, no row is awaited that cannot come; status is answered during closeout", async () => {
    const d = new Director({});
    const ep = await d.start();
    const ctl = new ControlClient(ep.control);
    try {
      const out = tempDir();
      const log = join(out, "a.log");
      await startPlayer({ name: "a", level: 0, director: ep.player, opts: { log, delayMs: 40, streams: "scalar" } });
      // b is slow to close out, so the Director stays in closeout long enough to be asked for its status
      await startPlayer({ name: "b", level: 1, director: ep.player, opts: { log, delayMs: 40, streams: "scalar", postDelayMs: 1500 } });
      const sink = sinkIn(out);
      const run = d.run({ triggers: 10_000, require: ["a", "b"], sink });
      await until(() => readLog(log).filter((l) => l.event === "end").length >= 10, 30_000, "10 actions");
      // disabled while a's level runs: b sits that trigger out; enabled again a few triggers later
      await until(() => readLog(log).at(-1)?.player === "a" && readLog(log).at(-1)?.event === "start", 30_000, "a acting");
      d.disable("b");
      const skipped = readLog(log).at(-1)!.trig;
      await until(() => readLog(log).some((l) => l.player === "a" && l.event === "end" && l.trig >= skipped + 2), 30_000, "a two triggers on");
      d.enable("b");
      await until(() => readLog(log).some((l) => l.player === "b" && l.event === "end" && l.trig > skipped + 2), 30_000, "b acting again");
      await ctl.command("stop", {});
      // status while closing out
      let seen: string | undefined;
      while (!seen) {
        const r = await ctl.request("status", {}, 5000);
        if (r.status!.state === "closeout") seen = r.status!.state;
        else if (r.status!.state === "idle") break;
        else await sleep(20);
      }
      const r = await run;
      expect(seen).toBe("closeout");
      expect(r.end.status).toBe("stopped");
      // b did not act on the trigger it sat out; nothing else is missing, so closeout had nothing to wait for
      expect(readLog(log).some((l) => l.player === "b" && l.event === "start" && l.trig === skipped)).toBe(false);
      expect(sink.missing(r.lastTrigger)).toBe(0);
    } finally {
      ctl.close();
      await d.close();
    }
  });
});

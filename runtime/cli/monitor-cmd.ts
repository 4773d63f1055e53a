/**
 * `donki events` (the run documents and the Director's events as JSON lines) and `donki monitor` (the live page
 * attached to a running Director). `donki run --monitor` uses startRunMonitor.
 */
import { EventFollower } from "../events/follow.ts";
import { ControlClient } from "../control/client.ts";
import { startMonitor, type Monitor } from "../monitor/server.ts";
import { curveClient } from "./commands.ts";
import { EXIT } from "./main.ts";

export async function eventsCommand(o: { events: string; control?: string; follow?: boolean; all?: boolean; curveServerKey?: string; curveKeyFile?: string }): Promise<number> {
  let curve;
  try {
    curve = await curveClient(o.curveServerKey, o.curveKeyFile);
  } catch (e) {
    process.stderr.write(`donki events: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  if (o.control) {
    const c = new ControlClient(o.control, curve);
    try {
      const r = await c.request("status", {}, 5000);
      process.stdout.write(JSON.stringify({ name: "director-status", doc: r.status }) + "\n");
    } catch (e) {
      process.stderr.write(`donki events: ${(e as Error).message}\n`);
      return EXIT.failed;
    } finally {
      c.close();
    }
  }
  return await new Promise<number>((resolve) => {
    const f = new EventFollower(
      o.events,
      (m) => {
        if (m.topic === "doc") {
          process.stdout.write(JSON.stringify({ name: m.body.name, doc: m.body.doc }) + "\n");
          // without --follow: one run, up to its stop document
          if (!o.follow && m.body.name === "stop") finish(EXIT.ok);
        } else if (o.all) {
          const { v: _v, type: _t, ...body } = m.body;
          process.stdout.write(JSON.stringify({ name: "event", topic: m.topic, body }) + "\n");
        }
      },
      curve,
    );
    const finish = (code: number) => {
      process.off("SIGINT", onInt);
      f.close();
      resolve(code);
    };
    const onInt = () => finish(EXIT.ok);
    process.on("SIGINT", onInt);
  });
}

export async function monitorCommand(o: { events: string; control?: string; port?: number; bind?: string; token?: string; out?: string; curveServerKey?: string; curveKeyFile?: string }): Promise<number> {
  let curve;
  try {
    curve = await curveClient(o.curveServerKey, o.curveKeyFile);
  } catch (e) {
    process.stderr.write(`donki monitor: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  let m: Monitor;
  try {
    m = await startMonitor({ events: o.events, control: o.control, curve, port: o.port ?? 0, host: o.bind, token: o.token, outDir: o.out, say: (l) => process.stdout.write(l + "\n") });
  } catch (e) {
    process.stderr.write(`donki monitor: cannot serve: ${(e as Error).message}\n`);
    return EXIT.failed;
  }
  printMonitor(m, !!o.control, (l) => process.stdout.write(l + "\n"));
  await new Promise<void>((res) => {
    process.once("SIGINT", res);
    process.once("SIGTERM", res);
  });
  await m.close();
  return EXIT.ok;
}

export function printMonitor(m: Monitor, control: boolean, out: (l: string) => void): void {
  out(`donki monitor: ${m.url}`);
  if (control) out(`donki monitor: operator token ${m.token} (pause/resume/stop from the page; or open ${m.url}#token=${m.token})`);
  else out("donki monitor: read-only (no --control endpoint)");
}

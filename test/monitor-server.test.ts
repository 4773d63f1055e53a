/**
 * The monitor server without a browser (runtime/monitor/server.ts): static files and nothing else, the replay a
 * (re)connecting page gets, the operator token, cross-site WebSocket refusal, scan-file names; and the
 * `donki monitor` command attached to a running Director.
 */
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Director } from "../runtime/director/director.ts";
import { startMonitor, type Monitor } from "../runtime/monitor/server.ts";
import { killAll, startProcess, tempDir, until } from "./helpers/procs.ts";

let director: Director | null = null;
let monitor: Monitor | null = null;
afterEach(async () => {
  await monitor?.close();
  await director?.close();
  monitor = null;
  director = null;
  killAll();
});

function connect(url: string, origin?: string): Promise<{ ws: WebSocket; msgs: any[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace("http", "ws") + "ws", origin ? { origin } : {});
    const msgs: any[] = [];
    ws.on("message", (d) => msgs.push(JSON.parse(d.toString())));
    ws.on("open", () => resolve({ ws, msgs }));
    ws.on("error", reject);
    ws.on("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

const doc = (name: string, d: object) => ({ name, doc: { version: 1, run: "r1-x", ...d } });

describe("monitor server", () => {
  it("serves the page and nothing else, replays the run so far to a new page, and obeys only the operator token", async () => {
    director = new Director();
    const ep = await director.start();
    monitor = await startMonitor({ events: ep.events, control: ep.control, port: 0, outDir: tempDir() });
    expect(monitor.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(monitor.token).toMatch(/^[0-9a-f]{32}$/);

    const page = await fetch(monitor.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/donki monitor/);
    expect((await fetch(monitor.url + "app.js")).headers.get("content-type")).toMatch(/javascript/);
    expect((await fetch(monitor.url + "..%2fpackage.json")).status).toBe(404);
    expect((await fetch(monitor.url + "api/file?name=..%2F..%2Fetc%2Fpasswd")).status).toBe(400);
    expect((await fetch(monitor.url + "api/file?name=nothere.nxs")).status).toBe(404);
    expect(await (await fetch(monitor.url + "api/scans")).json()).toEqual([]);
    expect((await fetch(monitor.url, { method: "POST" })).status).toBe(405);

    // a page of another site cannot open the socket
    await expect(connect(monitor.url, "http://evil.example")).rejects.toThrow(/403/);

    // documents published by the Director reach the monitor; a page that connects later gets them merged
    const start = doc("start", { time: 0, scan: 1, scenario: "s", title: "t", planned: 4, firstTrigger: 1, file: null, raster: { x: { start: 0, stop: 1, points: 2 }, y: { start: 0, stop: 1, points: 2 }, snake: false, repeats: 1, units: "um" } });
    const page1 = doc("event_page", { seq: 1, data: { "io/transmission": { trig: [1, 2], value: [0.5, 0.6] } }, refs: {}, previews: {} });
    const page2 = doc("event_page", { seq: 2, data: { "io/transmission": { trig: [3], value: [0.7] } }, refs: {}, previews: {} });
    let replay: any[] = [];
    await until(
      async () => {
        director!.publish("doc", start);
        director!.publish("doc", page1);
        director!.publish("doc", page2);
        const c = await connect(monitor!.url);
        await until(() => c.msgs.some((m) => m.kind === "replay"), 5000, "the replay");
        replay = c.msgs.find((m) => m.kind === "replay").items;
        c.ws.close();
        // the documents travel PUB -> SUB: wait until the replay holds the start and the last page published
        const merged = replay.find((i: any) => i.body.name === "event_page")?.body.doc;
        return replay.some((i: any) => i.body.name === "start") && merged?.data["io/transmission"]?.trig.at(-1) === 3;
      },
      10_000,
      "the monitor to hear the Director's documents",
    );
    const merged = replay.find((i: any) => i.body.name === "event_page").body.doc;
    expect(merged.data["io/transmission"].trig.slice(-3)).toEqual([1, 2, 3]);

    // control: refused without the token (nothing reaches the Director), forwarded with it
    const c = await connect(monitor.url);
    c.ws.send(JSON.stringify({ type: "control", cmd: "pause", token: "wrong", id: 1 }));
    c.ws.send(JSON.stringify({ type: "control", cmd: "abort", token: monitor.token, id: 2 }));
    c.ws.send(JSON.stringify({ type: "check-token", token: monitor.token, id: 3 }));
    c.ws.send(JSON.stringify({ type: "control", cmd: "pause", token: monitor.token, id: 4 }));
    await until(() => c.msgs.filter((m) => m.kind === "control-reply" || m.kind === "token").length === 4, 10_000, "four replies");
    const r = (id: number) => c.msgs.find((m) => m.id === id);
    expect(r(1)).toMatchObject({ ok: false, error: expect.stringMatching(/operator token/) });
    expect(r(2)).toMatchObject({ ok: false, error: expect.stringMatching(/unknown command 'abort'/) });
    expect(r(3)).toMatchObject({ kind: "token", ok: true });
    expect(r(4).error ?? "").not.toMatch(/operator token/);
    c.ws.close();
  });

  it("a monitor attached mid-run learns the run from the start and descriptors re-sent on doc.late, once", async () => {
    director = new Director();
    const ep = await director.start();
    monitor = await startMonitor({ events: ep.events, port: 0 });
    const start = doc("start", { time: 0, scan: 3, scenario: "s", title: "late", planned: 4, firstTrigger: 1, file: null });
    const desc = doc("descriptor", { stream: "io/transmission", player: "io", name: "transmission", level: 2, dtype: "float64", shape: [], units: "1", role: "signal", kind: "scalar" });
    let items: any[] = [];
    await until(
      async () => {
        for (let i = 0; i < 2; i++) {
          director!.publish("doc.late", start);
          director!.publish("doc.late", desc);
        }
        const c = await connect(monitor!.url);
        await until(() => c.msgs.some((m) => m.kind === "replay"), 5000, "the replay");
        items = c.msgs.find((m) => m.kind === "replay").items;
        c.ws.close();
        return items.some((i: any) => i.body.name === "descriptor");
      },
      10_000,
      "the late documents",
    );
    expect(items.filter((i: any) => i.body.name === "start")).toHaveLength(1);
    expect(items.filter((i: any) => i.body.name === "descriptor")).toHaveLength(1);
    expect(items[0]).toMatchObject({ topic: "doc", body: { name: "start", doc: { title: "late" } } });
  });

  it("donki monitor --events attaches to a running Director, read-only without --control", async () => {
    director = new Director();
    const ep = await director.start();
    const m = startProcess(["monitor", "--events", ep.events, "--port", "0"]);
    const line = await m.waitFor(/donki monitor: http:/, 30_000);
    await m.waitFor(/read-only/, 5000);
    const url = /http:\S+/.exec(line)![0];
    const c = await connect(url);
    await until(() => c.msgs.some((x) => x.kind === "hello"), 5000, "hello");
    expect(c.msgs.find((x) => x.kind === "hello").control).toBe(false);
    c.ws.send(JSON.stringify({ type: "control", cmd: "pause", token: "x", id: 1 }));
    await until(() => c.msgs.some((x) => x.kind === "control-reply"), 5000, "the reply");
    expect(c.msgs.find((x) => x.kind === "control-reply").ok).toBe(false);
    c.ws.close();
    m.kill("SIGINT");
    expect(await m.exited).toBe(0);
  });
});

/**
 * Run documents on the Director's event stream (runtime/events/, docs/protocol.md "Run documents"): a real scan with
 * a real Director and player processes; every document validates against its schema, describes the scan truly
 * (values, row references, counts), and `donki events` prints the same documents as JSON lines.
 */
import { afterEach, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EventFollower, type StreamMessage } from "../runtime/events/follow.ts";
import { checkDocument, documentJsonSchemas } from "../runtime/events/schema.ts";
import { DocumentSink, decimate } from "../runtime/events/documents.ts";
import type { DataSink, SinkCloseReport } from "../runtime/director/sink.ts";
import { readStream } from "../runtime/data/reader.ts";
import { ROOT, freePort, killAll, startProcess, tempDir, until } from "./helpers/procs.ts";

afterEach(() => killAll());

const PLAYERS = [
  ["stage", "0", "sim:pi-stage", '{"axes":{"x":"1","y":"2"},"velocity":{"x":2000,"y":2000}}'],
  ["temperature", "1", "sim:temperature", "{}"],
  ["ccd", "2", "sim:pi-ccd", '{"binning":4,"roi":{"x":470,"y":450,"width":400,"height":400},"gainIndex":0,"readoutRateHz":2000000}'],
  ["xrf", "2", "sim:dante", '{"bins":2048,"rois":{"O":[475,575],"Fe":[660,750],"Mg":[1200,1310],"Al":[1430,1545],"Si":[1680,1800]}}'],
  ["io", "2", "sim:io", "{}"],
];

describe("run documents", () => {
  it("a scan publishes start, descriptors, event pages, status and stop that validate and tell the truth; donki events prints them", async () => {
    const out = tempDir();
    const [pp, cp, ep] = [await freePort(), await freePort(), await freePort()];
    const d = startProcess(["director", "scenarios/fast-scan.yaml", "--port", String(pp), "--control-port", String(cp), "--event-port", String(ep), "--out", out, "--no-progress", "--wait", "60"]);
    const got: StreamMessage[] = [];
    const follower = new EventFollower(`tcp://127.0.0.1:${ep}`, (m) => got.push(m));
    const ev = startProcess(["events", "--events", `tcp://127.0.0.1:${ep}`, "--control", `tcp://127.0.0.1:${cp}`]);
    // donki events subscribed before asking for the status: once the status line is out, it hears the run
    await ev.waitFor(/"director-status"/, 60_000);
    // without CURVE the run admits players that present its token (written by the Director into the output directory)
    const tokenFile = join(out, "donki-run.token");
    await until(() => existsSync(tokenFile), 60_000, "the run token file");
    const players = PLAYERS.map(([name, level, device, settings]) => startProcess(["player", "--name", name, "--level", level, "--director", `tcp://127.0.0.1:${pp}`, "--device", device, "--settings", settings, "--seed", "5", "--token-file", tokenFile]));
    expect(await d.exited).toBe(0);
    expect(await ev.exited).toBe(0); // without --follow: ends after the stop document
    await until(() => got.some((m) => m.topic === "doc" && m.body.name === "stop"), 10_000, "the stop document");
    follower.close();
    for (const p of players) p.kill("SIGTERM");

    const docs = got.filter((m) => m.topic === "doc").map((m) => ({ name: m.body.name as string, doc: m.body.doc as any }));
    for (const x of docs) expect(checkDocument(x.name, x.doc), `${x.name}: ${JSON.stringify(x.doc).slice(0, 300)}`).toBeNull();
    const names = docs.map((x) => x.name);
    expect(names[0]).toBe("start");
    expect(names.at(-1)).toBe("stop");
    expect(names.filter((n) => n === "start")).toHaveLength(1);
    const start = docs[0].doc;
    expect(start).toMatchObject({ planned: 30, firstTrigger: 1, scan: 1, scenario: "fast-scan", raster: { x: { start: 20, stop: 80, points: 6 }, y: { points: 5 }, snake: true, repeats: 1 } });
    expect(start.file).toMatch(/fast_00001\.nxs$/);
    const desc = Object.fromEntries(docs.filter((x) => x.name === "descriptor").map((x) => [x.doc.stream, x.doc]));
    expect(desc["io/transmission"]).toMatchObject({ kind: "scalar", level: 2, shape: [], units: "1" });
    expect(desc["xrf/spectrum"]).toMatchObject({ kind: "array", shape: [2048], axis: { units: "eV" }, rois: { Fe: [660, 750] }, preview: { shape: [512], binning: [4] } });
    expect(desc["ccd/frame"]).toMatchObject({ kind: "array", dtype: "uint16" });
    expect(desc["stage/x"]).toMatchObject({ level: 0, role: "positioner" });
    expect(start.raster.units).toBe(desc["stage/x"].units);

    // the event pages carry every value once, equal to what the file holds
    const pages = docs.filter((x) => x.name === "event_page").map((x) => x.doc);
    expect(pages.map((p) => p.seq)).toEqual(pages.map((_, i) => i + 1));
    const col = (k: string) => {
      const t: number[] = [];
      const v: number[] = [];
      for (const p of pages) if (p.data[k]) (t.push(...p.data[k].trig), v.push(...p.data[k].value));
      return { t, v };
    };
    const tr = col("io/transmission");
    expect([...tr.t].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const file = start.file as string;
    const inFile = await readStream(file, "io/transmission");
    const byTrig = new Map(tr.t.map((t, i) => [t, tr.v[i]]));
    for (let t = 1; t <= 30; t++) expect(byTrig.get(t)).toBe(Number(inFile.rows[t - inFile.firstTrigger]));
    const refs = pages.flatMap((p) => (p.refs["ccd/frame"] ? p.refs["ccd/frame"].trig.map((t: number, i: number) => [t, p.refs["ccd/frame"].row[i]]) : []));
    expect(refs).toHaveLength(30);
    for (const [t, row] of refs) expect(row).toBe(t - 1);
    const spectra = pages.map((p) => p.previews["xrf/spectrum"]).filter(Boolean);
    expect(spectra.length).toBeGreaterThan(0);
    expect(spectra[0].shape).toEqual([512]);

    const status = docs.filter((x) => x.name === "status").map((x) => x.doc);
    expect(status.length).toBeGreaterThan(0);
    const last = status.at(-1);
    expect(last.levels.map((l: any) => l.level)).toEqual([0, 1, 2]);
    expect(last.levels[2].players.map((p: any) => p.name).sort()).toEqual(["ccd", "io", "xrf"]);
    expect(last.levels[0].players[0].lastAckMs).toBeGreaterThan(0);
    expect(last.trig).toBe(30);

    const stop = docs.at(-1)!.doc;
    expect(stop).toMatchObject({ status: "completed", lastTrigger: 30, gaps: {}, file });
    expect(stop.counts["io/transmission"]).toBe(30);
    expect(stop.counts["ccd/frame"]).toBe(30);

    // donki events: the same documents as JSON lines (after the status line)
    const lines = ev.out.map((l) => JSON.parse(l));
    expect(lines[0].name).toBe("director-status");
    const printed = lines.slice(1);
    expect(printed.map((l) => l.name)).toEqual(names);
    for (const l of printed) expect(checkDocument(l.name, l.doc)).toBeNull();
  });

  it("the JSON Schemas in docs/documents.schema.json are the ones the code checks against", () => {
    const committed = JSON.parse(readFileSync(join(ROOT, "docs/documents.schema.json"), "utf8"));
    expect(committed).toEqual(JSON.parse(JSON.stringify(documentJsonSchemas())));
    expect(checkDocument("stop", { version: 1, run: "r", time: 0, status: "exploded", lastTrigger: 1, counts: {}, gaps: {}, file: null })).toMatch(/stop\.status/);
    expect(checkDocument("start", { version: 2 })).toMatch(/start\.version/);
    expect(checkDocument("nonsense", {})).toMatch(/unknown document 'nonsense'/);
  });

  it("at a high trigger rate the pages stay few (batched on a timer) and carry every value", async () => {
    const published: Array<{ name: string; doc: any }> = [];
    const inner: DataSink = { open: async () => {}, addStream() {}, accept() {}, noteTrigger() {}, hasCapacity: () => true, whenCapacity: async () => {}, missing: () => 0, close: async () => ({ perStream: [{ key: "p/v", missing: [7] }] }) as Partial<SinkCloseReport> };
    const director = { status: () => ({ state: "running", simTime: 0, players: [], counters: {} }), registry: { get: () => ({ level: 0 }), all: () => [] }, faultsSoFar: () => [] } as any;
    const sink = new DocumentSink(inner, { publish: (name, doc) => published.push({ name, doc }), director, describeRun: () => ({ scan: 1, scenario: "s", title: "t", file: null }), pageMs: 50, statusMs: 10_000 });
    const spec = { name: "s", dtype: "uint32" as const, shape: [1000], units: "counts", role: "signal" as const };
    await sink.open({ runId: "r1", plannedTriggers: 100_000, startTime: new Date() }, [{ player: "p", decl: { name: "v", dtype: "float64", shape: [], units: "V", role: "signal" } }, { player: "p", decl: spec }]);
    const b = Buffer.alloc(8);
    const arr = Buffer.from(new Uint32Array(1000).fill(3).buffer);
    const t0 = performance.now();
    for (let t = 1; t <= 100_000; t++) {
      b.writeDoubleLE(t * 0.5);
      sink.accept("p", "v", t, b);
      sink.accept("p", "s", t, arr);
      sink.noteTrigger(t);
      if (t % 10_000 === 0) await new Promise((r) => setTimeout(r, 60));
    }
    const loopMs = performance.now() - t0;
    await sink.close({ status: "completed", lastTrigger: 100_000, lastIssued: 100_000 });
    const pages = published.filter((p) => p.name === "event_page").map((p) => p.doc);
    expect(pages.length).toBeLessThanOrEqual(12 + Math.ceil(loopMs / 50));
    const values = pages.flatMap((p) => p.data["p/v"]?.value ?? []);
    expect(values).toHaveLength(100_000);
    expect(values[99_999]).toBe(50_000);
    const previews = pages.map((p) => p.previews["p/s"]).filter(Boolean);
    expect(previews.length).toBeLessThanOrEqual(pages.length);
    expect(previews[0]).toMatchObject({ shape: [500] });
    expect(previews[0].values[0]).toBe(6); // 2 bins of 3 counts summed
    const stop = published.at(-1)!;
    expect(stop).toMatchObject({ name: "stop", doc: { counts: { "p/v": 100_000, "p/s": 100_000 }, gaps: { "p/v": { missing: 1, first: [7] } } } });
  });

  it("decimates frames by block means and spectra by bin sums", () => {
    const f = decimate("uint16", [4, 4], [2, 2], Buffer.from(new Uint16Array([1, 3, 0, 0, 1, 3, 0, 0, 8, 8, 2, 2, 8, 8, 2, 4]).buffer));
    expect(f).toEqual({ shape: [2, 2], values: [2, 0, 8, 2.5] });
    const s = decimate("uint32", [5], [2], Buffer.from(new Uint32Array([1, 2, 3, 4, 5]).buffer));
    expect(s).toEqual({ shape: [3], values: [3, 7, 5] });
  });
});

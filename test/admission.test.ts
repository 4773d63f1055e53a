/**
 * No uninvited peer (issue 12), with real processes: rogue joiners written with pyzmq from docs/protocol.md are
 * refused while a scan completes; an operator admits a name; a registration storm leaves the Director's memory and
 * status reply bounded; a player frozen past its action timeout resumes the scan by itself when it runs again.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import * as zmq from "zeromq";
import { Packr } from "msgpackr";
import { Director } from "../runtime/director/director.ts";
import { encode } from "../runtime/protocol/codec.ts";
import { ControlClient, EventStream } from "../runtime/control/client.ts";
import { readRunSummary } from "../runtime/data/reader.ts";
import { FIXTURES, killAllAndWait, reportedEndpoints, sleep, startProcess, tempDir, until } from "./helpers/procs.ts";

const PY = "/usr/bin/python3";
const ROGUE = join(FIXTURES, "rogue.py");
const pyOk = spawnSync(PY, ["-c", "import zmq, msgpack"]).status === 0;

/** One `hello` from a pyzmq peer (fields merged over a valid hello); returns the Director's first reply. */
function rogueHello(endpoint: string, fields: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(execFileSync(PY, [ROGUE, endpoint, "hello", JSON.stringify(fields)], { encoding: "utf8", timeout: 30_000 }));
}

/** N registrations with distinct names over K connections (async: an in-process Director keeps running). */
async function storm(endpoint: string, n: number, sockets: number, fields: Record<string, unknown> = {}): Promise<Record<string, number>> {
  const { stdout } = await promisify(execFile)(PY, [ROGUE, endpoint, "storm", String(n), String(sockets), JSON.stringify(fields)], { encoding: "utf8", timeout: 150_000 });
  return JSON.parse(stdout);
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

afterEach(async () => {
  await killAllAndWait();
});

describe.skipIf(!pyOk)("admission: a run admits only its players", () => {
  it("rogue joiners (no token, wrong token, unknown name, bad fields, huge row) get 'reject' and the scan completes; an admitted name gets in", async () => {
    const out = tempDir();
    const tokenFile = join(out, "run.token");
    const p = startProcess(["run", "test/fixtures/scenarios/slow-scan.yaml", "--out", out, "--no-progress", "--json", "--triggers", "40", "--token-file", tokenFile], { DONKI_SHOW_ENDPOINTS: "1" });
    const { player, control } = await reportedEndpoints(p);
    await until(() => existsSync(tokenFile), 30_000, "the token file");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, "utf8").trim();
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    await until(() => readdirSync(out).some((f) => f.endsWith(".nxs")), 60_000, "the scan to start");

    // a scenario name without the token cannot take it over; nor with a wrong token
    expect(rogueHello(player, { name: "stage" })).toMatchObject({ type: "reject", code: "bad-token" });
    expect(rogueHello(player, { name: "io", token: "0".repeat(32) })).toMatchObject({ type: "reject", code: "bad-token" });
    // the right token but a name the scenario does not have
    expect(rogueHello(player, { name: "rogue", token })).toMatchObject({ type: "reject", code: "not-admitted" });
    // bad fields: the documented `reject`, not `error` (a client written from the doc stops instead of retrying)
    expect(rogueHello(player, { level: "high", token })).toMatchObject({ type: "reject", code: "bad-hello" });
    // a row bigger than the limit is refused at registration (the name is admitted first to get that far)
    const c = new ControlClient(control);
    try {
      expect((await c.request("admit", { player: "huge" })).ok).toBe(true);
      const huge = rogueHello(player, { name: "huge", token, streams: [{ name: "big", dtype: "float64", shape: [100000, 100000], role: "signal" }] });
      expect(huge).toMatchObject({ type: "reject", code: "row-too-large" });
      expect(String(huge.reason)).toMatch(/stream 'big'.*74\.5 GiB.*64\.0 MiB/);
      // an operator admits a name: with the token it registers (join next-run: it does not take part in this run)
      expect((await c.request("admit", { player: "extra" })).ok).toBe(true);
      expect(rogueHello(player, { name: "extra", token, join: "next-run" })).toMatchObject({ type: "welcome", name: "extra", level: 0 });
      const st = await c.status();
      expect(st.counters.refused).toBeGreaterThanOrEqual(5);
      expect(st.players.map((x) => x.name).sort()).toContain("stage");
      expect(st.players.find((x) => x.name === "stage")!.host).not.toBe("rogue-host"); // not taken over
    } finally {
      c.close();
    }
    // --triggers 40 of a longer scan: the run goes to its 40th trigger undisturbed and says so (stopped, exit 3)
    expect(await p.exited).toBe(3);
    const rep = JSON.parse(p.out.join("\n"));
    expect(rep.result.status).toBe("stopped");
    expect(rep.result.triggers).toBe(40);
    expect(rep.result.players.sort()).toEqual(["io", "stage"]);
    const s = await readRunSummary(rep.file);
    expect(s.perStream.every((x) => x.complete)).toBe(true);
    expect(s.perStream.some((x) => /rogue|huge|extra/.test(x.key))).toBe(false);
    // each refusal is logged once per reason and name (not once per attempt)
    expect(p.err.filter((l) => /registration refused/.test(l)).length).toBeLessThanOrEqual(5);
    expect(existsSync(tokenFile)).toBe(false);
  }, 180_000);

  it("a storm of 20,000 registrations leaves the Director's memory and status reply bounded", async () => {
    const out = tempDir();
    const d = startProcess(["director", "test/fixtures/scenarios/slow-scan.yaml", "--port", "0", "--control-port", "0", "--event-port", "0", "--out", out, "--no-progress", "--wait", "300"]);
    const { player, control } = await reportedEndpoints(d);
    const tokenFile = join(out, "donki-run.token");
    await until(() => existsSync(tokenFile), 30_000, "the token file");
    const token = readFileSync(tokenFile, "utf8").trim();
    const pid = d.child.pid!;
    const c = new ControlClient(control);
    try {
      const heap0 = (await c.status()).memory!.heapUsedMB;
      const rss0 = rssKb(pid);
      // without the token, then with it (names the scenario does not have), then again, over 100 connections (the
      // per-peer rate limit drops most; bench/registration-storm.ts uses 500 so that every one is answered). Not
      // more: the storm's connections take ephemeral ports that other tests running meanwhile may want to bind
      const r1 = await storm(player, 20_000, 100);
      const rss1 = rssKb(pid);
      const r2 = await storm(player, 20_000, 100, { token });
      const r3 = await storm(player, 20_000, 100, { token });
      const rss3 = rssKb(pid);
      expect((r1.reject ?? 0) + (r2.reject ?? 0) + (r3.reject ?? 0)).toBeGreaterThan(1000);
      expect((r1.welcome ?? 0) + (r2.welcome ?? 0) + (r3.welcome ?? 0)).toBe(0);
      const reply = await c.request("status");
      const bytes = JSON.stringify(reply).length;
      const st = reply.status!;
      expect(st.players.length).toBe(0);
      expect(st.counters.refused + st.counters.rateLimited).toBeGreaterThanOrEqual(60_000);
      expect(bytes).toBeLessThan(4096);
      // the log is not flooded: a burst of refusal lines, then about one per second
      expect(d.err.filter((l) => /registration refused/.test(l)).length).toBeLessThan(200);
      // nothing is kept per name: the JavaScript heap in use (garbage not yet collected included) stays within
      // 64 MB of where it was, where a registry keeping ~3 kB a name (the issue's) would add ~180 MB over 60,000;
      // the resident set grows with libzmq's buffers for simultaneous connections, kept by malloc, and levels
      // off (generous bounds for a loaded machine; figures in docs/benchmarks.md)
      process.stderr.write(`storm: RSS ${rss0} -> ${rss1} -> ${rss3} kB; heap ${heap0} -> ${st.memory!.heapUsedMB} MiB; status reply ${bytes} bytes; ${JSON.stringify(st.counters)}\n`);
      expect(st.memory!.heapUsedMB - heap0).toBeLessThan(64);
      expect(rss3 - rss0).toBeLessThan(400 * 1024);
    } finally {
      c.close();
    }
  }, 240_000);
});

describe("remote mode is authenticated", () => {
  it("--bind to a non-loopback address without CURVE refuses to start (exit 2); --insecure starts with a warning, in status and events", async () => {
    const out = tempDir();
    const args = ["director", "test/fixtures/scenarios/slow-scan.yaml", "--bind", "0.0.0.0", "--port", "0", "--control-port", "0", "--event-port", "0", "--out", out, "--no-progress", "--wait", "60"];
    const refused = spawnSync(process.execPath, [join(FIXTURES, "../../bin/donki.mjs"), ...args], { encoding: "utf8", timeout: 60_000 });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--bind 0\.0\.0\.0 .*needs CURVE.*--insecure/);
    const d = startProcess([...args, "--insecure"]);
    const { control, events } = await reportedEndpoints(d);
    expect(d.err.join("\n")).toMatch(/WARNING: INSECURE: bound to 0\.0\.0\.0 without CURVE/);
    const local = (ep: string) => ep.replace("0.0.0.0", "127.0.0.1");
    const c = new ControlClient(local(control));
    const ev = new EventStream(local(events), ["status", "security"]);
    try {
      expect((await c.status()).insecure).toBe(true);
      const e = await ev.next((x) => x.topic === "status", 10_000);
      expect((e.body.status as { insecure?: boolean }).insecure).toBe(true);
    } finally {
      c.close();
      ev.close();
    }
  }, 120_000);
});

describe.skipIf(!pyOk)("bounds in an open registry (library use)", () => {
  let director: Director | null = null;
  afterAll(async () => {
    await director?.close();
  });

  it("entries that never joined a run are dropped once dead for a few heartbeat timeouts; status lists live ones and counts the rest", async () => {
    director = new Director({ hbIntervalMs: 100, hbTimeoutMs: 300 });
    const ep = await director.start();
    const r = await storm(ep.player, 2000, 50);
    // at most 1000 entries at a time: beyond that, 'reject' (registry-full)
    expect((r.welcome ?? 0) + (r.reject ?? 0)).toBe(2000);
    expect(r.welcome).toBeGreaterThanOrEqual(1000);
    const st = director.status();
    expect(st.players.length + (st.playersNotListed ?? 0)).toBeLessThanOrEqual(2000);
    // dead after 300 ms, pruned after 3 timeouts
    await until(() => director!.registry.size === 0, 30_000, "the registry to be pruned");
    expect(director.counters.pruned).toBe(r.welcome);
    const st2 = director.status();
    expect(st2.players.length).toBe(0);
  }, 120_000);

  it("the status reply lists at most 50 dead players and counts the others", async () => {
    director?.close();
    director = new Director({ hbIntervalMs: 100, hbTimeoutMs: 20_000 });
    const ep = await director.start();
    await storm(ep.player, 300, 10);
    await until(() => director!.registry.size >= 300, 10_000, "300 registrations");
    for (const e of director.registry.all()) e.alive = false; // as the heartbeat check does
    const st = director.status();
    expect(st.players.length).toBe(50);
    expect(st.playersNotListed).toBe(250);
  }, 60_000);
});

describe("liveness: a late ack resumes the scan without an operator", () => {
  it("a live player that never answers a timed-out request (its heartbeats go on) gets the trigger again after one more timeout", async () => {
    const director = new Director({ hbIntervalMs: 100, hbTimeoutMs: 5000 });
    const ep = await director.start();
    const peer = new zmq.Dealer({ linger: 0 });
    peer.connect(ep.player);
    const send = (m: Record<string, unknown>) => peer.send(encode({ v: 1, ...m }));
    const trigs: Array<{ trig: number; seq: number }> = [];
    let closed = false;
    const hb = setInterval(() => void send({ type: "hb" }).catch(() => {}), 100);
    try {
      await send({ type: "hello", name: "mute", level: 0, streams: [], device: { kind: "test", model: "raw", simulated: true }, instance: "m1", pid: 1, host: "test", join: "next-trigger" });
      // a raw player: acts on every trigger except the first copy of trigger 2, which it drops without an ack
      const loop = (async () => {
        while (!closed) {
          let f: Buffer[];
          try {
            f = await peer.receive();
          } catch {
            return;
          }
          const m = new Packr({ useRecords: false, mapsAsObjects: true }).unpack(f[0]) as Record<string, unknown>;
          if (m.type === "pre") await send({ type: "ready", run: m.run, seq: m.seq, ok: true });
          if (m.type === "post") await send({ type: "done", run: m.run, seq: m.seq, ok: true });
          if (m.type === "trig") {
            trigs.push({ trig: m.trig as number, seq: m.seq as number });
            if (m.trig === 2 && trigs.filter((t) => t.trig === 2).length === 1) continue;
            await send({ type: "ack", run: m.run, trig: m.trig, lvl: m.lvl, seq: m.seq, ok: true });
          }
        }
      })();
      const r = await director.run({ triggers: 4, require: ["mute"], policy: { actionTimeoutMs: 300 } });
      expect(r.status).toBe("completed");
      expect(trigs.map((t) => t.trig)).toEqual([1, 2, 2, 3, 4]);
      expect(r.faults).toMatchObject([{ trig: 2, player: "mute", kind: "timeout", action: "pause" }]);
      closed = true;
      peer.close();
      await loop;
    } finally {
      clearInterval(hb);
      if (!closed) peer.close();
      await director.close();
    }
  }, 60_000);

  it("a player frozen (SIGSTOP) past its action timeout and continued (SIGCONT): the trigger is re-sent and the scan completes by itself", async () => {
    const out = tempDir();
    const p = startProcess(["run", "test/fixtures/scenarios/late-ack-scan.yaml", "--out", out, "--no-progress", "--json"], { DONKI_SHOW_ENDPOINTS: "1" });
    const { control } = await reportedEndpoints(p);
    const c = new ControlClient(control);
    let io = 0;
    try {
      await until(async () => {
        const st = await c.status().catch(() => null);
        io = st?.state === "running" && (st.trig ?? 0) >= 3 ? (st.players.find((x) => x.name === "io")?.pid ?? 0) : 0;
        return io > 0;
      }, 60_000, "the scan to run");
      process.kill(io, "SIGSTOP");
      await until(async () => (await c.status()).state === "paused", 30_000, "the timeout to pause the scan");
      await sleep(500);
      process.kill(io, "SIGCONT");
    } finally {
      c.close();
    }
    expect(await p.exited).toBe(0);
    const rep = JSON.parse(p.out.join("\n"));
    expect(rep.result.status).toBe("completed");
    expect(rep.result.triggers).toBe(60);
    expect(rep.result.faults.some((f: { kind: string; player: string }) => f.kind === "timeout" && f.player === "io")).toBe(true);
    const s = await readRunSummary(rep.file);
    expect(s.perStream.every((x) => x.complete)).toBe(true);
  }, 180_000);
});

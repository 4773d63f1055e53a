/** The donki command line end to end, with real processes, real sockets and real files. */
import { afterEach, describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readRunSummary } from "../runtime/data/reader.ts";
import { ControlClient } from "../runtime/control/client.ts";
import { fingerprintFile } from "../runtime/data/fingerprint.ts";
import { compareGolden, regressionRun, type Golden } from "../scenarios/regress.ts";
import { DONKI, ROOT, freePort, killAll, reportedEndpoints, startProcess, tempDir, until } from "./helpers/procs.ts";

afterEach(() => killAll());

function donki(args: string[], opts: { timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, env: { ...process.env, DONKI_LOG: "warn" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function h5dump(args: string[]): string {
  return execFileSync("h5dump", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}


function startEmulator() {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "simulators/gcs/main.ts"), "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const port = new Promise<number>((res, rej) => {
    child.stdout!.on("data", (b: Buffer) => {
      const m = /"port":(\d+)/.exec(b.toString());
      if (m) res(Number(m[1]));
    });
    child.on("exit", (c) => rej(new Error(`emulator exited ${c}`)));
  });
  return { child, port };
}

const nxs = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".nxs")).map((f) => join(dir, f));

describe("donki run", () => {
  it("runs the fast scan with players as separate processes and writes a NeXus file that h5dump and h5wasm read", async () => {
    const out = tempDir();
    const r = donki(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress"]);
    // stderr: only the endpoints (for donki ctl / events / monitor)
    expect(r.err).toMatch(/^donki director: players -> tcp:\/\/127\.0\.0\.1:\d+ {2}control -> tcp:\/\/127\.0\.0\.1:\d+ {2}events -> tcp:\/\/127\.0\.0\.1:\d+\n$/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/COMPLETED/);
    expect(r.out).toMatch(/triggers:\s+30 of 30/);
    expect(r.out).toMatch(/streams:\s+21 of 21 complete/);
    expect(r.out).toMatch(/simulated:\s+2\.34 s/); // CCD and XRF read out while the stage moves (overlap)
    const [file] = nxs(out);
    expect(file).toMatch(/fast_00001\.nxs$/);
    // independent reader
    const header = h5dump(["-H", "-A", file]);
    expect(header).toMatch(/GROUP "entry"/);
    expect(header).toMatch(/"NX_class"[\s\S]*?"NXentry"/);
    expect(header).toMatch(/GROUP "ccd"[\s\S]*?DATASET "data"[\s\S]*?DATASPACE\s+SIMPLE \{ \( 30, 100, 100 \)/);
    const x = h5dump(["-d", "/entry/instrument/sample_x/data", "-y", "-w", "0", file]);
    const xs = /DATA \{([^}]*)\}/.exec(x)![1].split(",").map(Number);
    expect(xs.length).toBe(30);
    // snake raster: first row 20..80 forward, second row backwards
    expect(xs[0]).toBeCloseTo(20, 1);
    expect(xs[5]).toBeCloseTo(80, 1);
    expect(xs[6]).toBeCloseTo(80, 1);
    expect(xs[11]).toBeCloseTo(20, 1);
    const s = await readRunSummary(file);
    expect(s.status).toBe("completed");
    expect(s.perStream.every((p) => p.complete)).toBe(true);
    // inspect
    const i = donki(["inspect", file]);
    expect(i.code).toBe(0);
    expect(i.out).toMatch(/scan 1/);
    expect(i.out).toMatch(/xrf\/spectrum\s+uint32\s+\[2048\]\s+30 rows\s+complete/);
    // a second run in the same directory never overwrites: scan 2
    // --triggers 3 of a 30-trigger scan: the file and the exit code say stopped (3 of 30 planned), not completed
    expect(donki(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--triggers", "3"]).code).toBe(3);
    expect(nxs(out).sort().map((f) => f.slice(-14))).toEqual(["fast_00001.nxs", "fast_00002.nxs"]);
  });

  it("donki quicklook renders the scan to a PNG; donki devices says clearly what is (not) present", async () => {
    const out = tempDir();
    expect(donki(["run", "scenarios/xml-players-scan.yaml", "--out", out, "--no-progress"]).code).toBe(0);
    const q = donki(["quicklook", nxs(out)[0]]);
    expect(q.code).toBe(0);
    expect(q.out).toMatch(/xmlscan_00001\.png\s+\(\d+x\d+: Transmission \(io\/transmission\)\)/);
    expect(existsSync(join(out, "xmlscan_00001.png"))).toBe(true);
    expect(donki(["quicklook", join(out, "nope.nxs")]).code).toBe(2);
    // a GCS controller emulator (its own process: spawnSync blocks this one) as the TCP controller to find
    const emu = startEmulator();
    const port = await emu.port;
    const d = donki(["devices", "--tcp", `127.0.0.1:${port}`, "--tcp", "127.0.0.1:1"]);
    emu.child.kill("SIGTERM");
    expect(d.code).toBe(0);
    expect(d.out).toMatch(/Serial ports:/);
    expect(d.out).toMatch(/USB:/);
    expect(d.out).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*(PI|E-7)`));
    expect(d.out).toMatch(/127\.0\.0\.1:1.*not reachable/);
  });

  it("bad input exits with code 2 and a located message; unknown commands too", () => {
    const r = donki(["run", "test/fixtures/scenarios/bad-level.yaml"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad-level\.yaml:7:12: players\[1\]\.level/);
    expect(donki(["run", "no/such/file.yaml"]).code).toBe(2);
    expect(donki(["frobnicate"]).code).toBe(2);
    expect(donki(["run", "scenarios/fast-scan.yaml", "--time", "warp"]).err).toMatch(/time must be virtual, real or scale/);
  });

  it("Ctrl-C (SIGINT) stops after the current trigger, tells the players and closes a readable file (exit 3); twice aborts (exit 1)", async () => {
    for (const [signals, code, status] of [[1, 3, "stopped"], [2, 1, "aborted"]] as const) {
      const out = tempDir();
      const p = startProcess(["run", "test/fixtures/scenarios/slow-scan.yaml", "--out", out, "--no-progress"], { DONKI_SHOW_ENDPOINTS: "1" });
      const { control } = await reportedEndpoints(p);
      await until(() => nxs(out).length === 1, 30_000, "the scan file to appear");
      // the first trigger under way (no fixed wait: a loaded machine may take a while to start it)
      const c = new ControlClient(control);
      try {
        await until(async () => ((await c.status()).trig ?? 0) >= 1, 30_000, "the first trigger");
      } finally {
        c.close();
      }
      p.child.kill("SIGINT");
      if (signals === 2) {
        // a second SIGINT sent before the first was handled would merge with it (signals do not queue)
        await until(() => p.err.some((l) => /stopping after the current trigger/.test(l)), 30_000, "the first Ctrl-C handled");
        p.child.kill("SIGINT");
      }
      expect(await p.exited).toBe(code);
      const s = await readRunSummary(nxs(out)[0]);
      expect(s.status).toBe(status);
      expect(s.lastTrigger).toBeGreaterThan(0);
      expect(s.lastTrigger).toBeLessThan(200);
      h5dump(["-H", nxs(out)[0]]); // opens with the independent reader
      expect(p.out.join("\n")).toMatch(signals === 1 ? /STOPPED/ : /ABORTED/);
    }
  });

  it("donki ctl drives a running scan through the control socket", async () => {
    const out = tempDir();
    const p = startProcess(["run", "test/fixtures/scenarios/slow-scan.yaml", "--out", out, "--no-progress"], { DONKI_SHOW_ENDPOINTS: "1" });
    const { control } = await reportedEndpoints(p);
    const ctl = (...a: string[]) => donki(["ctl", ...a, "--control", control], { timeoutMs: 20_000 });
    await until(() => nxs(out).length === 1, 30_000, "the scan to start");
    await until(() => JSON.parse(ctl("status", "--json").out || "{}").state === "running", 10_000, "running");
    expect(ctl("pause").code).toBe(0);
    await until(() => JSON.parse(ctl("status", "--json").out).state === "paused", 5000, "paused");
    // the run's own screen tells the pause from the control socket at once (without a terminal: one plain line)
    await until(() => p.err.some((l) => /^donki: PAUSED: paused by the operator/.test(l)), 10_000, "the pause told on the run's stderr");
    const st = JSON.parse(ctl("status", "--json").out);
    expect(st.players.map((x: { name: string }) => x.name).sort()).toEqual(["io", "stage"]);
    // without --json: a table for a human (state with its reason, the run's trigger, one row per player)
    const human = ctl("status").out;
    expect(human).toMatch(/^state:\s+PAUSED \(operator\)$/m);
    expect(human).toMatch(/^run:\s+\S+\s+trigger \d+ of 200/m);
    expect(human).toMatch(/^\s+stage\s+0\s+ok\s+/m);
    expect(human).toMatch(/^\s+io\s+1\s+ok\s+/m);
    expect(human).not.toMatch(/[{}]/);
    expect(ctl("priority", "--player", "io", "--level", "3").code).toBe(1); // not allowed during this run
    expect(ctl("resume").code).toBe(0);
    expect(ctl("stop").code).toBe(0);
    expect(await p.exited).toBe(3);
  });

  it("donki director + donki player started separately (the multi-host way, on 127.0.0.1)", async () => {
    const out = tempDir();
    const [pp, cp, ep] = [await freePort(), await freePort(), await freePort()];
    const d = startProcess(["director", "scenarios/xml-players-scan.yaml", "--port", String(pp), "--control-port", String(cp), "--event-port", String(ep), "--out", out, "--no-progress", "--wait", "60"]);
    const endpoint = `tcp://127.0.0.1:${pp}`;
    // without CURVE, remote players register with the run token the Director writes (mode 600)
    const tokenFile = join(out, "donki-run.token");
    await until(() => existsSync(tokenFile), 30_000, "the run token file");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const players = [
      ["stage", "0", "sim:pi-stage", '{"axes":{"x":"1","y":"2"}}'],
      ["ccd", "2", "sim:pi-ccd", '{"roi":{"x":336,"y":325,"width":668,"height":650},"binning":4,"gainIndex":0,"readoutRateHz":2000000}'],
      ["io", "2", "sim:io", "{}"],
    ].map(([name, level, device, settings]) => startProcess(["player", "--name", name, "--level", level, "--director", endpoint, "--device", device, "--settings", settings, "--seed", "5", "--token-file", tokenFile]));
    expect(await d.exited).toBe(0);
    expect(existsSync(tokenFile)).toBe(false); // removed with the run
    expect(d.out.join("\n")).toMatch(/COMPLETED/);
    // same data as the all-in-one run of the same scenario (same seed): the golden fingerprint
    const fp = await fingerprintFile(nxs(out)[0]);
    const golden = (await import("../scenarios/golden/xml-players-scan.json", { with: { type: "json" } })).default as Golden;
    expect(fp).toEqual(golden.fingerprint);
    for (const p of players) p.kill("SIGTERM");
  });
});

describe("determinism and regression fingerprints", () => {
  it("same scenario + same seed -> identical datasets and simulated duration, whether players run in separate processes or in one; another seed -> different noise", async () => {
    const a = donki(["run", "scenarios/fast-scan.yaml", "--out", tempDir(), "--no-progress", "--json"]);
    const b = donki(["run", "scenarios/fast-scan.yaml", "--out", tempDir(), "--no-progress", "--json", "--in-process"]);
    const c = donki(["run", "scenarios/fast-scan.yaml", "--out", tempDir(), "--no-progress", "--json", "--seed", "8"]);
    const [ra, rb, rc] = [a, b, c].map((r) => JSON.parse(r.out));
    const [fa, fb, fc] = await Promise.all([ra, rb, rc].map((r) => fingerprintFile(r.file)));
    expect(fb).toEqual(fa);
    expect(rb.simulatedS).toBe(ra.simulatedS);
    expect(rc.simulatedS).toBe(ra.simulatedS); // timing models do not depend on noise
    expect(fc.datasets["/entry/instrument/ccd/data"]).not.toEqual(fa.datasets["/entry/instrument/ccd/data"]);
    expect(fc.datasets["/entry/instrument/fluorescence/data"]).not.toEqual(fa.datasets["/entry/instrument/fluorescence/data"]);
    expect(fc.datasets["/entry/masks/ccd/frame"]).toEqual(fa.datasets["/entry/masks/ccd/frame"]);
  });

  it("the regression comparison passes for the golden file and reports a changed run", async () => {
    const golden = (await import("../scenarios/golden/fast-scan.json", { with: { type: "json" } })).default as Golden;
    const actual = await regressionRun("fast-scan", tempDir());
    expect(compareGolden(golden, actual)).toEqual([]);
    const changed: Golden = { ...actual, simulatedS: actual.simulatedS + 1, fingerprint: { datasets: { ...actual.fingerprint.datasets, "/entry/instrument/io/It": "<d [30] 0000" } } };
    const diff = compareGolden(golden, changed);
    expect(diff.some((d) => d.startsWith("simulated duration"))).toBe(true);
    expect(diff.some((d) => d.startsWith("/entry/instrument/io/It: expected"))).toBe(true);
  });
});

it("the README's main command exists: npm start runs the TWINMIC demo scenario", () => {
  expect(existsSync(join(ROOT, "scenarios/twinmic-raster.yaml"))).toBe(true);
  const pkg = JSON.parse(execFileSync("cat", [join(ROOT, "package.json")], { encoding: "utf8" }));
  expect(pkg.scripts.start).toBe("node bin/donki.mjs run scenarios/twinmic-raster.yaml");
});

/**
 * A scenario switches between hardware drivers and twins by configuration alone: the same runtime runs the real
 * GCS driver against the GCS controller emulator (bytes over TCP, a separate process), and the vendor-SDK drivers
 * (Andor SDK2, PVCAM, DANTE) over their SDK twins.
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readRunSummary, readStream } from "../runtime/data/reader.ts";
import { DONKI, ROOT, killAll, tempDir } from "./helpers/procs.ts";

const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
  killAll();
});

function run(scenario: string, out: string) {
  return spawnSync(process.execPath, [DONKI, "run", scenario, "--out", out, "--no-progress"], { cwd: ROOT, encoding: "utf8", timeout: 120_000, env: { ...process.env, DONKI_LOG: "warn" } });
}

describe("drivers in scenarios", () => {
  it("pi-gcs: the real GCS driver moves the stage of a GCS 2.0 controller emulator over TCP during a scan", async () => {
    const emu = spawn(process.execPath, ["--import", "tsx", join(ROOT, "simulators/gcs/main.ts"), "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    children.push(emu);
    const port = await new Promise<number>((res, rej) => {
      emu.stdout!.on("data", (b: Buffer) => {
        const m = /"port":(\d+)/.exec(b.toString());
        if (m) res(Number(m[1]));
      });
      emu.on("exit", (c) => rej(new Error(`emulator exited ${c}`)));
    });
    const dir = tempDir();
    const sc = join(dir, "gcs-scan.yaml");
    writeFileSync(
      sc,
      `title: line scan with the GCS driver
time: real
players:
  - { name: stage, level: 0, device: pi-gcs, settings: { transport: tcp, host: 127.0.0.1, port: ${port}, axes: { x: "1", y: "2" } } }
  - { name: io, level: 1, device: sim:io }
sequence:
  line: { axis: x, start: 20, stop: 70, points: 6, fixed: { y: 35 } }
  dwell: 0.01
`,
    );
    const r = run(sc, dir);
    expect(r.stderr).not.toMatch(/"level":(50|60)|^\d\d:\d\d:\d\d\.\d{3} (ERROR|FATAL) /m); // warnings may appear on a loaded machine; no errors
    expect(r.status).toBe(0);
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith(".nxs"))!);
    const x = await readStream(file, "stage/x");
    const xs = Array.from(x.rows as Float64Array);
    [20, 30, 40, 50, 60, 70].forEach((v, i) => expect(Math.abs(xs[i] - v)).toBeLessThan(0.02)); // inside the on-target window
    const y = await readStream(file, "stage/y");
    for (const v of Array.from(y.rows as Float64Array)) expect(Math.abs(v - 35)).toBeLessThan(0.02);
  });

  it("andor-ixon, pi-pvcam and dante drivers over their SDK twins run a raster in virtual time", async () => {
    const dir = tempDir();
    const sc = join(dir, "sdk-scan.yaml");
    writeFileSync(
      sc,
      `title: vendor-SDK drivers over SDK twins
seed: 4
players:
  - { name: stage, level: 0, device: sim:pi-stage }
  - { name: emccd, level: 1, device: andor-ixon, settings: { sdk: twin } }
  - { name: ccd, level: 1, device: pi-pvcam, settings: { sdk: twin, binning: 8, readoutRateHz: 2000000 } }
  - { name: xrf, level: 1, device: dante, settings: { sdk: twin, bins: 2048, rois: { Fe: [660, 750] } } }
sequence:
  raster: { x: { start: 30, stop: 70, points: 3 }, y: { start: 30, stop: 70, points: 3 } }
  dwell: 0.05
`,
    );
    const r = run(sc, dir);
    expect(r.stderr).not.toMatch(/"level":(50|60)|^\d\d:\d\d:\d\d\.\d{3} (ERROR|FATAL) /m); // warnings may appear on a loaded machine; no errors
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/COMPLETED/);
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith(".nxs"))!);
    const s = await readRunSummary(file);
    const shape = (k: string) => s.perStream.find((p) => p.key === k)!.shape;
    expect(shape("emccd/frame")).toEqual([128, 128]);
    expect(shape("ccd/frame")).toEqual([162, 167]);
    expect(shape("xrf/spectrum")).toEqual([2048]);
    expect(s.perStream.every((p) => p.complete)).toBe(true);
    const fe = Array.from((await readStream(file, "xrf/roi_Fe")).rows as Float64Array);
    expect(fe.reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // Fe fluorescence seen by the DANTE driver
    expect(new Set(fe).size).toBeGreaterThan(1); // and it varies over the specimen
  });

  it("a hardware driver without its vendor library fails the player with a message naming the library", () => {
    const r = spawnSync(process.execPath, [DONKI, "player", "--name", "cam", "--level", "0", "--director", "tcp://127.0.0.1:1", "--device", "andor-ixon", "--time", "real", "--settings", '{"library": "/nonexistent/libandor.so"}'], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\/nonexistent\/libandor\.so/);
  });
});

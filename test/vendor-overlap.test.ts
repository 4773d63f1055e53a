/**
 * Overlap through the vendor drivers (docs/scenarios.md "Overlap"): the real driver (pi-pvcam, andor-ixon, dante)
 * over its SDK twin (the fake library at the C-function boundary), in the device player, with a real Director and
 * real sockets, players in-process (as test/overlap.test.ts). No timing is asserted: each driver's last data call
 * (PVCAM's READOUT_COMPLETE, GetAcquiredData16, getData) is held until the stage has moved for the next trigger,
 * which the Director only sends if the player acknowledged at the release point, before its read-out ended
 * (without the early ack the run would hang and the test time out). The overlapped run's rows equal a sequential
 * run's, trigger by trigger; a read-out that fails after the release is a gap named against its trigger.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadScenario } from "../runtime/scenario/load.ts";
import { runScenario } from "../runtime/cli/run.ts";
import { estimateScenario } from "../runtime/cli/estimate.ts";
import { fingerprintFile, diffFingerprints } from "../runtime/data/fingerprint.ts";
import { silentLogger } from "../runtime/log.ts";
import { VirtualClock } from "../runtime/clock.ts";
import { parseScenario } from "../runtime/scenario/load.ts";
import * as catalogue from "../drivers/registry.ts";
import { Director } from "../runtime/director/director.ts";
import type { DataSink } from "../runtime/director/sink.ts";
import { Player, type PlayerBehaviour } from "../runtime/player/player.ts";
import { areaDetectorPlayer } from "../runtime/players/area-detector-player.ts";
import { mcaPlayer } from "../runtime/players/mca-player.ts";
import { createSimEnvironment } from "../simulators/beam.ts";
import type { FaultSpec } from "../simulators/faults.ts";
import { createAndorSdkTwin } from "../simulators/sdk/andor/twin.ts";
import type { SdkFault } from "../simulators/sdk/andor/sdk-faults.ts";
import { createDanteSdkTwin } from "../simulators/sdk/dante/index.ts";
import { createPvcamSdkTwin } from "../simulators/sdk/pvcam/twin.ts";
import { createAndorIxon } from "../drivers/andor/driver.ts";
import { DRV } from "../drivers/andor/codes.ts";
import { createXglabDante } from "../drivers/dante/index.ts";
import { STATUS } from "../drivers/pvcam/codes.ts";
import { createPrincetonPvcam } from "../drivers/pvcam/driver.ts";
import { until } from "./helpers/procs.ts";

let director: Director | undefined;
const players: Player[] = [];
afterEach(async () => {
  for (const p of players.splice(0)) await p.close();
  await director?.close();
  director = undefined;
});

type Overlap = "readout" | "none";
/** Called by the fake library before it hands out trigger `t`'s data (resolves when the test lets it go on). */
type Gate = (t: number) => Promise<void>;
const open: Gate = async () => {};

/** PI CCD: the driver over the PVCAM twin; trigger t = the t-th pl_exp_start_seq. */
async function pvcam(overlap: Overlap, gate: Gate, sdkFaults: SdkFault[] = []): Promise<PlayerBehaviour> {
  const clock = new VirtualClock();
  const sdk = createPvcamSdkTwin({ clock, seed: 3, env: createSimEnvironment({ seed: 3 }), cooling: { startCooled: true }, sdkFaults });
  let trig = 0;
  const start = sdk.pl_exp_start_seq.bind(sdk);
  sdk.pl_exp_start_seq = (h, b) => ((trig += 1), start(h, b));
  const check = sdk.pl_exp_check_status.bind(sdk);
  sdk.pl_exp_check_status = async (h) => {
    const r = await check(h);
    if (r.value.status === STATUS.READOUT_COMPLETE) await gate(trig);
    return r;
  };
  const device = createPrincetonPvcam({ sdk });
  await device.connect();
  await device.configure({ roi: { x: 0, y: 0, width: 1340, height: 1300 }, binning: { x: 10, y: 10 }, readoutRateHz: 2e6, exposureS: 0.1, shutter: "none" });
  return areaDetectorPlayer({ device, clock, overlap });
}

/** iXon: the driver over the SDK2 twin; trigger t = the t-th StartAcquisition. */
async function andor(overlap: Overlap, gate: Gate, sdkFaults: SdkFault[] = []): Promise<PlayerBehaviour> {
  const clock = new VirtualClock();
  const sdk = createAndorSdkTwin({ clock, seed: 4, env: createSimEnvironment({ seed: 4 }), cooling: { startCooled: true }, sdkFaults });
  let trig = 0;
  const start = sdk.StartAcquisition.bind(sdk);
  sdk.StartAcquisition = () => ((trig += 1), start());
  const data = sdk.GetAcquiredData16.bind(sdk);
  sdk.GetAcquiredData16 = async (arr, size) => (await gate(trig), data(arr, size));
  const device = createAndorIxon({ sdk, clock, warmUpOnClose: false });
  await device.connect();
  await device.configure({ exposureS: 0.05, frameTransfer: true, readoutRateHz: 1e6 });
  return areaDetectorPlayer({ device, clock, overlap });
}

/** DANTE: the driver over the libXGL_DPP twin; trigger t = the t-th start. */
async function dante(overlap: Overlap, gate: Gate, faults: FaultSpec[] = []): Promise<PlayerBehaviour> {
  const clock = new VirtualClock();
  const sdk = createDanteSdkTwin({ clock, twinOptions: { env: createSimEnvironment({ seed: 5 }), seed: 5, name: "dante" }, faults });
  let trig = 0;
  const start = sdk.start.bind(sdk);
  sdk.start = (id, t, d) => ((trig += 1), start(id, t, d));
  // getData is synchronous in the library: hold the driver just before it (its isLastDataReceived poll)
  const last = sdk.isLastDataReceived.bind(sdk);
  const held = new Set<number>();
  sdk.isLastDataReceived = (id, b) => {
    const r = last(id, b);
    if (r.ok && r.last && !held.has(trig)) {
      held.add(trig);
      const t = trig;
      void gate(t).then(() => held.add(-t));
    }
    return r.ok && r.last && !held.has(-trig) ? { ok: true, last: false } : r;
  };
  const device = createXglabDante({ sdk, clock });
  await device.connect();
  await device.configure({ acquisitionTimeS: 0.1, bins: 1024 });
  return mcaPlayer({ device, clock, overlap });
}

interface Row {
  stream: string;
  trig: number;
  payload: Buffer;
}

function sink(rows: Row[], events: string[]): DataSink {
  return {
    open: async () => {},
    addStream: () => {},
    accept: (player, stream, trig, payload) => {
      if (player === "det") rows.push({ stream, trig, payload: Buffer.from(payload) });
      events.push(`row ${player}/${stream} ${trig}`);
    },
    noteTrigger: (trig) => void events.push(`done ${trig}`),
    hasCapacity: () => true,
    whenCapacity: async () => {},
    missing: () => 0,
    close: async () => ({}),
  };
}

/** A run of N triggers: a stage at level 0 (records its moves), the detector at level 1. */
async function scan(make: (gate: Gate) => Promise<PlayerBehaviour>, N: number, hold: boolean) {
  director = new Director({ hbTimeoutMs: 10_000 }); // a loaded machine may stall a process for seconds
  const ep = (await director.start()).player;
  const moved = new Set<number>();
  const stage = new Player({ name: "stage", level: 0, director: ep, hbIntervalMs: 100, behaviour: { streams: [{ name: "x", dtype: "float64", shape: [], role: "positioner" }], action: (t) => (moved.add(t), { data: { x: t } }) } });
  players.push(stage);
  await stage.start();
  // the read-out of trigger t ends only once the stage has moved for t + 1: only an early ack lets that happen
  const gate: Gate = hold ? (t) => (t < N ? until(() => moved.has(t + 1), 20_000, `the move of trigger ${t + 1} during the read-out of ${t}`) : Promise.resolve()) : open;
  const det = new Player({ name: "det", level: 1, director: ep, hbIntervalMs: 100, behaviour: await make(gate) });
  players.push(det);
  await det.start();
  const rows: Row[] = [];
  const events: string[] = [];
  const r = await director.run({ triggers: N, require: ["stage", "det"], sink: sink(rows, events) });
  const released = det.counters.released;
  for (const p of players.splice(0)) await p.close();
  await director.close();
  director = undefined;
  return { r, rows, events, released };
}

/** Rows by "stream trig" (each exactly once). */
function byTrigger(rows: Row[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const x of rows) {
    const k = `${x.stream} ${x.trig}`;
    expect(m.has(k), `row ${k} twice`).toBe(false);
    m.set(k, x.payload);
  }
  return m;
}

const DRIVERS: Array<[string, (o: Overlap, g: Gate) => Promise<PlayerBehaviour>]> = [
  ["pi-pvcam", (o, g) => pvcam(o, g)],
  ["andor-ixon", (o, g) => andor(o, g)],
  ["dante", (o, g) => dante(o, g)],
];

describe("vendor drivers acknowledge at the release point and read out during the next move", () => {
  for (const [name, make] of DRIVERS) {
    it(`${name}: the next move happens during the read-out; the rows equal a sequential run's, trigger by trigger`, async () => {
      const N = 4;
      const over = await scan((g) => make("readout", g), N, true);
      expect(over.r.status).toBe("completed");
      expect(over.r.faults).toEqual([]);
      expect(over.released).toBe(N);
      // a trigger is done only after its rows arrived
      for (let t = 1; t <= N; t++) {
        const row = over.events.findIndex((e) => e.startsWith("row det/") && e.endsWith(` ${t}`));
        expect(row).toBeGreaterThanOrEqual(0);
        expect(row).toBeLessThan(over.events.indexOf(`done ${t}`));
      }
      const seq = await scan((g) => make("none", g), N, false);
      expect(seq.r.status).toBe("completed");
      expect(seq.released).toBe(0);
      const a = byTrigger(over.rows);
      const b = byTrigger(seq.rows);
      expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
      for (const [k, v] of a) expect(v.equals(b.get(k)!), `row ${k}`).toBe(true);
    });
  }
});

describe("a read-out that fails after the release is a gap named against its trigger", () => {
  const CASES: Array<[string, () => Promise<PlayerBehaviour>, RegExp]> = [
    // the 2nd sequence starts and never delivers its bytes: the driver's own deadline (from PVCAM's READOUT_TIME)
    ["pi-pvcam", () => pvcam("readout", open, [{ fn: "pl_exp_start_seq", call: 2, kind: "stall" }]), /TIMEOUT|not read out within/],
    ["andor-ixon", () => andor("readout", open, [{ fn: "GetAcquiredData16", call: 2, kind: "code", code: DRV.ACQ_BUFFER }]), /ACQ_BUFFER/],
    ["dante", () => dante("readout", open, [{ at: { call: 2, method: "getData" }, kind: "error", code: 80 }]), /getData/],
  ];
  for (const [name, make, message] of CASES) {
    it(`${name}: released, then the fault on trigger 2; the run goes on`, async () => {
      const { r, events, released } = await scan(() => make(), 3, false);
      expect(r.lastTrigger).toBe(3);
      expect(released).toBe(3);
      const gap = r.faults.find((f) => f.action === "gap");
      expect(gap).toMatchObject({ player: "det", trig: 2, lvl: 1, kind: "error" });
      expect(gap!.message).toMatch(message);
      expect(events.some((e) => e.startsWith("row det/") && e.endsWith(" 2"))).toBe(false);
      expect(events.some((e) => e.startsWith("row det/") && e.endsWith(" 3"))).toBe(true);
      expect(events.filter((e) => e.startsWith("done"))).toEqual(["done 1", "done 2", "done 3"]);
    });
  }
});

describe("scenario check", () => {
  it("andor-ixon with overlap on an external trigger: a located warning (it acknowledges after the read-out)", () => {
    const text = `title: t
players:
  - name: cam
    level: 0
    device: andor-ixon
    settings: { sdk: twin, triggerMode: external }
sequence:
  line: { axis: x, start: 0, stop: 1, points: 2 }
`;
    const sc = parseScenario(text, "/tmp/ext.yaml", { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
    expect(sc.warnings).toEqual([expect.stringMatching(/ext\.yaml:6:\d+: players\[0\]\.settings\.triggerMode \(cam, andor-ixon\): overlap: readout with triggerMode external: .*acknowledges after the read-out/)]);
    const internal = parseScenario(text.replace("triggerMode: external", "triggerMode: internal"), "/tmp/int.yaml", { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
    expect(internal.warnings).toEqual([]);
    const none = parseScenario(text.replace("    device: andor-ixon\n", "    device: andor-ixon\n    overlap: none\n"), "/tmp/none.yaml", { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
    expect(none.warnings).toEqual([]);
  });
});

const tmp = mkdtempSync(join(tmpdir(), "donki-vendor-overlap-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("a raster through the vendor drivers over their SDK twins, with and without overlap", () => {
  it("the same datasets apart from timestamps; less instrument time, as planned", async () => {
    const scenario = (mode: Overlap) => `title: vendor overlap
seed: 4
players:
  - { name: stage, level: 0, device: sim:pi-stage }
  - { name: ccd, level: 1, device: pi-pvcam, overlap: ${mode}, settings: { sdk: twin, binning: 10, readoutRateHz: 2000000 } }
  - { name: emccd, level: 1, device: andor-ixon, overlap: ${mode}, settings: { sdk: twin, readoutRateHz: 1000000 } }
  - { name: xrf, level: 1, device: dante, overlap: ${mode}, settings: { sdk: twin, bins: 1024, rois: { Fe: [660, 750] } } }
sequence:
  raster: { x: { start: 30, stop: 70, points: 4 }, y: { start: 30, stop: 70, points: 3 } }
  dwell: 0.05
`;
    const runs: Record<string, { file: string; sim: number; est: number }> = {};
    for (const mode of ["none", "readout"] as const) {
      const path = join(tmp, `${mode}.yaml`);
      writeFileSync(path, scenario(mode));
      const sc = loadScenario(path, { knownDevices: catalogue.deviceNames(), checkPlayer: catalogue.checkPlayer });
      const est = await estimateScenario(sc, catalogue);
      const r = await runScenario(sc, { catalogue, log: silentLogger, outDir: join(tmp, mode), inProcess: true, time: { mode: "virtual" } });
      expect(r.result.status).toBe("completed");
      expect(r.result.triggers).toBe(12);
      runs[mode] = { file: r.file!, sim: r.simulatedS, est: est.totalS };
    }
    // the data does not depend on when the read-out happened (each frame and spectrum is in its trigger's row)
    expect(diffFingerprints(await fingerprintFile(runs.none.file), await fingerprintFile(runs.readout.file))).toEqual([]);
    expect(runs.readout.sim).toBeLessThan(runs.none.sim);
    // the drivers follow their twins' timing model: the run takes what estimate planned (within the drivers'
    // polling: DANTE's isRunning_system answer, 1 ms per trigger in the twin)
    for (const m of Object.values(runs)) expect(Math.abs(m.est - m.sim) / m.sim).toBeLessThan(0.01);
  }, 180_000);
});

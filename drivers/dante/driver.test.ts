import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { DeviceError } from "../../runtime/devices/common.ts";
import type { Spectrum } from "../../runtime/devices/mca.ts";
import { createSimEnvironment, type SimEnvironment } from "../../simulators/beam.ts";
import { XglabDanteTwin } from "../../simulators/dante.ts";
import type { FaultSpec } from "../../simulators/faults.ts";
import { createDanteSdkTwin, type DanteSdkTwinOptions } from "../../simulators/sdk/dante/index.ts";
import { uniformSpecimen } from "../../simulators/specimen.ts";
import { mcaConformance } from "../conformance/mca.ts";
import { createXglabDante, type CreateXglabDanteOptions } from "./index.ts";

function env(): SimEnvironment {
  return createSimEnvironment({ specimen: uniformSpecimen({ concentrations: { Si: 50, Fe: 20, O: 100 } }), beam: { energyEv: 2000, fluxPhS: 1e9 } });
}

function rig(o: { faults?: FaultSpec[]; sdk?: Partial<DanteSdkTwinOptions>; driver?: Partial<CreateXglabDanteOptions> } = {}) {
  const clock = new VirtualClock();
  const sdk = createDanteSdkTwin({ clock, twinOptions: { env: env(), seed: 5, name: "dante" }, faults: o.faults, ...(o.sdk ?? {}) });
  const mca = createXglabDante({ sdk, clock, ...(o.driver ?? {}) });
  return { clock, sdk, mca };
}

async function failure(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return e as DeviceError;
  }
  throw new Error("expected a DeviceError");
}

mcaConformance("XglabDanteTwin (in-process twin)", async () => {
  const clock = new VirtualClock();
  return { clock, device: new XglabDanteTwin({ clock, env: env(), seed: 5, connectS: 0.01 }) };
});

mcaConformance("XglabDante driver over DanteSdkTwin", async () => {
  const { clock, mca } = rig();
  return { clock, device: mca };
});

mcaConformance("XglabDante driver over DanteSdkTwin (Ethernet unit, slow answers, EPICS extra map point)", async () => {
  const { clock, mca } = rig({ sdk: { address: "192.168.1.120", discoveryS: 2, callLatencyS: 0.02 }, driver: { address: "192.168.1.120", mapExtraPoint: true } });
  return { clock, device: mca };
});

describe("XglabDante over DanteSdkTwin: data path", () => {
  it("delivers the twin's spectra bit for bit (single and map), rates converted from kcps", async () => {
    const clock = new VirtualClock();
    const twin = new XglabDanteTwin({ clock, env: env(), seed: 5, name: "dante", connectS: 0 });
    await twin.connect();
    await twin.configure({ bins: 4096, acquisitionTimeS: 0.3 });
    const direct = await twin.acquire();
    const directMap: Spectrum[] = [];
    await twin.acquireMap(4, 0.005, (_i, s) => void directMap.push(s));

    const { mca } = rig();
    await mca.connect();
    await mca.configure({ bins: 4096, acquisitionTimeS: 0.3 });
    const viaSdk = await mca.acquire();
    const viaMap: Spectrum[] = [];
    await mca.acquireMap(4, 0.005, (_i, s) => void viaMap.push(s));

    expect(viaSdk.data).toEqual(direct.data);
    expect(viaSdk.stats.counts).toBe(direct.stats.counts);
    expect(viaSdk.stats.icr).toBeCloseTo(direct.stats.icr, 6);
    expect(viaSdk.stats.ocr).toBeCloseTo(direct.stats.ocr, 6);
    expect(viaSdk.stats.liveTimeS).toBeCloseTo(direct.stats.liveTimeS, 6);
    expect(viaMap.map((s) => [...s.data])).toEqual(directMap.map((s) => [...s.data]));
    await mca.close();
  });

  it("identifies the unit: library version, firmware, identifier; the DPP struct carries peaking time and gain", async () => {
    const { mca } = rig({ sdk: { identifier: "DANTE-1234", firmware: [2, 0, 7], libraryVersion: "3.8.0" } });
    await mca.connect();
    expect(mca.identifier).toBe("DANTE-1234");
    expect(mca.info()).toMatchObject({ kind: "mca", serial: "DANTE-1234", simulated: true });
    expect(mca.info().model).toContain("lib 3.8.0");
    expect(mca.info().model).toContain("fw 2.0.7");
    await mca.configure({ peakingTimeUs: 2, gainEvPerBin: 2.5 });
    expect(mca.dppConfiguration()).toMatchObject({ peaking_time: 63, gain: 0.5, flat_top: 5 });
    await mca.close();
  });
});

describe("XglabDante: discovery by identifier", () => {
  it("picks the requested unit, refuses an unknown one with 62 naming what was found", async () => {
    const ok = rig({ sdk: { identifier: "DANTE-A" }, driver: { identifier: "DANTE-A" } });
    await ok.mca.connect();
    expect(ok.mca.identifier).toBe("DANTE-A");
    await ok.mca.close();

    const bad = rig({ sdk: { identifier: "DANTE-A" }, driver: { identifier: "DANTE-B", discoveryTimeoutS: 2 } });
    const e = await failure(bad.mca.connect());
    expect(e).toMatchObject({ code: 62, codeName: "DLL_WRONG_ID" });
    expect(e.message).toContain('"DANTE-A"');
    expect(bad.mca.state).toBe("closed");
  });

  it("an Ethernet unit is found only after add_to_query; a wrong address finds nothing (57)", async () => {
    const eth = rig({ sdk: { address: "10.0.0.7", discoveryS: 3 }, driver: { address: "10.0.0.7" } });
    await eth.mca.connect();
    expect(eth.clock.now()).toBeGreaterThanOrEqual(3);
    await eth.mca.close();

    const wrong = rig({ sdk: { address: "10.0.0.7" }, driver: { address: "10.0.0.8", discoveryWaitS: 1, discoveryTimeoutS: 3 } });
    const e = await failure(wrong.mca.connect());
    expect(e.code).toBe(57);
    expect(e.message).toMatch(/no DANTE found.*10\.0\.0\.8/);
  });
});

describe("XglabDante: faults, deadlines and recovery", () => {
  it("an error code at the N-th start: named error, the next acquisition works", async () => {
    const { mca } = rig({ faults: [{ at: { call: 2, method: "start" }, kind: "error", code: 80 }] });
    await mca.connect();
    await mca.configure({ acquisitionTimeS: 0.1 });
    await mca.acquire();
    const e = await failure(mca.acquire());
    expect(e).toMatchObject({ code: 80, codeName: "DLL_THROUGHPUT_ISSUE", name: "DanteError" });
    expect(mca.state).toBe("idle");
    expect((await mca.acquire()).stats.counts).toBeGreaterThan(0);
    await mca.close();
  });

  it("an acquisition that never finishes: timeout 64 at preset*1.1 + margin, stop sent, device usable", async () => {
    const { mca, sdk, clock } = rig({ faults: [{ at: { call: 1, method: "start" }, kind: "timeout" }], driver: { acquisitionMarginS: 1.5 } });
    await mca.connect();
    await mca.configure({ acquisitionTimeS: 2 });
    const t0 = clock.now();
    const e = await failure(mca.acquire());
    expect(e).toMatchObject({ code: 64, codeName: "DLL_TIMEOUT" });
    expect(e.message).toMatch(/has not finished/);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(2 * 1.1 + 1.5);
    expect(clock.now() - t0).toBeLessThan(2 * 1.1 + 1.5 + 0.5);
    expect(sdk.faults.calls("stop")).toBeGreaterThanOrEqual(1);
    expect(sdk.isRunning).toBe(false);
    expect(mca.state).toBe("idle");
    expect((await mca.acquire()).stats.realTimeS).toBeCloseTo(2, 6);
    await mca.close();
  });

  it("an answer that never comes: 64 'no answer', fault state, automatic recovery on the next call", async () => {
    const { mca, sdk } = rig({ faults: [{ at: { call: 2, method: "configure" }, kind: "timeout" }], driver: { callTimeoutS: 1 } });
    await mca.connect(); // configure #1
    const e = await failure(mca.configure({ bins: 1024 }));
    expect(e.code).toBe(64);
    expect(e.message).toMatch(/no answer to configure/);
    expect(mca.state).toBe("fault");
    expect(mca.settings().bins).toBe(2048);
    const sp = await mca.acquire(); // recovers: CloseLibrary, InitLibrary, discovery, configure again
    expect(sp.data.length).toBe(2048);
    expect(mca.state).toBe("idle");
    expect(sdk.faults.calls("InitLibrary")).toBe(2);
    await mca.close();
  });

  it("the device disappears during a map: 57; gone -> 57 'no DANTE found'; back -> connect() recovers", async () => {
    const { mca, sdk } = rig({ faults: [{ at: { call: 20, method: "getAvailableData" }, kind: "disconnect" }], driver: { discoveryTimeoutS: 2 } });
    await mca.connect();
    const got: number[] = [];
    const e = await failure(mca.acquireMap(200, 0.01, (i) => void got.push(i)));
    expect(e).toMatchObject({ code: 57, codeName: "DLL_COMM_ERROR" });
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(200);
    expect(mca.state).toBe("fault");
    expect(sdk.isPresent).toBe(false);
    const gone = await failure(mca.acquire());
    expect(gone.code).toBe(57);
    expect(gone.message).toMatch(/no DANTE found/);
    expect(mca.state).toBe("closed");
    sdk.replug();
    await mca.connect();
    await mca.configure({ acquisitionTimeS: 0.05 });
    expect((await mca.acquire()).stats.counts).toBeGreaterThan(0);
    await mca.close();
  });

  it("a second process on the library: 79 with a clear message; works once the first closes", async () => {
    const clock = new VirtualClock();
    const first = createXglabDante({ clock, sdk: createDanteSdkTwin({ clock, libraryKey: "shared-79" }) });
    const second = createXglabDante({ clock, sdk: createDanteSdkTwin({ clock, libraryKey: "shared-79" }) });
    await first.connect();
    const e = await failure(second.connect());
    expect(e).toMatchObject({ code: 79, codeName: "DLL_MULTIPLE_INSTANCES" });
    expect(e.message).toMatch(/only one process may use libXGL_DPP/);
    await first.close();
    await second.connect();
    await second.close();
  });

  it("an injected 79 at InitLibrary and a thread-lock (1) later are both named DeviceErrors", async () => {
    const { mca } = rig({ faults: [{ at: { call: 1, method: "InitLibrary" }, kind: "error", code: 79 }, { at: { call: 1, method: "isLastDataReceived" }, kind: "error", code: 1 }] });
    expect((await failure(mca.connect())).code).toBe(79);
    await mca.connect();
    await mca.configure({ acquisitionTimeS: 0.05 });
    const e = await failure(mca.acquire());
    expect(e).toMatchObject({ code: 1, codeName: "DLL_MULTI_THREAD_ERROR" });
    expect(mca.state).toBe("fault");
    expect((await mca.acquire()).stats.counts).toBeGreaterThan(0);
    await mca.close();
  });

  it("a triggered map whose triggers stop coming: 64 after the idle timeout, naming the gate mode", async () => {
    const { mca } = rig({ faults: [{ at: { call: 1, method: "start_map" }, kind: "timeout" }], driver: { mapIdleTimeoutS: 3 } });
    await mca.connect();
    await mca.configure({ gate: "trigger-rising" });
    const e = await failure(mca.acquireMap(10, 0.01, () => {}));
    expect(e.code).toBe(64);
    expect(e.message).toMatch(/trigger-rising/);
    expect(mca.state).toBe("idle");
    await mca.close();
  });

  it("operations before connect are NOT_CONNECTED DeviceErrors", async () => {
    const { mca } = rig();
    expect((await failure(mca.acquire())).code).toBe("NOT_CONNECTED");
    expect((await failure(mca.configure({ bins: 1024 }))).code).toBe("NOT_CONNECTED");
  });
});

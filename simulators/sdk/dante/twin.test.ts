import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../runtime/clock.ts";
import { allocAllData, DANTE_CONFIGURATION_DEFAULTS } from "../../../drivers/dante/sdk.ts";
import { createSimEnvironment } from "../../beam.ts";
import { uniformSpecimen } from "../../specimen.ts";
import { createDanteSdkTwin } from "./index.ts";

const ID = "DANTE-SIM-0001";
let instance = 0;

function make(o: Parameters<typeof createDanteSdkTwin>[0] extends infer T ? Partial<T> : never = {}) {
  const clock = new VirtualClock();
  const env = createSimEnvironment({ specimen: uniformSpecimen({ concentrations: { Si: 50 } }), beam: { fluxPhS: 1e9 } });
  // a twin left initialised holds the one-process lock of its libraryKey (79 for the next): one key per test
  const sdk = createDanteSdkTwin({ clock, twinOptions: { env, seed: 2 }, libraryKey: `t-${instance++}`, ...o });
  const answers: Array<{ type: number; callId: number; data: number[] }> = [];
  sdk.register_callback((type, callId, data) => answers.push({ type, callId, data: [...data] }));
  const answer = async (id: number) => {
    for (let i = 0; i < 1000; i++) {
      const a = answers.find((x) => x.callId === id);
      if (a) return a;
      await clock.sleep(0.001);
    }
    throw new Error(`no answer to ${id}`);
  };
  return { clock, sdk, answers, answer };
}

describe("DanteSdkTwin: the libXGL_DPP calling conventions", () => {
  it("not initialised -> 4; synchronous results; asynchronous answers via the callback after the latency", async () => {
    const { sdk, answer, answers, clock } = make({ callLatencyS: 0.05 });
    expect(sdk.get_dev_number().ok).toBe(false);
    expect(sdk.getLastError().code).toBe(4);
    expect(sdk.InitLibrary()).toBe(true);
    expect(sdk.get_dev_number()).toEqual({ ok: true, devs: 1 });
    expect(sdk.get_ids(0)).toEqual({ ok: true, identifier: ID });
    expect(sdk.get_boards_in_chain(ID)).toEqual({ ok: true, boards: 1 });
    const id = sdk.getFirmware(ID, 0);
    expect(id).toBeGreaterThan(0);
    expect(answers).toHaveLength(0); // never answered inside the call
    const t0 = clock.now();
    expect(await answer(id)).toMatchObject({ type: 1, data: [1, 6, 3] });
    expect(clock.now() - t0).toBeGreaterThanOrEqual(0.05);
    expect(sdk.configure("WRONG", 0, { ...DANTE_CONFIGURATION_DEFAULTS })).toBe(0);
    expect(sdk.getLastError().code).toBe(62);
    expect(sdk.configure(ID, 3, { ...DANTE_CONFIGURATION_DEFAULTS })).toBe(0);
    expect(sdk.getLastError().code).toBe(60);
    expect(sdk.configure_gating(ID, 9, 0)).toBe(0);
    expect(sdk.start(ID, 1, 8192)).toBe(0);
    expect(sdk.getLastError().code).toBe(60);
  });

  it("single spectrum: start, running flag, isLastDataReceived, getData with statistics in us and kcps", async () => {
    const { sdk, answer, clock } = make();
    sdk.InitLibrary();
    await answer(sdk.start(ID, 0.5, 4096));
    expect((await answer(sdk.isRunning_system(ID, 0))).data).toEqual([1]);
    expect(sdk.isLastDataReceived(ID, 0)).toEqual({ ok: true, last: false });
    expect(sdk.start(ID, 0.5, 4096)).toBe(0);
    expect(sdk.getLastError().code).toBe(68);
    await clock.sleep(0.6);
    expect(sdk.isLastDataReceived(ID, 0)).toEqual({ ok: true, last: true });
    const values = new BigUint64Array(4096);
    const d = sdk.getData(ID, 0, values);
    expect(d.ok).toBe(true);
    expect(d.spectraSize).toBe(4096);
    expect(d.stats.real_time).toBe(500000);
    expect(d.stats.live_time).toBeLessThan(500000);
    expect(d.stats.OCR).toBeLessThan(d.stats.ICR);
    let sum = 0n;
    for (const v of values) sum += v;
    expect(Number(sum)).toBe(d.stats.measured);
    expect(d.stats.OCR * 1000 * 0.5).toBeCloseTo(d.stats.measured, 6);
  });

  it("mapping: spectra accumulate, getAllData drains them as uint16 with 4 stats each", async () => {
    const { sdk, answer, clock } = make();
    sdk.InitLibrary();
    expect(sdk.clear_chain(ID)).toBe(true);
    await answer(sdk.start_map(ID, 10, 6, 2048));
    await clock.sleep(0.035);
    const av = sdk.getAvailableData(ID, 0);
    expect(av.count).toBeGreaterThanOrEqual(2);
    const out = allocAllData(10, 2048);
    const r = sdk.getAllData(ID, 0, out, 2048, 10);
    expect(r.dataNumber).toBe(av.count);
    expect([...out.ids.subarray(0, 2)]).toEqual([1, 2]);
    expect(out.stats[0]).toBe(10000);
    expect(out.stats[1]).toBeLessThanOrEqual(10000);
    expect(out.values.subarray(0, 2048).some((v) => v > 0)).toBe(true);
    await clock.sleep(0.1);
    expect(sdk.isLastDataReceived(ID, 0).last).toBe(true);
    const r2 = sdk.getAllData(ID, 0, out, 2048, 10);
    expect(r.dataNumber + r2.dataNumber).toBe(6);
    expect(out.ids[0]).toBe(r.dataNumber + 1);
    expect(sdk.getData(ID, 0, new BigUint64Array(2048)).ok).toBe(false);
    expect(sdk.getLastError().code).toBe(69); // wrong mode
  });

  it("very bright spectra saturate at 65535 in mapping mode (uint16)", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ specimen: uniformSpecimen({ concentrations: { Si: 50 } }), beam: { fluxPhS: 1e9 } });
    const sdk = createDanteSdkTwin({ clock, twinOptions: { env, seed: 1, config: { pileup: false } }, libraryKey: "bright" });
    sdk.register_callback(() => {});
    sdk.InitLibrary();
    sdk.start_map(ID, 100_000, 1, 4096); // ~6 M counts in 100 s, the Si Ka peak bin far above 65535
    await clock.sleep(100.1);
    const out = allocAllData(1, 4096);
    expect(sdk.getAllData(ID, 0, out, 4096, 1).dataNumber).toBe(1);
    expect(Math.max(...out.values)).toBe(65535);
  });

  it("stop ends a run; an injected hang never finishes until stopped", async () => {
    const { sdk, answer, clock } = make({ faults: [{ at: { call: 1, method: "start" }, kind: "timeout" }] });
    sdk.InitLibrary();
    await answer(sdk.start(ID, 0.1, 1024));
    await clock.sleep(5);
    expect(sdk.isLastDataReceived(ID, 0).last).toBe(false);
    await answer(sdk.stop(ID));
    expect(sdk.isLastDataReceived(ID, 0).last).toBe(true);
  });

  it("disconnect: 57 on every call naming the unit, get_dev_number 0, back after replug", async () => {
    const { sdk } = make({ faults: [{ at: { call: 1, method: "get_boards_in_chain" }, kind: "disconnect" }] });
    sdk.InitLibrary();
    expect(sdk.get_boards_in_chain(ID).ok).toBe(false);
    expect(sdk.getLastError().code).toBe(57);
    expect(sdk.getFirmware(ID, 0)).toBe(0);
    expect(sdk.getLastError().code).toBe(57);
    expect(sdk.get_dev_number()).toEqual({ ok: true, devs: 0 });
    sdk.replug();
    expect(sdk.get_boards_in_chain(ID)).toEqual({ ok: true, boards: 1 });
  });

  it("error at the N-th call overall; one library per 'process' (79)", () => {
    const { sdk } = make({ faults: [{ at: { call: 3 }, kind: "error", code: 83 }], libraryKey: "t-79" });
    sdk.InitLibrary();
    expect(sdk.get_dev_number().ok).toBe(true);
    expect(sdk.get_ids(0).ok).toBe(false);
    expect(sdk.getLastError().code).toBe(83);
    const other = make({ libraryKey: "t-79" }).sdk;
    expect(other.InitLibrary()).toBe(false);
    expect(other.getLastError().code).toBe(79);
    sdk.CloseLibrary();
    expect(other.InitLibrary()).toBe(true);
    other.CloseLibrary();
  });
});

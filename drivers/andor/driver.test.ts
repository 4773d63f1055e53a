/** AndorIxon driver logic over the SDK twin: init, code mapping, retries, timeouts, lost camera, missing library. */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { DeviceError } from "../../runtime/devices/common.ts";
import { createSimEnvironment } from "../../simulators/beam.ts";
import type { FaultSpec } from "../../simulators/faults.ts";
import { createAndorSdkTwin } from "../../simulators/sdk/andor/twin.ts";
import type { SdkFault } from "../../simulators/sdk/andor/sdk-faults.ts";
import { AndorError, DRV } from "./codes.ts";
import { AndorIxon, createAndorIxon, type AndorIxonOptions } from "./driver.ts";
import { NativeLibraryError } from "./native-library.ts";

const base = { roi: { x: 0, y: 0, width: 32, height: 32 }, exposureS: 0.01 };

async function setup(sdkFaults: SdkFault[] = [], o: Partial<AndorIxonOptions> = {}, cameraFaults: FaultSpec[] = []) {
  const clock = new VirtualClock();
  const sdk = createAndorSdkTwin({ clock, seed: 4, env: createSimEnvironment({ seed: 4 }), sdkFaults, faults: cameraFaults });
  const cam = createAndorIxon({ sdk, clock, ...o });
  return { clock, sdk, cam };
}

async function rejects(p: Promise<unknown>): Promise<AndorError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AndorError);
  expect(e).toBeInstanceOf(DeviceError);
  return e as AndorError;
}

describe("AndorIxon: initialisation and code mapping", () => {
  it("runs the SDK init sequence and reports the camera", async () => {
    const { cam, sdk, clock } = await setup();
    await cam.connect();
    expect(clock.now()).toBeGreaterThanOrEqual(2); // the camera twin's modelled init time
    expect(cam.info()).toMatchObject({ kind: "area-detector", model: "Andor DV860 (twin)", serial: "860001", simulated: true });
    expect(cam.sensor()).toEqual({ width: 128, height: 128, pixelSizeUm: 24, bitDepth: 14 });
    expect(cam.readoutRates()).toEqual([10e6, 5e6, 3e6, 1e6]);
    for (const fn of ["Initialize", "GetDetector", "GetTemperatureRange", "SetReadMode", "SetImage", "SetExposureTime", "GetAcquisitionTimings"]) expect(sdk.faults.calls(fn)).toBeGreaterThan(0);
    await cam.setAmplifier("conventional");
    expect(cam.readoutRates()).toEqual([3e6, 1e6]);
    expect(cam.settings().readoutRateHz).toBe(3e6);
    await expect(cam.configure({ emGain: 100 })).rejects.toMatchObject({ code: DRV.INVALID_MODE, codeName: "DRV_INVALID_MODE" });
    await cam.close();
    expect(sdk.isInitialized()).toBe(false);
  });

  it("a failing Initialize is a named error; the driver stays closed", async () => {
    const { cam } = await setup([{ fn: "Initialize", kind: "code", code: DRV.ERROR_NOCAMERA }]);
    const e = await rejects(cam.connect());
    expect(e.code).toBe(20990);
    expect(e.codeName).toBe("DRV_ERROR_NOCAMERA");
    expect(e.message).toMatch(/Initialize returned 20990 \(DRV_ERROR_NOCAMERA\)/);
    await rejects(cam.acquire());
    await cam.connect(); // the fault fired once
    await cam.close();
  });

  it("an SDK error in configure() is reported with its code name and the previous settings are re-applied", async () => {
    const { cam, sdk } = await setup([{ fn: "SetExposureTime", call: 2, kind: "code", code: DRV.P1INVALID }]);
    await cam.connect();
    const before = cam.settings();
    const e = await rejects(cam.configure({ exposureS: 0.5 }));
    expect(e.codeName).toBe("DRV_P1INVALID");
    expect(e.fn).toBe("SetExposureTime");
    expect(cam.settings()).toEqual(before);
    expect(sdk.settings().exposureS).toBeCloseTo(before.exposureS, 6); // SDK state restored
    await cam.close();
  });

  it("ROI not a multiple of the binning -> DRV_BINNING_ERROR before touching the SDK", async () => {
    const { cam } = await setup();
    await cam.connect();
    const e = await rejects(cam.configure({ roi: { x: 0, y: 0, width: 30, height: 32 }, binning: { x: 4, y: 4 } }));
    expect(e.code).toBe(DRV.BINNING_ERROR);
    await cam.close();
  });

  it("GetTemperature states are states, other codes are errors (and mean a lost link)", async () => {
    const { cam } = await setup([{ fn: "GetTemperatureF", call: 2, kind: "code", code: DRV.ERROR_ACK }]);
    await cam.connect();
    expect((await cam.cooling()).state).toBe("off"); // DRV_TEMP_OFF: not a failure
    const e = await rejects(cam.cooling());
    expect(e.codeName).toBe("DRV_ERROR_ACK");
    await rejects(cam.acquire()); // marked disconnected
    await cam.connect(); // re-initialises
    await cam.configure(base);
    await cam.acquire();
    await cam.close();
  });
});

describe("AndorIxon: acquisition faults", () => {
  it("ACQ_DOWNFIFO_FULL: AbortAcquisition and one retry, transparently", async () => {
    const { cam, sdk } = await setup([{ fn: "StartAcquisition", call: 1, kind: "status", status: DRV.ACQ_DOWNFIFO_FULL }]);
    await cam.connect();
    await cam.configure(base);
    const f = await cam.acquire();
    expect(f.data.length).toBe(32 * 32);
    expect(sdk.faults.fired.length).toBe(1);
    expect(sdk.faults.calls("StartAcquisition")).toBe(2);
    expect(sdk.faults.calls("AbortAcquisition")).toBeGreaterThanOrEqual(1);
    await cam.close();
  });

  it("a buffer overflow in a kinetic series: the missing frames are acquired by the retry", async () => {
    const { cam, sdk } = await setup([{ fn: "StartAcquisition", kind: "status", status: DRV.ACQ_BUFFER, afterFrames: 2 }]);
    await cam.connect();
    await cam.configure(base);
    const frames: number[] = [];
    await cam.acquireSequence(5, (f) => void frames.push(f.number));
    expect(frames).toEqual([1, 2, 3, 4, 5]);
    expect(sdk.faults.calls("StartAcquisition")).toBe(2);
    await cam.close();
  });

  it("persistent ACQ_BUFFER fails after one retry with the named code", async () => {
    const { cam, sdk } = await setup([{ fn: "StartAcquisition", kind: "status", status: DRV.ACQ_BUFFER, times: 5 }]);
    await cam.connect();
    await cam.configure(base);
    const e = await rejects(cam.acquire());
    expect(e.code).toBe(DRV.ACQ_BUFFER);
    expect(e.codeName).toBe("DRV_ACQ_BUFFER");
    expect(sdk.faults.calls("StartAcquisition")).toBe(2);
    await cam.close();
  });

  it.each(["wait", "poll"] as const)("an acquisition that never finishes times out on the clock (%s)", async (waitStrategy) => {
    const { cam, sdk, clock } = await setup([{ fn: "StartAcquisition", kind: "stall" }], { waitStrategy, timeoutMarginS: 3, timeoutFactor: 2 });
    await cam.connect();
    await cam.configure(base);
    const t = cam.timing();
    const t0 = clock.now();
    const e = await rejects(cam.acquire());
    expect(e.code).toBe(DRV.NO_NEW_DATA);
    expect(e.message).toMatch(/timeout/);
    const limit = (Math.max(t.cycleS, t.exposureS) + t.readoutS) * 2 + 3;
    expect(clock.now() - t0).toBeGreaterThanOrEqual(limit - 1e-6);
    expect(clock.now() - t0).toBeLessThanOrEqual(limit + 0.01);
    expect(sdk.faults.calls("AbortAcquisition")).toBeGreaterThanOrEqual(1);
    expect((await sdk.GetStatus()).value).toBe(DRV.IDLE);
    const f = await cam.acquire(); // usable again
    expect(f.number).toBe(1);
    await cam.close();
  });

  it("a camera-twin fault (acquisition hangs) also ends in the driver's timeout", async () => {
    const { cam } = await setup([], { timeoutMarginS: 1 }, [{ at: { call: 1, method: "acquire" }, kind: "timeout" }]);
    await cam.connect();
    await cam.configure(base);
    const e = await rejects(cam.acquire());
    expect(e.codeName).toBe("DRV_NO_NEW_DATA");
    await cam.acquire();
    await cam.close();
  });

  it("the camera disappears mid-series: NOCAMERA, disconnected, reconnect fails until it is back", async () => {
    const { cam, sdk } = await setup([{ fn: "GetImages16", call: 2, kind: "disappear" }]);
    await cam.connect();
    await cam.configure(base);
    const got: number[] = [];
    const e = await rejects(cam.acquireSequence(5, (f) => void got.push(f.number)));
    expect(e.code).toBe(DRV.ERROR_NOCAMERA);
    expect(e.message).toMatch(/link lost/);
    expect(got).toEqual([1]);
    const e2 = await rejects(cam.acquire());
    expect(e2.message).toMatch(/not connected/);
    const e3 = await rejects(cam.connect());
    expect(e3.codeName).toBe("DRV_ERROR_NOCAMERA");
    sdk.reattach();
    await cam.connect();
    const f = await cam.acquire();
    expect(f.data.length).toBe(32 * 32);
    await cam.close();
  });

  it("software trigger: SendSoftwareTrigger once per frame", async () => {
    const { cam, sdk } = await setup();
    await cam.connect();
    await cam.configure({ ...base, triggerMode: "software" });
    const n: number[] = [];
    await cam.acquireSequence(3, (f) => void n.push(f.number));
    expect(n).toEqual([1, 2, 3]);
    expect(sdk.faults.calls("SendSoftwareTrigger")).toBe(3);
    await cam.close();
  });

  it("cooling() answers during a long acquisition (calls serialised, waits sliced)", async () => {
    const { cam, clock } = await setup([], { waitSliceMs: 100 });
    await cam.connect();
    await cam.configure({ ...base, exposureS: 2 });
    const p = cam.acquire();
    await clock.sleep(0.5);
    const c = await cam.cooling();
    expect(c.state).toBe("off");
    expect(clock.now()).toBeLessThan(5); // answered within a wait slice, not after the frame
    await p;
    await cam.close();
  });

  it("close() with the cooler on switches it off and waits for the sensor to warm above -20 C", async () => {
    const { cam, sdk, clock } = await setup();
    await cam.connect();
    await cam.setCooling(true, -70);
    await cam.waitCooled(3600);
    await cam.close();
    expect(sdk.camera.sensorTemperature()).toBeGreaterThanOrEqual(-20);
    expect(clock.now()).toBeGreaterThan(100);
  });
});

describe("AndorIxon: library", () => {
  it("without the library, connect() fails naming the library and the paths tried; construction never fails", async () => {
    const cam = new AndorIxon({ library: ["/nonexistent/libandor.so", "/also/missing/atmcd64d.dll"] });
    const e = await cam.connect().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(NativeLibraryError);
    expect(e).toBeInstanceOf(DeviceError);
    const err = e as NativeLibraryError;
    expect(err.code).toBe("LIBRARY_NOT_FOUND");
    expect(err.message).toMatch(/Andor SDK2 library/);
    expect(err.message).toContain("/nonexistent/libandor.so");
    expect(err.message).toContain("/also/missing/atmcd64d.dll");
    expect(err.tried.length).toBe(2);
    await cam.close(); // fine on a never-connected device
  });
});

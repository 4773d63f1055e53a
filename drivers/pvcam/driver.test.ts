/** PrincetonPvcam driver logic over the PVCAM twin: init, PV_FAIL mapping, read-out failures, timeouts, lost camera. */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { DeviceError } from "../../runtime/devices/common.ts";
import { createSimEnvironment } from "../../simulators/beam.ts";
import type { SdkFault } from "../../simulators/sdk/andor/sdk-faults.ts";
import { PVCAM_TWIN_ERR, createPvcamSdkTwin, type PvcamSdkTwinOptions } from "../../simulators/sdk/pvcam/twin.ts";
import { NativeLibraryError } from "../andor/native-library.ts";
import { PvcamError } from "./codes.ts";
import { createPrincetonPvcam, type PrincetonPvcamOptions } from "./driver.ts";

const base = { roi: { x: 600, y: 600, width: 40, height: 20 }, exposureS: 0.01 };

function setup(sdkFaults: SdkFault[] = [], o: Partial<PrincetonPvcamOptions> = {}, t: Partial<PvcamSdkTwinOptions> = {}) {
  const clock = new VirtualClock();
  const sdk = createPvcamSdkTwin({ clock, seed: 3, env: createSimEnvironment({ seed: 3 }), sdkFaults, ...t });
  const cam = createPrincetonPvcam({ sdk, pollS: 0.005, ...o });
  return { clock, sdk, cam };
}

async function rejects(p: Promise<unknown>): Promise<PvcamError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(PvcamError);
  expect(e).toBeInstanceOf(DeviceError);
  return e as PvcamError;
}

describe("PrincetonPvcam: initialisation and errors", () => {
  it("opens the camera, reads geometry and the speed table, and closes PVCAM", async () => {
    const { cam, sdk } = setup();
    await cam.connect();
    expect(cam.info()).toMatchObject({ kind: "area-detector", serial: "TWIN-0001", simulated: true });
    expect(cam.sensor()).toEqual({ width: 1340, height: 1300, pixelSizeUm: 20, bitDepth: 16 });
    expect(cam.readoutRates()).toEqual([100e3, 1e6, 2e6]);
    expect(cam.settings().readoutRateHz).toBe(1e6);
    // timing agrees with the camera twin's model
    await cam.configure({ ...base, shutter: "auto" });
    const ph = sdk.camera.phases();
    expect(cam.timing().readoutS).toBeCloseTo(ph.readoutS, 9);
    expect(cam.timing().cycleS).toBeCloseTo(ph.cycleS, 9);
    await cam.close();
    expect(sdk.faults.calls("pl_cam_close")).toBe(1);
    expect(sdk.faults.calls("pl_pvcam_uninit")).toBe(1);
  });

  it("PARAM_READOUT_TIME is FLT64 milliseconds (pvcam.h): a 100 kHz full frame reads out in ~17.5 s", async () => {
    const { cam, sdk } = setup();
    await cam.connect();
    await cam.configure({ roi: { x: 0, y: 0, width: 1340, height: 1300 }, binning: { x: 1, y: 1 }, readoutRateHz: 100e3, exposureS: 0.01 });
    // the SDK twin answers in ms, like the library; the driver's default unit turns it into seconds
    expect(sdk.camera.phases().readoutS).toBeGreaterThan(17);
    expect(cam.timing().readoutS).toBeCloseTo(sdk.camera.phases().readoutS, 9);
    expect(cam.timing().readoutS).toBeLessThan(18);
    await cam.close();
  });

  it("PV_FAIL carries pl_error_code and pl_error_message", async () => {
    const { cam } = setup([{ fn: "pl_pvcam_init", kind: "code", code: 77, message: "driver not loaded" }]);
    const e = await rejects(cam.connect());
    expect(e.code).toBe(77);
    expect(e.codeName).toBe("PVCAM_77");
    expect(e.message).toMatch(/pl_pvcam_init failed \(PVCAM error 77\): driver not loaded/);
    await cam.connect(); // transient
    await cam.close();
  });

  it("no camera: a clear NO_CAMERA error", async () => {
    const { cam } = setup([], {}, { cameraCount: 0 });
    const e = await rejects(cam.connect());
    expect(e.code).toBe("NO_CAMERA");
  });

  it("a rejected parameter in configure() restores the previous settings", async () => {
    const { cam, sdk } = setup();
    await cam.connect();
    await cam.configure(base);
    const before = cam.settings();
    sdk.faults.add({ fn: "pl_set_param", call: sdk.faults.calls("pl_set_param") + 2, kind: "code", code: PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE });
    const e = await rejects(cam.configure({ gainIndex: 2 }));
    expect(e.code).toBe(PVCAM_TWIN_ERR.VALUE_OUT_OF_RANGE);
    expect(e.message).toMatch(/pl_set_param\(0x1020200, 3\) failed \(PVCAM error 8\)/);
    expect(cam.settings()).toEqual(before);
    await cam.acquire();
    await cam.close();
  });

  it("unsupported trigger mode and frame transfer are refused", async () => {
    const { cam } = setup();
    await cam.connect();
    expect((await rejects(cam.configure({ triggerMode: "software" }))).code).toBe("BAD_ARGUMENT");
    expect((await rejects(cam.configure({ frameTransfer: true }))).code).toBe("BAD_ARGUMENT");
    await cam.close();
  });

  it("a parameter id missing from the installed PVCAM (READOUT_TIME) falls back to an estimate", async () => {
    const { cam, sdk } = setup([], { params: { READOUT_TIME: 0x0402ffff } });
    await cam.connect();
    await cam.configure(base);
    const est = cam.timing().readoutS;
    expect(est).toBeGreaterThan(0);
    expect(Math.abs(est - sdk.camera.phases().readoutS) / sdk.camera.phases().readoutS).toBeLessThan(0.2);
    await cam.close();
  });
});

describe("PrincetonPvcam: acquisition faults", () => {
  it("READOUT_FAILED mid-sequence: the frames already read are delivered, then the PVCAM error", async () => {
    const { cam, sdk } = setup([{ fn: "pl_exp_start_seq", call: 3, kind: "status", afterFrames: 2, code: 14, message: "FIFO overrun" }]);
    await cam.connect(); // start_seq is not called by connect/configure, call 3 = the 3rd acquisition
    await cam.configure(base);
    await cam.acquire();
    await cam.acquire();
    const got: number[] = [];
    const e = await rejects(cam.acquireSequence(4, (f) => void got.push(f.number)));
    expect(got).toEqual([3, 4]);
    expect(e.code).toBe(14);
    expect(e.message).toMatch(/FIFO overrun/);
    expect(e.message).toMatch(/READOUT_FAILED after 2 of 4/);
    expect(sdk.faults.calls("pl_exp_abort")).toBeGreaterThanOrEqual(1);
    expect((await cam.acquire()).number).toBe(5);
    await cam.close();
  });

  it("a sequence that never finishes times out on the clock and is aborted", async () => {
    const { cam, sdk, clock } = setup([{ fn: "pl_exp_start_seq", kind: "stall" }], { timeoutFactor: 2, timeoutMarginS: 3 });
    await cam.connect();
    await cam.configure(base);
    const limit = 2 * cam.timing().cycleS * 2 + 3;
    const t0 = clock.now();
    const e = await rejects(cam.acquireSequence(2, () => {}));
    expect(e.code).toBe("TIMEOUT");
    expect(clock.now() - t0).toBeGreaterThanOrEqual(limit - 1e-6);
    expect(clock.now() - t0).toBeLessThanOrEqual(limit + 0.006);
    expect(sdk.faults.calls("pl_exp_abort")).toBeGreaterThanOrEqual(1);
    await cam.acquire();
    await cam.close();
  });

  it("the camera disappears: PV_FAIL with the library's message; works again after close/connect once it is back", async () => {
    const { cam, sdk } = setup([{ fn: "pl_exp_check_status", call: 3, kind: "disappear", message: "camera not responding (USB link down)" }]);
    await cam.connect();
    await cam.configure({ ...base, exposureS: 0.5 });
    const e = await rejects(cam.acquire());
    expect(e.code).toBe(PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING);
    expect(e.message).toMatch(/USB link down/);
    await rejects(cam.cooling());
    await cam.close(); // never throws
    await rejects(cam.connect());
    sdk.reattach();
    await cam.connect();
    await cam.configure(base);
    expect((await cam.acquire()).data.length).toBe(40 * 20);
    await cam.close();
  });

  it("cooling: the set-point goes to TEMP_SETPOINT in hundredths of a degree; off parks it at the maximum", async () => {
    const { cam, sdk } = setup();
    await cam.connect();
    await cam.setCooling(true, -35.5);
    expect((await sdk.pl_get_param(0, 0x01020000 + 526, 0)).value).toBe(-3550);
    await cam.setCooling(false);
    expect((await sdk.pl_get_param(0, 0x01020000 + 526, 0)).value).toBe(2000);
    expect((await cam.cooling()).state).toBe("off");
    await cam.close();
  });
});

describe("PrincetonPvcam: library", () => {
  it("without the library, connect() fails naming it and the paths tried", async () => {
    const cam = createPrincetonPvcam({ library: "/nonexistent/libpvcam.so" });
    const e = await cam.connect().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(NativeLibraryError);
    expect((e as Error).message).toContain("/nonexistent/libpvcam.so");
    expect((e as Error).message).toContain("PVCAM library");
    await cam.close();
  });
});

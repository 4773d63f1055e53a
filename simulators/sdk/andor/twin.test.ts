/** AndorSdk2Twin at the C-function level: codes, states, timings from the camera model, image buffer, waits, faults. */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../runtime/clock.ts";
import { DRV } from "../../../drivers/andor/codes.ts";
import { andorPhases } from "../../andor-ixon.ts";
import { SdkFaultPlan } from "./sdk-faults.ts";
import { createAndorSdkTwin, type AndorSdkTwinOptions } from "./twin.ts";

async function init(o: Partial<AndorSdkTwinOptions> = {}) {
  const clock = new VirtualClock();
  const sdk = createAndorSdkTwin({ clock, seed: 9, ...o });
  expect(await sdk.Initialize("")).toBe(DRV.SUCCESS);
  return { clock, sdk };
}

describe("AndorSdk2Twin", () => {
  it("everything but Initialize returns DRV_NOT_INITIALIZED before Initialize; Initialize takes the modelled time", async () => {
    const clock = new VirtualClock();
    const sdk = createAndorSdkTwin({ clock });
    expect(await sdk.SetExposureTime(0.1)).toBe(DRV.NOT_INITIALIZED);
    expect((await sdk.GetStatus()).code).toBe(DRV.NOT_INITIALIZED);
    expect(await sdk.Initialize("/usr/local/etc/andor")).toBe(DRV.SUCCESS);
    expect(clock.now()).toBe(2);
    expect(await sdk.GetDetector()).toEqual({ code: DRV.SUCCESS, value: { xpixels: 128, ypixels: 128 } });
    expect(await sdk.ShutDown()).toBe(DRV.SUCCESS);
    expect(await sdk.CoolerON()).toBe(DRV.NOT_INITIALIZED);
  });

  it("validates arguments like the SDK (P1..P6, BINNING_ERROR) and rounds floats to float32", async () => {
    const { sdk } = await init();
    expect(await sdk.SetImage(1, 1, 0, 128, 1, 128)).toBe(DRV.P3INVALID);
    expect(await sdk.SetImage(1, 1, 1, 128, 1, 129)).toBe(DRV.P6INVALID);
    expect(await sdk.SetImage(3, 1, 1, 128, 1, 128)).toBe(DRV.BINNING_ERROR);
    expect(await sdk.SetImage(2, 2, 1, 64, 33, 96)).toBe(DRV.SUCCESS);
    expect(await sdk.SetHSSpeed(2, 0)).toBe(DRV.P1INVALID);
    expect(await sdk.SetHSSpeed(1, 2)).toBe(DRV.P2INVALID);
    expect(await sdk.SetShutter(1, 3, 0, 0)).toBe(DRV.P2INVALID);
    expect(await sdk.SetTriggerMode(4)).toBe(DRV.P1INVALID);
    expect((await sdk.GetHSSpeed(0, 0, 1)).value).toBe(Math.fround(5));
    expect(await sdk.SetExposureTime(0.0123)).toBe(DRV.SUCCESS);
    expect(sdk.settings().exposureS).toBe(Math.fround(0.0123));
    expect(sdk.settings().roi).toEqual({ x: 0, y: 32, width: 64, height: 64 });
  });

  it("GetAcquisitionTimings / GetReadOutTime come from the camera twin's timing model", async () => {
    const { sdk } = await init();
    await sdk.SetFrameTransferMode(1);
    await sdk.SetExposureTime(0.02);
    const t = await sdk.GetAcquisitionTimings();
    const p = andorPhases(sdk.camera.cfg, { ...sdk.settings(), exposureS: Math.round(sdk.settings().exposureS / 1e-6) * 1e-6 });
    expect(t.value.exposure).toBe(Math.fround(p.exposureS));
    expect(t.value.kinetic).toBe(Math.fround(p.cycleS));
    expect((await sdk.GetReadOutTime()).value).toBe(Math.fround(p.readoutS));
  });

  it("temperature: GetTemperature returns the state codes; SetTemperature checks the range", async () => {
    const { sdk, clock } = await init();
    expect(await sdk.GetTemperature()).toEqual({ code: DRV.TEMP_OFF, value: 20 });
    expect(await sdk.SetTemperature(-200)).toBe(DRV.P1INVALID);
    expect(await sdk.SetTemperature(-60)).toBe(DRV.SUCCESS);
    expect(await sdk.CoolerON()).toBe(DRV.SUCCESS);
    await clock.sleep(10);
    expect((await sdk.GetTemperature()).code).toBe(DRV.TEMP_NOT_REACHED);
    await clock.sleep(3000);
    const r = await sdk.GetTemperatureF();
    expect(r.code).toBe(DRV.TEMP_STABILIZED);
    expect(r.value).toBeCloseTo(-60, 0);
  });

  it("a kinetic series: status, WaitForAcquisition events, GetNumberNewImages / GetImages16, GetAcquiredData16", async () => {
    const { sdk, clock } = await init();
    await sdk.SetImage(1, 1, 1, 16, 1, 8);
    await sdk.SetExposureTime(0.01);
    await sdk.SetAcquisitionMode(3);
    await sdk.SetNumberKinetics(3);
    const cycle = (await sdk.GetAcquisitionTimings()).value.kinetic;
    expect(await sdk.GetAcquiredData16(new Uint16Array(16 * 8), 16 * 8)).toBe(DRV.NO_NEW_DATA);
    expect(await sdk.StartAcquisition()).toBe(DRV.SUCCESS);
    expect(await sdk.StartAcquisition()).toBe(DRV.ACQUIRING);
    expect(await sdk.SetExposureTime(1)).toBe(DRV.ACQUIRING);
    expect((await sdk.GetStatus()).value).toBe(DRV.ACQUIRING);
    expect(await sdk.WaitForAcquisitionTimeOut(1000)).toBe(DRV.SUCCESS);
    expect(await sdk.GetNumberNewImages()).toEqual({ code: DRV.SUCCESS, value: { first: 1, last: 1 } });
    const one = new Uint16Array(128);
    expect(await sdk.GetImages16(1, 1, one, 127)).toMatchObject({ code: DRV.P4INVALID });
    expect(await sdk.GetImages16(1, 1, one, 128)).toEqual({ code: DRV.SUCCESS, value: { validfirst: 1, validlast: 1 } });
    expect(one.some((v) => v > 0)).toBe(true);
    expect((await sdk.GetNumberNewImages()).code).toBe(DRV.NO_NEW_DATA);
    await clock.sleep(3 * cycle);
    expect((await sdk.GetStatus()).value).toBe(DRV.IDLE);
    expect(await sdk.GetNumberNewImages()).toEqual({ code: DRV.SUCCESS, value: { first: 2, last: 3 } });
    const all = new Uint16Array(3 * 128);
    expect(await sdk.GetAcquiredData16(all, all.length)).toBe(DRV.SUCCESS);
    expect(Array.from(all.subarray(0, 128))).toEqual(Array.from(one));
    const last = new Uint16Array(128);
    expect(await sdk.GetMostRecentImage16(last, 128)).toBe(DRV.SUCCESS);
    expect(Array.from(last)).toEqual(Array.from(all.subarray(256)));
  });

  it("WaitForAcquisitionTimeOut: NO_NEW_DATA after the timeout (clock time) or at once on CancelWait", async () => {
    const { sdk, clock } = await init();
    const t0 = clock.now();
    expect(await sdk.WaitForAcquisitionTimeOut(250)).toBe(DRV.NO_NEW_DATA);
    expect(clock.now() - t0).toBeCloseTo(0.25, 9);
    const p = sdk.WaitForAcquisitionTimeOut(10_000);
    await clock.sleep(0.1);
    expect(await sdk.CancelWait()).toBe(DRV.SUCCESS);
    expect(await p).toBe(DRV.NO_NEW_DATA);
    expect(clock.now() - t0).toBeCloseTo(0.35, 9);
  });

  it("AbortAcquisition: DRV_IDLE when idle, stops a running acquisition", async () => {
    const { sdk } = await init();
    expect(await sdk.AbortAcquisition()).toBe(DRV.IDLE);
    await sdk.SetExposureTime(5);
    await sdk.StartAcquisition();
    expect(await sdk.AbortAcquisition()).toBe(DRV.SUCCESS);
    expect((await sdk.GetStatus()).value).toBe(DRV.IDLE);
  });

  it("faults: a code at the Nth call, a dying acquisition, a camera that disappears", async () => {
    const { sdk } = await init({
      sdkFaults: [
        { fn: "SetExposureTime", call: 2, kind: "code", code: DRV.ERROR_ACK },
        { fn: "StartAcquisition", kind: "status", status: DRV.ACQ_DOWNFIFO_FULL },
        { fn: "GetTemperature", call: 2, kind: "disappear" },
      ],
    });
    expect(await sdk.SetExposureTime(0.1)).toBe(DRV.SUCCESS);
    expect(await sdk.SetExposureTime(0.1)).toBe(DRV.ERROR_ACK);
    expect(await sdk.SetExposureTime(0.1)).toBe(DRV.SUCCESS);
    expect(await sdk.StartAcquisition()).toBe(DRV.SUCCESS);
    expect((await sdk.GetStatus()).value).toBe(DRV.ACQ_DOWNFIFO_FULL);
    expect((await sdk.GetTemperature()).code).toBe(DRV.TEMP_OFF);
    expect((await sdk.GetTemperature()).code).toBe(DRV.ERROR_NOCAMERA);
    expect(await sdk.Initialize("")).toBe(DRV.ERROR_NOCAMERA);
    sdk.reattach();
    expect(await sdk.Initialize("")).toBe(DRV.SUCCESS);
    expect(sdk.faults.fired.map((f) => f.fn)).toEqual(["SetExposureTime", "StartAcquisition", "GetTemperature"]);
  });

  it("fault specs are validated", () => {
    expect(() => new SdkFaultPlan([{ fn: "NoSuchFunction", kind: "code", code: 1 }], ["GetStatus"])).toThrow(/unknown function/);
    expect(() => new SdkFaultPlan([{ fn: "GetStatus", kind: "code" }])).toThrow(/needs a code/);
    expect(() => new SdkFaultPlan([{ fn: "GetStatus", call: 0, kind: "stall" }])).toThrow(/call/);
  });
});

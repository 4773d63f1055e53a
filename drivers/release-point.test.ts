/**
 * Overlap on the vendor drivers (docs/scenarios.md "Overlap"): each driver, over its SDK twin (the fake library at
 * the C-function boundary, on the camera/MCA twin's timing model), calls the release callback at the point the
 * twin device itself releases (end of the exposure + shutter closing or frame-transfer shift; end of the preset
 * time), and hands out the data after it. Virtual time: the instants are the model's, not wall-clock timing.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import type { AcquireOptions } from "../runtime/devices/area-detector.ts";
import { createSimEnvironment } from "../simulators/beam.ts";
import { createAndorSdkTwin } from "../simulators/sdk/andor/twin.ts";
import type { SdkFault } from "../simulators/sdk/andor/sdk-faults.ts";
import { createDanteSdkTwin } from "../simulators/sdk/dante/index.ts";
import { createPvcamSdkTwin } from "../simulators/sdk/pvcam/twin.ts";
import { createAndorIxon } from "./andor/driver.ts";
import { DRV } from "./andor/codes.ts";
import { STATUS } from "./pvcam/codes.ts";
import { createPrincetonPvcam } from "./pvcam/driver.ts";
import { createXglabDante } from "./dante/index.ts";

/** Acquire one frame with the release callback; the clock instants of start, release and return. */
async function timed(clock: VirtualClock, acquire: (o: AcquireOptions) => Promise<unknown>) {
  const t0 = clock.now();
  let at: number | undefined;
  let free: boolean | undefined;
  let calls = 0;
  await acquire({
    onExposureEnd: (e) => {
      calls++;
      at = clock.now();
      free = e.imageAreaFree;
    },
  });
  return { release: at! - t0, end: clock.now() - t0, free, calls };
}

describe("pi-pvcam: released when pl_exp_check_status leaves EXPOSURE_IN_PROGRESS", () => {
  function rig() {
    const clock = new VirtualClock();
    const sdk = createPvcamSdkTwin({ clock, seed: 3, env: createSimEnvironment({ seed: 3 }), cooling: { startCooled: true } });
    const cam = createPrincetonPvcam({ sdk });
    // the statuses PVCAM reported, in order, and the one last seen when the release came
    const seen: number[] = [];
    const check = sdk.pl_exp_check_status.bind(sdk);
    sdk.pl_exp_check_status = async (h) => {
      const r = await check(h);
      if (seen[seen.length - 1] !== r.value.status) seen.push(r.value.status);
      return r;
    };
    return { clock, sdk, cam, seen };
  }
  const settings = { roi: { x: 0, y: 0, width: 1340, height: 1300 }, binning: { x: 4, y: 4 }, readoutRateHz: 2e6, exposureS: 0.1 };

  it("no shutter (the in-vacuum camera): at the end of clear + exposure; the frame after the read-out", async () => {
    const { clock, sdk, cam, seen } = rig();
    await cam.connect();
    await cam.configure({ ...settings, shutter: "none" });
    const ph = sdk.camera.phases();
    let statusAtRelease: number[] = [];
    const r = await timed(clock, (o) => cam.acquire(undefined, { onExposureEnd: (e) => ((statusAtRelease = [...seen]), o.onExposureEnd!(e)) }));
    expect(r.calls).toBe(1);
    expect(r.free).toBe(false); // full frame: no next exposure during this read-out
    expect(r.release).toBeCloseTo(ph.preS + ph.exposureS, 9);
    expect(r.end - r.release).toBeGreaterThanOrEqual(ph.readoutS - 1e-9);
    // the fake library reported the states of the real one, in order, and the release followed the exposure's end
    expect(seen).toEqual([STATUS.EXPOSURE_IN_PROGRESS, STATUS.READOUT_IN_PROGRESS, STATUS.READOUT_COMPLETE]);
    expect(statusAtRelease).toEqual([STATUS.EXPOSURE_IN_PROGRESS, STATUS.READOUT_IN_PROGRESS]);
    await cam.close();
  });

  it("a shutter opened per exposure: after its close delay", async () => {
    const { clock, sdk, cam } = rig();
    await cam.connect();
    await cam.configure({ ...settings, shutter: "auto" });
    const ph = sdk.camera.phases();
    expect(ph.releaseS).toBeGreaterThan(0);
    const r = await timed(clock, (o) => cam.acquire(undefined, o));
    expect(r.release).toBeCloseTo(ph.preS + ph.exposureS + ph.releaseS!, 9);
    expect(r.end).toBeCloseTo(ph.preS + ph.exposureS + ph.postS, 2); // + at most one poll interval
    await cam.close();
  });

  it("overlapped frames (continuous) right after a read-out skip the clear cycles (CLEAR_NEVER); after an idle they clear", async () => {
    const { clock, sdk, cam } = rig();
    await cam.connect();
    await cam.configure({ ...settings, shutter: "none" });
    const ph = sdk.camera.phases();
    expect(ph.clearS).toBeGreaterThan(0);
    const first = await timed(clock, (o) => cam.acquire(undefined, { ...o, continuous: true }));
    expect(first.release).toBeCloseTo(ph.preS + ph.exposureS, 9); // nothing read out before: cleared
    const next = await timed(clock, (o) => cam.acquire(undefined, { ...o, continuous: true }));
    expect(next.release).toBeCloseTo(ph.preS - ph.clearS! + ph.exposureS, 9);
    await clock.sleep(1.5); // the sensor sat idle: dark charge, so it clears again
    const idle = await timed(clock, (o) => cam.acquire(undefined, { ...o, continuous: true }));
    expect(idle.release).toBeCloseTo(ph.preS + ph.exposureS, 9);
    const plain = await timed(clock, (o) => cam.acquire(undefined, o)); // not continuous: the camera's own clear mode
    expect(plain.release).toBeCloseTo(ph.preS + ph.exposureS, 9);
    await cam.close();
  });

  it("without the callback nothing changes: one action, the frame at the end", async () => {
    const { clock, sdk, cam } = rig();
    await cam.connect();
    await cam.configure({ ...settings, shutter: "none" });
    const t0 = clock.now();
    const f = await cam.acquire();
    expect(f.data.length).toBe(335 * 325);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(sdk.camera.phases().cycleS - 1e-9);
    await cam.close();
  });

  it("a read-out that hangs after the release: released once, then the driver's deadline (never a frame)", async () => {
    const clock = new VirtualClock();
    const sdkFaults: SdkFault[] = [{ fn: "pl_exp_start_seq", kind: "stall" }];
    const sdk = createPvcamSdkTwin({ clock, seed: 3, env: createSimEnvironment({ seed: 3 }), sdkFaults });
    const cam = createPrincetonPvcam({ sdk });
    await cam.connect();
    await cam.configure({ ...settings, shutter: "none" });
    let released = 0;
    await expect(cam.acquire(undefined, { onExposureEnd: () => void released++ })).rejects.toThrow(/TIMEOUT|not read out within/);
    expect(released).toBe(1);
    await cam.close();
  });
});

describe("andor-ixon: released at StartAcquisition + the timings the SDK reports", () => {
  function rig(sdkFaults: SdkFault[] = []) {
    const clock = new VirtualClock();
    const sdk = createAndorSdkTwin({ clock, seed: 4, env: createSimEnvironment({ seed: 4 }), sdkFaults, cooling: { startCooled: true } });
    const cam = createAndorIxon({ sdk, clock, warmUpOnClose: false });
    return { clock, sdk, cam };
  }

  it("frame transfer: exposure (as applied) + the shift into the storage area; the read-out and the frame after", async () => {
    const { clock, sdk, cam } = rig();
    await cam.connect();
    await cam.configure({ exposureS: 0.05, frameTransfer: true, readoutRateHz: 1e6 });
    const r = await timed(clock, (o) => cam.acquire(undefined, o));
    const ph = sdk.camera.phases(); // the SDK applies its settings to the camera at StartAcquisition
    expect(r.calls).toBe(1);
    expect(r.free).toBe(false); // a single scan: no next exposure before this one's read-out ended
    expect(r.release).toBeCloseTo(ph.exposureS + ph.releaseS!, 6);
    expect(r.end - r.release).toBeGreaterThanOrEqual(ph.readoutS - 1e-6);
    await cam.close();
  });

  it("no frame transfer, shutter auto: keep-clean + opening + exposure + closing (GetKeepCleanTime)", async () => {
    const { clock, sdk, cam } = rig();
    await cam.connect();
    await cam.configure({ exposureS: 0.05, frameTransfer: false, shutter: "auto", readoutRateHz: 1e6 });
    const r = await timed(clock, (o) => cam.acquire(undefined, o));
    const ph = sdk.camera.phases();
    expect(ph.clearS).toBeGreaterThan(0);
    expect(r.release).toBeCloseTo(ph.preS + ph.exposureS + ph.releaseS!, 6);
    expect(r.end - r.release).toBeGreaterThanOrEqual(ph.readoutS - 1e-6);
    await cam.close();
  });

  it("an SDK without GetKeepCleanTime: the cycle less the read-out, never before the exposure's end", async () => {
    const { clock, sdk, cam } = rig([{ fn: "GetKeepCleanTime", kind: "code", code: DRV.NOT_SUPPORTED, times: Infinity }]);
    await cam.connect();
    await cam.configure({ exposureS: 0.05, frameTransfer: false, shutter: "auto", readoutRateHz: 1e6 });
    const r = await timed(clock, (o) => cam.acquire(undefined, o));
    const ph = sdk.camera.phases();
    expect(r.release).toBeGreaterThanOrEqual(ph.preS + ph.exposureS + ph.releaseS! - 1e-6);
    expect(r.release).toBeCloseTo(ph.cycleS - ph.readoutS, 6);
    await cam.close();
  });

  it("an external trigger (start of the exposure unknown to SDK2): released only when the acquisition ended", async () => {
    const { clock, sdk, cam } = rig();
    await cam.connect();
    await cam.configure({ exposureS: 0.05, frameTransfer: false, shutter: "none", readoutRateHz: 1e6, triggerMode: "external" });
    const r = await timed(clock, (o) => cam.acquire(undefined, o));
    const ph = sdk.camera.phases();
    expect(r.calls).toBe(1);
    expect(r.release).toBeGreaterThanOrEqual(ph.cycleS - 1e-6); // after the read-out: no overlap, never early
    await cam.close();
  });

  it("a failure before the release point is retried (released once); one after the release is not", async () => {
    // ACQ_BUFFER is retryable (one retry); after a release the sample may have moved, so no retry re-exposes
    const { cam, sdk } = rig([{ fn: "StartAcquisition", kind: "status", status: DRV.ACQ_BUFFER }]);
    await cam.connect();
    await cam.configure({ exposureS: 0.05, frameTransfer: true, readoutRateHz: 1e6 });
    let released = 0;
    await cam.acquire(undefined, { onExposureEnd: () => void released++ });
    expect(released).toBe(1);
    expect(sdk.faults.calls("StartAcquisition")).toBe(2);
    const r2 = rig([{ fn: "GetAcquiredData16", kind: "code", code: DRV.ACQ_BUFFER }]);
    await r2.cam.connect();
    await r2.cam.configure({ exposureS: 0.05, frameTransfer: true, readoutRateHz: 1e6 });
    released = 0;
    await expect(r2.cam.acquire(undefined, { onExposureEnd: () => void released++ })).rejects.toThrow(/ACQ_BUFFER/);
    expect(released).toBe(1);
    expect(r2.sdk.faults.calls("StartAcquisition")).toBe(1);
    // without overlap the same failure is retried, as before
    const r3 = rig([{ fn: "GetAcquiredData16", kind: "code", code: DRV.ACQ_BUFFER }]);
    await r3.cam.connect();
    await r3.cam.acquire();
    expect(r3.sdk.faults.calls("StartAcquisition")).toBe(2);
    for (const c of [cam, r2.cam, r3.cam]) await c.close();
  });
});

describe("dante: released when isRunning_system says the spectrum closed (preset time over)", () => {
  it("at the end of the preset time (+ the answer's latency); the spectrum after its transfer", async () => {
    const clock = new VirtualClock();
    const sdk = createDanteSdkTwin({ clock, twinOptions: { env: createSimEnvironment({ seed: 5 }), seed: 5, name: "dante" } });
    const mca = createXglabDante({ sdk, clock });
    await mca.connect();
    await mca.configure({ acquisitionTimeS: 0.1 });
    const t0 = clock.now();
    let at: number | undefined;
    let calls = 0;
    const s = await mca.acquire(undefined, { onDwellEnd: () => ((at = clock.now()), calls++) });
    const end = clock.now();
    expect(calls).toBe(1);
    expect(at! - t0).toBeGreaterThanOrEqual(0.1);
    expect(at! - t0).toBeLessThan(0.1 + 0.005); // isRunning_system's answer (1 ms in the twin) + fine polling
    expect(end).toBeGreaterThan(at!); // getData after the release
    expect(s.stats.realTimeS).toBeCloseTo(0.1, 9);
    await mca.close();
  });
});

/** PvcamSdkTwin at the C-function level: init/open, parameters and attributes, sequences, status, errors, faults. */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../runtime/clock.ts";
import { ACC, ATTR, PARAM, STATUS, TYPE } from "../../../drivers/pvcam/codes.ts";
import { PVCAM_TWIN_ERR, createPvcamSdkTwin, type PvcamSdkTwinOptions } from "./twin.ts";

async function open(o: Partial<PvcamSdkTwinOptions> = {}) {
  const clock = new VirtualClock();
  const pv = createPvcamSdkTwin({ clock, seed: 2, ...o });
  expect(await pv.pl_pvcam_init()).toBe(true);
  const name = await pv.pl_cam_get_name(0);
  const h = await pv.pl_cam_open(name.value, 0);
  expect(h.ok).toBe(true);
  return { clock, pv, h: h.value };
}

describe("PvcamSdkTwin", () => {
  it("PV_FAIL with pl_error_code / pl_error_message before init and on a bad handle", async () => {
    const clock = new VirtualClock();
    const pv = createPvcamSdkTwin({ clock });
    expect((await pv.pl_cam_get_total()).ok).toBe(false);
    expect(await pv.pl_error_code()).toBe(PVCAM_TWIN_ERR.NOT_INITIALIZED);
    expect((await pv.pl_error_message(PVCAM_TWIN_ERR.NOT_INITIALIZED)).value).toMatch(/not initialised/);
    await pv.pl_pvcam_init();
    expect(await pv.pl_pvcam_init()).toBe(false);
    expect((await pv.pl_get_param(3, PARAM.TEMP, ATTR.CURRENT)).ok).toBe(false);
    expect(await pv.pl_error_code()).toBe(PVCAM_TWIN_ERR.CAMERA_NOT_OPEN);
    expect((await pv.pl_cam_open("nope", 0)).ok).toBe(false);
  });

  it("parameters: attributes, types, read-only, ranges, hundredths of a degree", async () => {
    const { pv, h } = await open();
    expect((await pv.pl_get_param(h, PARAM.SER_SIZE, ATTR.CURRENT)).value).toBe(1340);
    expect((await pv.pl_get_param(h, PARAM.SER_SIZE, ATTR.ACCESS)).value).toBe(ACC.READ_ONLY);
    expect((await pv.pl_get_param(h, PARAM.TEMP_SETPOINT, ATTR.TYPE)).value).toBe(TYPE.INT16);
    expect((await pv.pl_get_param(h, PARAM.TEMP_SETPOINT, ATTR.MIN)).value).toBe(-7000);
    expect((await pv.pl_get_param(h, PARAM.TEMP, ATTR.CURRENT)).value).toBe(2000);
    expect((await pv.pl_get_param(h, 0x12345678, ATTR.AVAIL)).value).toBe(0);
    expect(await pv.pl_set_param(h, PARAM.SER_SIZE, 100)).toBe(false);
    expect(await pv.pl_error_code()).toBe(PVCAM_TWIN_ERR.PARAM_READ_ONLY);
    expect(await pv.pl_set_param(h, PARAM.GAIN_INDEX, 0)).toBe(false); // PVCAM gains are 1-based
    expect(await pv.pl_set_param(h, PARAM.SPDTAB_INDEX, 0)).toBe(true);
    expect((await pv.pl_get_param(h, PARAM.PIX_TIME, ATTR.CURRENT)).value).toBe(10000); // 100 kHz
    expect((await pv.pl_get_param(h, PARAM.SPDTAB_INDEX, ATTR.COUNT)).value).toBe(3);
  });

  it("a sequence fills the caller's buffer frame by frame; status follows the camera twin's phases", async () => {
    const { pv, h, clock } = await open();
    await pv.pl_set_param(h, PARAM.EXP_RES, 1); // microseconds
    const su = await pv.pl_exp_setup_seq(h, 2, 1, [{ s1: 600, s2: 615, sbin: 2, p1: 600, p2: 607, pbin: 1 }], 0, 50_000);
    expect(su).toEqual({ ok: true, value: 2 * 8 * 8 * 2 });
    expect(pv.camera.settings().exposureS).toBeCloseTo(0.05, 9);
    const ph = pv.camera.phases();
    const buf = new Uint16Array(su.value / 2);
    expect(await pv.pl_exp_start_seq(h, new Uint16Array(10))).toBe(false);
    expect(await pv.pl_error_code()).toBe(PVCAM_TWIN_ERR.BUFFER_TOO_SMALL);
    expect(await pv.pl_exp_start_seq(h, buf)).toBe(true);
    expect((await pv.pl_exp_check_status(h)).value).toEqual({ status: STATUS.EXPOSURE_IN_PROGRESS, bytes_arrived: 0 });
    await clock.sleep(ph.preS + ph.exposureS + ph.postS / 2);
    expect((await pv.pl_exp_check_status(h)).value.status).toBe(STATUS.READOUT_IN_PROGRESS);
    await clock.sleep(ph.postS / 2 + 1e-9);
    expect((await pv.pl_exp_check_status(h)).value.bytes_arrived).toBe(128);
    expect(buf.subarray(0, 64).some((v) => v > 0)).toBe(true);
    expect(buf[64]).toBe(0);
    await clock.sleep(ph.cycleS);
    expect((await pv.pl_exp_check_status(h)).value).toEqual({ status: STATUS.READOUT_COMPLETE, bytes_arrived: 256 });
    expect(await pv.pl_exp_finish_seq(h, buf, 0)).toBe(true);
    expect((await pv.pl_exp_check_status(h)).value.status).toBe(STATUS.READOUT_NOT_ACTIVE);
  });

  it("faults: READOUT_FAILED with the injected code and message; a camera that disappears", async () => {
    const { pv, h } = await open({
      sdkFaults: [
        { fn: "pl_exp_start_seq", kind: "status", code: 55, message: "serial link CRC error" },
        { fn: "pl_get_param", call: 3, kind: "disappear" },
      ],
    });
    await pv.pl_exp_setup_seq(h, 1, 1, [{ s1: 0, s2: 7, sbin: 1, p1: 0, p2: 7, pbin: 1 }], 0, 10);
    expect(await pv.pl_exp_start_seq(h, new Uint16Array(64))).toBe(true);
    expect((await pv.pl_exp_check_status(h)).value.status).toBe(STATUS.READOUT_FAILED);
    expect(await pv.pl_error_code()).toBe(55);
    expect((await pv.pl_error_message(55)).value).toBe("serial link CRC error");
    expect((await pv.pl_get_param(h, PARAM.TEMP, ATTR.CURRENT)).ok).toBe(true);
    expect((await pv.pl_get_param(h, PARAM.TEMP, ATTR.CURRENT)).ok).toBe(true);
    expect((await pv.pl_get_param(h, PARAM.TEMP, ATTR.CURRENT)).ok).toBe(false);
    expect(await pv.pl_error_code()).toBe(PVCAM_TWIN_ERR.CAMERA_NOT_RESPONDING);
    expect(await pv.pl_cam_close(h)).toBe(false);
    pv.reattach();
    expect(await pv.pl_pvcam_init()).toBe(true);
  });
});

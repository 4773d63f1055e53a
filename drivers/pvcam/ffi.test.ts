/**
 * The real koffi binding (ffi.ts) against a tiny C stand-in of libpvcam compiled here: same C signatures as
 * pvcam.h (rs_bool, int16, uns16, uns32, rgn_type, void* parameter values), canned behaviour. Checks the
 * marshalling of out-parameters, the typed `void*` parameter values, the region struct layout, error
 * code/message, and that the pixel stream is the caller's buffer (filled by the library after the call, like
 * DMA).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NativeLibraryError } from "../andor/native-library.ts";
import { ATTR, CCS, PARAM, STATUS } from "./codes.ts";
import { decodeParam, encodeParam, loadPvcam } from "./ffi.ts";
import type { PvcamSdk } from "./sdk.ts";

const hex = (n: number) => `0x${n.toString(16)}u`;

const STAND_IN = String.raw`
#include <stdio.h>
#include <string.h>
typedef unsigned short rs_bool; typedef short int16; typedef unsigned short uns16; typedef unsigned int uns32;
typedef long long long64;
typedef struct { uns16 s1, s2, sbin, p1, p2, pbin; } rgn_type;
static int16 err = 0; static int inited = 0; static int16 setpoint = -2000; static int16 gain = 1;
static unsigned short *stream = 0; static uns32 total = 0;
#define FAIL(c) do { err = (c); return 0; } while (0)
rs_bool pl_pvcam_init(void) { if (inited) FAIL(7); inited = 1; return 1; }
rs_bool pl_pvcam_uninit(void) { inited = 0; return 1; }
rs_bool pl_cam_get_total(int16 *n) { *n = 2; return 1; }
rs_bool pl_cam_get_name(int16 i, char *name) { if (i < 0 || i > 1) FAIL(11); sprintf(name, "CAM%d", i); return 1; }
rs_bool pl_cam_open(char *name, int16 *h, int16 mode) { if (strcmp(name, "CAM1") || mode != 0) FAIL(12); *h = 7; return 1; }
rs_bool pl_cam_close(int16 h) { if (h != 7) FAIL(13); return 1; }
int16 pl_error_code(void) { return err; }
rs_bool pl_error_message(int16 c, char *msg) { sprintf(msg, "stand-in error %d", c); return 1; }
rs_bool pl_get_param(int16 h, uns32 id, int16 attr, void *v) {
  if (h != 7) FAIL(13);
  if (attr == 8) { *(rs_bool *)v = 1; return 1; }                       /* ATTR_AVAIL */
  if (attr == 1) { *(uns32 *)v = 3; return 1; }                         /* ATTR_COUNT */
  if (id == ${hex(PARAM.TEMP)}) { *(int16 *)v = -4012; return 1; }
  if (id == ${hex(PARAM.TEMP_SETPOINT)}) { *(int16 *)v = attr == 3 ? -7000 : attr == 4 ? 2000 : setpoint; return 1; }
  if (id == ${hex(PARAM.GAIN_INDEX)}) { *(int16 *)v = gain; return 1; }
  if (id == ${hex(PARAM.SER_SIZE)}) { *(uns16 *)v = 1340; return 1; }
  if (id == ${hex(PARAM.PIX_TIME)}) { *(uns16 *)v = 50000; return 1; }
  if (id == ${hex(PARAM.READOUT_TIME)}) { *(double *)v = 1234.5; return 1; }
  if (id == ${hex(PARAM.CLEARING_TIME)}) { *(long64 *)v = 5000000000LL; return 1; }
  if (id == ${hex(PARAM.EXP_RES)}) { *(int *)v = 1; return 1; }
  if (id == ${hex(PARAM.CHIP_NAME)}) { strcpy((char *)v, "KAF-1300L"); return 1; }
  FAIL(21);
}
rs_bool pl_set_param(int16 h, uns32 id, void *v) {
  if (h != 7) FAIL(13);
  if (id == ${hex(PARAM.TEMP_SETPOINT)}) { setpoint = *(int16 *)v; return 1; }
  if (id == ${hex(PARAM.GAIN_INDEX)}) { int16 g = *(int16 *)v; if (g < 1 || g > 3) FAIL(22); gain = g; return 1; }
  FAIL(21);
}
rs_bool pl_exp_setup_seq(int16 h, uns16 n, uns16 nr, const rgn_type *r, int16 mode, uns32 t, uns32 *bytes) {
  if (h != 7 || nr != 1) FAIL(31);
  if (mode != 0 || t != 123456) FAIL(32);
  total = (uns32)n * ((r->s2 - r->s1 + 1) / r->sbin) * ((r->p2 - r->p1 + 1) / r->pbin) * 2;
  *bytes = total;
  return 1;
}
rs_bool pl_exp_start_seq(int16 h, void *p) { if (h != 7) FAIL(13); stream = p; return 1; }
rs_bool pl_exp_check_status(int16 h, int16 *st, uns32 *by) {
  /* "DMA": the library writes into the caller's buffer after start returned */
  for (uns32 i = 0; i < total / 2; i++) stream[i] = (unsigned short)(1000 + i);
  *st = 3; *by = total; return 1;
}
rs_bool pl_exp_finish_seq(int16 h, void *p, int16 hbuf) { return p == stream && hbuf == 0; }
rs_bool pl_exp_abort(int16 h, int16 s) { if (s != 2) FAIL(41); return 1; }
`;

function compilerAvailable(): string | undefined {
  for (const cc of ["cc", "gcc", "clang"]) if (spawnSync(cc, ["--version"]).status === 0) return cc;
  return undefined;
}

const cc = compilerAvailable();
if (!cc) console.warn("drivers/pvcam/ffi.test.ts: no C compiler (cc/gcc/clang) found: the FFI signature tests are skipped");

describe.skipIf(!cc)("PVCAM koffi binding against a C stand-in library", () => {
  let dir: string;
  let pv: PvcamSdk;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pvcam-standin-"));
    writeFileSync(join(dir, "standin.c"), STAND_IN);
    const r = spawnSync(cc!, ["-shared", "-fPIC", "-O1", "-o", join(dir, "libpvcam.so"), join(dir, "standin.c")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
    pv = await loadPvcam({ library: join(dir, "libpvcam.so") });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("init, camera enumeration and open: rs_bool, int16 out-parameters, strings", async () => {
    expect(pv.pl_exp_init_seq).toBeUndefined(); // optional symbol absent -> no method
    expect(await pv.pl_pvcam_init()).toBe(true);
    expect(await pv.pl_pvcam_init()).toBe(false);
    expect(await pv.pl_error_code()).toBe(7);
    expect(await pv.pl_error_message(7)).toEqual({ ok: true, value: "stand-in error 7" });
    expect(await pv.pl_cam_get_total()).toEqual({ ok: true, value: 2 });
    expect(await pv.pl_cam_get_name(1)).toEqual({ ok: true, value: "CAM1" });
    expect((await pv.pl_cam_open("CAM0", 0)).ok).toBe(false);
    expect(await pv.pl_cam_open("CAM1", 0)).toEqual({ ok: true, value: 7 });
  });

  it("pl_get_param decodes the void* value by the parameter's type and the attribute", async () => {
    expect(await pv.pl_get_param(7, PARAM.TEMP, ATTR.CURRENT)).toEqual({ ok: true, value: -4012 }); // int16
    expect(await pv.pl_get_param(7, PARAM.SER_SIZE, ATTR.CURRENT)).toEqual({ ok: true, value: 1340 }); // uns16
    expect(await pv.pl_get_param(7, PARAM.PIX_TIME, ATTR.CURRENT)).toEqual({ ok: true, value: 50000 }); // uns16 > int16 max
    expect(await pv.pl_get_param(7, PARAM.READOUT_TIME, ATTR.CURRENT)).toEqual({ ok: true, value: 1234.5 }); // flt64
    expect(await pv.pl_get_param(7, PARAM.CLEARING_TIME, ATTR.CURRENT)).toEqual({ ok: true, value: 5e9 }); // int64 > 2^32
    expect(await pv.pl_get_param(7, PARAM.EXP_RES, ATTR.CURRENT)).toEqual({ ok: true, value: 1 }); // enum (int32)
    expect(await pv.pl_get_param(7, PARAM.CHIP_NAME, ATTR.CURRENT)).toEqual({ ok: true, value: "KAF-1300L" }); // char*
    expect(await pv.pl_get_param(7, PARAM.TEMP, ATTR.AVAIL)).toEqual({ ok: true, value: 1 }); // rs_bool
    expect(await pv.pl_get_param(7, PARAM.EXP_RES, ATTR.COUNT)).toEqual({ ok: true, value: 3 }); // uns32
    expect(await pv.pl_get_param(7, PARAM.TEMP_SETPOINT, ATTR.MIN)).toEqual({ ok: true, value: -7000 });
    expect((await pv.pl_get_param(7, PARAM.BIT_DEPTH, ATTR.CURRENT)).ok).toBe(false);
    expect(await pv.pl_error_code()).toBe(21);
  });

  it("pl_set_param encodes the value in the parameter's type", async () => {
    expect(await pv.pl_set_param(7, PARAM.TEMP_SETPOINT, -3550)).toBe(true);
    expect((await pv.pl_get_param(7, PARAM.TEMP_SETPOINT, ATTR.CURRENT)).value).toBe(-3550);
    expect(await pv.pl_set_param(7, PARAM.GAIN_INDEX, 3)).toBe(true);
    expect(await pv.pl_set_param(7, PARAM.GAIN_INDEX, 4)).toBe(false);
    expect(await pv.pl_error_code()).toBe(22);
  });

  it("region struct, exposure and bytes; the pixel stream is the caller's buffer, filled after start", async () => {
    const setup = await pv.pl_exp_setup_seq(7, 3, 1, [{ s1: 10, s2: 29, sbin: 2, p1: 100, p2: 107, pbin: 4 }], 0, 123456);
    expect(setup).toEqual({ ok: true, value: 3 * 10 * 2 * 2 });
    expect((await pv.pl_exp_setup_seq(7, 3, 1, [{ s1: 0, s2: 9, sbin: 1, p1: 0, p2: 9, pbin: 1 }], 0, 1)).ok).toBe(false);
    const buf = new Uint16Array(setup.value / 2);
    expect(await pv.pl_exp_start_seq(7, buf)).toBe(true);
    expect(buf[0]).toBe(0);
    expect(await pv.pl_exp_check_status(7)).toEqual({ ok: true, value: { status: STATUS.READOUT_COMPLETE, bytes_arrived: 120 } });
    expect(buf[0]).toBe(1000);
    expect(buf[59]).toBe(1059);
    expect(await pv.pl_exp_finish_seq(7, buf, 0)).toBe(true); // same pointer as at start
    expect(await pv.pl_exp_finish_seq(7, new Uint16Array(60), 0)).toBe(false);
    expect(await pv.pl_exp_abort(7, CCS.HALT_CLOSE_SHTR)).toBe(true);
    expect(await pv.pl_cam_close(7)).toBe(true);
    expect(await pv.pl_pvcam_uninit()).toBe(true);
  });
});

describe("PVCAM parameter values and library loading", () => {
  it("encode/decode round trip per type", () => {
    for (const [id, v] of [
      [PARAM.TEMP_SETPOINT, -4000],
      [PARAM.PIX_TIME, 65000],
      [PARAM.READOUT_TIME, 17.25],
      [PARAM.CLEARING_TIME, 2 ** 40],
      [PARAM.EXP_RES, 1],
    ] as const) {
      const b = Buffer.alloc(16);
      encodeParam(id, v).copy(b);
      expect(decodeParam(b, id, ATTR.CURRENT)).toBe(v);
    }
    expect(() => encodeParam(PARAM.TEMP, Number.NaN)).toThrow(RangeError);
  });

  it("a missing library gives an error naming the library and every path tried", async () => {
    const e = await loadPvcam({ library: ["/no/such/libpvcam.so", "/nor/this/libpvcam.so.2"] }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(NativeLibraryError);
    const err = e as NativeLibraryError;
    expect(err.code).toBe("LIBRARY_NOT_FOUND");
    expect(err.message).toContain("PVCAM library");
    expect(err.message).toContain("/no/such/libpvcam.so");
    expect(err.message).toContain("/nor/this/libpvcam.so.2");
    expect(err.message).toMatch(/PVCAM_LIBRARY/);
  });
});

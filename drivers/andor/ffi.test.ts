/**
 * The real koffi binding (ffi.ts) against a tiny C stand-in of libandor compiled here: same C signatures as
 * atmcdLXd.h, canned behaviour. Checks argument and out-parameter marshalling (ints, floats, strings,
 * image arrays filled in place, 32-bit sizes) and that blocking waits run off the event loop.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRV } from "./codes.ts";
import { loadAndorSdk2 } from "./ffi.ts";
import { NativeLibraryError, libraryCandidates } from "./native-library.ts";
import type { AndorSdk2 } from "./sdk.ts";

const STAND_IN = String.raw`
#include <string.h>
#include <unistd.h>
#define at_32 int
#define at_u32 unsigned int
#define OK 20002
static float exposure = 0;
static int img[6];
unsigned int Initialize(char *dir) { return strcmp(dir, "/canned/dir") == 0 ? OK : 20066; }
unsigned int GetDetector(int *xpixels, int *ypixels) { *xpixels = 128; *ypixels = 64; return OK; }
unsigned int GetTemperature(int *t) { *t = -65; return 20035; }
unsigned int GetTemperatureF(float *t) { *t = -64.5f; return 20036; }
unsigned int GetTemperatureRange(int *mn, int *mx) { *mn = -100; *mx = 20; return OK; }
unsigned int SetImage(int hbin, int vbin, int hstart, int hend, int vstart, int vend) {
  int want[6] = {2, 2, 1, 128, 1, 64}, got[6] = {hbin, vbin, hstart, hend, vstart, vend};
  for (int i = 0; i < 6; i++) { img[i] = got[i]; if (got[i] != want[i]) return 20066 + (i < 4 ? i : i + 6); }
  return OK;
}
unsigned int SetExposureTime(float t) { exposure = t; return OK; }
unsigned int GetAcquisitionTimings(float *e, float *a, float *k) { *e = exposure; *a = 2 * exposure; *k = 3 * exposure; return OK; }
unsigned int GetHSSpeed(int channel, int typ, int index, float *speed) { *speed = 10.0f / (index + 1) + typ * 100 + channel * 1000; return OK; }
unsigned int SetShutter(int typ, int mode, int closingtime, int openingtime) { return (typ == 1 && mode == 2 && closingtime == 30 && openingtime == 40) ? OK : 20066; }
unsigned int GetHeadModel(char *name) { strcpy(name, "DV860_BV"); return OK; }
unsigned int GetStatus(int *status) { *status = 20073; return OK; }
unsigned int GetNumberNewImages(at_32 *first, at_32 *last) { *first = 3; *last = 7; return OK; }
unsigned int GetAcquiredData16(unsigned short *arr, at_u32 size) {
  if (size != 128 * 64) return 20067;
  for (at_u32 i = 0; i < size; i++) arr[i] = (unsigned short)(i * 7);
  return OK;
}
unsigned int GetImages16(at_32 first, at_32 last, unsigned short *arr, at_u32 size, at_32 *validfirst, at_32 *validlast) {
  for (at_u32 i = 0; i < size; i++) arr[i] = (unsigned short)(first * 1000 + last * 100 + i);
  *validfirst = first; *validlast = last;
  return OK;
}
unsigned int WaitForAcquisitionTimeOut(int ms) { usleep(ms * 1000); return 20024; }
`;

function compilerAvailable(): string | undefined {
  for (const cc of ["cc", "gcc", "clang"]) if (spawnSync(cc, ["--version"]).status === 0) return cc;
  return undefined;
}

const cc = compilerAvailable();
if (!cc) console.warn("drivers/andor/ffi.test.ts: no C compiler (cc/gcc/clang) found: the FFI signature tests are skipped");

describe.skipIf(!cc)("Andor SDK2 koffi binding against a C stand-in library", () => {
  let dir: string;
  let sdk: AndorSdk2;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "andor-standin-"));
    writeFileSync(join(dir, "standin.c"), STAND_IN);
    const r = spawnSync(cc!, ["-shared", "-fPIC", "-O1", "-o", join(dir, "libandor.so"), join(dir, "standin.c")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
    sdk = await loadAndorSdk2({ library: join(dir, "libandor.so") });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("passes strings and ints, reads int out-parameters", async () => {
    expect(sdk.description).toContain(join(dir, "libandor.so"));
    expect(await sdk.Initialize("/canned/dir")).toBe(DRV.SUCCESS);
    expect(await sdk.Initialize("/other")).toBe(DRV.P1INVALID);
    expect(await sdk.GetDetector()).toEqual({ code: DRV.SUCCESS, value: { xpixels: 128, ypixels: 64 } });
    expect(await sdk.GetTemperatureRange()).toEqual({ code: DRV.SUCCESS, value: { mintemp: -100, maxtemp: 20 } });
    expect(await sdk.GetStatus()).toEqual({ code: DRV.SUCCESS, value: DRV.IDLE });
    expect(await sdk.GetNumberNewImages()).toEqual({ code: DRV.SUCCESS, value: { first: 3, last: 7 } });
  });

  it("returns the temperature state codes with the value", async () => {
    expect(await sdk.GetTemperature()).toEqual({ code: DRV.TEMP_NOT_STABILIZED, value: -65 });
    expect(await sdk.GetTemperatureF()).toEqual({ code: DRV.TEMP_STABILIZED, value: -64.5 });
  });

  it("keeps argument order (SetImage, SetShutter) and float arguments/out-parameters", async () => {
    expect(await sdk.SetImage(2, 2, 1, 128, 1, 64)).toBe(DRV.SUCCESS);
    expect(await sdk.SetImage(2, 2, 1, 128, 2, 64)).toBe(DRV.P5INVALID);
    expect(await sdk.SetShutter(1, 2, 30, 40)).toBe(DRV.SUCCESS);
    expect(await sdk.SetShutter(1, 2, 40, 30)).toBe(DRV.P1INVALID);
    expect(await sdk.SetExposureTime(0.0123)).toBe(DRV.SUCCESS);
    const t = await sdk.GetAcquisitionTimings();
    expect(t.code).toBe(DRV.SUCCESS);
    expect(t.value.exposure).toBe(Math.fround(0.0123)); // C float
    expect(t.value.kinetic).toBe(Math.fround(3 * Math.fround(0.0123)));
    expect((await sdk.GetHSSpeed(0, 1, 3)).value).toBeCloseTo(102.5, 5);
    expect(await sdk.GetHeadModel()).toEqual({ code: DRV.SUCCESS, value: "DV860_BV" });
  });

  it("fills caller-allocated Uint16Array image buffers in place, with 32-bit sizes", async () => {
    const a = new Uint16Array(128 * 64);
    expect(await sdk.GetAcquiredData16(a, a.length)).toBe(DRV.SUCCESS);
    expect(a[0]).toBe(0);
    expect(a[1]).toBe(7);
    expect(a[8191]).toBe((8191 * 7) & 0xffff);
    expect(await sdk.GetAcquiredData16(a, 100)).toBe(DRV.P2INVALID);
    await expect(sdk.GetAcquiredData16(new Uint16Array(10), 11)).rejects.toThrow(RangeError); // never overrun
    const b = new Uint16Array(16);
    const r = await sdk.GetImages16(5, 6, b, 16);
    expect(r).toEqual({ code: DRV.SUCCESS, value: { validfirst: 5, validlast: 6 } });
    expect(b[0]).toBe(5600);
    expect(b[15]).toBe(5615);
  });

  it("WaitForAcquisitionTimeOut runs on a worker thread: the event loop keeps going", async () => {
    let ticks = 0;
    const iv = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    const code = await sdk.WaitForAcquisitionTimeOut(300);
    clearInterval(iv);
    expect(code).toBe(DRV.NO_NEW_DATA);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(ticks).toBeGreaterThan(5);
  });

  it("a function missing from the library is a clear DeviceError at call time, not at load time", async () => {
    await expect(sdk.CoolerON()).rejects.toMatchObject({ code: "SYMBOL_NOT_FOUND", message: expect.stringContaining("CoolerON") });
  });
});

describe("Andor SDK2 library loading", () => {
  it("a missing library gives an error naming the library and every path tried", async () => {
    const e = await loadAndorSdk2({ library: "/no/such/dir/libandor.so" }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(NativeLibraryError);
    const err = e as NativeLibraryError;
    expect(err.code).toBe("LIBRARY_NOT_FOUND");
    expect(err.message).toContain("Andor SDK2 library");
    expect(err.message).toContain("/no/such/dir/libandor.so");
    expect(err.message).toMatch(/ANDOR_SDK2_LIBRARY/);
  });

  it("candidates: explicit paths only; else the environment variable first, then the defaults", () => {
    const spec = { envVar: "ANDOR_SDK2_LIBRARY", defaults: ["libandor.so", "/usr/local/lib/libandor.so"] };
    expect(libraryCandidates({ ...spec, explicit: "/x/libandor.so" }, { ANDOR_SDK2_LIBRARY: "/env/libandor.so" })).toEqual(["/x/libandor.so"]);
    expect(libraryCandidates(spec, { ANDOR_SDK2_LIBRARY: "/env/libandor.so" })).toEqual(["/env/libandor.so", "libandor.so", "/usr/local/lib/libandor.so"]);
    expect(libraryCandidates(spec, {})).toEqual(["libandor.so", "/usr/local/lib/libandor.so"]);
  });
});

/**
 * The real koffi path of drivers/dante/ffi.ts against a C stand-in compiled here (struct by value, out-params,
 * out-arrays, an answer callback from a foreign pthread), and the missing-library error.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DanteError } from "./codes.ts";
import { DANTE_LIBRARY_ENV, danteStructLayout, loadDanteSdk } from "./ffi.ts";
import { allocAllData, DANTE_CONFIGURATION_DEFAULTS, type DanteSdk } from "./sdk.ts";

const SOURCE = fileURLToPath(new URL("./testing/xgl-dpp-standin.c", import.meta.url));
const CC = process.env.CC ?? "cc";
const hasCc = spawnSync(CC, ["--version"], { stdio: "ignore" }).status === 0;

describe("loadDanteSdk without the library", () => {
  it("fails with a clear message naming the library it looked for", () => {
    const missing = join(tmpdir(), "no-such-dir", "libXGL_DPP.so");
    let err: unknown;
    try {
      loadDanteSdk(missing);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DanteError);
    const e = err as DanteError;
    expect(e.code).toBe("LIBRARY_NOT_FOUND");
    expect(e.message).toContain("libXGL_DPP");
    expect(e.message).toContain(missing);
    expect(e.message).toContain(DANTE_LIBRARY_ENV);
  });

  it("by default looks for libXGL_DPP on the loader path (or $DONKI_DANTE_LIBRARY)", () => {
    const saved = process.env[DANTE_LIBRARY_ENV];
    delete process.env[DANTE_LIBRARY_ENV];
    try {
      expect(() => loadDanteSdk()).toThrow(/libXGL_DPP\.(so|dll|dylib)/);
      process.env[DANTE_LIBRARY_ENV] = "/nonexistent/libXGL_DPP_custom.so";
      expect(() => loadDanteSdk()).toThrow(/libXGL_DPP_custom\.so/);
    } finally {
      if (saved === undefined) delete process.env[DANTE_LIBRARY_ENV];
      else process.env[DANTE_LIBRARY_ENV] = saved;
    }
  });
});

describe.skipIf(!hasCc)(`koffi binding against a C stand-in (${hasCc ? CC : "no C compiler: skipped"})`, () => {
  let dir: string;
  let lib: string;
  let sdk: DanteSdk;
  const answers: Array<{ type: number; callId: number; data: number[] }> = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "donki-dante-ffi-"));
    lib = join(dir, "libXGL_DPP_standin.so");
    const r = spawnSync(CC, ["-shared", "-fPIC", "-pthread", "-O1", "-o", lib, SOURCE], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
    sdk = loadDanteSdk(lib);
    expect(sdk.register_callback((type, callId, data) => answers.push({ type, callId, data: [...data] }))).toBe(true);
  });

  afterAll(() => {
    sdk?.CloseLibrary();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function answerFor(callId: number): Promise<{ type: number; data: number[] }> {
    // The answer comes from the stand-in's pthread through koffi's queue to this thread: let the loop turn.
    for (let i = 0; i < 2000; i++) {
      const a = answers.find((x) => x.callId === callId);
      if (a) return a;
      await new Promise((r) => setTimeout(r, 1));
    }
    throw new Error(`no answer for call ${callId}`);
  }

  it("synchronous calls, out-params and strings", () => {
    expect(sdk.description).toContain(lib);
    expect(sdk.get_dev_number()).toEqual({ ok: false, devs: 0 }); // before InitLibrary
    expect(sdk.getLastError()).toEqual({ ok: true, code: 4 });
    expect(sdk.InitLibrary()).toBe(true);
    expect(sdk.libVersion()).toEqual({ ok: true, version: "standin-3.2.1" });
    expect(sdk.libVersion(4).ok).toBe(false);
    expect(sdk.getLastError().code).toBe(5);
    expect(sdk.get_dev_number()).toEqual({ ok: true, devs: 1 });
    expect(sdk.get_ids(0)).toEqual({ ok: true, identifier: "DANTE-STANDIN-42" });
    expect(sdk.get_ids(1).ok).toBe(false);
    expect(sdk.getLastError().code).toBe(60);
    expect(sdk.get_boards_in_chain("DANTE-STANDIN-42")).toEqual({ ok: true, boards: 1 });
    expect(sdk.get_boards_in_chain("nope").ok).toBe(false);
    expect(sdk.getLastError().code).toBe(62);
    expect(sdk.isLastDataReceived("DANTE-STANDIN-42", 0)).toEqual({ ok: true, last: true });
  });

  it("the configuration struct passes by value, field by field (bool and doubles included)", async () => {
    sdk.InitLibrary();
    const cfg = { ...DANTE_CONFIGURATION_DEFAULTS, peaking_time: 31, flat_top: 6, gain: 0.43, inverted_input: true, tail_coefficient: 0.125, other_param: 77, reset_recovery_time: 301, zero_peak_freq: 1.5, baseline_samples: 128, fast_filter_thr: 80, time_constant: 2.5 };
    const id = sdk.configure("DANTE-STANDIN-42", 0, cfg);
    expect(id).toBeGreaterThan(0);
    const a = await answerFor(id);
    expect(a.type).toBe(2);
    expect(a.data).toEqual([1, 31, 6, 430, 1, 125, 77, 301, 1500, 128, 80, 2500]);
    expect(sdk.configure("DANTE-STANDIN-42", 3, cfg)).toBe(0);
    expect(sdk.getLastError().code).toBe(60);
  });

  it("koffi lays the structs out exactly as this C compiler does", async () => {
    const koffi = (await import("koffi")).default;
    const probe = koffi.load(lib).func("uint32_t standin_layout(int which)");
    const { configuration, statistics } = danteStructLayout();
    expect(configuration.size).toBe(probe(0));
    expect(statistics.size).toBe(probe(1));
    expect(koffi.offsetof(configuration, "inverted_input")).toBe(probe(2));
    expect(koffi.offsetof(configuration, "time_constant")).toBe(probe(3));
    expect(koffi.offsetof(configuration, "other_param")).toBe(probe(4));
    expect(koffi.offsetof(statistics, "detected")).toBe(probe(5));
  });

  it("asynchronous start: double and uint16 arguments, answer on the library's thread", async () => {
    sdk.InitLibrary();
    const id = sdk.start("DANTE-STANDIN-42", 0.25, 2048);
    expect((await answerFor(id)).data).toEqual([1, 250000, 2048]);
    expect(sdk.start("DANTE-STANDIN-42", 1, 8192)).toBe(0);
    expect(sdk.getLastError().code).toBe(60);
    const r = sdk.isRunning_system("DANTE-STANDIN-42", 0);
    expect(await answerFor(r)).toMatchObject({ type: 1, data: [0] });
  });

  it("getData fills a uint64 out-array and the statistics struct", () => {
    sdk.InitLibrary();
    const values = new BigUint64Array(1024);
    const r = sdk.getData("DANTE-STANDIN-42", 0, values);
    expect(r.ok).toBe(true);
    expect(r.id).toBe(7);
    expect(r.spectraSize).toBe(1024);
    expect(values[0]).toBe(5000000000n);
    expect(values[1023]).toBe(3069n);
    expect(r.stats).toEqual({
      real_time: 1000000,
      live_time: 900000,
      ICR: 12.5,
      OCR: 11.25,
      last_timestamp: 2 ** 40,
      detected: 12500,
      measured: 11250,
      edge_dt: 3,
      filt1_dt: 4,
      zerocounts: 5,
      baselines_value: 6,
      pup_value: 7,
      pup_f1_value: 8,
      pup_notf1_value: 9,
      reset_counter_value: 15,
    });
  });

  it("getAllData fills uint16/uint32/double/uint64 arrays and updates data_number", () => {
    sdk.InitLibrary();
    const out = allocAllData(5, 1024);
    const r = sdk.getAllData("DANTE-STANDIN-42", 0, out, 1024, 5);
    expect(r).toEqual({ ok: true, spectraSize: 1024, dataNumber: 3 });
    expect(out.values[0]).toBe(0);
    expect(out.values[1024 + 7]).toBe(107);
    expect(out.values[2 * 1024 + 1023]).toBe(1223);
    expect([...out.ids.subarray(0, 3)]).toEqual([1, 2, 3]);
    expect([...out.stats.subarray(0, 8)]).toEqual([1000, 900, 2.5, 2.25, 2000, 1800, 2.5, 2.25]);
    expect(out.advStats[24 + 5]).toBe(1005n);
    // a too-short buffer is refused before the library can overrun it
    expect(() => sdk.getAllData("DANTE-STANDIN-42", 0, allocAllData(2, 1024), 1024, 5)).toThrow(/buffers too short/);
  });

  it("a symbol the stand-in lacks fails on that call only, naming it", () => {
    expect(() => sdk.start_map("DANTE-STANDIN-42", 10, 5, 1024)).toThrow(/start_map/);
    expect(sdk.get_dev_number().ok).toBe(true);
  });
});

/**
 * The koffi binding of libXGL_DPP: the ONLY place where C signatures are written down.
 *
 * Source of the signatures: the public header DLL_DPP_Callback.h as shipped with epics-modules/Dante (two
 * versions seen; this follows the newer one: configure_gating(identifier, mode, board), six gating modes,
 * getData with uint64_t values and a `statistics` struct). C++ references (`uint16_t&`) are passed as pointers,
 * which is what the C++ ABI does. Reconstructed (not in the header, see docs/drivers-dante-usb.md):
 * - the meaning of the callback's `type` (0 error, 1 data, 2 acknowledgement; from BLISS's driver);
 * - the number of advanced statistics per spectrum in getAllData (header 18, EPICS 24: we allocate 24);
 * - that `char* address` of add_to_query is not written to (declared const char* here).
 *
 * koffi is required lazily inside loadDanteSdk(): importing this module (or the driver) loads no native code,
 * and a machine without the library fails only when a DANTE is actually opened, with a message naming the
 * library that was looked for.
 */
import { createRequire } from "node:module";
import type * as KoffiNs from "koffi";
import { DANTE_HOST, DanteError } from "./codes.ts";
import { DANTE_MAP_ADV_STATS, DANTE_MAP_STATS, type DanteAllDataBuffers, type DanteCallback, type DanteConfiguration, type DanteSdk, type DanteStatistics } from "./sdk.ts";

/** Environment variable with the library path, used when no path is given. */
export const DANTE_LIBRARY_ENV = "DONKI_DANTE_LIBRARY";

/** Library file names tried (through the loader's search path) when neither a path nor the variable is set. */
export function defaultDanteLibraryNames(platform: NodeJS.Platform = process.platform): string[] {
  if (platform === "win32") return ["XGL_DPP.dll", "libXGL_DPP.dll"];
  if (platform === "darwin") return ["libXGL_DPP.dylib"];
  return ["libXGL_DPP.so"];
}

/** The C declarations, in koffi's prototype syntax. `dante_configuration` etc. are defined in `types()`. */
export const DANTE_C_DECLARATIONS = {
  InitLibrary: "bool InitLibrary()",
  CloseLibrary: "bool CloseLibrary()",
  getLastError: "bool getLastError(_Out_ uint16_t *error_code)",
  resetLastError: "bool resetLastError()",
  libVersion: "bool libVersion(uint8_t *version, _Inout_ uint32_t *version_size)",
  add_to_query: "bool add_to_query(const char *address)",
  get_dev_number: "bool get_dev_number(_Out_ uint16_t *devs)",
  get_ids: "bool get_ids(uint8_t *identifier, _Inout_ uint16_t *nb, _Inout_ uint16_t *id_size)",
  get_boards_in_chain: "bool get_boards_in_chain(const char *identifier, _Inout_ uint16_t *devs)",
  register_callback: "bool register_callback(dante_answer_cb *callback)",
  getFirmware: "uint32_t getFirmware(const char *identifier, uint16_t board)",
  configure: "uint32_t configure(const char *identifier, uint16_t board, dante_configuration cfg)",
  configure_gating: "uint32_t configure_gating(const char *identifier, int gating_mode, uint16_t board)",
  start: "uint32_t start(const char *identifier, double time, uint16_t spect_depth)",
  start_map: "uint32_t start_map(const char *identifier, uint32_t sp_time, uint32_t points, uint16_t spect_depth)",
  stop: "uint32_t stop(const char *identifier)",
  clear_chain: "bool clear_chain(const char *identifier)",
  isRunning_system: "uint32_t isRunning_system(const char *identifier, uint16_t board)",
  isLastDataReceived: "bool isLastDataReceived(const char *identifier, uint16_t board, _Out_ bool *last)",
  getAvailableData: "bool getAvailableData(const char *identifier, uint16_t board, _Inout_ uint32_t *data_number)",
  getData:
    "bool getData(const char *identifier, uint16_t board, uint64_t *values, _Inout_ uint32_t *id, _Out_ dante_statistics *stats, _Inout_ uint32_t *spectra_size)",
  getAllData:
    "bool getAllData(const char *identifier, uint16_t board, uint16_t *values, uint32_t *id, double *stats, uint64_t *advstats, _Inout_ uint32_t *spectra_size, _Inout_ uint32_t *data_number)",
} as const;

type CName = keyof typeof DANTE_C_DECLARATIONS;
type KoffiModule = typeof KoffiNs;
type IKoffiLib = KoffiNs.LibraryHandle;
type KoffiFunction = ReturnType<IKoffiLib["func"]>;
type KoffiType = KoffiNs.TypeObject;

let koffiModule: KoffiModule | undefined;
let typesDefined = false;

function requireKoffi(): KoffiModule {
  if (!koffiModule) {
    const req = createRequire(import.meta.url);
    koffiModule = req("koffi") as KoffiModule;
  }
  return koffiModule;
}

/** Define the struct and callback types once per process (koffi type names are global). */
function types(k: KoffiModule): void {
  if (typesDefined) return;
  k.struct("dante_configuration", {
    fast_filter_thr: "uint32_t",
    energy_filter_thr: "uint32_t",
    energy_baseline_thr: "uint32_t",
    max_risetime: "double",
    gain: "double",
    peaking_time: "uint32_t",
    max_peaking_time: "uint32_t",
    flat_top: "uint32_t",
    edge_peaking_time: "uint32_t",
    edge_flat_top: "uint32_t",
    reset_recovery_time: "uint32_t",
    zero_peak_freq: "double",
    baseline_samples: "uint32_t",
    inverted_input: "bool",
    time_constant: "double",
    base_offset: "uint32_t",
    overflow_recovery: "uint32_t",
    reset_threshold: "uint32_t",
    tail_coefficient: "double",
    other_param: "uint32_t",
  });
  k.struct("dante_statistics", {
    real_time: "uint64_t",
    live_time: "uint64_t",
    ICR: "double",
    OCR: "double",
    last_timestamp: "uint64_t",
    detected: "uint32_t",
    measured: "uint32_t",
    edge_dt: "uint32_t",
    filt1_dt: "uint32_t",
    zerocounts: "uint32_t",
    baselines_value: "uint32_t",
    pup_value: "uint32_t",
    pup_f1_value: "uint32_t",
    pup_notf1_value: "uint32_t",
    reset_counter_value: "uint32_t",
  });
  k.proto("void dante_answer_cb(uint16_t type, uint32_t call_id, uint32_t length, uint32_t *data)");
  typesDefined = true;
}

/** koffi returns 64-bit integers as number or bigint depending on size: always give a number. */
function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : Number(v ?? 0);
}

function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return Buffer.from(buf.buffer, buf.byteOffset, end >= 0 ? end : buf.length).toString("latin1");
}

/**
 * Load libXGL_DPP with koffi. `libraryPath`: a file path or a bare name for the loader's search path; default
 * the DONKI_DANTE_LIBRARY variable, else `defaultDanteLibraryNames()`. Throws a DanteError with code
 * LIBRARY_NOT_FOUND naming every candidate and why it failed.
 */
export function loadDanteSdk(libraryPath?: string): DanteSdk {
  const fromEnv = process.env[DANTE_LIBRARY_ENV];
  const candidates = libraryPath ? [libraryPath] : fromEnv ? [fromEnv] : defaultDanteLibraryNames();
  const how = libraryPath ? "the configured path" : fromEnv ? `$${DANTE_LIBRARY_ENV}` : "the default library name";
  let k: KoffiModule;
  try {
    k = requireKoffi();
  } catch (e) {
    throw new DanteError("dante", DANTE_HOST.LIBRARY_NOT_FOUND, `cannot load the XGLab DANTE library libXGL_DPP: the koffi FFI module is unavailable (${(e as Error).message})`);
  }
  const failures: string[] = [];
  for (const c of candidates) {
    try {
      const lib = k.load(c);
      types(k);
      return new KoffiDanteSdk(k, lib, c);
    } catch (e) {
      failures.push(`"${c}": ${((e as Error).message ?? String(e)).split("\n")[0]}`);
    }
  }
  throw new DanteError(
    "dante",
    DANTE_HOST.LIBRARY_NOT_FOUND,
    `cannot load the XGLab DANTE library libXGL_DPP (from ${how}; tried ${failures.join("; ")}). Install the XGLab/Bruker DANTE SDK and pass its path ({ library: "/path/to/libXGL_DPP.so" }) or set ${DANTE_LIBRARY_ENV}, or use the simulated SDK (sim:dante)`,
  );
}

class KoffiDanteSdk implements DanteSdk {
  readonly description: string;
  private readonly fns = new Map<CName, KoffiFunction>();
  private handler: DanteCallback | null = null;
  private trampoline: unknown = undefined;

  constructor(
    private readonly k: KoffiModule,
    private readonly lib: IKoffiLib,
    readonly path: string,
  ) {
    this.description = `libXGL_DPP at ${path}`;
  }

  /** Bind a C function on first use: a library lacking a symbol fails on that call only, with its name. */
  private fn(name: CName): KoffiFunction {
    let f = this.fns.get(name);
    if (!f) {
      try {
        f = this.lib.func(DANTE_C_DECLARATIONS[name]);
      } catch (e) {
        throw new DanteError("dante", DANTE_HOST.SYMBOL_MISSING, `${this.description} has no usable ${name} (${(e as Error).message}); declared as "${DANTE_C_DECLARATIONS[name]}" in drivers/dante/ffi.ts`);
      }
      this.fns.set(name, f);
    }
    return f;
  }

  InitLibrary(): boolean {
    return !!this.fn("InitLibrary")();
  }
  CloseLibrary(): boolean {
    return !!this.fn("CloseLibrary")();
  }
  getLastError(): { ok: boolean; code: number } {
    const code = [0];
    const ok = !!this.fn("getLastError")(code);
    return { ok, code: code[0] };
  }
  resetLastError(): boolean {
    return !!this.fn("resetLastError")();
  }
  libVersion(maxLength = 64): { ok: boolean; version: string } {
    const buf = new Uint8Array(maxLength);
    const size = [maxLength];
    const ok = !!this.fn("libVersion")(buf, size);
    return { ok, version: ok ? cString(buf) : "" };
  }
  add_to_query(address: string): boolean {
    return !!this.fn("add_to_query")(address);
  }
  get_dev_number(): { ok: boolean; devs: number } {
    const devs = [0];
    const ok = !!this.fn("get_dev_number")(devs);
    return { ok, devs: devs[0] };
  }
  get_ids(nb: number, maxLength = 64): { ok: boolean; identifier: string } {
    const buf = new Uint8Array(maxLength);
    const ok = !!this.fn("get_ids")(buf, [nb], [maxLength]);
    return { ok, identifier: ok ? cString(buf) : "" };
  }
  get_boards_in_chain(identifier: string): { ok: boolean; boards: number } {
    const devs = [1];
    const ok = !!this.fn("get_boards_in_chain")(identifier, devs);
    return { ok, boards: devs[0] };
  }

  /**
   * The library calls the answer callback on its own thread. koffi queues such a call to the JS thread and runs
   * it when the event loop turns; the C thread waits for it, so `data` is still valid while we copy it. The JS
   * side only copies the answer (never calls back into the library), so it cannot deadlock on the library's
   * locks. One trampoline is registered for the life of this object and never freed: the library may call it
   * until CloseLibrary.
   */
  register_callback(callback: DanteCallback | null): boolean {
    this.handler = callback;
    if (this.trampoline !== undefined) return true;
    const k = this.k;
    const cb = (type: number, callId: number, length: number, data: unknown) => {
      let words: Uint32Array;
      try {
        words = length > 0 && data ? Uint32Array.from(k.decode(data, "uint32_t", length) as number[]) : new Uint32Array(0);
      } catch {
        words = new Uint32Array(0);
      }
      try {
        this.handler?.(type, callId, words);
      } catch {
        // an exception must not cross into the library's thread
      }
    };
    this.trampoline = k.register(cb, k.pointer(k.type("dante_answer_cb")));
    return !!this.fn("register_callback")(this.trampoline);
  }

  getFirmware(identifier: string, board: number): number {
    return num(this.fn("getFirmware")(identifier, board));
  }
  configure(identifier: string, board: number, cfg: DanteConfiguration): number {
    const c = { ...cfg, inverted_input: !!cfg.inverted_input };
    return num(this.fn("configure")(identifier, board, c));
  }
  configure_gating(identifier: string, mode: number, board: number): number {
    return num(this.fn("configure_gating")(identifier, mode, board));
  }
  start(identifier: string, timeS: number, spectDepth: number): number {
    return num(this.fn("start")(identifier, timeS, spectDepth));
  }
  start_map(identifier: string, spTimeMs: number, points: number, spectDepth: number): number {
    return num(this.fn("start_map")(identifier, spTimeMs, points, spectDepth));
  }
  stop(identifier: string): number {
    return num(this.fn("stop")(identifier));
  }
  clear_chain(identifier: string): boolean {
    return !!this.fn("clear_chain")(identifier);
  }
  isRunning_system(identifier: string, board: number): number {
    return num(this.fn("isRunning_system")(identifier, board));
  }
  isLastDataReceived(identifier: string, board: number): { ok: boolean; last: boolean } {
    const last = [false];
    const ok = !!this.fn("isLastDataReceived")(identifier, board, last);
    return { ok, last: !!last[0] };
  }
  getAvailableData(identifier: string, board: number): { ok: boolean; count: number } {
    const n = [0];
    const ok = !!this.fn("getAvailableData")(identifier, board, n);
    return { ok, count: num(n[0]) };
  }
  getData(identifier: string, board: number, values: BigUint64Array): { ok: boolean; id: number; stats: DanteStatistics; spectraSize: number } {
    const id = [0];
    const stats: Array<Record<string, unknown>> = [{}];
    const size = [values.length];
    const ok = !!this.fn("getData")(identifier, board, values, id, stats, size);
    const s = stats[0] ?? {};
    return {
      ok,
      id: num(id[0]),
      spectraSize: num(size[0]),
      stats: {
        real_time: num(s.real_time),
        live_time: num(s.live_time),
        ICR: num(s.ICR),
        OCR: num(s.OCR),
        last_timestamp: num(s.last_timestamp),
        detected: num(s.detected),
        measured: num(s.measured),
        edge_dt: num(s.edge_dt),
        filt1_dt: num(s.filt1_dt),
        zerocounts: num(s.zerocounts),
        baselines_value: num(s.baselines_value),
        pup_value: num(s.pup_value),
        pup_f1_value: num(s.pup_f1_value),
        pup_notf1_value: num(s.pup_notf1_value),
        reset_counter_value: num(s.reset_counter_value),
      },
    };
  }
  getAllData(identifier: string, board: number, out: DanteAllDataBuffers, spectraSize: number, dataNumber: number): { ok: boolean; spectraSize: number; dataNumber: number } {
    // The library writes dataNumber spectra into caller memory: check every buffer first (an overrun here
    // corrupts the process).
    const short: string[] = [];
    if (out.values.length < dataNumber * spectraSize) short.push(`values ${out.values.length} < ${dataNumber}x${spectraSize}`);
    if (out.ids.length < dataNumber) short.push(`ids ${out.ids.length} < ${dataNumber}`);
    if (out.stats.length < dataNumber * DANTE_MAP_STATS) short.push(`stats ${out.stats.length} < ${dataNumber}x${DANTE_MAP_STATS}`);
    if (out.advStats.length < dataNumber * DANTE_MAP_ADV_STATS) short.push(`advstats ${out.advStats.length} < ${dataNumber}x${DANTE_MAP_ADV_STATS}`);
    if (short.length) throw new DanteError("dante", 6, `getAllData buffers too short: ${short.join(", ")}`);
    const size = [spectraSize];
    const n = [dataNumber];
    const ok = !!this.fn("getAllData")(identifier, board, out.values, out.ids, out.stats, out.advStats, size, n);
    return { ok, spectraSize: num(size[0]), dataNumber: num(n[0]) };
  }
}

/** For tests: the koffi type layout of the configuration struct (size, offsets), to compare with C's. */
export function danteStructLayout(): { configuration: KoffiType; statistics: KoffiType } {
  const k = requireKoffi();
  types(k);
  return { configuration: k.type("dante_configuration"), statistics: k.type("dante_statistics") };
}

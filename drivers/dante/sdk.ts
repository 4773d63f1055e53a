/**
 * The libXGL_DPP surface this project uses, as a TypeScript interface: ONE method per C function, same name,
 * same arguments in the same order. C++ reference out-parameters (`uint16_t& devs`) come back in a result
 * object next to the C return value (`ok`); output arrays are supplied by the caller, as in C.
 *
 * Two implementations: `loadDanteSdk()` (drivers/dante/ffi.ts, koffi over the real library) and
 * `DanteSdkTwin` (simulators/sdk/dante/, the XglabDanteTwin physics behind the same calls).
 *
 * Calling conventions of the library (public header DLL_DPP_Callback.h):
 * - synchronous functions return bool; on false the reason is `getLastError()`;
 * - asynchronous functions (configure*, start*, stop, isRunning_system, getFirmware) return a call id
 *   (0 = arguments rejected, reason via getLastError); the answer arrives later through the function given to
 *   `register_callback`, on a library thread. See the `DANTE_ANSWER` types.
 */

/** `struct configuration` of the header (one board). Units as in the header. */
export interface DanteConfiguration {
  /** Fast-filter detection threshold, spectrum bins. */
  fast_filter_thr: number;
  /** Energy-filter detection threshold, spectrum bins. */
  energy_filter_thr: number;
  /** Energy threshold for the baseline, spectrum bins. */
  energy_baseline_thr: number;
  /** Max rise time for pile-up detection (8 ns samples in the EPICS driver's conversion). */
  max_risetime: number;
  /** Main gain: spectrum bin per ADC LSB. */
  gain: number;
  /** Energy filter peaking time, 32 ns samples. */
  peaking_time: number;
  /** Max energy filter peaking time, 32 ns samples (0 = off). */
  max_peaking_time: number;
  /** Energy filter flat top, 32 ns samples. */
  flat_top: number;
  /** Edge (fast) filter peaking time, 8 ns samples. */
  edge_peaking_time: number;
  /** Edge filter flat top, 8 ns samples. */
  edge_flat_top: number;
  /** Reset recovery time, 8 ns samples. */
  reset_recovery_time: number;
  /** Zero-peak rate, kcps. */
  zero_peak_freq: number;
  /** Baseline samples, 32 ns samples. */
  baseline_samples: number;
  inverted_input: boolean;
  /** Time constant for a continuous-reset signal (units not documented). */
  time_constant: number;
  /** Baseline of the continuous-reset signal, ADC LSB. */
  base_offset: number;
  /** Overflow recovery time, 8 ns samples. */
  overflow_recovery: number;
  /** Reset detection threshold, ADC LSB. */
  reset_threshold: number;
  tail_coefficient: number;
  other_param: number;
}

/** The header's default member initialisers (older header version). */
export const DANTE_CONFIGURATION_DEFAULTS: Readonly<DanteConfiguration> = {
  fast_filter_thr: 0,
  energy_filter_thr: 0,
  energy_baseline_thr: 0,
  max_risetime: 30,
  gain: 1,
  peaking_time: 25,
  max_peaking_time: 0,
  flat_top: 5,
  edge_peaking_time: 4,
  edge_flat_top: 1,
  reset_recovery_time: 300,
  zero_peak_freq: 1,
  baseline_samples: 64,
  inverted_input: false,
  time_constant: 0,
  base_offset: 0,
  overflow_recovery: 0,
  reset_threshold: 0,
  tail_coefficient: 0,
  other_param: 0,
};

/** `struct statistics` of the header (getData). real/live time in microseconds; ICR/OCR in kcps (see docs). */
export interface DanteStatistics {
  real_time: number;
  live_time: number;
  ICR: number;
  OCR: number;
  last_timestamp: number;
  detected: number;
  measured: number;
  edge_dt: number;
  filt1_dt: number;
  zerocounts: number;
  baselines_value: number;
  pup_value: number;
  pup_f1_value: number;
  pup_notf1_value: number;
  reset_counter_value: number;
}

/** `enum GatingMode` of the newer header (the older header had Disabled/EnabledHighLevel/EnabledLowLevel/MapLatched). */
export const DANTE_GATING = {
  FreeRunning: 0,
  TriggerRising: 1,
  TriggerFalling: 2,
  TriggerBoth: 3,
  GatedHigh: 4,
  GatedLow: 5,
} as const;

/**
 * `type` argument of the answer callback. Not documented in the header; inferred from BLISS's DANTE driver:
 * 0 = the call failed (reason via getLastError), 2 = command acknowledgement with data[0] == 1 on success,
 * anything else (1) = data reply (isRunning_system: data[0] = running flag; getFirmware: data[0..2] = version).
 */
export const DANTE_ANSWER = { ERROR: 0, DATA: 1, ACK: 2 } as const;

/** Per-spectrum doubles returned by getAllData: real_time (us), live_time (us), ICR (kcps), OCR (kcps). */
export const DANTE_MAP_STATS = 4;
/**
 * uint64 advanced statistics per spectrum in getAllData. The header comment says 18, the EPICS driver allocates
 * 24: buffers are sized with the larger value so a library writing 24 cannot overrun them.
 */
export const DANTE_MAP_ADV_STATS = 24;

export type DanteCallback = (type: number, callId: number, data: Uint32Array) => void;

/** Caller-supplied output arrays of getAllData, each long enough for `dataNumber` spectra. */
export interface DanteAllDataBuffers {
  /** dataNumber * spectraSize counts, spectra one after the other. */
  values: Uint16Array;
  /** dataNumber progressive spectrum ids. */
  ids: Uint32Array;
  /** DANTE_MAP_STATS doubles per spectrum. */
  stats: Float64Array;
  /** DANTE_MAP_ADV_STATS uint64 per spectrum. */
  advStats: BigUint64Array;
}

export interface DanteSdk {
  /** What is behind it, for messages: "libXGL_DPP at /opt/xglab/libXGL_DPP.so", "DanteSdkTwin (sim)". */
  readonly description: string;
  /** True for a simulated library (DanteSdkTwin). */
  readonly simulated?: boolean;

  /** bool InitLibrary(void) */
  InitLibrary(): boolean;
  /** bool CloseLibrary(void) */
  CloseLibrary(): boolean;
  /** bool getLastError(uint16_t& error_code) */
  getLastError(): { ok: boolean; code: number };
  /** bool resetLastError(void) */
  resetLastError(): boolean;
  /** bool libVersion(char* version, uint32_t& version_size) */
  libVersion(maxLength?: number): { ok: boolean; version: string };

  /** bool add_to_query(char* address) — Ethernet units are only found after this. */
  add_to_query(address: string): boolean;
  /** bool get_dev_number(uint16_t& devs) — masters only. */
  get_dev_number(): { ok: boolean; devs: number };
  /** bool get_ids(char* identifier, uint16_t& nb, uint16_t& id_size) — nb from 0. */
  get_ids(nb: number, maxLength?: number): { ok: boolean; identifier: string };
  /** bool get_boards_in_chain(const char* identifier, uint16_t& devs) */
  get_boards_in_chain(identifier: string): { ok: boolean; boards: number };

  /** bool register_callback(void (*)(uint16_t type, uint32_t call_id, uint32_t length, uint32_t* data)); null unregisters. */
  register_callback(callback: DanteCallback | null): boolean;

  /** uint32_t getFirmware(const char* identifier, uint16_t Board) — async. */
  getFirmware(identifier: string, board: number): number;
  /** uint32_t configure(const char* identifier, uint16_t Board, const configuration cfg) — async, struct by value. */
  configure(identifier: string, board: number, cfg: DanteConfiguration): number;
  /** uint32_t configure_gating(const char* identifier, const GatingMode GatingMode, uint16_t Board) — async. */
  configure_gating(identifier: string, mode: number, board: number): number;

  /** uint32_t start(const char* identifier, const double time, const uint16_t spect_depth) — async; time in s. */
  start(identifier: string, timeS: number, spectDepth: number): number;
  /** uint32_t start_map(const char* identifier, const uint32_t sp_time, const uint32_t points, const uint16_t spect_depth) — async; sp_time in ms. */
  start_map(identifier: string, spTimeMs: number, points: number, spectDepth: number): number;
  /** uint32_t stop(const char* identifier) — async. */
  stop(identifier: string): number;
  /** bool clear_chain(const char* identifier) */
  clear_chain(identifier: string): boolean;

  /** uint32_t isRunning_system(const char* identifier, uint16_t Board) — async, answer data[0] = running. */
  isRunning_system(identifier: string, board: number): number;
  /** bool isLastDataReceived(const char* identifier, uint16_t Board, bool& LastDataReceived) */
  isLastDataReceived(identifier: string, board: number): { ok: boolean; last: boolean };
  /** bool getAvailableData(const char* identifier, uint16_t Board, uint32_t& data_number) */
  getAvailableData(identifier: string, board: number): { ok: boolean; count: number };

  /**
   * bool getData(const char* identifier, uint16_t Board, uint64_t* values, uint32_t& id, statistics& stats,
   * uint32_t& spectra_size) — `values.length` is passed as spectra_size.
   */
  getData(identifier: string, board: number, values: BigUint64Array): { ok: boolean; id: number; stats: DanteStatistics; spectraSize: number };
  /**
   * bool getAllData(const char* identifier, uint16_t Board, uint16_t* values, uint32_t* id, double* stats,
   * uint64_t* advstats, uint32_t& spectra_size, uint32_t& data_number) — mapping mode.
   */
  getAllData(identifier: string, board: number, out: DanteAllDataBuffers, spectraSize: number, dataNumber: number): { ok: boolean; spectraSize: number; dataNumber: number };
}

/** Allocate getAllData output buffers for `n` spectra of `bins` channels. */
export function allocAllData(n: number, bins: number): DanteAllDataBuffers {
  return {
    values: new Uint16Array(n * bins),
    ids: new Uint32Array(n),
    stats: new Float64Array(n * DANTE_MAP_STATS),
    advStats: new BigUint64Array(n * DANTE_MAP_ADV_STATS),
  };
}

/**
 * The PVCAM functions the driver uses, one TypeScript method per C function (same name and argument order,
 * out-parameters turned into results). Implemented by the real library (`ffi.ts`, koffi) and by the SDK twin
 * (`simulators/sdk/pvcam/`).
 *
 * Shapes: a function returning rs_bool without out-parameters resolves to `true` (PV_OK) / `false`
 * (PV_FAIL); with out-parameters to `{ ok, value }` (value only meaningful when ok). On failure the reason is
 * `pl_error_code()` + `pl_error_message(code)`.
 *
 * pl_get_param / pl_set_param take the `void*` value as a JS value: the binding (de)serialises it by the
 * type encoded in the parameter id (and the attribute: ATTR_AVAIL is rs_bool, ATTR_COUNT uns32, ATTR_TYPE /
 * ATTR_ACCESS uns16). Numbers for the numeric types (int64/uns64 as numbers: exact below 2^53), strings for
 * CHAR_PTR.
 *
 * pl_exp_start_seq takes the caller's frame buffer, which the library fills while the sequence runs: keep
 * it alive and untouched until pl_exp_finish_seq / pl_exp_abort.
 */

export interface PvOut<T> {
  ok: boolean;
  value: T;
}

/** rgn_type: serial (s) and parallel (p) first/last pixel, 0-based inclusive, and binning. */
export interface PvRegion {
  s1: number;
  s2: number;
  sbin: number;
  p1: number;
  p2: number;
  pbin: number;
}

export type PvParamValue = number | string;

export interface PvcamSdk {
  /** What this binding talks to. */
  readonly description: string;
  /** True for the SDK twin. */
  readonly simulated?: boolean;

  /** `rs_bool pl_pvcam_init(void)` */
  pl_pvcam_init(): Promise<boolean>;
  /** `rs_bool pl_pvcam_uninit(void)` */
  pl_pvcam_uninit(): Promise<boolean>;
  /** `rs_bool pl_exp_init_seq(void)`: PVCAM 2.x only (absent or a no-op in 3.x); undefined when the symbol is missing. */
  pl_exp_init_seq?(): Promise<boolean>;
  /** `rs_bool pl_cam_get_total(int16* totl_cams)` */
  pl_cam_get_total(): Promise<PvOut<number>>;
  /** `rs_bool pl_cam_get_name(int16 cam_num, char* camera_name)` */
  pl_cam_get_name(cam_num: number): Promise<PvOut<string>>;
  /** `rs_bool pl_cam_open(char* camera_name, int16* hcam, int16 o_mode)` */
  pl_cam_open(camera_name: string, o_mode: number): Promise<PvOut<number>>;
  /** `rs_bool pl_cam_close(int16 hcam)` */
  pl_cam_close(hcam: number): Promise<boolean>;
  /** `rs_bool pl_get_param(int16 hcam, uns32 param_id, int16 param_attribute, void* param_value)` */
  pl_get_param(hcam: number, param_id: number, param_attribute: number): Promise<PvOut<PvParamValue>>;
  /** `rs_bool pl_set_param(int16 hcam, uns32 param_id, void* param_value)` */
  pl_set_param(hcam: number, param_id: number, value: PvParamValue): Promise<boolean>;
  /** `rs_bool pl_exp_setup_seq(int16 hcam, uns16 exp_total, uns16 rgn_total, const rgn_type* rgn_array, int16 exp_mode, uns32 exposure_time, uns32* exp_bytes)` */
  pl_exp_setup_seq(hcam: number, exp_total: number, rgn_total: number, rgn_array: readonly PvRegion[], exp_mode: number, exposure_time: number): Promise<PvOut<number>>;
  /** `rs_bool pl_exp_start_seq(int16 hcam, void* pixel_stream)` */
  pl_exp_start_seq(hcam: number, pixel_stream: Uint16Array): Promise<boolean>;
  /** `rs_bool pl_exp_check_status(int16 hcam, int16* status, uns32* bytes_arrived)` */
  pl_exp_check_status(hcam: number): Promise<PvOut<{ status: number; bytes_arrived: number }>>;
  /** `rs_bool pl_exp_finish_seq(int16 hcam, void* pixel_stream, int16 hbuf)` */
  pl_exp_finish_seq(hcam: number, pixel_stream: Uint16Array, hbuf: number): Promise<boolean>;
  /** `rs_bool pl_exp_abort(int16 hcam, int16 cam_state)` */
  pl_exp_abort(hcam: number, cam_state: number): Promise<boolean>;
  /** `int16 pl_error_code(void)` */
  pl_error_code(): Promise<number>;
  /** `rs_bool pl_error_message(int16 err_code, char* msg)` */
  pl_error_message(err_code: number): Promise<PvOut<string>>;
}

export const PVCAM_FUNCTIONS = [
  "pl_pvcam_init",
  "pl_pvcam_uninit",
  "pl_exp_init_seq",
  "pl_cam_get_total",
  "pl_cam_get_name",
  "pl_cam_open",
  "pl_cam_close",
  "pl_get_param",
  "pl_set_param",
  "pl_exp_setup_seq",
  "pl_exp_start_seq",
  "pl_exp_check_status",
  "pl_exp_finish_seq",
  "pl_exp_abort",
  "pl_error_code",
  "pl_error_message",
] as const satisfies ReadonlyArray<Exclude<keyof PvcamSdk, "description" | "simulated">>;

export type PvcamFunction = (typeof PVCAM_FUNCTIONS)[number];

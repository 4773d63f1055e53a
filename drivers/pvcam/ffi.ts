/**
 * PvcamSdk over the real PVCAM library (libpvcam.so on Linux, pvcam64.dll / Pvcam32.dll on Windows),
 * bound with koffi. One koffi function per C function, declared lazily (pl_exp_init_seq is optional).
 *
 * Types (master.h/pvcam.h): rs_bool = unsigned short, int16 = short, uns16 = unsigned short,
 * uns32 = unsigned int; PV_DECL is __stdcall on Windows (added there). `rgn_type` is six uns16 without
 * padding, passed as a 12-byte-per-region buffer. `void* param_value` is a scratch buffer (de)serialised by
 * the type encoded in the parameter id. The pixel stream of pl_exp_start_seq is the caller's Uint16Array,
 * passed in place (koffi does not copy TypedArrays given for pointers): the library fills it after the call
 * returns, so the driver keeps a reference until pl_exp_finish_seq / pl_exp_abort.
 *
 * pl_* calls return quickly (the driver polls pl_exp_check_status on its clock), so all are direct calls
 * except pl_pvcam_init / pl_cam_open / pl_cam_close / pl_pvcam_uninit, which can take seconds and run on
 * koffi's worker threads.
 */
import { ATTR, CAM_NAME_LEN, ERROR_MSG_LEN, TYPE, paramType } from "./codes.ts";
import { openNativeLibrary, type KoffiFunction, type NativeLibrary } from "../andor/native-library.ts";
import type { PvOut, PvParamValue, PvRegion, PvcamSdk } from "./sdk.ts";

export interface LoadPvcamOptions {
  /** Path(s) of the library; default: $PVCAM_LIBRARY, then the platform's usual names. */
  library?: string | readonly string[];
  /** Device name used in errors (default "pi-pvcam"). */
  device?: string;
}

export const PVCAM_LIBRARY_DEFAULTS: Readonly<Record<string, readonly string[]>> = {
  linux: ["libpvcam.so", "libpvcam.so.2", "/usr/local/lib/libpvcam.so", "/opt/pvcam/library/x86_64/libpvcam.so", "/usr/lib/libpvcam.so"],
  win32: process.arch === "ia32" ? ["Pvcam32.dll"] : ["pvcam64.dll"],
  darwin: ["libpvcam.dylib"],
};

export const PVCAM_PROTOTYPES = {
  pl_pvcam_init: "uint16_t pl_pvcam_init(void)",
  pl_pvcam_uninit: "uint16_t pl_pvcam_uninit(void)",
  pl_exp_init_seq: "uint16_t pl_exp_init_seq(void)",
  pl_cam_get_total: "uint16_t pl_cam_get_total(_Out_ int16_t *totl_cams)",
  pl_cam_get_name: "uint16_t pl_cam_get_name(int16_t cam_num, char *camera_name)",
  pl_cam_open: "uint16_t pl_cam_open(char *camera_name, _Out_ int16_t *hcam, int16_t o_mode)",
  pl_cam_close: "uint16_t pl_cam_close(int16_t hcam)",
  pl_get_param: "uint16_t pl_get_param(int16_t hcam, uint32_t param_id, int16_t param_attribute, void *param_value)",
  pl_set_param: "uint16_t pl_set_param(int16_t hcam, uint32_t param_id, void *param_value)",
  pl_exp_setup_seq: "uint16_t pl_exp_setup_seq(int16_t hcam, uint16_t exp_total, uint16_t rgn_total, const void *rgn_array, int16_t exp_mode, uint32_t exposure_time, _Out_ uint32_t *exp_bytes)",
  pl_exp_start_seq: "uint16_t pl_exp_start_seq(int16_t hcam, void *pixel_stream)",
  pl_exp_check_status: "uint16_t pl_exp_check_status(int16_t hcam, _Out_ int16_t *status, _Out_ uint32_t *bytes_arrived)",
  pl_exp_finish_seq: "uint16_t pl_exp_finish_seq(int16_t hcam, void *pixel_stream, int16_t hbuf)",
  pl_exp_abort: "uint16_t pl_exp_abort(int16_t hcam, int16_t cam_state)",
  pl_error_code: "int16_t pl_error_code(void)",
  pl_error_message: "uint16_t pl_error_message(int16_t err_code, char *msg)",
} as const;

type Name = keyof typeof PVCAM_PROTOTYPES;

/** Scratch size for pl_get_param values (the longest string parameters are well below this). */
const PARAM_BUF = 1024;

/** Load the PVCAM library. Rejects with a NativeLibraryError (code "LIBRARY_NOT_FOUND") naming every path tried. */
export async function loadPvcam(o: LoadPvcamOptions | string = {}): Promise<PvcamSdk> {
  const opts = typeof o === "string" ? { library: o } : o;
  const device = opts.device ?? "pi-pvcam";
  const lib = await openNativeLibrary({
    device,
    library: "PVCAM library (libpvcam.so / pvcam64.dll)",
    explicit: opts.library,
    envVar: "PVCAM_LIBRARY",
    defaults: PVCAM_LIBRARY_DEFAULTS[process.platform] ?? ["libpvcam.so"],
    hint: "Install PVCAM (Teledyne Photometrics / Princeton Instruments), pass { library: '/path/to/libpvcam.so' }, or set PVCAM_LIBRARY; for tests use the SDK twin (createPvcamSdkTwin).",
  });
  return new PvcamFfi(lib);
}

/** Decode a pl_get_param value from its buffer. */
export function decodeParam(buf: Buffer, id: number, attr: number): PvParamValue {
  if (attr === ATTR.AVAIL || attr === ATTR.TYPE || attr === ATTR.ACCESS) return buf.readUInt16LE(0);
  if (attr === ATTR.COUNT) return buf.readUInt32LE(0);
  switch (paramType(id)) {
    case TYPE.INT8:
      return buf.readInt8(0);
    case TYPE.UNS8:
      return buf.readUInt8(0);
    case TYPE.INT16:
      return buf.readInt16LE(0);
    case TYPE.UNS16:
    case TYPE.BOOLEAN:
      return buf.readUInt16LE(0);
    case TYPE.INT32:
    case TYPE.ENUM:
      return buf.readInt32LE(0);
    case TYPE.UNS32:
      return buf.readUInt32LE(0);
    case TYPE.FLT64:
      return buf.readDoubleLE(0);
    case TYPE.INT64:
      return Number(buf.readBigInt64LE(0));
    case TYPE.UNS64:
      return Number(buf.readBigUInt64LE(0));
    case TYPE.CHAR_PTR: {
      const end = buf.indexOf(0);
      return buf.toString("latin1", 0, end < 0 ? buf.length : end);
    }
    default:
      throw new RangeError(`pl_get_param: parameter 0x${id.toString(16)} has unsupported type ${paramType(id)}`);
  }
}

/** Encode a pl_set_param value into a buffer of the parameter's type. */
export function encodeParam(id: number, v: PvParamValue): Buffer {
  const t = paramType(id);
  if (t === TYPE.CHAR_PTR) return Buffer.from(`${String(v)}\0`, "latin1");
  if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`pl_set_param: value ${String(v)} for parameter 0x${id.toString(16)} must be a finite number`);
  const b = Buffer.alloc(8);
  switch (t) {
    case TYPE.INT8:
      b.writeInt8(v, 0);
      break;
    case TYPE.UNS8:
      b.writeUInt8(v, 0);
      break;
    case TYPE.INT16:
      b.writeInt16LE(v, 0);
      break;
    case TYPE.UNS16:
    case TYPE.BOOLEAN:
      b.writeUInt16LE(v, 0);
      break;
    case TYPE.INT32:
    case TYPE.ENUM:
      b.writeInt32LE(v, 0);
      break;
    case TYPE.UNS32:
      b.writeUInt32LE(v, 0);
      break;
    case TYPE.FLT64:
      b.writeDoubleLE(v, 0);
      break;
    case TYPE.INT64:
      b.writeBigInt64LE(BigInt(Math.round(v)), 0);
      break;
    case TYPE.UNS64:
      b.writeBigUInt64LE(BigInt(Math.round(v)), 0);
      break;
    default:
      throw new RangeError(`pl_set_param: parameter 0x${id.toString(16)} has unsupported type ${t}`);
  }
  return b;
}

/** rgn_type[]: six uns16 per region. */
export function encodeRegions(r: readonly PvRegion[]): Buffer {
  const b = Buffer.alloc(12 * Math.max(1, r.length));
  r.forEach((g, i) => [g.s1, g.s2, g.sbin, g.p1, g.p2, g.pbin].forEach((v, k) => b.writeUInt16LE(v, i * 12 + k * 2)));
  return b;
}

class PvcamFfi implements PvcamSdk {
  readonly description: string;
  private readonly fns = new Map<Name, KoffiFunction>();
  pl_exp_init_seq?: () => Promise<boolean>;

  constructor(private readonly lib: NativeLibrary) {
    this.description = `PVCAM (${lib.path})`;
    try {
      const f = this.f("pl_exp_init_seq");
      this.pl_exp_init_seq = () => this.lib.async<number>(f).then((r) => r !== 0);
    } catch {
      this.pl_exp_init_seq = undefined; // PVCAM 3.x: gone
    }
  }

  private f(name: Name): KoffiFunction {
    let fn = this.fns.get(name);
    if (!fn) {
      fn = this.lib.func(name, PVCAM_PROTOTYPES[name]);
      this.fns.set(name, fn);
    }
    return fn;
  }

  private call(name: Name, ...args: unknown[]): Promise<number> {
    try {
      return Promise.resolve(this.f(name)(...args) as number);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async bool(name: Name, ...args: unknown[]): Promise<boolean> {
    return (await this.call(name, ...args)) !== 0;
  }

  async pl_pvcam_init() {
    return (await this.lib.async<number>(this.f("pl_pvcam_init"))) !== 0;
  }
  async pl_pvcam_uninit() {
    return (await this.lib.async<number>(this.f("pl_pvcam_uninit"))) !== 0;
  }
  async pl_cam_get_total(): Promise<PvOut<number>> {
    const o = [0];
    const ok = await this.bool("pl_cam_get_total", o);
    return { ok, value: o[0] };
  }
  async pl_cam_get_name(cam_num: number): Promise<PvOut<string>> {
    const b = Buffer.alloc(CAM_NAME_LEN + 1);
    const ok = await this.bool("pl_cam_get_name", cam_num, b);
    return { ok, value: cstr(b) };
  }
  async pl_cam_open(camera_name: string, o_mode: number): Promise<PvOut<number>> {
    const name = Buffer.from(`${camera_name}\0`, "latin1");
    const h = [0];
    const ok = (await this.lib.async<number>(this.f("pl_cam_open"), name, h, o_mode)) !== 0;
    return { ok, value: h[0] };
  }
  async pl_cam_close(hcam: number) {
    return (await this.lib.async<number>(this.f("pl_cam_close"), hcam)) !== 0;
  }
  async pl_get_param(hcam: number, param_id: number, param_attribute: number): Promise<PvOut<PvParamValue>> {
    const b = Buffer.alloc(PARAM_BUF);
    const ok = await this.bool("pl_get_param", hcam, param_id >>> 0, param_attribute, b);
    return { ok, value: ok ? decodeParam(b, param_id, param_attribute) : 0 };
  }
  async pl_set_param(hcam: number, param_id: number, value: PvParamValue) {
    return this.bool("pl_set_param", hcam, param_id >>> 0, encodeParam(param_id, value));
  }
  async pl_exp_setup_seq(hcam: number, exp_total: number, rgn_total: number, rgn_array: readonly PvRegion[], exp_mode: number, exposure_time: number): Promise<PvOut<number>> {
    if (rgn_array.length < rgn_total) throw new RangeError(`pl_exp_setup_seq: ${rgn_total} regions announced, ${rgn_array.length} given`);
    const bytes = [0];
    const ok = await this.bool("pl_exp_setup_seq", hcam, exp_total, rgn_total, encodeRegions(rgn_array), exp_mode, exposure_time >>> 0, bytes);
    return { ok, value: bytes[0] };
  }
  pl_exp_start_seq(hcam: number, pixel_stream: Uint16Array) {
    return this.bool("pl_exp_start_seq", hcam, pixel_stream);
  }
  async pl_exp_check_status(hcam: number) {
    const st = [0],
      by = [0];
    const ok = await this.bool("pl_exp_check_status", hcam, st, by);
    return { ok, value: { status: st[0], bytes_arrived: by[0] } };
  }
  pl_exp_finish_seq(hcam: number, pixel_stream: Uint16Array, hbuf: number) {
    return this.bool("pl_exp_finish_seq", hcam, pixel_stream, hbuf);
  }
  pl_exp_abort(hcam: number, cam_state: number) {
    return this.bool("pl_exp_abort", hcam, cam_state);
  }
  pl_error_code() {
    return this.call("pl_error_code");
  }
  async pl_error_message(err_code: number): Promise<PvOut<string>> {
    const b = Buffer.alloc(ERROR_MSG_LEN + 1);
    const ok = await this.bool("pl_error_message", err_code, b);
    return { ok, value: cstr(b) };
  }
}

function cstr(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString("latin1", 0, end < 0 ? b.length : end);
}

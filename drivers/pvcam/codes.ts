/**
 * PVCAM constants: parameter ids, attributes, enums, and the named DeviceError.
 *
 * A parameter id encodes its value type: id = (TYPE << 24) | (CLASS << 16) | index (pvcam.h "TTCCxxxx").
 * The ids below are computed from the public pvcam.h (PVCAM 2.x/3.x share them). Every public pvcam.h
 * checked (docs/drivers-ccd.md) documents READOUT_TIME as FLT64 in milliseconds ("Readout time of current
 * ROI in milliseconds"); ids and units stay configuration (`PvcamParamIds`, `readoutTimeUnitS`) so a site
 * can follow the pvcam.h of its installed library.
 *
 * Calls return rs_bool: PV_OK (1) / PV_FAIL (0); the reason comes from pl_error_code() /
 * pl_error_message(). Error numbers are not stable across PVCAM versions, so the driver relays the number
 * and the library's own message instead of a fixed table.
 */
import { DeviceError } from "../../runtime/devices/common.ts";

export const PV_OK = 1;
export const PV_FAIL = 0;

/** Value types of pl_get_param / pl_set_param (ATTR_TYPE). */
export const TYPE = {
  INT16: 1,
  INT32: 2,
  FLT64: 4,
  UNS8: 5,
  UNS16: 6,
  UNS32: 7,
  UNS64: 8,
  ENUM: 9,
  BOOLEAN: 11,
  INT8: 12,
  CHAR_PTR: 13,
  VOID_PTR: 14,
  VOID_PTR_PTR: 15,
  INT64: 16,
} as const;

export const CLASS0 = 0;
export const CLASS2 = 2;
export const CLASS3 = 3;

export function paramId(cls: number, type: number, index: number): number {
  return ((type << 24) | (cls << 16) | index) >>> 0;
}

/** The value type encoded in a parameter id. */
export function paramType(id: number): number {
  return (id >>> 24) & 0xff;
}

export const PARAM = {
  CHIP_NAME: paramId(CLASS2, TYPE.CHAR_PTR, 129),
  HEAD_SER_NUM_ALPHA: paramId(CLASS2, TYPE.CHAR_PTR, 533),
  SER_SIZE: paramId(CLASS2, TYPE.UNS16, 58),
  PAR_SIZE: paramId(CLASS2, TYPE.UNS16, 57),
  PIX_SER_SIZE: paramId(CLASS2, TYPE.UNS16, 62),
  PIX_PAR_SIZE: paramId(CLASS2, TYPE.UNS16, 63),
  FRAME_CAPABLE: paramId(CLASS2, TYPE.BOOLEAN, 509),
  READOUT_PORT: paramId(CLASS2, TYPE.ENUM, 247),
  SPDTAB_INDEX: paramId(CLASS2, TYPE.INT16, 513),
  PIX_TIME: paramId(CLASS2, TYPE.UNS16, 516),
  BIT_DEPTH: paramId(CLASS2, TYPE.INT16, 511),
  GAIN_INDEX: paramId(CLASS2, TYPE.INT16, 512),
  TEMP: paramId(CLASS2, TYPE.INT16, 525),
  TEMP_SETPOINT: paramId(CLASS2, TYPE.INT16, 526),
  SHTR_OPEN_MODE: paramId(CLASS2, TYPE.ENUM, 521),
  SHTR_OPEN_DELAY: paramId(CLASS2, TYPE.UNS16, 520),
  SHTR_CLOSE_DELAY: paramId(CLASS2, TYPE.UNS16, 519),
  CLEAR_MODE: paramId(CLASS2, TYPE.ENUM, 523),
  CLEAR_CYCLES: paramId(CLASS2, TYPE.UNS16, 97),
  /** Read-out time of the set-up acquisition, FLT64 in milliseconds (pvcam.h; see readoutTimeUnitS). */
  READOUT_TIME: paramId(CLASS2, TYPE.FLT64, 179),
  /** Clearing time, ns (PVCAM 3.x). */
  CLEARING_TIME: paramId(CLASS2, TYPE.INT64, 180),
  EXP_RES: paramId(CLASS3, TYPE.ENUM, 2),
  EXP_RES_INDEX: paramId(CLASS3, TYPE.UNS16, 4),
} as const;

export type PvcamParamName = keyof typeof PARAM;
export type PvcamParamIds = Record<PvcamParamName, number>;

export const ATTR = { CURRENT: 0, COUNT: 1, TYPE: 2, MIN: 3, MAX: 4, DEFAULT: 5, INCREMENT: 6, ACCESS: 7, AVAIL: 8 } as const;
export const ACC = { ERROR: 0, READ_ONLY: 1, READ_WRITE: 2, EXIST_CHECK_ONLY: 3, WRITE_ONLY: 4 } as const;

/** pl_exp_check_status values. */
export const STATUS = { READOUT_NOT_ACTIVE: 0, EXPOSURE_IN_PROGRESS: 1, READOUT_IN_PROGRESS: 2, READOUT_COMPLETE: 3, READOUT_FAILED: 4, ACQUISITION_IN_PROGRESS: 5 } as const;
export const STATUS_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k]));

/** Exposure modes of pl_exp_setup_seq. */
export const EXP_MODE = { TIMED: 0, STROBED: 1, BULB: 2, TRIGGER_FIRST: 3 } as const;
/** PARAM_SHTR_OPEN_MODE. */
export const SHTR_OPEN = { NEVER: 0, PRE_EXPOSURE: 1, PRE_SEQUENCE: 2, PRE_TRIGGER: 3, NO_CHANGE: 4 } as const;
/** PARAM_CLEAR_MODE. */
export const CLEAR = { NEVER: 0, PRE_EXPOSURE: 1, PRE_SEQUENCE: 2, POST_SEQUENCE: 3, PRE_POST_SEQUENCE: 4, PRE_EXPOSURE_POST_SEQ: 5 } as const;
/** PARAM_EXP_RES: unit of exposure_time in pl_exp_setup_seq. */
export const EXP_RES = { ONE_MILLISEC: 0, ONE_MICROSEC: 1, ONE_SEC: 2 } as const;
export const EXP_RES_S: Readonly<Record<number, number>> = { 0: 1e-3, 1: 1e-6, 2: 1 };
/** pl_exp_abort camera states. */
export const CCS = { NO_CHANGE: 0, HALT: 1, HALT_CLOSE_SHTR: 2, CLEAR: 3, CLEAR_CLOSE_SHTR: 4, OPEN_SHTR: 5, CLEAR_OPEN_SHTR: 6 } as const;
export const OPEN_EXCLUSIVE = 0;
export const CAM_NAME_LEN = 32;
export const ERROR_MSG_LEN = 255;

/**
 * A DeviceError from PVCAM. `code` is the pl_error_code() number when the library gave one, else a
 * driver-side name (TIMEOUT, READOUT_FAILED, BAD_ARGUMENT, BUSY, ABORTED, NOT_CONNECTED, NO_CAMERA);
 * `codeName` is "PVCAM_<n>" or that name.
 */
export class PvcamError extends DeviceError {
  constructor(
    device: string,
    readonly fn: string,
    code: number | string,
    readonly pvMessage: string,
  ) {
    super(`${device}: ${fn} failed${typeof code === "number" ? ` (PVCAM error ${code})` : ` (${code})`}: ${pvMessage}`, device, code, typeof code === "number" ? `PVCAM_${code}` : code);
    this.name = "PvcamError";
  }
}

/**
 * Andor SDK2 (atmcd) return codes and the named DeviceError for them.
 *
 * Every SDK2 function returns an `unsigned int` code; 20002 (DRV_SUCCESS) is success. Two families are NOT
 * failures: GetTemperature/GetTemperatureF return one of the temperature states 20034-20040, and GetStatus
 * reports the camera state (20072 ACQUIRING, 20073 IDLE, ...) in its out-parameter.
 * Codes from docs/instruments.md plus their neighbours in the public atmcd headers.
 */
import { DeviceError } from "../../runtime/devices/common.ts";

export const DRV = {
  ERROR_CODES: 20001,
  SUCCESS: 20002,
  VXDNOTINSTALLED: 20003,
  ERROR_SCAN: 20004,
  ERROR_CHECK_SUM: 20005,
  ERROR_FILELOAD: 20006,
  UNKNOWN_FUNCTION: 20007,
  ERROR_VXD_INIT: 20008,
  ERROR_ADDRESS: 20009,
  ERROR_PAGELOCK: 20010,
  ERROR_PAGEUNLOCK: 20011,
  ERROR_BOARDTEST: 20012,
  ERROR_ACK: 20013,
  ERROR_UP_FIFO: 20014,
  ERROR_PATTERN: 20015,
  ACQUISITION_ERRORS: 20017,
  ACQ_BUFFER: 20018,
  ACQ_DOWNFIFO_FULL: 20019,
  PROC_UNKONWN_INSTRUCTION: 20020,
  ILLEGAL_OP_CODE: 20021,
  KINETIC_TIME_NOT_MET: 20022,
  ACCUM_TIME_NOT_MET: 20023,
  NO_NEW_DATA: 20024,
  SPOOLERROR: 20026,
  SPOOLSETUPERROR: 20027,
  TEMP_CODES: 20033,
  TEMP_OFF: 20034,
  TEMP_NOT_STABILIZED: 20035,
  TEMP_STABILIZED: 20036,
  TEMP_NOT_REACHED: 20037,
  TEMP_OUT_RANGE: 20038,
  TEMP_NOT_SUPPORTED: 20039,
  TEMP_DRIFT: 20040,
  GENERAL_ERRORS: 20049,
  INVALID_AUX: 20050,
  COF_NOTLOADED: 20051,
  FPGAPROG: 20052,
  FLEXERROR: 20053,
  GPIBERROR: 20054,
  EEPROMVERSIONERROR: 20055,
  DATATYPE: 20064,
  DRIVER_ERRORS: 20065,
  P1INVALID: 20066,
  P2INVALID: 20067,
  P3INVALID: 20068,
  P4INVALID: 20069,
  INIERROR: 20070,
  COFERROR: 20071,
  ACQUIRING: 20072,
  IDLE: 20073,
  TEMPCYCLE: 20074,
  NOT_INITIALIZED: 20075,
  P5INVALID: 20076,
  P6INVALID: 20077,
  INVALID_MODE: 20078,
  INVALID_FILTER: 20079,
  I2CERRORS: 20080,
  I2CDEVNOTFOUND: 20081,
  I2CTIMEOUT: 20082,
  P7INVALID: 20083,
  USBERROR: 20089,
  IOCERROR: 20090,
  VRMVERSIONERROR: 20091,
  USB_INTERRUPT_ENDPOINT_ERROR: 20093,
  RANDOM_TRACK_ERROR: 20094,
  INVALID_TRIGGER_MODE: 20095,
  LOAD_FIRMWARE_ERROR: 20096,
  DIVIDE_BY_ZERO_ERROR: 20097,
  INVALID_RINGEXPOSURES: 20098,
  BINNING_ERROR: 20099,
  INVALID_AMPLIFIER: 20100,
  ERROR_NOCAMERA: 20990,
  NOT_SUPPORTED: 20991,
  NOT_AVAILABLE: 20992,
} as const;

export type DrvName = keyof typeof DRV;

const NAMES = new Map<number, string>(Object.entries(DRV).map(([k, v]) => [v, `DRV_${k}`]));

const MESSAGES: Readonly<Record<number, string>> = {
  [DRV.SUCCESS]: "success",
  [DRV.VXDNOTINSTALLED]: "device driver not installed or not loaded",
  [DRV.ERROR_ACK]: "unable to communicate with the camera (no acknowledge)",
  [DRV.ACQ_BUFFER]: "acquisition buffer error: data could not be read out fast enough",
  [DRV.ACQ_DOWNFIFO_FULL]: "the card's FIFO overflowed: data could not be read out fast enough",
  [DRV.KINETIC_TIME_NOT_MET]: "kinetic cycle time not met",
  [DRV.ACCUM_TIME_NOT_MET]: "accumulate cycle time not met",
  [DRV.NO_NEW_DATA]: "no new data (wait timed out or was cancelled)",
  [DRV.SPOOLERROR]: "spooling error",
  [DRV.TEMP_OFF]: "cooler off",
  [DRV.TEMP_NOT_STABILIZED]: "temperature reached, not yet stabilised",
  [DRV.TEMP_STABILIZED]: "temperature stabilised",
  [DRV.TEMP_NOT_REACHED]: "temperature not reached",
  [DRV.TEMP_OUT_RANGE]: "temperature out of range",
  [DRV.TEMP_NOT_SUPPORTED]: "temperature control not supported",
  [DRV.TEMP_DRIFT]: "temperature drifted from the stabilised set-point",
  [DRV.FLEXERROR]: "FPGA (flex) error",
  [DRV.P1INVALID]: "parameter 1 invalid",
  [DRV.P2INVALID]: "parameter 2 invalid",
  [DRV.P3INVALID]: "parameter 3 invalid",
  [DRV.P4INVALID]: "parameter 4 invalid",
  [DRV.P5INVALID]: "parameter 5 invalid",
  [DRV.P6INVALID]: "parameter 6 invalid",
  [DRV.INIERROR]: "unable to load DETECTOR.INI",
  [DRV.COFERROR]: "unable to load the camera's firmware (COF)",
  [DRV.ACQUIRING]: "acquisition in progress",
  [DRV.IDLE]: "idle",
  [DRV.TEMPCYCLE]: "executing a temperature cycle",
  [DRV.NOT_INITIALIZED]: "SDK not initialised (Initialize not called or failed)",
  [DRV.INVALID_MODE]: "invalid mode",
  [DRV.USBERROR]: "USB communication error",
  [DRV.BINNING_ERROR]: "ROI size is not a multiple of the binning",
  [DRV.INVALID_AMPLIFIER]: "invalid amplifier",
  [DRV.ERROR_NOCAMERA]: "no camera found",
  [DRV.NOT_SUPPORTED]: "not supported by this camera",
  [DRV.NOT_AVAILABLE]: "feature not available",
};

/** "DRV_SUCCESS", "DRV_P1INVALID", ... or "DRV_<code>" for unknown codes. */
export function drvName(code: number): string {
  return NAMES.get(code) ?? `DRV_${code}`;
}

export function drvMessage(code: number): string {
  return MESSAGES[code] ?? `Andor SDK code ${code}`;
}

/** GetTemperature's return codes: states, not failures. */
export const TEMPERATURE_STATES: ReadonlySet<number> = new Set([
  DRV.TEMP_OFF,
  DRV.TEMP_NOT_STABILIZED,
  DRV.TEMP_STABILIZED,
  DRV.TEMP_NOT_REACHED,
  DRV.TEMP_OUT_RANGE,
  DRV.TEMP_NOT_SUPPORTED,
  DRV.TEMP_DRIFT,
]);

export function isTemperatureState(code: number): boolean {
  return TEMPERATURE_STATES.has(code);
}

/** GetStatus values that mean the acquisition failed (the SDK stopped it). */
export const ACQUISITION_FAILURES: ReadonlySet<number> = new Set([
  DRV.ACQ_BUFFER,
  DRV.ACQ_DOWNFIFO_FULL,
  DRV.ERROR_ACK,
  DRV.SPOOLERROR,
  DRV.KINETIC_TIME_NOT_MET,
  DRV.ACCUM_TIME_NOT_MET,
]);

/** Failures after which an abort + one retry of the acquisition is worth it (data overflow, not a dead link). */
export const RETRYABLE: ReadonlySet<number> = new Set([DRV.ACQ_BUFFER, DRV.ACQ_DOWNFIFO_FULL]);

/** A DeviceError carrying an Andor SDK2 code (number) and its name (`codeName`, e.g. "DRV_P1INVALID"). */
export class AndorError extends DeviceError {
  constructor(device: string, readonly fn: string, code: number, detail?: string) {
    super(`${device}: ${fn} returned ${code} (${drvName(code)}): ${drvMessage(code)}${detail ? ` — ${detail}` : ""}`, device, code, drvName(code));
    this.name = "AndorError";
  }
}

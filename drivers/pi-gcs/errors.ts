/** GCS 2.0 error codes (controller-side positive, host-side negative) and the named DeviceError for them. */
import { DeviceError } from "../../runtime/devices/common.ts";

export interface GcsErrorInfo {
  name: string;
  message: string;
}

/** The mapped codes. Others are reported as `GCS_ERROR_<n>` with the raw number. */
export const GCS_ERRORS: Readonly<Record<number, GcsErrorInfo>> = {
  0: { name: "NO_ERROR", message: "no error" },
  1: { name: "PARAM_SYNTAX", message: "parameter syntax error" },
  2: { name: "UNKNOWN_COMMAND", message: "unknown command" },
  3: { name: "COMMAND_TOO_LONG", message: "command length out of limits or command buffer overrun" },
  5: { name: "SERVO_OFF_OR_UNREFERENCED", message: "unallowable move attempted on unreferenced axis, or move attempted with servo off" },
  7: { name: "POS_OUT_OF_LIMITS", message: "position out of limits" },
  8: { name: "VEL_OUT_OF_LIMITS", message: "velocity out of limits" },
  10: { name: "STOP", message: "controller was stopped by command" },
  15: { name: "INVALID_AXIS_IDENTIFIER", message: "invalid axis identifier" },
  17: { name: "PARAM_OUT_OF_RANGE", message: "parameter out of range" },
  24: { name: "WRONG_NUMBER_OF_PARAMETERS", message: "incorrect number of parameters" },
  26: { name: "MISSING_PARAMETER", message: "parameter missing" },
  54: { name: "UNKNOWN_PARAMETER", message: "unknown parameter" },
  73: { name: "WAVE_GENERATOR_ACTIVE", message: "motion commands are not allowed while the wave generator is active" },
  79: { name: "OPEN_LOOP_WITH_SERVO_ON", message: "open-loop command not allowed while servo is on" },
  216: { name: "ON_LIMIT_SWITCH", message: "controller is on a limit switch" },
  506: { name: "SERVO_UNSTABLE", message: "servo is unstable (position oscillating)" },
  604: { name: "POSITION_ERROR_TOO_HIGH", message: "position error too high (following error)" },
  1024: { name: "MOTION_ERROR", message: "motion error: position error too large, servo switched off" },
  [-1]: { name: "COM_ERROR", message: "communication error (connection lost or port error)" },
  [-2]: { name: "SEND_ERROR", message: "error while sending to the controller" },
  [-4]: { name: "NOT_CONNECTED", message: "not connected to a controller" },
  [-6]: { name: "CONNECTION_FAILED", message: "connection to the controller failed" },
  [-7]: { name: "TIMEOUT", message: "timeout waiting for the controller" },
  [-1004]: { name: "UNEXPECTED_RESPONSE", message: "unexpected response from the controller" },
  [-1008]: { name: "CONTROLLER_BUSY", message: "controller is busy" },
};

export const GCS = {
  SYNTAX: 1,
  UNKNOWN_COMMAND: 2,
  TOO_LONG: 3,
  SERVO_OFF: 5,
  OUT_OF_LIMITS: 7,
  VEL_OUT_OF_LIMITS: 8,
  STOPPED: 10,
  INVALID_AXIS: 15,
  PARAM_OUT_OF_RANGE: 17,
  WRONG_PARAM_COUNT: 24,
  MISSING_PARAM: 26,
  UNKNOWN_PARAM: 54,
  WAVE_GENERATOR_ACTIVE: 73,
  OPEN_LOOP_SERVO_ON: 79,
  ON_LIMIT_SWITCH: 216,
  SERVO_UNSTABLE: 506,
  POSITION_ERROR_TOO_HIGH: 604,
  MOTION_ERROR: 1024,
  COM_ERROR: -1,
  SEND_ERROR: -2,
  NOT_CONNECTED: -4,
  CONNECTION_FAILED: -6,
  TIMEOUT: -7,
  UNEXPECTED_RESPONSE: -1004,
  CONTROLLER_BUSY: -1008,
} as const;

export function gcsErrorName(code: number): string {
  return GCS_ERRORS[code]?.name ?? `GCS_ERROR_${code}`;
}

export function gcsErrorMessage(code: number): string {
  return GCS_ERRORS[code]?.message ?? `controller error ${code}`;
}

/** A DeviceError carrying a GCS code (number) and its name (`codeName`). */
export class GcsError extends DeviceError {
  constructor(device: string, code: number, detail?: string) {
    super(`${device}: GCS error ${code} (${gcsErrorName(code)}): ${gcsErrorMessage(code)}${detail ? ` — ${detail}` : ""}`, device, code, gcsErrorName(code));
    this.name = "GcsError";
  }
}

export function gcsError(device: string, code: number, detail?: string): GcsError {
  return new GcsError(device, code, detail);
}

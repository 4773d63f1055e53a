/**
 * libXGL_DPP error codes (the `error_code` enum of the public header DLL_DPP_Callback.h) and the named
 * DeviceError for them. Host-side conditions of this driver use string codes (STOPPED, LIBRARY_NOT_FOUND, ...).
 */
import { DeviceError } from "../../runtime/devices/common.ts";

export interface DanteCodeInfo {
  name: string;
  message: string;
}

/** Library codes. Unlisted codes (the Win32/FT debugging ones) are reported as `DLL_ERROR_<n>`. */
export const DANTE_ERRORS: Readonly<Record<number, DanteCodeInfo>> = {
  0: { name: "DLL_NO_ERROR", message: "no error" },
  1: { name: "DLL_MULTI_THREAD_ERROR", message: "another thread holds the lock on the library functions" },
  4: { name: "DLL_NOT_INITIALIZED", message: "library not initialised (InitLibrary not called or failed)" },
  5: { name: "DLL_CHAR_STRING_SIZE", message: "supplied string buffer too short" },
  6: { name: "DLL_ARRAY_SIZE", message: "supplied array too short for the data" },
  42: { name: "DLL_ALREADY_INITIALIZED", message: "library already initialised" },
  57: { name: "DLL_COMM_ERROR", message: "communication error or timeout (device gone, cable, network)" },
  60: { name: "DLL_ARGUMENT_OUT_OF_RANGE", message: "argument out of the valid range" },
  61: { name: "DLL_RUNTIME_ERROR", message: "generic runtime error" },
  62: { name: "DLL_WRONG_ID", message: "identifier (serial or IP) not among the connected systems" },
  64: { name: "DLL_TIMEOUT", message: "operation timed out" },
  67: { name: "DLL_CLOSING", message: "error while closing the library" },
  68: { name: "DLL_RUNNING", message: "not possible while the system is running" },
  69: { name: "DLL_WRONG_MODE", message: "function not appropriate for the current mode" },
  74: { name: "DLL_INVALID_FIRMWARE", message: "invalid firmware on a board (load a new one)" },
  75: { name: "DLL_UNSUPPORTED_BY_FIRMWARE", message: "function not supported by the board firmware" },
  76: { name: "DLL_THREAD_COMM_ERROR", message: "error in the communication between library threads" },
  78: { name: "DLL_MISSED_SPECTRA", message: "one or more spectra missed" },
  79: { name: "DLL_MULTIPLE_INSTANCES", message: "library opened by more than one process (only one process may use it)" },
  80: { name: "DLL_THROUGHPUT_ISSUE", message: "download rate at least 15% below the expected one (check the link speed)" },
  81: { name: "DLL_INCOMPLETE_CMD", message: "a communication error truncated a command" },
  82: { name: "DLL_MEMORY_FULL", message: "hardware memory full during the acquisition (throughput too low)" },
  83: { name: "DLL_SLAVE_COMM_ERROR", message: "communication error with slave boards" },
  84: { name: "DLL_SOFTWARE_MEMORY_FULL", message: "library memory full: data or events were discarded" },
};

/** The codes this project reacts to, by name. */
export const DANTE = {
  OK: 0,
  THREAD_LOCK: 1,
  NOT_INITIALIZED: 4,
  ALREADY_INITIALIZED: 42,
  COMM_ERROR: 57,
  ARGUMENT_OUT_OF_RANGE: 60,
  RUNTIME_ERROR: 61,
  WRONG_ID: 62,
  TIMEOUT: 64,
  RUNNING: 68,
  WRONG_MODE: 69,
  INVALID_FIRMWARE: 74,
  MISSED_SPECTRA: 78,
  MULTIPLE_INSTANCES: 79,
  THROUGHPUT_ISSUE: 80,
  MEMORY_FULL: 82,
  SLAVE_COMM_ERROR: 83,
  SOFTWARE_MEMORY_FULL: 84,
} as const;

/** Host-side (driver) conditions: string codes so they never collide with library numbers. */
export const DANTE_HOST = {
  /** The acquisition was ended by stop() or the caller's AbortSignal. */
  STOPPED: "STOPPED",
  /** libXGL_DPP could not be loaded. */
  LIBRARY_NOT_FOUND: "LIBRARY_NOT_FOUND",
  /** A symbol the binding needs is missing from the loaded library (other library version). */
  SYMBOL_MISSING: "SYMBOL_MISSING",
  /** An operation was called before connect() or after close(). */
  NOT_CONNECTED: "NOT_CONNECTED",
} as const;

/** Codes after which the connection is suspect: the driver runs its recovery before the next operation. */
export const DANTE_FATAL_CODES: ReadonlySet<number> = new Set([1, 4, 57, 62, 64, 74, 76, 81, 83]);

export function danteErrorName(code: number | string): string {
  if (typeof code === "string") return code;
  return DANTE_ERRORS[code]?.name ?? `DLL_ERROR_${code}`;
}

export function danteErrorMessage(code: number | string): string {
  if (typeof code === "string") return code.toLowerCase().replace(/_/g, " ");
  return DANTE_ERRORS[code]?.message ?? `library error ${code}`;
}

/** A DeviceError carrying a libXGL_DPP code (number) or a host-side code (string), with its name. */
export class DanteError extends DeviceError {
  constructor(device: string, code: number | string, detail?: string) {
    const head = typeof code === "number" ? `DANTE error ${code} (${danteErrorName(code)}): ${danteErrorMessage(code)}` : `DANTE ${code}`;
    super(`${device}: ${head}${detail ? ` — ${detail}` : ""}`, device, code, danteErrorName(code));
    this.name = "DanteError";
  }
}

export function danteError(device: string, code: number | string, detail?: string): DanteError {
  return new DanteError(device, code, detail);
}

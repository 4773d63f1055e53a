/** What every device offers: identity, lifecycle, and a typed error. */
export interface DeviceInfo {
  /** Device class, e.g. "positioner", "area-detector". */
  kind: DeviceKind;
  /** Vendor/model string as the device reports it (e.g. "PI E-727 (twin)"). */
  model: string;
  /** Serial number or connection string, if known. */
  serial?: string;
  /** True for simulated twins. */
  simulated: boolean;
}

export type DeviceKind = "positioner" | "area-detector" | "mca" | "setpoint" | "io";

export interface Device {
  info(): DeviceInfo;
  /** Open the connection / initialise the SDK. Idempotent. */
  connect(): Promise<void>;
  /** Release the connection / SDK. Idempotent; never throws for an already closed device. */
  close(): Promise<void>;
}

/** An error reported by a device or its driver, with the device's own code where it has one. */
export class DeviceError extends Error {
  constructor(
    message: string,
    readonly device: string,
    readonly code?: number | string,
    readonly codeName?: string,
  ) {
    super(message);
    this.name = "DeviceError";
  }
}

/** Element type of a bulk array. */
export type DType = "uint8" | "uint16" | "uint32" | "int16" | "int32" | "float32" | "float64";

export type TypedArrayOf<D extends DType> = D extends "uint8"
  ? Uint8Array
  : D extends "uint16"
    ? Uint16Array
    : D extends "uint32"
      ? Uint32Array
      : D extends "int16"
        ? Int16Array
        : D extends "int32"
          ? Int32Array
          : D extends "float32"
            ? Float32Array
            : Float64Array;

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

export type TypedArrayCtor =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** The typed-array class of each DType (its BYTES_PER_ELEMENT is the element size). */
export const TYPED_ARRAY: Record<DType, TypedArrayCtor> = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** Bytes per element of each DType. */
export const DTYPE_BYTES: Record<DType, number> = Object.fromEntries(Object.entries(TYPED_ARRAY).map(([k, c]) => [k, c.BYTES_PER_ELEMENT])) as Record<DType, number>;

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

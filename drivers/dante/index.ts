/**
 * XGLab DANTE (libXGL_DPP): codes, the SDK interface, the koffi binding and the Mca driver.
 * See docs/drivers-dante-usb.md.
 */
import type { Clock } from "../../runtime/clock.ts";
import { XglabDante, type XglabDanteOptions } from "./driver.ts";
import { loadDanteSdk } from "./ffi.ts";
import type { DanteSdk } from "./sdk.ts";

export * from "./codes.ts";
export * from "./sdk.ts";
export * from "./ffi.ts";
export * from "./driver.ts";

export type CreateXglabDanteOptions = Omit<XglabDanteOptions, "sdk" | "clock"> & {
  /** libXGL_DPP path or name (default $DONKI_DANTE_LIBRARY, else libXGL_DPP on the loader path). Ignored with `sdk`. */
  library?: string;
  /** An SDK to use instead of loading the library (e.g. createDanteSdkTwin(...) from simulators/sdk/dante). */
  sdk?: DanteSdk;
  clock?: Clock;
};

/**
 * A DANTE Mca: over `sdk` if given, else over the real library loaded now (throws a DanteError
 * LIBRARY_NOT_FOUND naming the library when it is not there).
 */
export function createXglabDante(o: CreateXglabDanteOptions = {}): XglabDante {
  const { library, sdk, ...rest } = o;
  return new XglabDante({ ...rest, sdk: sdk ?? loadDanteSdk(library) });
}

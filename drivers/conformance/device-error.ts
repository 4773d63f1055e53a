import { expect } from "vitest";
import { DeviceError } from "../../runtime/devices/common.ts";

/** Await a call that must fail with a DeviceError, and return the error (for checking its code). */
export async function deviceError(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return e as DeviceError;
  }
  throw new Error("expected a DeviceError, the call succeeded");
}

/** Princeton Instruments CCD (PVCAM) driver: constants, binding interface, koffi binding, driver. See docs/drivers-ccd.md. */
export * from "./codes.ts";
export * from "./sdk.ts";
export * from "./ffi.ts";
export * from "./driver.ts";

/** Andor iXon (SDK2) driver: codes, binding interface, koffi binding, driver. See docs/drivers-ccd.md. */
export * from "./codes.ts";
export * from "./sdk.ts";
export * from "./ffi.ts";
export * from "./native-library.ts";
export * from "./driver.ts";

export * from "./common.ts";
export * from "./positioner.ts";
export * from "./area-detector.ts";
export * from "./mca.ts";
export * from "./setpoint.ts";
export * from "./io.ts";

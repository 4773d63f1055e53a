/** The PVCAM twin: the PvcamSdk binding interface backed by the Princeton Instruments CCD twin. */
export * from "./twin.ts";

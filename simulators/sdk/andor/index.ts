/** The Andor SDK2 twin: the AndorSdk2 binding interface backed by the iXon camera twin. */
export * from "./sdk-faults.ts";
export * from "./twin.ts";

/** The simulated libXGL_DPP (DanteSdk interface of drivers/dante/sdk.ts) backed by XglabDanteTwin. */
export * from "./twin.ts";

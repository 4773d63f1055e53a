export * from "./errors.ts";
export * from "./framer.ts";
export * from "./transport.ts";
export * from "./controller.ts";
export * from "./stage.ts";

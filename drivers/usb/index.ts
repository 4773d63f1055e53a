/** USB discovery and hot-unplug: a small backend interface, the `usb` package behind it, a W3C fake, known ids. */
export * from "./backend.ts";
export * from "./known.ts";
export * from "./webusb.ts";
export * from "./node-usb.ts";
export * from "./fake.ts";
export * from "./watcher.ts";

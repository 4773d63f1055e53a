/** Device discovery: serial ports, USB instruments, TCP controllers. */
export * from "./devices.ts";

import { pino, type Logger } from "pino";

export type { Logger };

/** Structured logs on stderr (stdout stays free for results). Level from DONKI_LOG (default "info"). */
export function createLogger(name: string, level = process.env.DONKI_LOG ?? "info"): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything (library use without logs). */
export const silentLogger: Logger = pino({ level: "silent" });

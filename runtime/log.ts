import { pino, type Logger } from "pino";
import { LEVEL_VALUES, parseRecord, prettyRecord, type LogFormat } from "./log-format.ts";

export type { Logger };

export interface LoggerOptions {
  /** pretty (one human line, local time) or json (pino's line, for scripts). Default DONKI_LOG_FORMAT, else pretty. */
  format?: LogFormat;
  /** Where each line goes (the operator's screen prints it above its status area). Default stderr. */
  write?: (line: string) => void;
  /** Also called with every record written (a player forwards its records to the Director). */
  tap?: (rec: Record<string, unknown>) => void;
}

/** DONKI_LOG_FORMAT (pretty | json), else pretty. */
export function envLogFormat(): LogFormat {
  return process.env.DONKI_LOG_FORMAT === "json" ? "json" : "pretty";
}

/**
 * Logs on stderr (stdout stays free for results). Level from DONKI_LOG (default "info"), format from
 * DONKI_LOG_FORMAT (default pretty: `23:51:07.042 WARN  xrf: message  key=value`).
 */
export function createLogger(name: string, level = process.env.DONKI_LOG ?? "info", o: LoggerOptions = {}): Logger {
  if (!(level in LEVEL_VALUES)) {
    process.stderr.write(`donki: log level '${level}' is not one of ${Object.keys(LEVEL_VALUES).join(", ")}; using info\n`);
    level = "info";
  }
  const format = o.format ?? envLogFormat();
  if (format === "json" && !o.write && !o.tap) return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
  const out = o.write ?? ((l: string) => void process.stderr.write(l + "\n"));
  const tap = o.tap;
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split("\n")) {
        if (!line) continue;
        const rec = format === "pretty" || tap ? parseRecord(line) : undefined;
        out(rec && format === "pretty" ? prettyRecord(rec) : line);
        if (rec && tap) tap(rec);
      }
    },
  };
  return pino({ name, level, base: { pid: process.pid } }, destination);
}

/** A logger that drops everything (library use without logs). */
export const silentLogger: Logger = pino({ level: "silent" });

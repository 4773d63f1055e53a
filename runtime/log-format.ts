/**
 * The human form of a log record (pino's JSON line): local time, level, who, message, then the other fields as
 * key=value. One line per record, for the operator's terminal; `--log-format json` keeps the JSON line for scripts.
 */

export type LogFormat = "pretty" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["pretty", "json"];

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
/** pino's level names to numbers (DONKI_LOG, -q / -v). */
export const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

const HIDDEN = new Set(["level", "time", "msg", "pid", "hostname", "name", "v", "component", "player"]);

/** 23:51:07.042 (local time) */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function value(v: unknown): string {
  if (typeof v === "string") return /[\s="]/.test(v) || v === "" ? JSON.stringify(v) : v;
  if (v !== null && typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Who wrote the record: the player, the component (director, writer) or the logger's name. */
function source(rec: Record<string, unknown>, fallback?: string): string {
  // a player's own record forwarded by the Director (player on another host): `name@host`
  if (rec.forwarded === true && typeof rec.player === "string") return typeof rec.host === "string" ? `${rec.player}@${rec.host}` : rec.player;
  if (typeof rec.player === "string" && rec.component === undefined) return rec.player;
  const parts = [rec.component, typeof rec.name === "string" ? rec.name.replace(/^player:/, "") : undefined].filter((x): x is string => typeof x === "string");
  return fallback ?? parts[0] ?? "donki";
}

/** One pino record as one human line: `23:51:07.042 WARN  xrf: message  key=value ...`. */
export function prettyRecord(rec: Record<string, unknown>, o: { source?: string } = {}): string {
  const lvl = typeof rec.level === "number" ? (LEVEL_NAMES[rec.level] ?? String(rec.level)) : String(rec.level ?? "INFO").toUpperCase();
  const t = typeof rec.time === "number" ? localTime(rec.time) : localTime(Date.now());
  const fields: string[] = [];
  const forwarded = rec.forwarded === true;
  for (const [k, v] of Object.entries(rec)) if (!HIDDEN.has(k) && v !== undefined && !(forwarded && (k === "host" || k === "forwarded"))) fields.push(`${k}=${value(v)}`);
  // a player's name that is not the source stays visible (the Director logging about a player)
  const src = source(rec, o.source);
  if (typeof rec.player === "string" && rec.player !== src && !forwarded) fields.unshift(`player=${rec.player}`);
  const msg = typeof rec.msg === "string" ? rec.msg : "";
  return `${t} ${lvl.padEnd(5)} ${src}: ${msg}${fields.length ? `  ${fields.join(" ")}` : ""}`;
}

/** A JSON record's level number, or undefined for a line that is not a pino record. */
export function parseRecord(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const rec = JSON.parse(line) as unknown;
    return rec !== null && typeof rec === "object" && !Array.isArray(rec) && "level" in rec ? (rec as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The level from DONKI_LOG / -q / -v, checked: a clear refusal instead of pino's stack trace. */
export function checkLevel(level: string): string {
  if (!(level in LEVEL_VALUES)) throw new Error(`log level must be one of ${Object.keys(LEVEL_VALUES).join(", ")}, got '${level}'`);
  return level;
}

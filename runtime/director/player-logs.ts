/**
 * Players' log records forwarded to the Director (`log` messages, docs/protocol.md): a player on another host
 * reaches the operator's terminal and the Director's log file this way. Each player gets a token bucket (a burst,
 * then a steady rate); what is over it is counted and reported once per interval, so a chatty or hostile peer
 * cannot flood the operator's screen or the Director's loop.
 */
import type { Logger } from "pino";
import type { LogLevelName, LogMsg } from "../protocol/messages.ts";

export interface PlayerLogRelayOptions {
  /** Records per second per player, steady (default 20). */
  perSecond?: number;
  /** Records a player may send at once (default 100). */
  burst?: number;
  /** A message longer than this is cut (characters, default 2000). */
  maxChars?: number;
}

/** Keys of the Director's own record that a forwarded field may not replace. */
const RESERVED = new Set(["level", "time", "msg", "pid", "hostname", "name", "v", "player", "host", "forwarded", "component", "err"]);

interface Bucket {
  tokens: number;
  at: number;
  dropped: number;
  reportedAt: number;
}

/** The level a Director with this logger level asks its players for (absent: none). */
export function forwardedLevel(loggerLevel: string): LogLevelName | undefined {
  switch (loggerLevel) {
    case "trace":
    case "debug":
      return "debug";
    case "info":
    case "warn":
    case "error":
    case "fatal":
      return loggerLevel;
    default:
      return undefined; // silent
  }
}

export class PlayerLogRelay {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly maxChars: number;

  constructor(
    private readonly log: Logger,
    o: PlayerLogRelayOptions = {},
  ) {
    this.perSecond = o.perSecond ?? 20;
    this.burst = o.burst ?? 100;
    this.maxChars = o.maxChars ?? 2000;
  }

  /** One record from a registered player, `now` in ms (performance.now()). */
  take(player: { name: string; host: string }, m: LogMsg, now: number): void {
    let b = this.buckets.get(player.name);
    if (!b) this.buckets.set(player.name, (b = { tokens: this.burst, at: now, dropped: 0, reportedAt: now }));
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      b.dropped++;
      if (now - b.reportedAt >= 5000) this.reportDropped(player.name, b, now);
      return;
    }
    b.tokens -= 1;
    if (b.dropped > 0) this.reportDropped(player.name, b, now);
    const msg = m.msg.length > this.maxChars ? `${m.msg.slice(0, this.maxChars)}... (${m.msg.length} characters)` : m.msg;
    // `player` names the source on the operator's line (log-format.ts); the record's own fields follow
    const fields: Record<string, unknown> = {};
    for (const k in m.fields) {
      if (RESERVED.has(k) || k.length > 64) continue;
      const v = m.fields[k];
      fields[k] = typeof v === "string" && v.length > 500 ? `${v.slice(0, 500)}...` : v;
    }
    this.log[m.level]({ ...fields, player: player.name, host: player.host, forwarded: true }, msg);
  }

  /** A player left: its counters go (a new process of the same name starts afresh). */
  forget(name: string): void {
    this.buckets.delete(name);
  }

  private reportDropped(name: string, b: Bucket, now: number): void {
    this.log.warn({ player: name, component: "director" }, `${b.dropped} log record(s) from player '${name}' not shown (over ${this.perSecond}/s)`);
    b.dropped = 0;
    b.reportedAt = now;
  }
}

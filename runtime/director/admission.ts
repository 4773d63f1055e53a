/**
 * Who may register with a Director: the run's credential (a per-run token without CURVE), the names the scenario
 * invites (plus those an operator admits), pinned levels, and the size limit of declared rows. Pure decisions, no
 * sockets: the Director asks `check(hello)` and sends the `reject` it returns. See docs/protocol.md "Admission".
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { byteSize } from "../protocol/codec.ts";
import type { Hello } from "../protocol/messages.ts";
import { checkHelloProof, normaliseKeys, type AuthorizedKey } from "../transport/roles.ts";

/** Environment variable through which `donki run` hands the run token to the players it starts. */
export const TOKEN_ENV = "DONKI_RUN_TOKEN";

/** Default limit of one declared row (one trigger of one stream), bytes: 64 MiB (a 4096 x 4096 float32 frame). */
export const DEFAULT_MAX_ROW_BYTES = 64 * 1024 * 1024;
/** Most streams one player may declare. */
export const MAX_STREAMS = 256;

export interface AdmissionOptions {
  /**
   * The run's credential: every `hello` must carry it in its `token` field (compared in constant time). Undefined:
   * no token is asked (CURVE runs, where the credential is the client key, and library use).
   */
  token?: string;
  /** Names admitted; undefined admits any name (library use). `admit(name)` adds one. */
  names?: Iterable<string>;
  /** Levels the scenario pins for named players (a declared level that differs is overridden and reported). */
  pinnedLevels?: Record<string, number>;
  /** Largest declared row, bytes (default DEFAULT_MAX_ROW_BYTES). */
  maxRowBytes?: number;
  /** Under CURVE: the Director's keys and the authorised keys with roles (name-limited player keys need a proof). */
  curve?: { publicKey: string; secretKey: string; authorizedKeys: ReadonlyArray<string | AuthorizedKey> };
}

export type RefusalCode = "bad-token" | "not-admitted" | "row-too-large" | "bad-hello" | "role" | "registry-full";

export interface Refusal {
  code: RefusalCode;
  reason: string;
}

/** A fresh 128-bit run token, 32 hex characters. */
export function newRunToken(): string {
  return randomBytes(16).toString("hex");
}

export class Admission {
  private readonly token: Buffer | null;
  private readonly admittedNames: Set<string> | null;
  readonly pinned: Record<string, number>;
  readonly maxRowBytes: number;
  private readonly curve: AdmissionOptions["curve"];
  private readonly curveKeys: Map<string, AuthorizedKey>;
  /** Some player key is limited to names: every hello must prove which key sends it. */
  private readonly needsProof: boolean;

  constructor(o: AdmissionOptions = {}) {
    this.curve = o.curve;
    this.curveKeys = new Map(normaliseKeys(o.curve?.authorizedKeys ?? []).map((k) => [k.key, k]));
    this.needsProof = [...this.curveKeys.values()].some((k) => k.names !== undefined);
    this.token = o.token !== undefined ? Buffer.from(o.token, "utf8") : null;
    this.admittedNames = o.names ? new Set(o.names) : null;
    this.pinned = { ...(o.pinnedLevels ?? {}) };
    this.maxRowBytes = o.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
  }

  get requiresToken(): boolean {
    return this.token !== null;
  }

  get open(): boolean {
    return this.admittedNames === null;
  }

  /** The names admitted (null: any). */
  get names(): ReadonlySet<string> | null {
    return this.admittedNames;
  }

  /** Let a player the scenario does not name register (operator: `donki ctl admit NAME`). */
  admit(name: string): void {
    this.admittedNames?.add(name);
  }

  isAdmitted(name: string): boolean {
    return this.admittedNames === null || this.admittedNames.has(name);
  }

  /** null when the hello may register; otherwise why not (sent to the peer in a `reject`). */
  check(h: Hello): Refusal | null {
    if (this.token) {
      const given = typeof h.token === "string" ? Buffer.from(h.token, "utf8") : null;
      if (!given) return { code: "bad-token", reason: `player '${h.name}': this run needs its token in the hello ('token' field; donki player --token-file FILE or ${TOKEN_ENV})` };
      if (given.length !== this.token.length || !timingSafeEqual(given, this.token)) return { code: "bad-token", reason: `player '${h.name}': wrong run token` };
    }
    if (this.needsProof && this.curve) {
      const k = typeof h.key === "string" ? this.curveKeys.get(h.key) : undefined;
      if (!k || typeof h.proof !== "string" || !checkHelloProof(this.curve.secretKey, this.curve.publicKey, k.key, h.name, h.proof))
        return { code: "role", reason: `player '${h.name}': this Director limits player keys to names, so a hello must carry its CURVE 'key' and 'proof' (docs/protocol.md)` };
      if (k.role !== "player" && k.role !== "any") return { code: "role", reason: `player '${h.name}': key ${k.key} has role ${k.role}, not player` };
      if (k.names && !k.names.includes(h.name)) return { code: "role", reason: `player '${h.name}': key ${k.key} may register only ${k.names.join(", ")}` };
    }
    if (!this.isAdmitted(h.name))
      return { code: "not-admitted", reason: `player '${h.name}' is not in this run's scenario (an operator can admit it: donki ctl admit ${h.name})` };
    if (h.streams.length > MAX_STREAMS) return { code: "row-too-large", reason: `player '${h.name}' declares ${h.streams.length} streams (at most ${MAX_STREAMS})` };
    for (const s of h.streams) {
      const n = byteSize(s.dtype, s.shape);
      if (n > this.maxRowBytes)
        return {
          code: "row-too-large",
          reason: `player '${h.name}' stream '${s.name}': one row of ${s.dtype} ${JSON.stringify(s.shape)} is ${fmtBytes(n)}, above the Director's limit of ${fmtBytes(this.maxRowBytes)} (donki run|director --max-row-mb)`,
        };
    }
    return null;
  }

  /** The level that applies to a player declaring `declared`, and a notice when the scenario pins another. */
  levelFor(name: string, declared: number): { level: number; notice?: string } {
    const p = this.pinned[name];
    if (p === undefined || p === declared) return { level: declared };
    return { level: p, notice: `player '${name}' declared level ${declared}; the scenario pins level ${p} for this run` };
  }
}

export function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Logs a repeated complaint once, then at most once per `everyMs` with the number suppressed meanwhile. Bounded:
 * at most `maxKeys` keys are remembered (the oldest forgotten first).
 */
export class OnceLog {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly everyMs = 10_000,
    private readonly maxKeys = 1024,
  ) {}

  /** Returns null to stay quiet, or the number of repeats suppressed since the last time (0 the first time). */
  shouldLog(key: string, now: number): number | null {
    const s = this.seen.get(key);
    if (s && now - s.at < this.everyMs) {
      s.suppressed++;
      return null;
    }
    const suppressed = s?.suppressed ?? 0;
    this.seen.delete(key);
    this.seen.set(key, { at: now, suppressed: 0 });
    if (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value!);
    return suppressed;
  }
}

/** Per-peer token buckets (requests per second with a burst), bounded in the number of peers remembered. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxPeers = 4096,
  ) {}

  /** Take one token for `peer`; false if its bucket is empty (the request is dropped). */
  take(peer: string, now: number): boolean {
    let b = this.buckets.get(peer);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
      this.buckets.delete(peer);
    } else {
      b = { tokens: this.burst, at: now };
      if (this.buckets.size >= this.maxPeers) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(peer, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * Encoding and validation of protocol frames. Header = MessagePack map; a data message carries one raw
 * payload frame. Decoding never throws past this module: it returns a ProtocolError describing the reason.
 */
import { Packr } from "msgpackr";
import type { DType } from "../devices/common.ts";
import { LOG_LEVEL_NAMES, PROTOCOL_VERSION } from "./messages.ts";
import type { ControlRequest, DirectorToPlayer, PlayerToDirector, StreamDecl } from "./messages.ts";

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });

export function encode(header: object): Buffer {
  return packr.pack(header);
}

export class ProtocolError extends Error {
  constructor(
    readonly kind: "malformed" | "badVersion",
    message: string,
    /** The message type, when the header got that far (a bad `hello` is answered with `reject`). */
    readonly msgType?: string,
  ) {
    super(message);
    this.name = "ProtocolError";
  }
}

export { DTYPE_BYTES as DTYPE_SIZE } from "../devices/common.ts";
import { DTYPE_BYTES as DTYPE_SIZE } from "../devices/common.ts";

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, x);
}

export function byteSize(dtype: DType, shape: readonly number[]): number {
  let n = DTYPE_SIZE[dtype];
  for (const d of shape) n *= d;
  return n;
}

type Header = Record<string, unknown> & { v: number; type: string };

function decodeHeader(frame: Buffer | undefined): Header | ProtocolError {
  if (!frame || frame.length === 0) return new ProtocolError("malformed", "empty header frame");
  let h: unknown;
  try {
    h = packr.unpack(frame);
  } catch (e) {
    return new ProtocolError("malformed", `header is not MessagePack: ${(e as Error).message}`);
  }
  if (typeof h !== "object" || h === null || Array.isArray(h) || h instanceof Uint8Array)
    return new ProtocolError("malformed", "header is not a map");
  const m = h as Record<string, unknown>;
  if (typeof m.v !== "number") return new ProtocolError("malformed", "header has no numeric 'v' (protocol version)");
  if (m.v !== PROTOCOL_VERSION)
    return new ProtocolError("badVersion", `unsupported protocol version ${String(m.v)} (this side speaks ${PROTOCOL_VERSION})`, typeof m.type === "string" ? m.type : undefined);
  if (typeof m.type !== "string") return new ProtocolError("malformed", "header has no string 'type'");
  return m as Header;
}

const isStr = (x: unknown): x is string => typeof x === "string";
const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);
const isNum = (x: unknown): x is number => typeof x === "number";
const isBool = (x: unknown): x is boolean => typeof x === "boolean";
const isMap = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
const isPhases = (x: unknown): boolean => isMap(x) && Object.keys(x).length <= 32 && Object.values(x).every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0);
const isLogLevel = (x: unknown): boolean => typeof x === "string" && (LOG_LEVEL_NAMES as readonly string[]).includes(x);
const isLogFields = (x: unknown): boolean =>
  isMap(x) && Object.keys(x).length <= 16 && Object.values(x).every((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean");
const isShape = (x: unknown): x is number[] => Array.isArray(x) && x.every((d) => isInt(d) && d >= 0);

type Checks = Record<string, (x: unknown) => boolean>;
const NO_CHECKS: Checks = {};
// the per-trigger messages' checks, made once (not an object per message)
const ACK_NEEDS: Checks = { run: isStr, trig: isInt, lvl: isInt, seq: isInt, ok: isBool };
const ACK_OPTIONAL: Checks = { error: isStr, dt: isNum, pending: isBool, phases: isPhases };
const COMPLETE_OPTIONAL: Checks = { error: isStr, dt: isNum, phases: isPhases };
const TRIG_NEEDS: Checks = { run: isStr, trig: isInt, lvl: isInt, seq: isInt, params: isMap, t: isNum };

function need(h: Header, checks: Checks, optional: Checks = NO_CHECKS): string | null {
  for (const k in checks) if (!checks[k](h[k])) return `'${h.type}' field '${k}' is missing or has the wrong type`;
  for (const k in optional) if (h[k] !== undefined && !optional[k](h[k])) return `'${h.type}' field '${k}' has the wrong type`;
  return null;
}

function checkStreams(x: unknown): string | null {
  if (!Array.isArray(x)) return "'hello' field 'streams' must be an array";
  const names = new Set<string>();
  for (let i = 0; i < x.length; i++) {
    const s = x[i] as StreamDecl;
    if (!isMap(s)) return `stream #${i} is not a map`;
    if (!isStr(s.name) || !/^[A-Za-z0-9_.-]+$/.test(s.name)) return `stream #${i} has a bad name (letters, digits, _ . - only)`;
    if (names.has(s.name)) return `stream '${s.name}' declared twice`;
    names.add(s.name);
    if (!isDType(s.dtype)) return `stream '${s.name}' has unknown dtype '${String(s.dtype)}'`;
    if (!isShape(s.shape)) return `stream '${s.name}' has a bad shape`;
    if (!["signal", "positioner", "monitor", "metadata"].includes(s.role as string)) return `stream '${s.name}' has unknown role '${String(s.role)}'`;
    if (s.units !== undefined && !isStr(s.units)) return `stream '${s.name}' units must be a string`;
    if (s.alias !== undefined && !isStr(s.alias)) return `stream '${s.name}' alias must be a string`;
    if (s.axis !== undefined) {
      const a = s.axis as unknown as Record<string, unknown>;
      if (!isMap(a) || !isStr(a.name) || !/^[A-Za-z0-9_]+$/.test(a.name) || !isStr(a.units) || !isNum(a.offset) || !isNum(a.step))
        return `stream '${s.name}' axis must be {name, units, offset, step}`;
      if (s.shape.length === 0) return `stream '${s.name}' is a scalar: it cannot have an axis`;
    }
  }
  return null;
}

/** A decoded player-channel message from a player, or the reason it was rejected. */
export type DecodedFromPlayer = { msg: PlayerToDirector; payloads?: Buffer[] } | ProtocolError;

export function decodeFromPlayer(frames: Buffer[], offset = 0): DecodedFromPlayer {
  const h = decodeHeader(frames[offset]);
  if (h instanceof ProtocolError) return h;
  const extra = frames.length - offset - 1;
  let err: string | null = null;
  switch (h.type) {
    case "ack":
      err = need(h, ACK_NEEDS, ACK_OPTIONAL);
      break;
    case "complete":
      err = need(h, ACK_NEEDS, COMPLETE_OPTIONAL);
      break;
    case "hb":
    case "bye":
      break;
    case "log":
      // t: a 64-bit integer (a client that packs epoch ms as uint64) is as good as a float
      err = need(h, { level: isLogLevel, msg: isStr }, { t: (x) => isNum(x) || typeof x === "bigint", fields: isLogFields });
      break;
    case "data": {
      err = need(h, { run: isStr, trig: isInt }) ?? (Array.isArray(h.rows) && h.rows.length > 0 ? null : "'data' field 'rows' must be a non-empty array");
      if (!err) {
        const rows = h.rows as Array<Record<string, unknown>>;
        if (extra !== rows.length) err = `'data' declares ${rows.length} row(s) but carries ${extra} payload frame(s)`;
        for (let i = 0; !err && i < rows.length; i++) {
          const r = rows[i];
          if (!isMap(r) || !isStr(r.stream) || !isDType(r.dtype) || !isShape(r.shape)) err = `'data' row #${i} needs stream, dtype and shape`;
          else {
            const want = byteSize(r.dtype as DType, r.shape as number[]);
            const got = frames[offset + 1 + i].length;
            if (want !== got) err = `'data' payload for stream '${String(r.stream)}' trigger ${String(h.trig)} is ${got} bytes, header says ${want} (${String(r.dtype)} ${JSON.stringify(r.shape)})`;
          }
        }
      }
      if (err) return new ProtocolError("malformed", err);
      return { msg: h as unknown as PlayerToDirector, payloads: frames.slice(offset + 1) };
    }
    case "ready":
    case "done":
      err = need(h, { run: isStr, seq: isInt, ok: isBool }, { error: isStr });
      break;
    case "hello":
      err =
        need(h, { name: isStr, level: isInt, instance: isStr, pid: isInt, host: isStr, device: isMap }, { token: isStr, key: isStr, proof: isStr }) ??
        checkStreams(h.streams) ??
        (h.join !== "next-trigger" && h.join !== "next-run" ? "'hello' field 'join' must be 'next-trigger' or 'next-run'" : null) ??
        (!/^[A-Za-z0-9_.-]{1,64}$/.test(h.name as string) ? `player name '${String(h.name)}' is not valid (1-64 of letters, digits, _ . -)` : null) ??
        ((h.level as number) < -1 ? `level ${String(h.level)} is not valid (-1 disables, 0.. are levels)` : null);
      break;
    default:
      err = `unknown message type '${h.type}' on the player channel`;
  }
  if (err) return new ProtocolError("malformed", err, h.type);
  if (extra !== 0) return new ProtocolError("malformed", `'${h.type}' must be a single frame, got ${extra + 1}`, h.type);
  return { msg: h as unknown as PlayerToDirector };
}

export function decodeFromDirector(frames: Buffer[]): DirectorToPlayer | ProtocolError {
  const h = decodeHeader(frames[0]);
  if (h instanceof ProtocolError) return h;
  let err: string | null = null;
  switch (h.type) {
    case "trig":
      err = need(h, TRIG_NEEDS);
      break;
    case "hb":
      break;
    case "pre":
      err = need(h, { run: isStr, seq: isInt, config: isMap, t: isNum });
      break;
    case "post":
      err = need(h, { run: isStr, seq: isInt, status: isStr });
      break;
    case "abort":
      err = need(h, { run: isStr });
      break;
    case "cancel":
      err = need(h, { run: isStr, seq: isInt });
      break;
    case "welcome":
      err = need(h, { name: isStr, session: isStr, hbInterval: isInt, hbTimeout: isInt }, { level: isInt, notice: isStr, logs: isLogLevel });
      break;
    case "reject":
    case "error":
      err = need(h, { reason: isStr }, { code: isStr });
      break;
    case "shutdown":
      err = need(h, {}, { reason: isStr });
      break;
    default:
      err = `unknown message type '${h.type}' from the Director`;
  }
  if (err) return new ProtocolError("malformed", err);
  if (frames.length !== 1) return new ProtocolError("malformed", `'${h.type}' must be a single frame, got ${frames.length}`);
  return h as unknown as DirectorToPlayer;
}

const CONTROL_CMDS = new Set(["status", "pause", "resume", "stop", "abort", "disable", "enable", "priority", "admit"]);

export function decodeControl(frames: Buffer[], offset = 0): ControlRequest | ProtocolError {
  const h = decodeHeader(frames[offset]);
  if (h instanceof ProtocolError) return h;
  if (h.type !== "control") return new ProtocolError("malformed", `unknown message type '${h.type}' on the control channel`);
  if (!(isStr(h.id) || isInt(h.id))) return new ProtocolError("malformed", "'control' field 'id' is missing");
  if (!isStr(h.cmd) || !CONTROL_CMDS.has(h.cmd)) return new ProtocolError("malformed", `unknown control command '${String(h.cmd)}'`);
  if ((h.cmd === "disable" || h.cmd === "enable" || h.cmd === "priority" || h.cmd === "admit") && !isStr(h.player))
    return new ProtocolError("malformed", `control '${h.cmd}' needs a 'player'`);
  if (h.cmd === "priority" && !(isInt(h.level) && (h.level as number) >= -1))
    return new ProtocolError("malformed", "control 'priority' needs an integer 'level' >= -1");
  return h as unknown as ControlRequest;
}

/** View a payload as a typed array of its dtype, copying only when the buffer is misaligned. */
export function viewAs(dtype: DType, buf: Uint8Array): ArrayBufferView {
  const size = DTYPE_SIZE[dtype];
  let b = buf;
  if (b.byteOffset % size !== 0) b = new Uint8Array(b); // copy to align
  const n = b.byteLength / size;
  switch (dtype) {
    case "uint8":
      return b;
    case "uint16":
      return new Uint16Array(b.buffer, b.byteOffset, n);
    case "uint32":
      return new Uint32Array(b.buffer, b.byteOffset, n);
    case "int16":
      return new Int16Array(b.buffer, b.byteOffset, n);
    case "int32":
      return new Int32Array(b.buffer, b.byteOffset, n);
    case "float32":
      return new Float32Array(b.buffer, b.byteOffset, n);
    case "float64":
      return new Float64Array(b.buffer, b.byteOffset, n);
  }
}

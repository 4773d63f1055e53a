/**
 * The trigger path's own MessagePack: the messages sent once per trigger per player (`trig`, the plain `ack`) are
 * written byte by byte with the run's constant prefix cached. The bytes are the ones msgpackr writes for the same
 * header (test/fast-codec.test.ts), and the wire format stays docs/protocol.md's: a peer cannot tell. Anything else
 * goes through the general codec. (Reading is left to msgpackr: a hand-written reader of flat maps measured 4x slower
 * than msgpackr's, which caches keys and short strings.)
 */
import { PROTOCOL_VERSION } from "./messages.ts";
import { encode } from "./codec.ts";

const enc = new TextEncoder();

/** Scratch buffer for one header (trigger-path headers are small); the result is copied out of it. */
const scratch = Buffer.allocUnsafe(4096);

function writeStr(b: Buffer, o: number, s: string): number {
  const bytes = enc.encode(s);
  const n = bytes.length;
  if (n < 32) b[o++] = 0xa0 | n;
  else if (n < 256) {
    b[o++] = 0xd9;
    b[o++] = n;
  } else {
    b[o++] = 0xda;
    b.writeUInt16BE(n, o);
    o += 2;
  }
  b.set(bytes, o);
  return o + n;
}

/** A whole number 0 <= x < 2^32 as msgpackr writes it (smallest form); others are not on the fast path. */
function writeUint(b: Buffer, o: number, x: number): number {
  if (x < 0x80) b[o++] = x;
  else if (x < 0x100) {
    b[o++] = 0xcc;
    b[o++] = x;
  } else if (x < 0x10000) {
    b[o++] = 0xcd;
    b.writeUInt16BE(x, o);
    o += 2;
  } else {
    b[o++] = 0xce;
    b.writeUInt32BE(x, o);
    o += 4;
  }
  return o;
}

/** A negative 32-bit integer as msgpackr writes it. */
function writeNegInt(b: Buffer, o: number, x: number): number {
  if (x >= -0x20) b[o++] = x & 0xff;
  else if (x >= -0x80) {
    b[o++] = 0xd0;
    b.writeInt8(x, o++);
  } else if (x >= -0x8000) {
    b[o++] = 0xd1;
    b.writeInt16BE(x, o);
    o += 2;
  } else {
    b[o++] = 0xd2;
    b.writeInt32BE(x, o);
    o += 4;
  }
  return o;
}

const isUint32 = (x: number) => Number.isInteger(x) && x >= 0 && x < 0x1_0000_0000;

/** The bytes of `{v, type, run` (map header with `n` entries) for one run, cached: it is the same every trigger. */
class RunPrefix {
  private run: string | null = null;
  private bytes = Buffer.alloc(0);
  constructor(
    private readonly type: string,
    private readonly entries: number,
  ) {}
  get(run: string): Buffer {
    if (run !== this.run) {
      // a map16 header, as msgpackr writes every map (a fixmap is as valid; the reader takes both)
      let o = 0;
      scratch[o++] = 0xde;
      scratch[o++] = 0;
      scratch[o++] = this.entries;
      o = writeStr(scratch, o, "v");
      o = writeUint(scratch, o, PROTOCOL_VERSION);
      o = writeStr(scratch, o, "type");
      o = writeStr(scratch, o, this.type);
      o = writeStr(scratch, o, "run");
      o = writeStr(scratch, o, run);
      this.bytes = Buffer.from(scratch.subarray(0, o));
      this.run = run;
    }
    return this.bytes;
  }
}

const ackPrefix = new RunPrefix("ack", 7);
const ackPendingPrefix = new RunPrefix("ack", 8);
const trigPrefix = new RunPrefix("trig", 8);
const K_TRIG = Buffer.from([0xa4, ...Buffer.from("trig")]);
const K_LVL = Buffer.from([0xa3, ...Buffer.from("lvl")]);
const K_SEQ = Buffer.from([0xa3, ...Buffer.from("seq")]);
const K_OK_TRUE = Buffer.from([0xa2, ...Buffer.from("ok"), 0xc3]);
const K_PENDING_TRUE = Buffer.from([0xa7, ...Buffer.from("pending"), 0xc3]);
const K_PARAMS_EMPTY = Buffer.from([0xa6, ...Buffer.from("params"), 0xde, 0, 0]);
const K_T = Buffer.from([0xa1, 0x74]);

/** The run's cached prefix, then `trig`, `lvl`, `seq` (the part `trig` and `ack` share); the offset after them. */
function writeHead(b: Buffer, prefix: Buffer, trig: number, lvl: number, seq: number): number {
  prefix.copy(b, 0);
  let o = prefix.length;
  K_TRIG.copy(b, o);
  o = writeUint(b, o + K_TRIG.length, trig);
  K_LVL.copy(b, o);
  o = writeUint(b, o + K_LVL.length, lvl);
  K_SEQ.copy(b, o);
  return writeUint(b, o + K_SEQ.length, seq);
}

/** `{v, type: "ack", run, trig, lvl, seq, ok: true[, pending: true]}`: the ack of an action that ended well. */
export function encodeAck(run: string, trig: number, lvl: number, seq: number, pending: boolean): Buffer {
  if (!(isUint32(trig) && isUint32(lvl) && isUint32(seq)) || run.length > 200)
    return encode({ v: PROTOCOL_VERSION, type: "ack", run, trig, lvl, seq, ok: true, ...(pending ? { pending: true } : {}) });
  const p = (pending ? ackPendingPrefix : ackPrefix).get(run);
  const b = scratch;
  let o = writeHead(b, p, trig, lvl, seq);
  K_OK_TRUE.copy(b, o);
  o += K_OK_TRUE.length;
  if (pending) {
    K_PENDING_TRUE.copy(b, o);
    o += K_PENDING_TRUE.length;
  }
  return Buffer.from(b.subarray(0, o));
}

/** `{v, type: "trig", run, trig, lvl, seq, params, t}`; the fast path when params has no key. */
export function encodeTrig(run: string, trig: number, lvl: number, seq: number, params: Record<string, unknown>, t: number): Buffer {
  let empty = true;
  for (const _ in params) {
    empty = false;
    break;
  }
  if (!empty || !(isUint32(trig) && isUint32(lvl) && isUint32(seq)) || run.length > 200 || Object.getPrototypeOf(params) !== Object.prototype)
    return encode({ v: PROTOCOL_VERSION, type: "trig", run, trig, lvl, seq, params, t });
  const p = trigPrefix.get(run);
  const b = scratch;
  let o = writeHead(b, p, trig, lvl, seq);
  K_PARAMS_EMPTY.copy(b, o);
  o += K_PARAMS_EMPTY.length;
  K_T.copy(b, o);
  o += K_T.length;
  if (t >>> 0 === t) o = writeUint(b, o, t);
  else if (t >> 0 === t) o = writeNegInt(b, o, t);
  else {
    b[o++] = 0xcb;
    b.writeDoubleBE(t, o);
    o += 8;
  }
  return Buffer.from(b.subarray(0, o));
}

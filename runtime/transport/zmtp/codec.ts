/**
 * ZMTP 3.x wire format (RFC 23 ZMTP 3.0, RFC 37 ZMTP 3.1) with the NULL mechanism: the greeting, frames (short and
 * long, MORE, COMMAND), the READY command's metadata, PING/PONG. Pure functions and one incremental decoder; no I/O.
 */

export const GREETING_SIZE = 64;

/** Frame flags (RFC 23 "Framing"). */
export const FLAG_MORE = 0x01;
export const FLAG_LONG = 0x02;
export const FLAG_COMMAND = 0x04;

export type SocketType = "ROUTER" | "DEALER";

/** Which socket types a socket of this type talks to (RFC 28, as libzmq checks in READY). */
export const COMPATIBLE: Record<SocketType, ReadonlySet<string>> = {
  ROUTER: new Set(["DEALER", "REQ", "ROUTER"]),
  DEALER: new Set(["REP", "DEALER", "ROUTER"]),
};

/** Our greeting: ZMTP 3.1, mechanism NULL, as-server 0 (NULL has no roles). */
export function greeting(): Buffer {
  const g = Buffer.alloc(GREETING_SIZE);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 1;
  g.write("NULL", 12, "latin1");
  return g;
}

export interface PeerGreeting {
  major: number;
  minor: number;
  mechanism: string;
}

/**
 * Parse a peer's 64-byte greeting. The 8 padding bytes of the signature are not checked: libzmq puts its identity
 * length + 1 there for ZMTP 1.0 peers. Throws on anything that is not ZMTP 3.x.
 */
export function parseGreeting(g: Buffer): PeerGreeting {
  if (g[0] !== 0xff || (g[9] & 0x01) !== 1) throw new Error("not a ZMTP peer (bad greeting signature)");
  const major = g[10];
  const minor = g[11];
  if (major < 3) throw new Error(`ZMTP ${major}.x peer: only ZMTP 3.0 and later are spoken`);
  const mechanism = g.subarray(12, 32).toString("latin1").replace(/\0+$/, "");
  return { major, minor, mechanism };
}

/** Header of one frame of `size` bytes. */
export function frameHeader(size: number, flags: number): Buffer {
  if (size <= 255) return Buffer.from([flags, size]);
  const h = Buffer.allocUnsafe(9);
  h[0] = flags | FLAG_LONG;
  h.writeBigUInt64BE(BigInt(size), 1);
  return h;
}

export function toBuffer(f: Buffer | Uint8Array | string): Buffer {
  if (typeof f === "string") return Buffer.from(f, "utf8");
  return Buffer.isBuffer(f) ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

/** Messages up to this size go out as one Buffer (one copy, one write); larger frames are written as they are. */
const COALESCE_BYTES = 16 * 1024;

/**
 * Encode a multipart message as the pieces to write: small messages become one Buffer; a large frame is passed by
 * reference after its header (no copy of MBs of data).
 */
export function encodeMessage(frames: ReadonlyArray<Buffer | Uint8Array | string>, flags = 0): Buffer[] {
  const bufs = frames.map(toBuffer);
  let total = 0;
  for (const b of bufs) total += b.length + (b.length <= 255 ? 2 : 9);
  const last = bufs.length - 1;
  if (total <= COALESCE_BYTES) {
    const out = Buffer.allocUnsafe(total);
    let o = 0;
    for (let i = 0; i <= last; i++) {
      const b = bufs[i];
      const f = flags | (i < last ? FLAG_MORE : 0);
      if (b.length <= 255) {
        out[o++] = f;
        out[o++] = b.length;
      } else {
        out[o++] = f | FLAG_LONG;
        out.writeBigUInt64BE(BigInt(b.length), o);
        o += 8;
      }
      b.copy(out, o);
      o += b.length;
    }
    return [out];
  }
  const out: Buffer[] = [];
  for (let i = 0; i <= last; i++) {
    out.push(frameHeader(bufs[i].length, flags | (i < last ? FLAG_MORE : 0)));
    if (bufs[i].length) out.push(bufs[i]);
  }
  return out;
}

/** A command frame: name length, name, data (RFC 23 "Commands"). */
export function command(name: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const n = Buffer.from(name, "latin1");
  const body = Buffer.concat([Buffer.from([n.length]), n, data]);
  return Buffer.concat([frameHeader(body.length, FLAG_COMMAND), body]);
}

/** READY with the given metadata properties (name length 1 byte, value length 4 bytes big-endian). */
export function ready(props: Record<string, Buffer | string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(props)) {
    const name = Buffer.from(k, "latin1");
    const value = typeof v === "string" ? Buffer.from(v, "latin1") : v;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(value.length);
    parts.push(Buffer.from([name.length]), name, len, value);
  }
  return command("READY", Buffer.concat(parts));
}

export function errorCommand(reason: string): Buffer {
  const r = Buffer.from(reason.slice(0, 255), "latin1");
  return command("ERROR", Buffer.concat([Buffer.from([r.length]), r]));
}

export interface Command {
  name: string;
  data: Buffer;
}

export function parseCommand(body: Buffer): Command {
  if (body.length < 1 || body.length < 1 + body[0]) throw new Error("malformed ZMTP command");
  return { name: body.subarray(1, 1 + body[0]).toString("latin1"), data: body.subarray(1 + body[0]) };
}

/** Metadata of READY; property names are case-insensitive (RFC 23), returned lower-cased. */
export function parseProperties(data: Buffer): Map<string, Buffer> {
  const props = new Map<string, Buffer>();
  let o = 0;
  while (o < data.length) {
    const nl = data[o];
    if (nl === 0 || o + 1 + nl + 4 > data.length) throw new Error("malformed READY metadata");
    const name = data.subarray(o + 1, o + 1 + nl).toString("latin1").toLowerCase();
    o += 1 + nl;
    const vl = data.readUInt32BE(o);
    o += 4;
    if (o + vl > data.length) throw new Error("malformed READY metadata");
    props.set(name, data.subarray(o, o + vl));
    o += vl;
  }
  return props;
}

/** PONG answering a PING (RFC 37): the PING's context, after its 2-byte TTL. */
export function pongFor(pingData: Buffer): Buffer {
  return command("PONG", pingData.subarray(2, 2 + 16));
}

const EMPTY = Buffer.alloc(0);

export class FrameTooLarge extends Error {}

/**
 * Incremental frame decoder: feed it chunks as they arrive, it calls `onFrame` for each complete frame. A frame's
 * size is checked against maxFrameSize from its header, before any of its body is held.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private avail = 0;
  /** Body size of the frame whose header was read, or -1 while waiting for a header. */
  private need = -1;
  private flags = 0;

  constructor(
    private readonly onFrame: (flags: number, body: Buffer) => void,
    public maxFrameSize = -1,
  ) {}

  /** Bytes received but not yet decoded. */
  get buffered(): number {
    return this.avail;
  }

  /**
   * Decode what `chunk` completes. A `transient` chunk is a read buffer the caller reuses after this call (net's
   * `onread`): frames cut out of it are copied, and so is what is left of it for the next call.
   */
  push(chunk: Buffer, transient = false): void {
    if (this.avail === 0) this.chunks = [chunk];
    else this.chunks.push(chunk);
    this.avail += chunk.length;
    try {
      this.decode(transient ? chunk.buffer : null);
    } finally {
      // what is left of this chunk is the last one held (those of earlier calls were copied then)
      const last = this.chunks.length - 1;
      if (transient && this.avail > 0 && this.chunks[last].buffer === chunk.buffer) this.chunks[last] = Buffer.from(this.chunks[last]);
    }
  }

  private decode(transient: ArrayBufferLike | null): void {
    for (;;) {
      if (this.need < 0) {
        if (this.avail < 2) return;
        const head = this.peek(2);
        const flags = head[0];
        if (flags & FLAG_LONG) {
          if (this.avail < 9) return;
          const h = this.take(9);
          const size = h.readBigUInt64BE(1);
          if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new FrameTooLarge(`frame of ${size} bytes`);
          this.need = Number(size);
        } else {
          this.take(2);
          this.need = head[1];
        }
        this.flags = flags;
        if (this.maxFrameSize >= 0 && this.need > this.maxFrameSize && !(flags & FLAG_COMMAND))
          throw new FrameTooLarge(`frame of ${this.need} bytes over the limit of ${this.maxFrameSize}`);
        // commands are small (READY with metadata, PING): bound them whatever the message limit
        if (flags & FLAG_COMMAND && this.need > 65_536) throw new FrameTooLarge(`command of ${this.need} bytes`);
      }
      if (this.avail < this.need) return;
      let body = this.take(this.need);
      if (transient && body.buffer === transient) body = Buffer.from(body);
      const flags = this.flags;
      this.need = -1;
      this.onFrame(flags, body);
    }
  }

  /** The first n bytes without consuming them (n <= 9). */
  private peek(n: number): Buffer {
    const c = this.chunks[0];
    if (c.length >= n) return c;
    return Buffer.concat(this.chunks, Math.min(this.avail, 16));
  }

  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.avail -= n;
    const c = this.chunks[0];
    if (c.length > n) {
      this.chunks[0] = c.subarray(n);
      return c.subarray(0, n);
    }
    if (c.length === n) {
      this.chunks.shift();
      return c;
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    let i = 0;
    while (o < n) {
      const h = this.chunks[i];
      const k = Math.min(h.length, n - o);
      h.copy(out, o, 0, k);
      o += k;
      if (k === h.length) i++;
      else this.chunks[i] = h.subarray(k);
    }
    this.chunks.splice(0, i);
    return out;
  }
}

/**
 * Write-ahead journal of a scan (format: docs/data-format.md, "Journal"): the segments, their records and reading.
 *
 * Used by journal-stage.ts, where the writer runs (the writer worker): every row is appended before the writer takes
 * it, and a trigger's DONE record is written (to the OS: one write(2), no buffering in this process) before the
 * trigger counts as done. A killed process therefore loses nothing the event stream reported done;
 * `donki recover FILE` replays the journal into the scan's file. `syncSeconds: 0`: fdatasync after every DONE.
 *
 * The journal lives beside the file in segments `<file>.journal-NNNNNN`. `rotate()` closes the current segment
 * (kept open for a later fdatasync) and opens the next; `release(k)` deletes segments up to k once the HDF5 file
 * has them on disk; `syncOlder` fdatasyncs rotated segments the file could not take in time.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { crc32 } from "node:zlib";

export const JOURNAL_MAGIC = "DONKIJNL";
export const JOURNAL_VERSION = 1;

/** Record types. */
export const Rec = { Header: 0, Stream: 1, Row: 2, Done: 3 } as const;
type Rec = (typeof Rec)[keyof typeof Rec];

/** Record frame: u32 body length, u32 CRC-32 of (type byte + body), u8 type, body. Little-endian. */
const FRAME = 9;
/** Rows up to this size are copied into the pending buffer and written with the trigger's DONE record. */
const SMALL = 64 * 1024;

export interface JournalHeader {
  file: string;
  runId: string;
  firstTrigger: number;
  created: string;
}

export interface JournalStream {
  key: string;
  dtype: string;
  shape: number[];
}

export const segmentPath = (file: string, k: number) => `${file}.journal-${String(k).padStart(6, "0")}`;

/** The journal segments of `file`, in order. */
export function journalSegments(file: string): string[] {
  const dir = path.dirname(path.resolve(file));
  const base = path.basename(file) + ".journal-";
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(base) && /^\d{6}$/.test(n.slice(base.length)))
    .sort()
    .map((n) => path.join(dir, n));
}

function frame(type: Rec, bodyLen: number, crcOf: Uint8Array[]): Buffer {
  const h = Buffer.allocUnsafe(FRAME);
  h.writeUInt32LE(bodyLen, 0);
  let c = crc32(Buffer.of(type));
  for (const b of crcOf) c = crc32(b, c);
  h.writeUInt32LE(c >>> 0, 4);
  h.writeUInt8(type, 8);
  return h;
}

export class JournalWriter {
  private fd: number;
  private seg = 1;
  private segBytes = 0;
  /** Records appended to the current segment since it was opened (beyond its header and stream records). */
  private segRecords = 0;
  /** Segments rotated out but not yet released: their fds stay open so they can still be fdatasync'ed. */
  private readonly older = new Map<number, { fd: number; rotatedAt: number; synced: boolean; covered: boolean }>();
  private readonly keys = new Map<string, number>();
  private readonly streamRecs: Buffer[] = [];
  private pending: Buffer;
  private pendingLen = 0;
  private closed = false;
  /** Bytes appended since the journal opened (benchmarks). */
  bytes = 0;
  /** fdatasync calls on journal segments (benchmarks, tests: 0 when every segment was dropped in time). */
  syncs = 0;
  /** Segments deleted because the data file had them (benchmarks, tests). */
  released = 0;

  constructor(
    readonly file: string,
    private readonly header: JournalHeader,
    private readonly o: { syncSeconds: number; segmentBytes?: number; guard?: { reserve(n: number, what: string): void } },
  ) {
    this.pending = Buffer.allocUnsafe(1 << 20);
    // a journal re-opened in the same run (after a write fault) continues after the segments already there
    const have = journalSegments(file);
    if (have.length) this.seg = Number(have[have.length - 1]!.slice(-6)) + 1;
    this.fd = this.openSegment(this.seg);
  }

  get segment(): number {
    return this.seg;
  }

  /** Segments on disk that this writer still holds open (the current one included). */
  get liveSegments(): number {
    return this.older.size + 1;
  }

  private openSegment(k: number): number {
    const fd = fs.openSync(segmentPath(this.file, k), "wx");
    const magic = Buffer.alloc(12);
    magic.write(JOURNAL_MAGIC, 0, "latin1");
    magic.writeUInt32LE(JOURNAL_VERSION, 8);
    const hb = Buffer.from(JSON.stringify({ ...this.header, segment: k }));
    const parts = [magic, frame(Rec.Header, hb.length, [hb]), hb, ...this.streamRecs];
    fs.writevSync(fd, parts);
    this.segBytes = parts.reduce((a, b) => a + b.length, 0);
    this.segRecords = 0;
    return fd;
  }

  /** Declare a stream (before its first row). */
  stream(s: JournalStream): void {
    if (this.keys.has(s.key)) return;
    this.keys.set(s.key, this.keys.size);
    const body = Buffer.from(JSON.stringify({ ...s, index: this.keys.size - 1 }));
    const rec = Buffer.concat([frame(Rec.Stream, body.length, [body]), body]);
    this.streamRecs.push(rec); // repeated at the top of every segment: each segment reads on its own
    this.append([rec]);
  }

  /** One row of one stream (the bytes are written or copied before this returns: the caller keeps `data`). */
  row(key: string, trig: number, data: Uint8Array): void {
    const idx = this.keys.get(key);
    if (idx === undefined) throw new Error(`journal: stream ${key} was not declared`);
    const bodyLen = 6 + data.byteLength;
    if (data.byteLength > SMALL) {
      const head = Buffer.allocUnsafe(6);
      head.writeUInt32LE(trig, 0);
      head.writeUInt16LE(idx, 4);
      this.flushPending();
      this.write([frame(Rec.Row, bodyLen, [head, data]), head, data]);
      return;
    }
    // small row: built in place in the pending buffer, no allocation; type byte + body are contiguous there, so
    // the CRC is one pass over them
    this.ensurePending(FRAME + bodyLen);
    const p = this.pending;
    const off = this.pendingLen;
    p.writeUInt32LE(bodyLen, off);
    p.writeUInt8(Rec.Row, off + 8);
    p.writeUInt32LE(trig, off + 9);
    p.writeUInt16LE(idx, off + 13);
    p.set(data, off + 15);
    p.writeUInt32LE(crc32(p.subarray(off + 8, off + FRAME + bodyLen)) >>> 0, off + 4);
    this.pendingLen += FRAME + bodyLen;
  }

  /** Trigger `trig` completed every level: its rows and this record reach the OS before this returns. */
  done(trig: number): void {
    this.ensurePending(FRAME + 12);
    const p = this.pending;
    const off = this.pendingLen;
    p.writeUInt32LE(12, off);
    p.writeUInt8(Rec.Done, off + 8);
    p.writeUInt32LE(trig, off + 9);
    p.writeDoubleLE(Date.now(), off + 13);
    p.writeUInt32LE(crc32(p.subarray(off + 8, off + FRAME + 12)) >>> 0, off + 4);
    this.pendingLen += FRAME + 12;
    this.flushPending();
    if (this.o.syncSeconds === 0) fs.fdatasyncSync(this.fd);
  }

  /** Start a new segment when the current one is over its size; returns the number of the segment it closed. */
  rotateIfFull(): number | null {
    if (this.segBytes < (this.o.segmentBytes ?? 64 * 2 ** 20)) return null;
    return this.rotate();
  }

  /**
   * Start a new segment if the current one holds any record; returns the number of the segment it closed (null:
   * nothing to rotate). The closed segment is NOT synced here: it is either released once the data file is on disk
   * past it, or fdatasync'ed by `syncOlder` when that takes too long.
   */
  rotate(): number | null {
    if (this.closed || this.segRecords === 0) return null;
    this.flushPending();
    const old = this.seg;
    this.older.set(old, { fd: this.fd, rotatedAt: Date.now(), synced: this.o.syncSeconds === 0, covered: false });
    this.seg++;
    this.fd = this.openSegment(this.seg);
    return old;
  }

  /**
   * The data file was flushed to the OS past segment `k` (and every earlier one): an fdatasync of the data file is
   * on its way, after which `release(k)` deletes them. Until then they are kept, but not synced by `syncOlder`.
   */
  covered(k: number): void {
    for (const [n, s] of this.older) if (n <= k) s.covered = true;
  }

  /** When segment `k` was rotated out (ms since the epoch), if it is still held. */
  rotatedAt(k: number): number | undefined {
    return this.older.get(k)?.rotatedAt;
  }

  /**
   * fdatasync every rotated segment, not yet released nor covered by a data-file flush, that was closed at least
   * `ageMs` ago (the writer could not take its checkpoint: held by a write fault, or behind); returns how many.
   */
  syncOlder(ageMs: number): number {
    const now = Date.now();
    let n = 0;
    for (const s of this.older.values()) {
      if (s.synced || s.covered || now - s.rotatedAt < ageMs) continue;
      fs.fdatasyncSync(s.fd);
      s.synced = true;
      this.syncs++;
      n++;
    }
    return n;
  }

  /** fdatasync the current segment (power loss: what was written so far survives). */
  syncCurrent(): void {
    if (this.closed) return;
    this.flushPending();
    fs.fdatasyncSync(this.fd);
    this.syncs++;
  }

  /** The data file has the rows of segment `k` (and every earlier one) on disk: delete them. */
  release(k: number): void {
    for (const [n, s] of this.older) {
      if (n > k) continue;
      this.older.delete(n);
      fs.closeSync(s.fd);
      this.released++;
    }
    for (const p of journalSegments(this.file)) {
      const n = Number(p.slice(p.lastIndexOf("-") + 1));
      if (n <= k && n !== this.seg) fs.rmSync(p, { force: true });
    }
  }

  /** Write what is pending and stop; `remove`: the file is final, delete every segment. */
  close(remove: boolean): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.flushPending();
      // the file is final: nothing to sync, the segments go; otherwise they are what recover replays
      if (!remove) {
        fs.fdatasyncSync(this.fd);
        for (const s of this.older.values()) if (!s.synced) fs.fdatasyncSync(s.fd);
      }
    } finally {
      fs.closeSync(this.fd);
      for (const s of this.older.values()) fs.closeSync(s.fd);
      this.older.clear();
    }
    if (remove) for (const p of journalSegments(this.file)) fs.rmSync(p, { force: true });
  }

  private ensurePending(n: number): void {
    if (this.pendingLen + n <= this.pending.length) return;
    this.flushPending();
    if (n > this.pending.length) this.pending = Buffer.allocUnsafe(n);
  }

  private flushPending(): void {
    if (!this.pendingLen) return;
    const b = this.pending.subarray(0, this.pendingLen);
    this.pendingLen = 0;
    this.write([b]);
  }

  private append(parts: Uint8Array[]): void {
    this.flushPending();
    this.write(parts);
  }

  private write(parts: Uint8Array[]): void {
    let n = 0;
    for (const p of parts) n += p.byteLength;
    // the journal must not eat the space the HDF5 file needs to close (the same reserve as the writer's)
    this.o.guard?.reserve(n, "the journal");
    let done = fs.writevSync(this.fd, parts);
    // a short write (rare: signals, huge vectors): finish it
    while (done < n) {
      const all = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
      done += fs.writeSync(this.fd, all, done);
    }
    this.segBytes += n;
    this.segRecords++;
    this.bytes += n;
  }
}

// ------------------------------------------------------------------ reading

export interface JournalRow {
  key: string;
  trig: number;
  data: Uint8Array;
}

export interface JournalContent {
  header: JournalHeader | null;
  streams: Map<string, JournalStream>;
  rows: JournalRow[];
  /** Trigger -> wall-clock ms of its DONE record. */
  done: Map<number, number>;
  /** A record that did not check (torn by a crash, or damaged): where reading stopped. */
  torn: Array<{ segment: string; offset: number; reason: string }>;
  segments: string[];
}

/** Read every segment of `file`'s journal; a torn or damaged record ends its segment (reported in `torn`). */
export function readJournal(file: string): JournalContent {
  const out: JournalContent = { header: null, streams: new Map(), rows: [], done: new Map(), torn: [], segments: journalSegments(file) };
  for (const seg of out.segments) {
    const buf = fs.readFileSync(seg);
    if (buf.length < 12 || buf.toString("latin1", 0, 8) !== JOURNAL_MAGIC) {
      out.torn.push({ segment: seg, offset: 0, reason: "not a donki journal (bad magic)" });
      continue;
    }
    const ver = buf.readUInt32LE(8);
    if (ver !== JOURNAL_VERSION) throw new Error(`${seg}: journal version ${ver}, this donki reads version ${JOURNAL_VERSION}`);
    const byIndex = new Map<number, string>();
    let off = 12;
    while (off < buf.length) {
      if (off + FRAME > buf.length) {
        out.torn.push({ segment: seg, offset: off, reason: "torn record header" });
        break;
      }
      const len = buf.readUInt32LE(off);
      const crc = buf.readUInt32LE(off + 4);
      const type = buf.readUInt8(off + 8);
      if (off + FRAME + len > buf.length) {
        out.torn.push({ segment: seg, offset: off, reason: `torn record (${len} bytes announced, ${buf.length - off - FRAME} present)` });
        break;
      }
      const body = buf.subarray(off + FRAME, off + FRAME + len);
      if ((crc32(body, crc32(Buffer.of(type))) >>> 0) !== crc) {
        out.torn.push({ segment: seg, offset: off, reason: "checksum mismatch" });
        break;
      }
      off += FRAME + len;
      switch (type) {
        case Rec.Header:
          out.header ??= JSON.parse(body.toString("utf8")) as JournalHeader;
          break;
        case Rec.Stream: {
          const s = JSON.parse(body.toString("utf8")) as JournalStream & { index: number };
          byIndex.set(s.index, s.key);
          out.streams.set(s.key, { key: s.key, dtype: s.dtype, shape: s.shape });
          break;
        }
        case Rec.Row: {
          const key = byIndex.get(body.readUInt16LE(4));
          if (key === undefined) {
            out.torn.push({ segment: seg, offset: off, reason: "row of an undeclared stream" });
            break;
          }
          out.rows.push({ key, trig: body.readUInt32LE(0), data: body.subarray(6) });
          break;
        }
        case Rec.Done:
          out.done.set(body.readUInt32LE(0), body.readDoubleLE(4));
          break;
        default:
          out.torn.push({ segment: seg, offset: off, reason: `unknown record type ${type}` });
      }
    }
  }
  return out;
}

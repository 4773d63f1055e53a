/**
 * NeXus/HDF5 writer for one run (scan): places trigger-tagged rows, masks what did not arrive, flushes
 * periodically so a killed process leaves a readable file, splits long runs into parts (rollover) and can
 * resume a crashed run into a new file. Layout: docs/data-format.md.
 *
 * Synchronous by design (h5wasm is synchronous). The Director should feed it through `WriterQueue`
 * (writer-queue.ts), which keeps the event loop free and applies back-pressure.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type Dataset,
  type Group,
  type H5File,
  H5_DTYPE,
  TYPED_CTOR,
  attrValue,
  ensureGroup,
  ensureGroupPath,
  getDataset,
  getGroup,
  h5ready,
  h5wasm,
  numDataset,
  setAttr,
  strDataset,
  toRanges,
  viewAs,
} from "./h5util.ts";
import {
  type CloseResult,
  type CloseSummary,
  type DeadTimeReport,
  DTYPE_BYTES,
  type RunInfo,
  type StreamCompleteness,
  type StreamSpec,
  streamKey,
} from "./types.ts";
import { type FileInfo, type FileRole, type LayoutNode, type ScanContext, buildLayout, deadTimeLayout, groupClassFor, maskPath, placeStream } from "./layout.ts";
import { applyClose, applyOpen, groupAt, type RowSource } from "./layout-writer.ts";
import { describeGaps, finalStatus, type RunStatus, type StreamGap } from "../protocol/run-status.ts";

export interface NexusWriterOptions {
  dir: string;
  prefix: string;
  run: RunInfo;
  streams: StreamSpec[];
  /** Flush after the highest trigger seen advanced by this many (default 50). 0 disables. */
  flushEveryTriggers?: number;
  /** Flush at most this many seconds after the first unflushed write (default 2). 0 disables the timer. */
  flushEverySeconds?: number;
  /** Split the run into part files of this many triggers, linked from a master file. */
  rolloverTriggers?: number;
  /** "gzip" = deflate level 1 on every data dataset (~90 MB/s: not for fast frame streams). */
  compression?: "none" | "gzip";
  /** Continue a crashed run (the file it left) into a new file with the same scan number. */
  resumeFrom?: { path: string };
}

export interface WriterStats {
  /** Rows written. */
  written: number;
  bytes: number;
  /** Writes refused because the trigger is outside the run (< first trigger, or > planned triggers). */
  rejected: number;
  /** Writes refused because of a size mismatch or an unknown stream. */
  invalid: number;
  /** Second arrival of the same stream/trigger (ignored: the first one is kept). */
  duplicates: number;
  flushes: number;
  /** Part files re-opened for late data. */
  reopened: number;
}

/** Thrown (and counted in `stats.rejected`) for a trigger number outside the run. */
export class TriggerOutOfRunError extends Error {
  readonly code = "OUT_OF_RUN";
  constructor(message: string) {
    super(message);
    this.name = "TriggerOutOfRunError";
  }
}

export interface ResumePoint {
  scanNumber: number;
  /** First trigger for which some stream has no data: the Director restarts there. */
  resumeTrigger: number;
  /** First trigger the crashed file covers. */
  firstTrigger: number;
  streams: string[];
}

const PART_DIGITS = 5;
const pad = (n: number, w = PART_DIGITS) => String(n).padStart(w, "0");
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Growable bitmap (one byte per trigger, index = trigger number). */
class TriggerSet {
  bytes = new Uint8Array(1024);
  count = 0;
  max = 0;
  has(t: number): boolean {
    return t < this.bytes.length && this.bytes[t] === 1;
  }
  add(t: number): boolean {
    if (t >= this.bytes.length) {
      let n = this.bytes.length;
      while (n <= t) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.bytes);
      this.bytes = b;
    }
    if (this.bytes[t] === 1) return false;
    this.bytes[t] = 1;
    this.count++;
    if (t > this.max) this.max = t;
    return true;
  }
  /** Mask bytes for triggers [from, from + n). */
  slice(from: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    const end = Math.min(from + n, this.bytes.length);
    if (end > from) out.set(this.bytes.subarray(from, end));
    return out;
  }
}

interface StreamState {
  spec: StreamSpec;
  key: string;
  itemBytes: number;
  arrived: TriggerSet;
  /** Absolute dataset path inside each file (layout.ts placeStream). */
  dsPath: string;
  maskPath: string;
  /** Stored type when the layout converts (I0 counts as integers); else spec.dtype. */
  storeAs: StreamSpec["dtype"];
  units?: string;
  /** Where the calibrated axis of the last dimension goes (MCA energy). */
  axisPath?: string;
}

interface FileStream {
  ds: Dataset;
  mask: Dataset;
  rows: number;
  /** Rows of a small stream (scalar, spectrum) gathered in memory and written as one block (see RowBlock). */
  block?: RowBlock;
}

/**
 * Consecutive rows of one small stream, written to HDF5 in one call instead of one call per row: an h5wasm
 * write_slice costs ~100-200 us whatever its size, which would cap a 20-stream scan at a few hundred triggers/s.
 * Written at every flush (so crash safety is unchanged: nothing is on disk before a flush either way), when full,
 * and when a row outside the block arrives. Only rows that arrived are written (runs of present rows).
 */
class RowBlock {
  readonly buf: Uint8Array;
  readonly present: Uint8Array;
  lo = 0;
  hi = 0;
  n = 0;
  constructor(
    readonly rowsCap: number,
    readonly itemBytes: number,
  ) {
    this.buf = new Uint8Array(rowsCap * itemBytes);
    this.present = new Uint8Array(rowsCap);
  }
  fits(row: number): boolean {
    return this.n === 0 || (row >= this.lo && row < this.lo + this.rowsCap);
  }
  put(row: number, data: Uint8Array): void {
    if (this.n === 0) {
      this.lo = row;
      this.hi = row;
    }
    this.buf.set(data, (row - this.lo) * this.itemBytes);
    this.present[row - this.lo] = 1;
    if (row + 1 > this.hi) this.hi = row + 1;
    this.n++;
  }
}

/** Streams whose rows are at most this big are block-buffered; frames are written one row per call. */
const BLOCK_MAX_ITEM = 64 * 1024;
const BLOCK_BYTES = 1 << 20;

/** One HDF5 file holding the per-trigger tree for triggers [first, last]. */
interface DataFile {
  path: string;
  first: number;
  /** Last trigger this file may hold (Infinity when unbounded). */
  last: number;
  f: H5File | null;
  streams: Map<string, FileStream>;
  triggers: Dataset | null;
  /** Rows [lo, hi) whose masks/trigger numbers must be rewritten at the next flush. */
  dirtyLo: number;
  dirtyHi: number;
  extent: number;
  partIndex: number;
}

const nowIso = (d = new Date()) => d.toISOString();

export class NexusWriter {
  readonly stats: WriterStats = { written: 0, bytes: 0, rejected: 0, invalid: 0, duplicates: 0, flushes: 0, reopened: 0 };
  /** First trigger this writer accepts (1, or the resume trigger). */
  readonly firstTrigger: number;
  readonly scanNumber: number;
  /** The file to hand to users: single file or rollover master. */
  readonly path: string;

  private readonly streams = new Map<string, StreamState>();
  private readonly issued = new TriggerSet();
  private readonly files: DataFile[] = [];
  /** Streams (or steps) that could not be finalised at close, with the error. */
  private readonly unfinalised: Array<{ stream: string; error: string }> = [];
  private master: H5File | null = null;
  private highest = 0;
  private lastFlushTrigger = 0;
  private unflushedSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly flushEveryTriggers: number;
  private readonly gzip: boolean;
  /** What the layout is computed from: the run and the streams declared so far. */
  private readonly scan: ScanContext;

  private constructor(
    private readonly opts: NexusWriterOptions,
    scanNumber: number,
    mainPath: string,
    firstTrigger: number,
    private readonly resumedFrom: string | null,
  ) {
    this.scanNumber = scanNumber;
    this.path = mainPath;
    this.firstTrigger = firstTrigger;
    this.flushEveryTriggers = opts.flushEveryTriggers ?? 50;
    this.gzip = opts.compression === "gzip";
    this.scan = { run: opts.run, streams: [] };
  }

  private layout(role: FileRole, file?: FileInfo): LayoutNode[] {
    return buildLayout(this.scan, role, file);
  }

  private fileInfo(p: string, first: number, part?: number): FileInfo {
    return {
      name: path.basename(p),
      scanNumber: this.scanNumber,
      first,
      part,
      resumedFrom: this.resumedFrom ? path.basename(this.resumedFrom) : undefined,
      resumeTrigger: this.resumedFrom ? this.firstTrigger : undefined,
      now: nowIso(),
    };
  }

  private readonly classOf = (p: string): string => groupClassFor(this.scan, p);

  // ---------------------------------------------------------------- creation

  static async create(opts: NexusWriterOptions): Promise<NexusWriter> {
    await h5ready();
    const dir = path.resolve(opts.dir);
    fs.mkdirSync(dir, { recursive: true });
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.prefix)) throw new Error(`invalid file prefix "${opts.prefix}"`);
    const roll = opts.rolloverTriggers ?? 0;
    if (roll && (!Number.isInteger(roll) || roll < 1)) throw new Error(`rolloverTriggers must be a positive integer, got ${roll}`);
    const planned = opts.run.plannedTriggers;
    if (planned !== null && (!Number.isInteger(planned) || planned < 0)) throw new Error(`plannedTriggers must be null or an integer >= 0`);

    let scan: number;
    let mainPath: string;
    let first = 1;
    let resumedFrom: string | null = null;
    if (opts.resumeFrom) {
      if (roll) throw new Error("resume with rollover is not supported");
      const rp = await NexusWriter.resumePoint(opts.resumeFrom.path);
      scan = rp.scanNumber;
      first = rp.resumeTrigger;
      resumedFrom = path.resolve(opts.resumeFrom.path);
      // <prefix>_<scan>_resume<k>.nxs, k = 1, 2, ...
      for (let k = 1; ; k++) {
        const p = path.join(dir, `${opts.prefix}_${pad(scan)}_resume${k}.nxs`);
        if (claim(p)) {
          mainPath = p;
          break;
        }
      }
    } else {
      ({ scan, path: mainPath } = claimNextScan(dir, opts.prefix));
    }

    const w = new NexusWriter(opts, scan, mainPath, first, resumedFrom);
    w.scan.streams.push(...opts.streams);
    for (const s of opts.streams) w.registerStream(s);
    try {
      if (roll) {
        w.master = new h5wasm.File(mainPath, "w");
        applyOpen(w.master, w.layout("master", w.fileInfo(mainPath, 1)), w.classOf, () => {});
        w.master.flush();
      } else {
        w.openNewFile(mainPath, first, Infinity, 0);
      }
    } catch (e) {
      w.master?.close();
      throw e;
    }
    const secs = opts.flushEverySeconds ?? 2;
    if (secs > 0) {
      w.timer = setInterval(() => w.flushIfDue(secs * 1000), Math.max(50, Math.min(1000, secs * 250)));
      w.timer.unref();
    }
    return w;
  }

  /** Where to continue a crashed run: the first trigger some stream is missing, from the file it left. */
  static async resumePoint(file: string): Promise<ResumePoint> {
    await h5ready();
    const f = new h5wasm.File(path.resolve(file), "r");
    try {
      const entry = getGroup(f, "/entry");
      if (!entry) throw new Error(`${file}: no /entry`);
      const idDs = getDataset(entry, "entry_identifier");
      const scanNumber = Number(idDs?.value);
      if (!Number.isInteger(scanNumber)) throw new Error(`${file}: no scan number in /entry/entry_identifier`);
      const firstTrigger = Number(attrValue(entry, "first_trigger") ?? 1);
      const masks = getGroup(entry, "masks");
      const streams: string[] = [];
      let resume = Infinity;
      let extent = 0;
      for (const player of masks?.keys() ?? []) {
        const pg = getGroup(masks!, player);
        for (const name of pg?.keys() ?? []) {
          const m = getDataset(pg!, name);
          if (!m) continue;
          streams.push(`${player}/${name}`);
          const v = (m.value as Uint8Array | null) ?? new Uint8Array(0);
          extent = Math.max(extent, v.length);
          const miss = v.indexOf(0);
          const row = miss === -1 ? v.length : miss;
          resume = Math.min(resume, firstTrigger + row);
        }
      }
      // streams complete over a shorter extent than others: resume at the shortest
      if (!Number.isFinite(resume)) resume = firstTrigger + extent;
      return { scanNumber, resumeTrigger: resume, firstTrigger, streams };
    } finally {
      f.close();
    }
  }

  private registerStream(spec: StreamSpec): StreamState {
    const key = streamKey(spec);
    if (!/^[A-Za-z0-9_.-]+$/.test(spec.player) || !/^[A-Za-z0-9_.-]+$/.test(spec.name)) {
      throw new Error(`stream "${key}": player and name must match [A-Za-z0-9_.-]+`);
    }
    if (this.streams.has(key)) throw new Error(`stream "${key}" declared twice`);
    if (!(spec.dtype in DTYPE_BYTES)) throw new Error(`stream "${key}": unknown dtype ${spec.dtype}`);
    if (!spec.shape.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`stream "${key}": bad shape [${spec.shape}]`);
    const place = placeStream(this.scan, spec);
    const st: StreamState = {
      spec,
      key,
      itemBytes: spec.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[spec.dtype],
      arrived: new TriggerSet(),
      dsPath: place.path,
      maskPath: maskPath(spec.player, spec.name),
      storeAs: place.storeAs ?? spec.dtype,
      units: place.units,
      axisPath: place.axisPath,
    };
    this.streams.set(key, st);
    return st;
  }

  /** A player that joins mid-run: its dataset is created in the open file(s) and every later part. */
  addStream(spec: StreamSpec): void {
    this.assertOpen();
    this.scan.streams.push(spec);
    const st = this.registerStream(spec);
    for (const df of this.files) if (df.f) this.ensureFileStream(df, st);
  }

  get streamKeys(): string[] {
    return [...this.streams.keys()];
  }

  // ---------------------------------------------------------------- tree

  private openNewFile(p: string, first: number, last: number, partIndex: number): DataFile {
    const f = new h5wasm.File(p, "w");
    const df: DataFile = { path: p, first, last, f, streams: new Map(), triggers: null, dirtyLo: Infinity, dirtyHi: 0, extent: 0, partIndex };
    try {
      const layout = this.layout(partIndex ? "part" : "single", this.fileInfo(p, first, partIndex || undefined));
      const entry = ensureGroup(f, "entry", "NXentry");
      ensureGroup(entry, "masks", "NXcollection");
      entry.create_dataset({ name: "triggers", data: new Uint32Array(0), shape: [0], maxshape: [null], chunks: [4096], dtype: "<I" });
      df.triggers = getDataset(entry, "triggers");
      if (!df.triggers) throw new Error(`HDF5: could not create ${p}:/entry/triggers`);
      setAttr(df.triggers, "long_name", "trigger number (0 = not issued)");
      setAttr(df.triggers, "units", "1");
      applyOpen(f, layout, this.classOf, (n) => this.ensureFileStream(df, this.streams.get(n.stream)!));
      for (const st of this.streams.values()) this.ensureFileStream(df, st);
      f.flush();
    } catch (e) {
      f.close();
      throw e;
    }
    this.files.push(df);
    return df;
  }

  /** Create (or find, after a re-open) the dataset and mask of a stream in a file. */
  private ensureFileStream(df: DataFile, st: StreamState): FileStream {
    const have = df.streams.get(st.key);
    if (have) return have;
    const f = df.f!;
    const { spec } = st;
    let ds = getDataset(f, st.dsPath);
    if (!ds) {
      const parentPath = st.dsPath.slice(0, st.dsPath.lastIndexOf("/"));
      const leaf = st.dsPath.slice(st.dsPath.lastIndexOf("/") + 1);
      const parent: Group = spec.alias ? ensureGroupPath(f, parentPath) : groupAt(f, parentPath, this.classOf);
      // frames: one trigger per chunk; scalars: 1024 rows; spectra: up to ~1 MiB per chunk
      const chunkRows =
        spec.shape.length >= 2 ? 1 : spec.shape.length === 0 ? 1024 : Math.max(1, Math.min(1024, Math.floor((1 << 20) / st.itemBytes)));
      parent.create_dataset({
        name: leaf,
        data: new TYPED_CTOR[st.storeAs](0),
        shape: [0, ...spec.shape],
        maxshape: [null, ...spec.shape],
        chunks: [chunkRows, ...spec.shape],
        dtype: H5_DTYPE[st.storeAs],
        ...(this.gzip ? { compression: "gzip" as const, compression_opts: 1 } : {}),
      });
      ds = getDataset(f, st.dsPath);
      if (!ds) throw new Error(`HDF5: could not create dataset ${st.dsPath} for stream "${st.key}" in ${df.path}`);
      if (st.units) setAttr(ds, "units", st.units);
      if (spec.axis && spec.shape.length >= 1) {
        // the calibrated axis of the last dimension (e.g. MCA bin energies), beside the data
        const n = spec.shape[spec.shape.length - 1]!;
        const values = Float64Array.from({ length: n }, (_, i) => spec.axis!.offset + spec.axis!.step * i);
        const an = st.axisPath ? st.axisPath.slice(st.axisPath.lastIndexOf("/") + 1) : `${leaf}_${spec.axis.name}`;
        if (!getDataset(parent, an)) {
          parent.create_dataset({ name: an, data: values, shape: [n], dtype: "<d" });
          const ad = getDataset(parent, an);
          if (!ad) throw new Error(`HDF5: could not create axis ${an} for stream "${st.key}"`);
          setAttr(ad, "units", spec.axis.units);
          setAttr(ad, "long_name", `${spec.axis.name} of each ${leaf} bin`);
        }
        setAttr(ds, `${spec.axis.name}_offset`, spec.axis.offset, "<d");
        setAttr(ds, `${spec.axis.name}_gain`, spec.axis.step, "<d");
      }
      setAttr(ds, "long_name", st.key);
      setAttr(ds, "donki_stream", st.key);
      setAttr(ds, "donki_role", spec.role);
      setAttr(ds, "mask", st.maskPath);
    }
    let mask = getDataset(f, st.maskPath);
    if (!mask) {
      const masks = ensureGroup(ensureGroup(f, "entry", "NXentry"), "masks", "NXcollection");
      const pg = ensureGroup(masks, spec.player, "NXcollection");
      pg.create_dataset({ name: spec.name, data: new Uint8Array(0), shape: [0], maxshape: [null], chunks: [4096], dtype: "<B" });
      mask = getDataset(pg, spec.name);
      if (!mask) throw new Error(`HDF5: could not create mask ${st.maskPath} in ${df.path}`);
      setAttr(mask, "long_name", `1 = data for ${st.key} arrived for this trigger`);
      setAttr(mask, "target", st.dsPath);
    }
    const rows = (ds.shape ?? [0])[0] ?? 0;
    const fs_: FileStream = { ds, mask, rows };
    df.streams.set(st.key, fs_);
    // a stream added mid-run must line up with the others at the next flush
    if (df.extent > 0) this.markDirty(df, 0, df.extent);
    return fs_;
  }

  // ---------------------------------------------------------------- writing

  private assertOpen(): void {
    if (this.closed) throw new Error("NexusWriter: already closed");
  }

  private checkTrigger(trigger: number, what: string): void {
    const planned = this.opts.run.plannedTriggers;
    if (!Number.isInteger(trigger) || trigger < this.firstTrigger || (planned !== null && trigger > planned)) {
      this.stats.rejected++;
      const range = `${this.firstTrigger}..${planned ?? "unbounded"}`;
      throw new TriggerOutOfRunError(`${what}: trigger ${trigger} is outside this run (${range}); rejected`);
    }
  }

  /** Record that the Director issued trigger n (fills /entry/triggers; defines completeness). */
  noteTrigger(n: number): void {
    this.assertOpen();
    this.checkTrigger(n, "noteTrigger");
    if (!this.issued.add(n)) return;
    const df = this.fileFor(n);
    const row = n - df.first;
    this.markDirty(df, row, row + 1);
    this.advance(n);
  }

  /**
   * Store the raw little-endian bytes of one stream for one trigger (row = trigger - first trigger of the file).
   * Throws on an unknown stream, a size mismatch, or (TriggerOutOfRunError) a trigger outside the run.
   * A second arrival for the same stream and trigger is ignored and counted in `stats.duplicates`.
   */
  write(key: string, trigger: number, data: Uint8Array): void {
    this.assertOpen();
    const st = this.streams.get(key);
    if (!st) {
      this.stats.invalid++;
      throw new Error(`write: unknown stream "${key}" (trigger ${trigger}); known: ${[...this.streams.keys()].join(", ")}`);
    }
    this.checkTrigger(trigger, `stream "${key}"`);
    if (data.byteLength !== st.itemBytes) {
      this.stats.invalid++;
      throw new Error(
        `stream "${key}" trigger ${trigger}: expected ${st.itemBytes} bytes (${st.spec.dtype} x [${st.spec.shape.join(", ")}]), got ${data.byteLength}`,
      );
    }
    if (st.arrived.has(trigger)) {
      this.stats.duplicates++;
      return;
    }
    const df = this.fileFor(trigger);
    const fst = this.ensureFileStream(df, st);
    const row = trigger - df.first;
    if (st.storeAs !== st.spec.dtype) data = convertRow(data, st.spec.dtype, st.storeAs);
    const storedBytes = data.byteLength;
    if (storedBytes <= BLOCK_MAX_ITEM) {
      fst.block ??= new RowBlock(Math.max(16, Math.min(4096, Math.floor(BLOCK_BYTES / storedBytes))), storedBytes);
      if (!fst.block.fits(row)) this.writeBlock(st, fst);
      fst.block.put(row, data);
      if (fst.block.n === fst.block.rowsCap) this.writeBlock(st, fst);
    } else {
      if (row >= fst.rows) {
        fst.ds.resize([row + 1, ...st.spec.shape]);
        fst.rows = row + 1;
      }
      fst.ds.write_slice([[row, row + 1]], viewAs(data, st.storeAs));
    }
    st.arrived.add(trigger);
    this.issued.add(trigger); // data for a trigger means it was issued: /entry/triggers never says 0 for it
    this.stats.written++;
    this.stats.bytes += data.byteLength;
    this.markDirty(df, row, row + 1);
    this.advance(trigger);
  }

  /** Write the rows gathered in a stream's block (runs of rows that arrived) and empty it. */
  private writeBlock(st: StreamState, fst: FileStream): void {
    const b = fst.block;
    if (!b || b.n === 0) return;
    if (b.hi > fst.rows) {
      fst.ds.resize([b.hi, ...st.spec.shape]);
      fst.rows = b.hi;
    }
    const span = b.hi - b.lo;
    for (let i = 0; i < span; ) {
      if (!b.present[i]) {
        i++;
        continue;
      }
      let j = i;
      while (j < span && b.present[j]) j++;
      const bytes = b.buf.subarray(i * b.itemBytes, j * b.itemBytes);
      fst.ds.write_slice([[b.lo + i, b.lo + j]], viewAs(bytes, st.storeAs));
      i = j;
    }
    b.present.fill(0, 0, span);
    b.n = 0;
  }

  private markDirty(df: DataFile, lo: number, hi: number): void {
    if (lo < df.dirtyLo) df.dirtyLo = lo;
    if (hi > df.dirtyHi) df.dirtyHi = hi;
    if (hi > df.extent) df.extent = hi;
    this.unflushedSince ??= Date.now();
  }

  private advance(trigger: number): void {
    if (trigger > this.highest) this.highest = trigger;
    if (this.flushEveryTriggers > 0 && this.highest - this.lastFlushTrigger >= this.flushEveryTriggers) this.flush();
  }

  /** The data file holding `trigger`, opening (rollover part) or re-opening it as needed. */
  private fileFor(trigger: number): DataFile {
    const roll = this.opts.rolloverTriggers ?? 0;
    if (!roll) return this.files[0]!;
    const k = Math.floor((trigger - 1) / roll) + 1;
    let df = this.files.find((d) => d.partIndex === k);
    if (df && df.f) return df;
    if (df) {
      // late data for a part already closed
      df.f = new h5wasm.File(df.path, "a");
      df.streams.clear();
      df.triggers = getDataset(df.f, "/entry/triggers");
      for (const st of this.streams.values()) this.ensureFileStream(df, st);
      this.stats.reopened++;
    } else {
      const p = this.partPath(k);
      if (!claim(p)) throw new Error(`rollover: part file ${p} already exists; refusing to overwrite`);
      df = this.openNewFile(p, (k - 1) * roll + 1, k * roll, k);
      const entry = ensureGroup(this.master!, "entry", "NXentry");
      const linkName = `part${pad(k)}`;
      entry.create_external_link(path.basename(p), "/entry", linkName);
      if (k === 1 && !this.opts.run.raster) setAttr(entry, "default", linkName);
      this.master!.flush();
    }
    // keep at most two parts open: the newest and the one before it (late data)
    const open = this.files.filter((d) => d.f).sort((a, b) => a.partIndex - b.partIndex);
    while (open.length > 2) this.closeDataFile(open.shift()!, false);
    return df;
  }

  private partPath(k: number): string {
    return path.join(path.dirname(this.path), `${this.opts.prefix}_${pad(this.scanNumber)}_part${pad(k)}.nxs`);
  }

  // ---------------------------------------------------------------- flushing

  /** Write masks and trigger numbers for everything written so far, align extents, flush to disk. */
  flush(): void {
    this.assertOpen();
    for (const df of this.files) if (df.f) this.flushFile(df);
    this.master?.flush();
    this.lastFlushTrigger = this.highest;
    this.unflushedSince = null;
    this.stats.flushes++;
  }

  private flushIfDue(ms: number): void {
    if (this.closed || this.unflushedSince === null) return;
    if (Date.now() - this.unflushedSince >= ms) this.flush();
  }

  private flushFile(df: DataFile, finalExtent?: number): void {
    for (const [key, fst] of df.streams) this.writeBlock(this.streams.get(key)!, fst);
    const extent = finalExtent ?? df.extent;
    // align every dataset of the file on the same number of rows
    for (const [key, fst] of df.streams) {
      const st = this.streams.get(key)!;
      if (fst.rows !== extent) {
        fst.ds.resize([extent, ...st.spec.shape]);
        fst.rows = extent;
      }
      if ((fst.mask.shape?.[0] ?? 0) !== extent) fst.mask.resize([extent]);
    }
    if ((df.triggers!.shape?.[0] ?? 0) !== extent) df.triggers!.resize([extent]);
    const lo = Math.min(df.dirtyLo, extent);
    const hi = Math.min(df.dirtyHi, extent);
    if (hi > lo) {
      for (const [key, fst] of df.streams) {
        const st = this.streams.get(key)!;
        fst.mask.write_slice([[lo, hi]], st.arrived.slice(df.first + lo, hi - lo));
      }
      const iss = this.issued.slice(df.first + lo, hi - lo);
      const nums = new Uint32Array(hi - lo);
      for (let i = 0; i < nums.length; i++) nums[i] = iss[i] ? df.first + lo + i : 0;
      df.triggers!.write_slice([[lo, hi]], nums);
    }
    df.dirtyLo = Infinity;
    df.dirtyHi = 0;
    df.f!.flush();
  }

  // ---------------------------------------------------------------- closing

  /** Finish one data file: final extent, NaN in missing float rows, completeness attributes. */
  private closeDataFile(df: DataFile, atEnd: boolean, lastTrigger?: number, summary?: { status: RunStatus; message?: string; deadTime?: DeadTimeReport }): void {
    const f = df.f!;
    let extent = df.extent;
    if (atEnd && lastTrigger !== undefined) extent = Math.max(extent, Math.min(lastTrigger, df.last) - df.first + 1, 0);
    else if (Number.isFinite(df.last)) extent = Math.max(extent, df.last - df.first + 1);
    // one stream that cannot be finalised (huge rows, a write error) must not keep the others, the status and the
    // end time out of the file: every step is tried on its own and failures are recorded in the file
    const failed: Array<{ stream: string; error: string }> = [];
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        failed.push({ stream: what, error: (e as Error).message });
      }
    };
    this.markDirty(df, 0, extent);
    attempt("(flush)", () => this.flushFile(df, extent));
    const entry = ensureGroup(f, "entry", "NXentry");
    let allComplete = true;
    for (const [key, fst] of df.streams) {
      const st = this.streams.get(key)!;
      const missing: number[] = [];
      for (let r = 0; r < extent; r++) if (!st.arrived.has(df.first + r)) missing.push(df.first + r);
      if (missing.length) allComplete = false;
      attempt(key, () => {
        writeCompleteness(fst.mask, extent, missing);
        if (missing.length && (st.storeAs === "float32" || st.storeAs === "float64")) {
          const nan = new (st.storeAs === "float32" ? Float32Array : Float64Array)(st.itemBytes / DTYPE_BYTES[st.spec.dtype]).fill(NaN);
          for (const t of missing) fst.ds.write_slice([[t - df.first, t - df.first + 1]], nan);
        }
      });
    }
    attempt("(end_time)", () => {
      if (!getDataset(entry, "end_time")) strDataset(entry, "end_time", nowIso());
    });
    // the layout's close-time part (default plot, subentry links to end_time ...) once the entry's fields exist
    if (atEnd && summary && !this.master) {
      attempt("(layout at close)", () => applyClose(f, this.layout("single"), this.classOf, this.opts.run, this.rowSource(df.first, df.first + extent - 1)));
      if (summary.deadTime) attempt("(dead time)", () => applyOpen(f, deadTimeLayout(summary.deadTime!), this.classOf, () => {}));
    }
    this.unfinalised.push(...failed);
    attempt("(end)", () => {
      setAttr(entry, "last_trigger", df.first + extent - 1, "<q");
      setAttr(entry, "complete", allComplete ? 1 : 0, "<i");
      if (failed.length) setAttr(entry, "unfinalised", failed.map((x) => `${x.stream}: ${x.error}`));
      if (summary) {
        strDataset(entry, "status", summary.status);
        const msg = [summary.message, failed.length ? `not finalised: ${failed.map((x) => x.stream).join(", ")}` : ""].filter(Boolean).join("; ");
        if (msg) strDataset(entry, "status_message", msg);
      }
    });
    try {
      f.flush();
    } finally {
      f.close();
    }
    df.f = null;
    df.streams.clear();
    df.triggers = null;
  }

  /** Scalar values by trigger (index = trigger - 1; NaN where missing), read back from the data file(s). */
  private readScalar(key: string): Float64Array | null {
    const st = this.streams.get(key);
    if (!st || st.spec.shape.length !== 0) return null;
    const n = Math.max(this.highest, ...this.files.map((d) => d.first + d.extent - 1));
    const out = new Float64Array(Math.max(0, n)).fill(NaN);
    for (const df of this.files) {
      const f = df.f ?? new h5wasm.File(df.path, "r");
      try {
        const ds = getDataset(f, st.dsPath);
        if (!ds) continue;
        const v = ds.value as ArrayLike<number | bigint> | null;
        if (!v) continue;
        for (let r = 0; r < v.length; r++) {
          const t = df.first + r;
          if (st.arrived.has(t) && t - 1 < out.length) out[t - 1] = Number(v[r]);
        }
      } finally {
        if (!df.f) f.close();
      }
    }
    return out;
  }

  /** Sum of a 1-D stream's rows that arrived, over every file of the run (`perRow`: one sum per trigger instead). */
  private readSum(key: string, perRow = false): Float64Array | null {
    const st = this.streams.get(key);
    if (!st || st.spec.shape.length !== 1) return null;
    const n = st.spec.shape[0]!;
    const triggers = Math.max(this.highest, ...this.files.map((d) => d.first + d.extent - 1));
    const out = perRow ? new Float64Array(Math.max(0, triggers)).fill(NaN) : new Float64Array(n);
    for (const df of this.files) {
      const f = df.f ?? new h5wasm.File(df.path, "r");
      try {
        const ds = getDataset(f, st.dsPath);
        const rows = ds?.shape?.[0] ?? 0;
        // a block of rows at a time: bounded memory whatever the run length
        for (let lo = 0; lo < rows; lo += 256) {
          const hi = Math.min(rows, lo + 256);
          const v = ds!.slice([[lo, hi]]) as ArrayLike<number | bigint>;
          for (let r = lo; r < hi; r++) {
            if (!st.arrived.has(df.first + r)) continue;
            const o = (r - lo) * n;
            if (perRow) {
              let t = 0;
              for (let i = 0; i < n; i++) t += Number(v[o + i]);
              if (df.first + r - 1 < out.length) out[df.first + r - 1] = t;
            } else for (let i = 0; i < n; i++) out[i]! += Number(v[o + i]);
          }
        }
      } finally {
        if (!df.f) f.close();
      }
    }
    return out;
  }

  private rowSource(first: number, last: number): RowSource {
    return { first, last, scalar: (k) => this.readScalar(k), sum: (k) => this.readSum(k), rowSums: (k) => this.readSum(k, true) };
  }

  /**
   * End the run: final extents (rows up to lastTrigger; missing rows masked, NaN for floats), end_time, status,
   * per-stream completeness; closes every file. Idempotent is not promised: call once.
   */
  close(summary: CloseSummary): CloseResult {
    this.assertOpen();
    if (this.timer) clearInterval(this.timer);
    // every trigger up to the last one issued was issued (also one an abort cut short): never recorded as 0
    const lastIssued = Math.max(summary.lastIssued ?? 0, summary.lastTrigger);
    for (let t = this.firstTrigger; t <= lastIssued; t++) this.issued.add(t);
    const last = Math.max(lastIssued, this.highest);
    const perStream: StreamCompleteness[] = [];
    const gaps: StreamGap[] = [];
    for (const st of this.streams.values()) {
      const missing: number[] = [];
      for (let t = this.firstTrigger; t <= last; t++) if (!st.arrived.has(t)) missing.push(t);
      perStream.push({ key: st.key, complete: missing.length === 0, missing });
      if (missing.length) gaps.push({ stream: st.key, missing: missing.length, ranges: toRanges(missing) });
    }
    const status = finalStatus(summary.status, gaps);
    const final = { status, message: [summary.message, gaps.length ? `gaps: ${describeGaps(gaps)}` : ""].filter(Boolean).join("; ") || undefined, deadTime: summary.deadTime };
    const roll = this.opts.rolloverTriggers ?? 0;
    // make sure every part up to the last trigger exists (a part with no data still gets its masks)
    if (roll) for (let t = 1; t <= last; t += roll) this.fileFor(t);
    for (const df of this.files) {
      if (!df.f) {
        df.f = new h5wasm.File(df.path, "a");
        df.triggers = getDataset(df.f, "/entry/triggers");
        for (const st of this.streams.values()) this.ensureFileStream(df, st);
      }
      try {
        this.closeDataFile(df, true, last, final);
      } catch (e) {
        this.unfinalised.push({ stream: path.basename(df.path), error: (e as Error).message });
      }
    }
    const parts = this.master ? this.files.map((d) => d.path) : [];
    if (this.master) this.finishMaster(final, last);
    this.closed = true;
    return {
      path: this.path,
      scanNumber: this.scanNumber,
      parts,
      perStream,
      status,
      gaps,
      unfinalised: [...this.unfinalised],
    };
  }

  /** Master of a rollover run: run-wide masks and completeness, status, raster image. */
  private finishMaster(summary: { status: RunStatus; message?: string; deadTime?: DeadTimeReport }, last: number): void {
    const m = this.master!;
    if (summary.deadTime) {
      try {
        applyOpen(m, deadTimeLayout(summary.deadTime), this.classOf, () => {});
      } catch (e) {
        this.unfinalised.push({ stream: "(dead time)", error: (e as Error).message });
      }
    }
    const entry = ensureGroup(m, "entry", "NXentry");
    const masks = ensureGroup(entry, "masks", "NXcollection");
    let allComplete = true;
    for (const st of this.streams.values()) {
      const pg = ensureGroup(masks, st.spec.player, "NXcollection");
      const bytes = st.arrived.slice(1, last);
      pg.create_dataset({ name: st.spec.name, data: bytes, shape: [last], dtype: "<B" });
      const d = getDataset(pg, st.spec.name);
      if (!d) throw new Error(`HDF5: could not create master mask ${st.maskPath}`);
      const missing: number[] = [];
      for (let t = 1; t <= last; t++) if (!st.arrived.has(t)) missing.push(t);
      setAttr(d, "long_name", `1 = data for ${st.key} arrived for this trigger`);
      writeCompleteness(d, last, missing);
      if (missing.length) allComplete = false;
    }
    const trig = new Uint32Array(last);
    for (let t = 1; t <= last; t++) trig[t - 1] = this.issued.has(t) ? t : 0;
    entry.create_dataset({ name: "triggers", data: trig, shape: [last], dtype: "<I" });
    strDataset(entry, "end_time", nowIso());
    strDataset(entry, "status", summary.status);
    if (summary.message) strDataset(entry, "status_message", summary.message);
    numDataset(entry, "parts", this.files.length);
    setAttr(entry, "last_trigger", last, "<q");
    setAttr(entry, "complete", allComplete ? 1 : 0, "<i");
    setAttr(entry, "rollover_triggers", this.opts.rolloverTriggers!, "<q");
    applyClose(m, this.layout("master"), this.classOf, this.opts.run, this.rowSource(1, last));
    m.flush();
    m.close();
    this.master = null;
  }

  /** Abandon without finishing (tests, fatal errors): closes the HDF5 handles as they are. */
  abort(): void {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    try {
      this.flush();
    } catch {
      /* best effort */
    }
    for (const df of this.files) df.f?.close();
    this.master?.close();
    this.closed = true;
  }
}

/** One row converted between stored types (integer targets: rounded, clamped, NaN -> 0). */
/** A row converted from the stream's declared dtype to the one the layout stores (e.g. monitor counts as uint32). */
export function convertRow(data: Uint8Array, from: StreamSpec["dtype"], to: StreamSpec["dtype"]): Uint8Array {
  const src = viewAs(data, from);
  const out = new TYPED_CTOR[to](src.length);
  const int = !(to === "float32" || to === "float64");
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    out[i] = int ? (Number.isFinite(v) ? Math.round(v) : 0) : v;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function writeCompleteness(mask: Dataset, expected: number, missing: number[]): void {
  setAttr(mask, "expected", expected, "<q");
  setAttr(mask, "received", expected - missing.length, "<q");
  setAttr(mask, "complete", missing.length ? 0 : 1, "<i");
  let r = toRanges(missing);
  if (r.length > 8000) r = `${r.slice(0, 8000)}... (see the mask)`;
  setAttr(mask, "missing", r);
}

/** Exclusive creation of an empty file (O_EXCL): true if we own it now. */
function claim(p: string): boolean {
  try {
    fs.closeSync(fs.openSync(p, "wx"));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/** Next scan number in `dir` for `prefix` (max existing + 1, counting parts and resumes), claimed exclusively. */
export function claimNextScan(dir: string, prefix: string): { scan: number; path: string } {
  const re = new RegExp(`^${escapeRe(prefix)}_(\\d+)(?:_[A-Za-z0-9]+)*\\.nxs$`);
  for (let attempt = 0; attempt < 1000; attempt++) {
    let max = 0;
    for (const name of fs.readdirSync(dir)) {
      const m = re.exec(name);
      if (m) max = Math.max(max, Number(m[1]));
    }
    const scan = max + 1;
    const p = path.join(dir, `${prefix}_${pad(scan)}.nxs`);
    if (claim(p)) return { scan, path: p };
  }
  throw new Error(`could not claim a scan number in ${dir}`);
}

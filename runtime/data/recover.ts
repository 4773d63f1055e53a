/**
 * `donki recover FILE`: replay the write-ahead journal (journal.ts) into the scan's own file after a crash, and
 * make the file tell the truth: every row the journal holds is placed and unmasked, /entry/triggers numbers every
 * trigger that was issued, rows that never arrived stay masked (NaN for floats), and a file that was never closed
 * gets a status, an end time and its completeness attributes. `truncateScan` cuts a crashed file at the trigger a
 * resumed run restarts from, so every trigger is stored in exactly one of the scan's files.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { convertRow } from "./nexus-writer.ts";
import { type Dataset, type Group, type H5File, TYPED_CTOR, attrValue, getDataset, getGroup, h5ready, h5wasm, setAttr, strDataset, toRanges, viewAs } from "./h5util.ts";
import { journalSegments, readJournal } from "./journal.ts";
import type { DType } from "./types.ts";

export interface RecoverReport {
  file: string;
  segments: number;
  /** Rows written from the journal (they were not in the file). */
  replayed: number;
  /** Journal rows the file already held. */
  already: number;
  /** Triggers the journal records as done. */
  doneTriggers: number;
  /** Last trigger of the file after recovery. */
  lastTrigger: number;
  /** Every trigger first..recoveredThrough is done and in the file. */
  recoveredThrough: number;
  /** Journal records that did not check (a torn last record after a kill is normal). */
  torn: Array<{ segment: string; offset: number; reason: string }>;
  /** Rows of streams the file has no dataset for (declared after the last flush). */
  unplaced: number;
  status: string;
}

interface StreamFile {
  key: string;
  ds: Dataset;
  mask: Dataset;
  dtype: DType;
  rowShape: number[];
  rowBytes: number;
  m: Uint8Array;
}

const isFloat = (d: DType) => d === "float32" || d === "float64";

function streamsOf(f: H5File, entry: Group): StreamFile[] {
  const out: StreamFile[] = [];
  const masks = getGroup(entry, "masks");
  for (const player of masks?.keys() ?? []) {
    const pg = getGroup(masks!, player);
    for (const name of pg?.keys() ?? []) {
      const mask = getDataset(pg!, name);
      if (!mask) continue;
      const target = String(attrValue(mask, "target") ?? `/entry/instrument/${player}/${name}`);
      const ds = getDataset(f, target);
      if (!ds) continue;
      const md = ds.metadata;
      const dtype: DType | null = md.type === 1 ? (md.size === 4 ? "float32" : "float64") : ({ "1u": "uint8", "2u": "uint16", "4u": "uint32", "2s": "int16", "4s": "int32" } as Record<string, DType>)[`${md.size}${md.signed ? "s" : "u"}`] ?? null;
      if (!dtype) continue;
      const rowShape = (ds.shape ?? [0]).slice(1);
      out.push({ key: `${player}/${name}`, ds, mask, dtype, rowShape, rowBytes: rowShape.reduce((a, b) => a * b, 1) * md.size, m: (mask.value as Uint8Array | null) ?? new Uint8Array(0) });
    }
  }
  return out;
}

function grow(ds: Dataset, rows: number): void {
  const shape = ds.shape ?? [0];
  if ((shape[0] ?? 0) < rows) ds.resize([rows, ...shape.slice(1)]);
}

function completeness(mask: Dataset, m: Uint8Array, first: number): number[] {
  const missing: number[] = [];
  for (let r = 0; r < m.length; r++) if (!m[r]) missing.push(first + r);
  setAttr(mask, "expected", m.length, "<q");
  setAttr(mask, "received", m.length - missing.length, "<q");
  setAttr(mask, "complete", missing.length ? 0 : 1, "<i");
  let r = toRanges(missing);
  if (r.length > 8000) r = `${r.slice(0, 8000)}... (see the mask)`;
  setAttr(mask, "missing", r);
  return missing;
}


/** Replay `file`'s journal into it (see the module comment). Deletes the journal once the file holds it. */
export async function recoverScan(file: string): Promise<RecoverReport> {
  await h5ready();
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new Error(`${file}: no such file`);
  const j = readJournal(abs);
  if (!j.segments.length) {
    // no journal: a closed file is left untouched; a file that was never closed is still made truthful below
    const rf = new h5wasm.File(abs, "r");
    try {
      const entry = getGroup(rf, "/entry");
      if (!entry) throw new Error(`${file}: not a donki NeXus file (no /entry)`);
      const status = getDataset(entry, "status");
      if (status) {
        const first = Number(attrValue(entry, "first_trigger") ?? 1);
        const last = Number(attrValue(entry, "last_trigger") ?? first - 1);
        return { file: abs, segments: 0, replayed: 0, already: 0, doneTriggers: 0, lastTrigger: last, recoveredThrough: Number(attrValue(entry, "recovered_through") ?? last), torn: [], unplaced: 0, status: String(status.value) };
      }
    } finally {
      rf.close();
    }
  }
  const f = new h5wasm.File(abs, "a");
  let report: RecoverReport;
  try {
    const entry = getGroup(f, "/entry");
    if (!entry) throw new Error(`${file}: not a donki NeXus file (no /entry)`);
    const first = Number(attrValue(entry, "first_trigger") ?? 1);
    if (j.header && j.header.firstTrigger !== first) throw new Error(`${file}: the journal starts at trigger ${j.header.firstTrigger}, the file at ${first}: not this file's journal`);
    const trigDs = getDataset(entry, "triggers");
    if (!trigDs) throw new Error(`${file}: no /entry/triggers`);
    const streams = streamsOf(f, entry);
    const byKey = new Map(streams.map((s) => [s.key, s]));
    let extent = (trigDs.shape?.[0] ?? 0) as number;
    for (const s of streams) extent = Math.max(extent, s.ds.shape?.[0] ?? 0, s.m.length);
    for (const r of j.rows) if (byKey.has(r.key)) extent = Math.max(extent, r.trig - first + 1);
    for (const t of j.done.keys()) extent = Math.max(extent, t - first + 1);
    const trig = new Uint32Array(extent);
    trig.set(((trigDs.value as Uint32Array | null) ?? new Uint32Array(0)).subarray(0, extent));
    // every dataset of the file on the same number of rows
    grow(trigDs, extent);
    for (const s of streams) {
      grow(s.ds, extent);
      grow(s.mask, extent);
      const m = new Uint8Array(extent);
      m.set(s.m.subarray(0, extent));
      s.m = m;
    }
    let replayed = 0;
    let already = 0;
    let unplaced = 0;
    for (const r of j.rows) {
      const s = byKey.get(r.key);
      const row = r.trig - first;
      if (!s || row < 0) {
        unplaced++;
        continue;
      }
      trig[row] = r.trig; // data for a trigger: it was issued
      if (s.m[row]) {
        already++;
        continue;
      }
      let data = r.data;
      // the layout may store a stream in another dtype than declared (monitor counts as uint32): convert as the writer does
      const declared = j.streams.get(r.key)?.dtype as DType | undefined;
      if (declared && declared !== s.dtype && data.byteLength === (s.rowBytes / TYPED_CTOR[s.dtype].BYTES_PER_ELEMENT) * TYPED_CTOR[declared].BYTES_PER_ELEMENT) {
        data = convertRow(data, declared, s.dtype);
      }
      if (data.byteLength !== s.rowBytes) {
        unplaced++;
        continue;
      }
      s.ds.write_slice([[row, row + 1]], viewAs(data, s.dtype));
      s.m[row] = 1;
      replayed++;
    }
    for (const t of j.done.keys()) if (t - first >= 0) trig[t - first] = t;
    // a row exists because its trigger was issued: never numbered 0
    for (let r = 0; r < extent; r++) if (!trig[r] && streams.some((s) => s.m[r])) trig[r] = first + r;
    trigDs.write_slice([[0, extent]], trig);
    let allComplete = true;
    for (const s of streams) {
      s.mask.write_slice([[0, extent]], s.m);
      const missing = completeness(s.mask, s.m, first);
      if (missing.length) allComplete = false;
      if (missing.length && isFloat(s.dtype)) {
        // a partial row of a killed file: masked, and NaN, never a plausible 0
        const nan = new TYPED_CTOR[s.dtype](s.rowBytes / (s.dtype === "float32" ? 4 : 8)).fill(NaN);
        for (const t of missing) s.ds.write_slice([[t - first, t - first + 1]], nan);
      }
    }
    let through = first - 1;
    while (through - first + 1 < extent && (j.done.has(through + 1) || streams.every((s) => s.m[through + 1 - first]))) through++;
    const lastTrigger = first + extent - 1;
    setAttr(entry, "recovered_through", through, "<q");
    setAttr(entry, "complete", allComplete ? 1 : 0, "<i");
    const note = `recovered by donki recover ${new Date().toISOString()}: ${replayed} rows replayed from the journal (${j.done.size} triggers recorded done; every trigger ${first}..${through} complete)`;
    setAttr(entry, "recovery", note);
    let status = String(getDataset(entry, "status")?.value ?? "");
    if (!status) {
      // never closed: the process died; say so, with when it last completed a trigger
      status = "failed";
      setAttr(entry, "last_trigger", lastTrigger, "<q");
      strDataset(entry, "status", status);
      if (!getDataset(entry, "status_message")) strDataset(entry, "status_message", `the donki process ended without closing the file (killed or crashed); ${note}`);
      const lastDone = Math.max(0, ...j.done.values());
      if (!getDataset(entry, "end_time")) strDataset(entry, "end_time", new Date(lastDone || Date.now()).toISOString());
    } else {
      if (Number(attrValue(entry, "last_trigger") ?? 0) < lastTrigger) setAttr(entry, "last_trigger", lastTrigger, "<q");
    }
    f.flush();
    report = { file: abs, segments: j.segments.length, replayed, already, doneTriggers: j.done.size, lastTrigger, recoveredThrough: through, torn: j.torn, unplaced, status };
  } finally {
    f.close();
  }
  // the file holds everything the journal had: the journal goes (kept when rows could not be placed)
  if (report.unplaced === 0) for (const p of journalSegments(abs)) fs.rmSync(p, { force: true });
  return report;
}

/**
 * Cut a crashed scan's file before trigger `from` (a resumed run stores `from` onwards in its own file): datasets,
 * masks and trigger numbers end at `from - 1`. Every trigger is then stored in exactly one of the scan's files.
 */
export async function truncateScan(file: string, from: number): Promise<void> {
  await h5ready();
  const f = new h5wasm.File(path.resolve(file), "a");
  try {
    const entry = getGroup(f, "/entry");
    if (!entry) throw new Error(`${file}: no /entry`);
    const first = Number(attrValue(entry, "first_trigger") ?? 1);
    const rows = Math.max(0, from - first);
    const trigDs = getDataset(entry, "triggers");
    if (trigDs && (trigDs.shape?.[0] ?? 0) > rows) trigDs.resize([rows]);
    let allComplete = true;
    for (const s of streamsOf(f, entry)) {
      if ((s.ds.shape?.[0] ?? 0) > rows) s.ds.resize([rows, ...s.rowShape]);
      if (s.m.length > rows) s.mask.resize([rows]);
      if (completeness(s.mask, s.m.subarray(0, rows), first).length) allComplete = false;
    }
    setAttr(entry, "last_trigger", first + rows - 1, "<q");
    setAttr(entry, "complete", allComplete ? 1 : 0, "<i");
    setAttr(entry, "continued_at", from, "<q");
    f.flush();
  } finally {
    f.close();
  }
}

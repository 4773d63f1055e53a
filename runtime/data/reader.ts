/**
 * Read back what NexusWriter wrote: a run summary (for `donki inspect FILE`) and a stream's rows (tests,
 * quick looks). Works on single files, rollover masters (masks are copied into the master at close) and on
 * files a killed writer left (status "incomplete").
 */
import * as path from "node:path";
import {
  type Dataset,
  attrValue,
  dtypeFromMetadata,
  getDataset,
  getGroup,
  h5ready,
  h5wasm,
  toRanges,
} from "./h5util.ts";
import { ENTRY, MASKS, TRIGGERS, fallbackStreamPath, maskPath as maskPathOf } from "./layout.ts";
import type { DType } from "./types.ts";
import { journalSegments } from "./journal.ts";

export interface StreamSummary {
  key: string;
  path: string;
  /** Per-trigger shape. */
  shape: number[];
  dtype: DType | null;
  units?: string;
  role?: string;
  received: number;
  complete: boolean;
  missing: number[];
}

export interface RunSummary {
  path: string;
  scanNumber: number;
  title: string;
  runId?: string;
  start: Date | null;
  end: Date | null;
  /** Seconds, null while running or after a crash. */
  duration: number | null;
  /** A RunStatus (runtime/protocol/run-status.ts), or "incomplete" when the file was never closed (crash, running). */
  status: string;
  /** Planned triggers of the scan (null: unbounded or not recorded). */
  planned: number | null;
  /** Triggers this file records as issued (non-zero entries of /entry/triggers). */
  issued: number;
  /** Write-ahead journal segments beside the file (rows `donki recover` can still put into it). */
  journalSegments: number;
  message?: string;
  scenarioName?: string;
  scenarioHash?: string;
  firstTrigger: number;
  lastTrigger: number;
  parts: string[];
  resumedFrom?: string;
  perStream: StreamSummary[];
}

const str = (d: Dataset | null): string | undefined => {
  if (!d) return undefined;
  const v = d.value;
  return typeof v === "string" ? v : v == null ? undefined : String(v);
};

export async function readRunSummary(file: string): Promise<RunSummary> {
  await h5ready();
  const f = new h5wasm.File(path.resolve(file), "r");
  try {
    const entry = getGroup(f, ENTRY);
    if (!entry) throw new Error(`${file}: not a donki NeXus file (no ${ENTRY})`);
    const startS = str(getDataset(entry, "start_time"));
    const endS = str(getDataset(entry, "end_time"));
    const start = startS ? new Date(startS) : null;
    const end = endS ? new Date(endS) : null;
    const firstTrigger = Number(attrValue(entry, "first_trigger") ?? 1);
    // rollover master: external links /entry/partNNNNN -> <part file>:/entry (not traversed: h5wasm aborts
    // on some paths through external links; part files are opened directly instead)
    const parts = entry
      .keys()
      .filter((k) => /^part\d+$/.test(k))
      .sort()
      .map((k) => entry.get_external_link(`${ENTRY}/${k}`).filename);
    const triggers = getDataset(f, TRIGGERS);
    const trig = (triggers?.value as Uint32Array | null) ?? new Uint32Array(0);
    let lastTrigger = Number(attrValue(entry, "last_trigger") ?? NaN);
    if (!Number.isFinite(lastTrigger)) {
      // never closed: every row of /entry/triggers as of the last flush (a row exists because it was issued)
      lastTrigger = firstTrigger + trig.length - 1;
    }
    let issued = 0;
    for (let i = 0; i < trig.length; i++) if (trig[i]) issued++;
    const plannedDs = getDataset(entry, "planned_triggers");
    const planned = plannedDs ? Number(plannedDs.value) : null;
    const expected = Math.max(0, lastTrigger - firstTrigger + 1);
    const perStream: StreamSummary[] = [];
    const masks = getGroup(f, MASKS);
    for (const player of masks?.keys() ?? []) {
      const pg = getGroup(masks!, player);
      for (const name of pg?.keys() ?? []) {
        const m = getDataset(pg!, name);
        if (!m) continue;
        const mv = (m.value as Uint8Array | null) ?? new Uint8Array(0);
        const target = String(attrValue(m, "target") ?? fallbackStreamPath(player, name));
        const missing: number[] = [];
        let received = 0;
        for (let r = 0; r < expected; r++) {
          if (r < mv.length && mv[r] === 1) received++;
          else missing.push(firstTrigger + r);
        }
        let shape: number[] = [];
        let dtype: DType | null = null;
        let units: string | undefined;
        let role: string | undefined;
        const ds = parts.length ? null : getDataset(f, target);
        if (ds) {
          shape = (ds.shape ?? []).slice(1);
          dtype = dtypeFromMetadata(ds.metadata);
          units = attrValue(ds, "units") as string | undefined;
          role = attrValue(ds, "donki_role") as string | undefined;
        } else if (parts.length) {
          // rollover master: describe the stream from the first part
          const d = partDataset(path.join(path.dirname(path.resolve(file)), parts[0]!), target);
          if (d) ({ shape, dtype, units, role } = d);
        }
        perStream.push({ key: `${player}/${name}`, path: target, shape, dtype, units, role, received, complete: missing.length === 0, missing });
      }
    }
    const note = getGroup(entry, "scenario");
    return {
      path: path.resolve(file),
      scanNumber: Number(str(getDataset(entry, "entry_identifier"))),
      title: str(getDataset(entry, "title")) ?? "",
      runId: str(getDataset(entry, "run_id")),
      start,
      end,
      duration: start && end ? (end.getTime() - start.getTime()) / 1000 : null,
      status: str(getDataset(entry, "status")) ?? "incomplete",
      message: str(getDataset(entry, "status_message")),
      scenarioName: note ? str(getDataset(note, "description")) : undefined,
      scenarioHash: note ? str(getDataset(note, "sha256")) : undefined,
      firstTrigger,
      lastTrigger,
      planned: planned !== null && Number.isFinite(planned) ? planned : null,
      issued,
      journalSegments: journalSegments(file).length,
      parts,
      resumedFrom: attrValue(entry, "resumed_from") as string | undefined,
      perStream,
    };
  } finally {
    f.close();
  }
}

function partDataset(partFile: string, target: string) {
  const pf = new h5wasm.File(partFile, "r");
  try {
    const d = getDataset(pf, target);
    if (!d) return null;
    return {
      shape: (d.shape ?? []).slice(1),
      dtype: dtypeFromMetadata(d.metadata),
      units: attrValue(d, "units") as string | undefined,
      role: attrValue(d, "donki_role") as string | undefined,
    };
  } finally {
    pf.close();
  }
}

/**
 * Rows of one stream (by key "player/name" or by dataset path) with their mask, from one file.
 * `rows` is a flat TypedArray of shape [n, ...perTriggerShape]; row i holds trigger firstTrigger + i.
 */
export async function readStream(
  file: string,
  keyOrPath: string,
  range?: { fromRow?: number; toRow?: number },
): Promise<{ rows: ArrayLike<number>; shape: number[]; mask: Uint8Array; firstTrigger: number; dtype: DType | null }> {
  await h5ready();
  const f = new h5wasm.File(path.resolve(file), "r");
  try {
    let dsPath = keyOrPath;
    let maskPath: string | null = null;
    if (!keyOrPath.startsWith("/")) {
      const [player, name] = keyOrPath.split("/");
      maskPath = maskPathOf(player, name);
      const m = getDataset(f, maskPath);
      dsPath = String((m && attrValue(m, "target")) ?? fallbackStreamPath(player, name));
    }
    const ds = getDataset(f, dsPath);
    if (!ds) throw new Error(`${file}: no dataset ${dsPath}`);
    if (!maskPath) maskPath = String(attrValue(ds, "mask") ?? "");
    const shape = ds.shape ?? [];
    const lo = range?.fromRow ?? 0;
    const hi = Math.min(range?.toRow ?? shape[0] ?? 0, shape[0] ?? 0);
    const rows = (hi > lo ? ds.slice([[lo, hi]]) : new Uint8Array(0)) as ArrayLike<number>;
    const mds = maskPath ? getDataset(f, maskPath) : null;
    const mask = mds && hi > lo ? (mds.slice([[lo, hi]]) as Uint8Array) : new Uint8Array(0);
    const entry = getGroup(f, ENTRY);
    return {
      rows,
      shape: [Math.max(0, hi - lo), ...shape.slice(1)],
      mask,
      firstTrigger: Number((entry && attrValue(entry, "first_trigger")) ?? 1) + lo,
      dtype: dtypeFromMetadata(ds.metadata),
    };
  } finally {
    f.close();
  }
}

export function formatRunSummary(s: RunSummary): string {
  const lines: string[] = [];
  const dur = s.duration === null ? "-" : `${s.duration.toFixed(1)} s`;
  lines.push(`${path.basename(s.path)}  scan ${s.scanNumber}  "${s.title}"`);
  lines.push(`  status    ${s.status}${s.message ? ` (${s.message})` : ""}`);
  if (s.journalSegments) lines.push(`  journal   ${s.journalSegments} segment(s) beside the file: \`donki recover ${path.basename(s.path)}\` puts their rows into it`);
  lines.push(`  start     ${s.start?.toISOString() ?? "-"}`);
  lines.push(`  end       ${s.end?.toISOString() ?? "-"}   duration ${dur}`);
  if (s.scenarioName) lines.push(`  scenario  ${s.scenarioName}${s.scenarioHash ? `  sha256 ${s.scenarioHash.slice(0, 12)}` : ""}`);
  const n = Math.max(0, s.lastTrigger - s.firstTrigger + 1);
  const of =
    s.planned === null ? `${n}, unbounded` : s.firstTrigger > 1 ? `${n} of ${s.planned - s.firstTrigger + 1} planned from ${s.firstTrigger}, resumed; the scan plans ${s.planned}` : `${n} of ${s.planned} planned`;
  lines.push(`  triggers  ${n ? `${s.firstTrigger}..${s.lastTrigger}` : "none"}  (${of})`);
  if (s.parts.length) lines.push(`  parts     ${s.parts.length}: ${s.parts.join(", ")}`);
  if (s.resumedFrom) lines.push(`  resumed from ${s.resumedFrom}`);
  lines.push("  streams:");
  const w = Math.max(6, ...s.perStream.map((p) => p.key.length));
  for (const p of s.perStream) {
    const shape = `[${p.shape.join("x") || "scalar"}]`;
    const state = p.complete ? "complete" : `missing ${p.missing.length}: ${truncate(toRanges(p.missing), 60)}`;
    lines.push(`    ${p.key.padEnd(w)}  ${(p.dtype ?? "?").padEnd(7)} ${shape.padEnd(12)} ${String(p.received).padStart(7)} rows  ${state}`);
  }
  return lines.join("\n");
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

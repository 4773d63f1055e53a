/**
 * `donki quicklook FILE`: render a scan's maps (or, for a non-raster scan, its scalar signals against trigger
 * number) and its summed spectrum into one PNG, so a user sees the result without an HDF5 viewer.
 * Layout of the input files: docs/data-format.md ("Quicklook" describes the picture).
 *
 * Data are read per trigger from the instrument datasets and their masks (works on closed files, files a
 * killed writer left, and rollover masters). Missing data (mask 0, NaN) are drawn in MISSING grey, never as data.
 * Maps are drawn as H5Web and NeXpy draw /entry/data: y upwards, micrometre axes with ticks, the aspect ratio of
 * the raster's step sizes. Paths come from layout.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { type Dataset, type Group, type H5File, attrValue, getDataset, getGroup, h5ready, h5wasm, isHdf5 } from "./h5util.ts";
import { DEFAULT_DATA, ENTRY, MASKS, TRIGGERS, fallbackStreamPath, maskPath } from "./layout.ts";
import { BLACK, Canvas, CHAR_H, DARK, LIGHT, MISSING, type RGB, VIRIDIS, fitText, fmtNum, niceTicks, textWidth, viridis } from "./png.ts";

export { MISSING };

export interface QuicklookOptions {
  /** PNG path; default: FILE with its extension replaced by .png. */
  out?: string;
  /** Screen pixels per map column (rows follow the raster's aspect ratio); default: auto, longer side ~256 px. */
  scale?: number;
}

/** Where a panel's data area lies in the PNG (for tests and callers that want to crop). */
export interface PanelLayout {
  title: string;
  kind: "map" | "spectrum" | "plot";
  /** Data area (map image or plot box) in PNG pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Colour/axis range shown (linear values; for the spectrum the counts range of the log axis). */
  min: number;
  max: number;
  /** Maps: image size in map pixels. Row 0 (first y) is drawn at the bottom (y up). */
  rows?: number;
  cols?: number;
  /** Source stream(s), e.g. "io/It / io/I0". */
  source: string;
}

export interface QuicklookResult {
  png: string;
  /** Panel titles, in drawing order. */
  panels: string[];
  width: number;
  height: number;
  layout: PanelLayout[];
  /** Triggers drawn: first..last of the scan (a resumed scan: from its first file). */
  triggers: { first: number; last: number };
  /** A resumed scan: the files it continues, oldest first (base names). */
  continues: string[];
}

// ================================================================== reading

interface StreamInfo {
  key: string;
  player: string;
  name: string;
  dsPath: string;
  maskPath: string;
  shape: number[];
  role?: string;
  units?: string;
}

interface Source {
  f: H5File;
  /** First trigger held by row 0. */
  first: number;
  /** Last trigger read from it (a crashed file a resumed scan continues: up to the resume point). */
  upTo?: number;
}

interface Raster {
  ny: number;
  nx: number;
  snake: boolean;
  /** Rows per repetition (snake parity restarts with each repetition of the inner raster). */
  rowsPerRep: number;
  /** Planned positions of the columns and of the rows of one repetition, and their units. */
  xs?: number[];
  ys?: number[];
  units?: string;
  /** The sequence's outer loop (temperature, energy ...): one map per value. */
  repeat?: { name: string; values: number[]; units?: string };
}


class ScanFile {
  readonly file: string;
  readonly f: H5File;
  readonly entry: Group;
  readonly streams = new Map<string, StreamInfo>();
  readonly first: number;
  readonly last: number;
  readonly sources: Source[] = [];
  /** Files whose masks cover the triggers (this file; for a resumed scan also the files it continues). */
  private readonly maskSources: Source[] = [];
  /** A resumed scan: the files it continues, oldest first (base names). */
  readonly continues: string[] = [];
  readonly scenario: Record<string, unknown> | null;
  private readonly opened: H5File[] = [];

  constructor(file: string) {
    this.file = path.resolve(file);
    const notScan = (why: string) => new Error(`${file}: not a donki scan file (${why})`);
    if (!fs.existsSync(this.file)) throw new Error(`${file}: no such file`);
    if (!fs.statSync(this.file).isFile()) throw new Error(`${file}: not a file`);
    if (!isHdf5(this.file)) throw notScan("not an HDF5 file");
    this.f = new h5wasm.File(this.file, "r");
    this.opened.push(this.f);
    try {
      const entry = getGroup(this.f, ENTRY);
      if (!entry) throw notScan("no /entry");
      this.entry = entry;
      const masks = getGroup(this.f, MASKS);
      if (!masks || !getDataset(this.f, TRIGGERS)) throw notScan(`no ${MASKS} or ${TRIGGERS}`);
      let first = Number(attrValue(entry, "first_trigger") ?? 1);
      const trig = (getDataset(this.f, TRIGGERS)!.value as ArrayLike<number> | null) ?? [];
      let last = Number(attrValue(entry, "last_trigger") ?? NaN);
      if (!Number.isFinite(last)) {
        last = first - 1;
        for (let i = trig.length - 1; i >= 0; i--)
          if (trig[i]) {
            last = Number(trig[i]);
            break;
          }
      }
      this.last = last;

      // rollover master: parts are opened directly (h5wasm cannot always traverse external links)
      const partNames = entry
        .keys()
        .filter((k) => /^part\d+$/.test(k))
        .sort();
      if (partNames.length) {
        for (const k of partNames) {
          const fn = entry.get_external_link(`${ENTRY}/${k}`).filename;
          const p = path.join(path.dirname(this.file), fn);
          if (!fs.existsSync(p)) continue; // its triggers show as missing
          const pf = new h5wasm.File(p, "r");
          this.opened.push(pf);
          const pe = getGroup(pf, ENTRY);
          this.sources.push({ f: pf, first: Number((pe && attrValue(pe, "first_trigger")) ?? 1) });
        }
      } else {
        this.sources.push({ f: this.f, first });
      }
      this.maskSources.push({ f: this.f, first });
      // a resumed scan is one scan: the files it continues (resumed_from, in the same directory) hold its first
      // triggers; each is read for the triggers before the next one's first (a crashed file was cut there)
      let prev = attrValue(entry, "resumed_from");
      while (typeof prev === "string" && !partNames.length) {
        const p = path.join(path.dirname(this.file), path.basename(prev));
        if (!fs.existsSync(p) || this.continues.includes(path.basename(p)) || !isHdf5(p)) break;
        const pf = new h5wasm.File(p, "r");
        this.opened.push(pf);
        const pe = getGroup(pf, ENTRY);
        if (!pe) break;
        const pFirst = Number(attrValue(pe, "first_trigger") ?? 1);
        if (!(pFirst < first)) break;
        this.sources.unshift({ f: pf, first: pFirst, upTo: first - 1 });
        this.maskSources.unshift({ f: pf, first: pFirst, upTo: first - 1 });
        this.continues.unshift(path.basename(p));
        first = pFirst;
        prev = attrValue(pe, "resumed_from");
      }
      this.first = first;

      for (const player of masks.keys()) {
        const pg = getGroup(masks, player);
        for (const name of pg?.keys() ?? []) {
          const m = getDataset(pg!, name);
          if (!m) continue;
          const dsPath = String(attrValue(m, "target") ?? fallbackStreamPath(player, name));
          const ds = this.sources.map((s) => getDataset(s.f, dsPath)).find((d) => d) ?? null;
          if (!ds) continue;
          this.streams.set(`${player}/${name}`, {
            key: `${player}/${name}`,
            player,
            name,
            dsPath,
            maskPath: maskPath(player, name),
            shape: (ds.shape ?? []).slice(1),
            role: attrValue(ds, "donki_role") as string | undefined,
            units: attrValue(ds, "units") as string | undefined,
          });
        }
      }
      if (this.streams.size === 0) throw notScan(`no streams under ${MASKS}`);

      let scenario: Record<string, unknown> | null = null;
      const text = getDataset(entry, "scenario/data")?.value;
      if (typeof text === "string") {
        try {
          const y = parseYaml(text) as unknown;
          if (y && typeof y === "object") scenario = y as Record<string, unknown>;
        } catch {
          // not YAML (an XML scenario): no scenario-derived hints
        }
      }
      this.scenario = scenario;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  close(): void {
    for (const f of this.opened.splice(0)) f.close();
  }

  get count(): number {
    return Math.max(0, this.last - this.first + 1);
  }

  str(p: string): string | undefined {
    const v = getDataset(this.entry, p)?.value;
    return typeof v === "string" ? v : v == null ? undefined : String(v);
  }

  /** Run-wide mask (1 = data) for triggers first..last. */
  mask(s: StreamInfo): Uint8Array {
    const out = new Uint8Array(this.count);
    for (const src of this.maskSources) {
      const m = getDataset(src.f, s.maskPath);
      const v = (m?.value as Uint8Array | null) ?? new Uint8Array(0);
      const off = src.first - this.first;
      const n = Math.min(v.length, out.length - off, src.upTo !== undefined ? src.upTo - src.first + 1 : Infinity);
      if (n > 0) out.set(v.subarray(0, n), off);
    }
    return out;
  }

  /** Scalar stream per trigger (index = trigger - first), NaN where masked or not finite. */
  scalar(s: StreamInfo): Float64Array {
    const n = this.count;
    const out = new Float64Array(n).fill(NaN);
    const mask = this.mask(s);
    for (const src of this.sources) {
      const ds = getDataset(src.f, s.dsPath);
      const v = ds?.value as ArrayLike<number | bigint> | null;
      if (!v) continue;
      const rows = src.upTo !== undefined ? Math.min(v.length, src.upTo - src.first + 1) : v.length;
      for (let r = 0; r < rows; r++) {
        const i = src.first + r - this.first;
        if (i >= 0 && i < n && mask[i] === 1) out[i] = Number(v[r]);
      }
    }
    for (let i = 0; i < n; i++) if (!Number.isFinite(out[i]!)) out[i] = NaN;
    return out;
  }

  /** Visit the rows of a non-scalar stream that have data, `block` rows per read. */
  forEachRow(s: StreamInfo, fn: (i: number, row: ArrayLike<number>) => void, block = 256): void {
    const mask = this.mask(s);
    const item = s.shape.reduce((a, b) => a * b, 1);
    if (item > 1 << 20) block = 1;
    for (const src of this.sources) {
      const ds = getDataset(src.f, s.dsPath);
      if (!ds) continue;
      const rows = Math.min((ds.shape ?? [0])[0] ?? 0, src.upTo !== undefined ? src.upTo - src.first + 1 : Infinity);
      for (let lo = 0; lo < rows; lo += block) {
        const hi = Math.min(rows, lo + block);
        let any = false;
        for (let r = lo; r < hi; r++) if (mask[src.first + r - this.first] === 1) any = true;
        if (!any) continue;
        const data = ds.slice([[lo, hi]]) as ArrayLike<number>;
        for (let r = lo; r < hi; r++) {
          const i = src.first + r - this.first;
          if (i < 0 || i >= this.count || mask[i] !== 1) continue;
          const off = (r - lo) * item;
          fn(i, (data as unknown as { subarray(a: number, b: number): ArrayLike<number> }).subarray(off, off + item));
        }
      }
    }
  }

  /** Raster geometry from the default plot (written at close) or, for a file never closed, from the scenario. */
  raster(): Raster | null {
    const seq = (this.scenario?.sequence ?? null) as Record<string, unknown> | null;
    type AxisDef = { start?: number; stop?: number; points?: number };
    const sr = (seq?.raster ?? null) as { x?: AxisDef; y?: AxisDef; snake?: boolean } | null;
    const reps = Array.isArray((seq?.repeat as { values?: unknown[] } | undefined)?.values) ? (seq!.repeat as { values: unknown[] }).values.length : 1;
    const planned = (a: AxisDef | undefined) => {
      const n = Number(a?.points);
      if (!(Number.isInteger(n) && n > 0 && typeof a?.start === "number" && typeof a?.stop === "number")) return undefined;
      return Array.from({ length: n }, (_, i) => (n === 1 ? a.start! : a.start! + ((a.stop! - a.start!) * i) / (n - 1)));
    };
    const data = getGroup(this.f, DEFAULT_DATA);
    if (data) {
      const axes = attrValue(data, "axes");
      const sig = attrValue(data, "signal");
      const d = typeof sig === "string" ? getDataset(data, sig) : null;
      const shape = d?.shape ?? [];
      const ax = Array.isArray(axes) ? axes.map(String) : [];
      if (ax.length >= 2 && ax.slice(-2).join() === "sample_y,sample_x" && shape.length === ax.length && shape.every((n) => n > 0)) {
        const nrep = shape.length === 3 ? shape[0]! : 1;
        const [ny, nx] = shape.slice(-2) as [number, number];
        const vals = (n: string) => {
          const v = getDataset(data, n)?.value as ArrayLike<number> | null;
          return v ? Array.from(v, Number) : undefined;
        };
        const xd = getDataset(data, "sample_x");
        const rd = nrep > 1 ? getDataset(data, ax[0]!) : null;
        const repeat = rd ? { name: ax[0]!, values: vals(ax[0]!) ?? [], units: attrValue(rd, "units") as string | undefined } : undefined;
        return {
          repeat,
          ny: ny * nrep,
          nx,
          snake: Number(attrValue(data, "snake") ?? (sr?.snake ? 1 : 0)) === 1,
          rowsPerRep: ny,
          xs: vals("sample_x"),
          ys: vals("sample_y"),
          units: xd ? (attrValue(xd, "units") as string | undefined) : undefined,
        };
      }
    }
    const yPts = Number(sr?.y?.points);
    const xPts = Number(sr?.x?.points);
    if (sr && Number.isInteger(xPts) && Number.isInteger(yPts) && xPts > 0 && yPts > 0) {
      const rp = seq?.repeat as { param?: unknown; values?: unknown[] } | undefined;
      const repeat = reps > 1 && typeof rp?.param === "string" ? { name: rp.param, values: (rp.values ?? []).map(Number) } : undefined;
      return { ny: yPts * reps, nx: xPts, snake: sr.snake === true, rowsPerRep: yPts, xs: planned(sr.x), ys: planned(sr.y), units: "um", repeat };
    }
    return null;
  }

  /** Settings block of a player in the scenario (for ROI windows and energy calibration). */
  playerSettings(player: string): Record<string, unknown> | null {
    const players = this.scenario?.players;
    if (!Array.isArray(players)) return null;
    const p = players.find((q) => q && typeof q === "object" && (q as { name?: unknown }).name === player) as { settings?: unknown } | undefined;
    return p?.settings && typeof p.settings === "object" ? (p.settings as Record<string, unknown>) : null;
  }
}

// ================================================================== what to draw

interface Series {
  title: string;
  source: string;
  units?: string;
  /** Per trigger (index = trigger - first), NaN = missing. */
  values: Float64Array;
  /** Maps of one repetition: triggers before it (they fall outside the map), and the colour range of all repetitions. */
  shift?: number;
  range?: { min: number; max: number };
}

interface SpectrumData {
  title: string;
  source: string;
  sum: Float64Array;
  rows: number;
  /** Energy of each bin (eV), or null = channels. */
  energies: Float64Array | null;
  rois: Array<{ name: string; lo: number; hi: number }>;
}

const isScalar = (s: StreamInfo) => s.shape.length === 0;
const isSignal = (s: StreamInfo) => s.role === "signal" || s.role === "monitor";
const ROI_RE = /^roi_(.+)$/;

function absorption(scan: ScanFile): Series | null {
  const all = [...scan.streams.values()].sort((a, b) => a.key.localeCompare(b.key));
  // 0. the io device's own transmission (It/I0 normalised by the empty beam)
  const tr = all.find((s) => isScalar(s) && s.name === "transmission");
  if (tr) return { title: `Transmission (${tr.key})`, source: tr.key, units: tr.units || "1", values: scan.scalar(tr) };
  // 1. transmission It/I0 from a counter player that has both
  for (const p of new Set(all.map((s) => s.player))) {
    const find = (n: string) => all.find((s) => s.player === p && isScalar(s) && s.name.toLowerCase() === n);
    const i0 = find("i0");
    const it = find("it");
    if (i0 && it) {
      const a = scan.scalar(it);
      const b = scan.scalar(i0);
      const v = a.map((x, i) => (b[i]! > 0 ? x / b[i]! : NaN));
      return { title: "Transmission It/I0", source: `${it.key} / ${i0.key}`, units: "1", values: v };
    }
  }
  // 2. -ln of the CCD frame sum, normalised (by I0 if there is a monitor called I0, then by its maximum)
  const frame = all.find((s) => s.shape.length === 2 && s.role === "signal");
  if (frame) {
    const sumStream = all.find((s) => s.player === frame.player && isScalar(s) && s.name === "sum");
    let sums: Float64Array;
    let source: string;
    if (sumStream) {
      sums = scan.scalar(sumStream);
      source = sumStream.key;
    } else {
      sums = new Float64Array(scan.count).fill(NaN);
      scan.forEachRow(frame, (i, row) => {
        let t = 0;
        for (let k = 0; k < row.length; k++) t += row[k]!;
        sums[i] = t;
      });
      source = `sum of ${frame.key}`;
    }
    const i0 = all.find((s) => isScalar(s) && s.name.toLowerCase() === "i0");
    if (i0) {
      const m = scan.scalar(i0);
      sums = sums.map((x, i) => (m[i]! > 0 ? x / m[i]! : NaN));
      source += ` / ${i0.key}`;
    }
    let max = 0;
    for (const x of sums) if (x > max) max = x;
    const v = sums.map((x) => (x > 0 && max > 0 ? -Math.log(x / max) : NaN));
    return { title: "Absorbance -ln(CCD sum)", source, units: "1", values: v };
  }
  // 3. any scalar signal that is not an element map
  const any = all.find((s) => isScalar(s) && s.role === "signal" && !ROI_RE.test(s.name)) ?? all.find((s) => isScalar(s) && s.role === "monitor");
  if (any) return { title: any.key, source: any.key, units: any.units, values: scan.scalar(any) };
  return null;
}

/** Element maps in the scenario's ROI order (else the order of /entry/data, else by name). */
function elementMaps(scan: ScanFile): Series[] {
  const roiStreams = [...scan.streams.values()].filter((s) => isScalar(s) && ROI_RE.test(s.name));
  const order = new Map<string, number>();
  for (const s of roiStreams) {
    const rois = scan.playerSettings(s.player)?.rois;
    if (rois && typeof rois === "object") Object.keys(rois).forEach((k, i) => order.has(`${s.player}/roi_${k}`) || order.set(`${s.player}/roi_${k}`, i));
  }
  const data = getGroup(scan.f, DEFAULT_DATA);
  const aux = data ? attrValue(data, "auxiliary_signals") : undefined;
  const auxList = Array.isArray(aux) ? aux.map(String) : [];
  const rank = (s: StreamInfo) => order.get(s.key) ?? 1000 + (auxList.includes(s.name) ? auxList.indexOf(s.name) : 1000);
  return roiStreams
    .sort((a, b) => rank(a) - rank(b) || a.key.localeCompare(b.key))
    .map((s) => ({ title: `${ROI_RE.exec(s.name)![1]} (${s.key})`, source: s.key, units: s.units, values: scan.scalar(s) }));
}

function spectrum(scan: ScanFile): SpectrumData | null {
  const all = [...scan.streams.values()];
  const sp =
    all.find((s) => s.shape.length === 1 && s.name === "spectrum" && s.role === "signal") ??
    all.find((s) => s.shape.length === 1 && s.role === "signal");
  if (!sp) return null;
  const bins = sp.shape[0]!;
  const sum = new Float64Array(bins);
  let rows = 0;
  // a few per-trigger spectra (and their triggers) to find the ROI windows the player summed
  const sample: Array<{ i: number; cum: Float64Array }> = [];
  scan.forEachRow(sp, (i, row) => {
    rows++;
    for (let b = 0; b < bins; b++) sum[b]! += row[b]!;
    if (sample.length < 24) {
      const cum = new Float64Array(bins + 1);
      for (let b = 0; b < bins; b++) cum[b + 1] = cum[b]! + row[b]!;
      sample.push({ i, cum });
    }
  });
  const energies = spectrumEnergies(scan, sp);
  const rois: SpectrumData["rois"] = [];
  const settings = scan.playerSettings(sp.player);
  const evRois = settings?.rois && typeof settings.rois === "object" ? (settings.rois as Record<string, unknown>) : {};
  for (const s of all.filter((q) => q.player === sp.player && isScalar(q) && ROI_RE.test(q.name))) {
    const name = ROI_RE.exec(s.name)![1]!;
    const ev = evRois[name];
    if (energies && Array.isArray(ev) && ev.length === 2 && ev.every((x) => typeof x === "number")) {
      rois.push({ name, lo: ev[0] as number, hi: ev[1] as number });
      continue;
    }
    const w = inferWindow(sample, scan.scalar(s));
    if (!w) continue;
    // channel window [a, b) -> axis units
    if (energies) rois.push({ name, lo: energies[w[0]]!, hi: energies[Math.max(w[0], w[1] - 1)]! });
    else rois.push({ name, lo: w[0] - 0.5, hi: w[1] - 0.5 });
  }
  return { title: `Summed spectrum (${sp.key})`, source: sp.key, sum, rows, energies, rois };
}

/** Bin energies (eV) if the file stores them: an energy dataset next to the spectrum, calibration attributes, or the scenario's explicit calibration. */
function spectrumEnergies(scan: ScanFile, sp: StreamInfo): Float64Array | null {
  const bins = sp.shape[0]!;
  const dir = sp.dsPath.slice(0, sp.dsPath.lastIndexOf("/"));
  for (const n of [`${sp.name}_energy`, "energy", "energies", "channel_energy", "channel_energies"]) {
    for (const src of scan.sources) {
      const d = getDataset(src.f, `${dir}/${n}`);
      const shape = d?.shape ?? [];
      if (d && shape.length >= 1 && shape[shape.length - 1] === bins) {
        const v = (shape.length === 1 ? d.value : d.slice([[0, 1]])) as ArrayLike<number>;
        const e = Float64Array.from({ length: bins }, (_, i) => Number(v[i]));
        if (e.every(Number.isFinite)) return e;
      }
    }
  }
  const ds = scan.sources.map((s) => getDataset(s.f, sp.dsPath)).find((d) => d) as Dataset | undefined;
  const num = (o: unknown) => (typeof o === "number" && Number.isFinite(o) ? o : undefined);
  let gain = ds ? (num(attrValue(ds, "energy_gain")) ?? num(attrValue(ds, "gain_eV_per_bin"))) : undefined;
  let offset = ds ? (num(attrValue(ds, "energy_offset")) ?? num(attrValue(ds, "offset_eV")) ?? 0) : 0;
  if (gain === undefined) {
    const st = scan.playerSettings(sp.player);
    gain = num(st?.gainEvPerBin);
    offset = num(st?.offsetEv) ?? 0;
  }
  if (gain === undefined || !(gain > 0)) return null;
  return Float64Array.from({ length: bins }, (_, i) => offset + gain * i);
}

/**
 * The channel window [a, b) whose per-trigger sums equal the ROI stream (the player sums whole bins), found from a
 * few sample spectra. Zero-count edge channels make the edges ambiguous: the middle of each plateau is taken.
 */
function inferWindow(sample: Array<{ i: number; cum: Float64Array }>, roi: Float64Array): [number, number] | null {
  const rows = sample.filter((r) => Number.isFinite(roi[r.i]!));
  if (!rows.length) return null;
  const bins = rows[0]!.cum.length - 1;
  const tot = new Float64Array(bins + 1);
  let target = 0;
  for (const r of rows) {
    for (let b = 0; b <= bins; b++) tot[b]! += r.cum[b]!;
    target += roi[r.i]!;
  }
  if (!(target > 0)) return null;
  const as: number[] = [];
  const bs: number[] = [];
  // tot is non-decreasing: for each b, the a's with tot[a] = tot[b] - target form one run (binary search)
  const lowerBound = (v: number) => {
    let lo = 0;
    let hi = bins + 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tot[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  for (let b = 1; b <= bins; b++) {
    const want = tot[b]! - target;
    if (want < 0) continue;
    for (let a = lowerBound(want); a < b && tot[a] === want; a++) {
      if (rows.every((r) => r.cum[b]! - r.cum[a]! === roi[r.i])) {
        as.push(a);
        bs.push(b);
      }
      if (as.length > 100000) break;
    }
  }
  if (!as.length) return null;
  const mid = (v: number[]) => Math.round((Math.min(...v) + Math.max(...v)) / 2);
  const a = mid(as);
  const b = Math.max(a + 1, mid(bs));
  return [a, b];
}

function nonRasterSeries(scan: ScanFile): Series[] {
  const out: Series[] = [];
  const abs = absorption(scan);
  const used = new Set<string>();
  if (abs && abs.title.startsWith("Transmission")) {
    out.push(abs);
  } else if (abs && abs.title.startsWith("Absorbance") && !scan.streams.has(abs.source)) {
    out.push(abs); // a computed frame sum is not a stream of its own
  }
  for (const s of scan.streams.values()) {
    if (!isScalar(s) || !isSignal(s) || used.has(s.key)) continue;
    used.add(s.key);
    out.push({ title: s.key, source: s.key, units: s.units, values: scan.scalar(s) });
  }
  return out;
}

// ================================================================== drawing

const PAD = 12;
const TITLE_SCALE = 2;
const TITLE_H = 7 * TITLE_SCALE + 2 * TITLE_SCALE;
const LABEL_H = CHAR_H;
const SPEC_COLOR: RGB = [31, 73, 170];
const ROI_COLORS: RGB[] = [
  [230, 159, 0],
  [86, 180, 233],
  [0, 158, 115],
  [204, 121, 167],
  [213, 94, 0],
  [240, 228, 66],
  [0, 114, 178],
];

function rangeOf(v: ArrayLike<number>): { min: number; max: number; n: number } {
  let min = Infinity;
  let max = -Infinity;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) continue;
    n++;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { min, max, n };
}

interface MapGeom {
  w: number;
  h: number;
  tileW: number;
  tileH: number;
}

/** Room left of a map for the y tick labels and the y axis title. */
const AX_W = 46;

/** Height of one map row relative to one column: the raster's step sizes (|dy| / |dx|), 1 when unknown. */
function aspectOf(r: Raster): number {
  const step = (v?: number[]) => (v && v.length > 1 ? Math.abs(v[1]! - v[0]!) : NaN);
  const a = step(r.ys) / step(r.xs);
  return Number.isFinite(a) && a > 0 ? Math.min(20, Math.max(0.05, a)) : 1;
}

/** `scale`: screen pixels per map column. */
function mapGeometry(r: Raster, scale: number, titles: string[]): MapGeom {
  const w = Math.max(1, Math.round(r.nx * scale));
  const h = Math.max(1, Math.round(r.ny * scale * aspectOf(r)));
  const titleW = Math.min(360, Math.max(...titles.map((t) => textWidth(t, TITLE_SCALE))));
  const tileW = Math.max(AX_W + w + 8, 170, titleW) + 2 * PAD;
  const tileH = PAD + TITLE_H + 4 + h + 4 + 2 * LABEL_H + 6 + 10 + 3 + LABEL_H + PAD;
  return { w, h, tileW, tileH };
}

/** Default scale: the longer side of the map ~256 px. */
function autoScale(r: Raster): number {
  const long = Math.max(r.nx, r.ny * aspectOf(r));
  return long <= 256 ? Math.max(1, Math.floor(256 / long)) : 256 / long;
}

/** Trigger index -> map cell, as the writer places it (docs/data-format.md, raster image). */
function cellOf(r: Raster, t: number): [number, number] | null {
  const k = t - 1;
  if (k < 0 || k >= r.ny * r.nx) return null;
  const iy = Math.floor(k / r.nx);
  let ix = k % r.nx;
  if (r.snake && (iy % r.rowsPerRep) % 2 === 1) ix = r.nx - 1 - ix;
  return [iy, ix];
}

const unitText = (u?: string) => (u === undefined || u === "" ? "" : u === "1" ? "(dimensionless)" : u);

function drawMap(c: Canvas, x0: number, y0: number, g: MapGeom, r: Raster, s: Series, first: number): PanelLayout {
  const img = new Float64Array(r.ny * r.nx).fill(NaN);
  for (let i = 0; i < s.values.length; i++) {
    const cell = cellOf(r, first + i - (s.shift ?? 0));
    if (cell) img[cell[0] * r.nx + cell[1]] = s.values[i]!;
  }
  const own = rangeOf(img);
  const { min, max } = s.range && own.n ? s.range : own;
  const n = own.n;
  c.text(x0 + PAD, y0 + PAD, fitText(s.title, g.tileW - 2 * PAD, TITLE_SCALE), BLACK, TITLE_SCALE);
  const ix0 = x0 + PAD + AX_W;
  const iy0 = y0 + PAD + TITLE_H + 4;
  // y up: the first row of the raster at the bottom, as H5Web and NeXpy draw it
  for (let py = 0; py < g.h; py++) {
    const cy = r.ny - 1 - Math.min(r.ny - 1, Math.floor((py * r.ny) / g.h));
    for (let px = 0; px < g.w; px++) {
      const cx = Math.min(r.nx - 1, Math.floor((px * r.nx) / g.w));
      const v = img[cy * r.nx + cx]!;
      c.set(ix0 + px, iy0 + py, Number.isNaN(v) ? MISSING : viridis(max > min ? (v - min) / (max - min) : 0.5));
    }
  }
  if (n === 0) c.text(ix0 + 2, iy0 + 2, "no data", BLACK, 1);
  c.strokeRect(ix0 - 1, iy0 - 1, g.w + 2, g.h + 2, DARK);
  drawMapAxes(c, ix0, iy0, g, r);
  // colour bar with min / max and units
  const bw = g.tileW - 2 * PAD;
  const bx = x0 + PAD;
  const by = iy0 + g.h + 4 + 2 * LABEL_H + 6;
  for (let px = 0; px < bw; px++) c.fillRect(bx + px, by, 1, 10, viridis(px / Math.max(1, bw - 1)));
  c.strokeRect(bx - 1, by - 1, bw + 2, 12, DARK);
  const lo = n ? fmtNum(min) : "-";
  const hi = n ? fmtNum(max) : "-";
  const unit = unitText(s.units);
  c.text(bx, by + 13, lo, BLACK, 1);
  const hiText = fitText(unit ? `${hi} ${unit}` : hi, bw - textWidth(lo) - 12);
  c.text(bx + bw - textWidth(hiText), by + 13, hiText, BLACK, 1);
  return { title: s.title, kind: "map", x: ix0, y: iy0, width: g.w, height: g.h, min, max, rows: r.ny, cols: r.nx, source: s.source };
}

/** Tick marks and labels in the raster's units (planned positions); index ticks when the file has none. */
function drawMapAxes(c: Canvas, ix0: number, iy0: number, g: MapGeom, r: Raster): void {
  const unit = r.xs && r.ys ? (r.units ?? "um") : "";
  const xs = r.xs && r.xs.length === r.nx ? r.xs : Array.from({ length: r.nx }, (_, i) => i);
  const ys = r.ys && r.ys.length === r.rowsPerRep ? r.ys : Array.from({ length: r.rowsPerRep }, (_, i) => i);
  const colW = g.w / r.nx;
  const rowH = g.h / r.ny;
  // x: value v lies at the centre of the column it interpolates to
  const x0v = xs[0]!;
  const x1v = xs[xs.length - 1]!;
  const X = (v: number) => ix0 + (xs.length > 1 ? ((v - x0v) / (x1v - x0v)) * (xs.length - 1) : 0) * colW + colW / 2;
  const xt = xs.length > 1 ? niceTicks(Math.min(x0v, x1v), Math.max(x0v, x1v), Math.max(2, Math.floor(g.w / 55))) : [x0v];
  for (const t of xt) {
    const px = Math.round(X(t));
    if (px < ix0 || px > ix0 + g.w) continue;
    c.fillRect(px, iy0 + g.h + 1, 1, 3, DARK);
    const lab = fmtNum(t);
    c.text(px - Math.floor(textWidth(lab) / 2), iy0 + g.h + 5, lab);
  }
  const xTitle = unit ? `x (${unit})` : "x (column)";
  c.text(ix0 + g.w - textWidth(xTitle), iy0 + g.h + 5 + LABEL_H, xTitle, DARK);
  // y: every repetition block of rows, bottom up
  const y0v = ys[0]!;
  const y1v = ys[ys.length - 1]!;
  const reps = Math.max(1, Math.round(r.ny / r.rowsPerRep));
  const yt = ys.length > 1 ? niceTicks(Math.min(y0v, y1v), Math.max(y0v, y1v), Math.max(2, Math.floor((r.rowsPerRep * rowH) / 40))) : [y0v];
  for (let k = 0; k < reps; k++) {
    const Y = (v: number) => iy0 + g.h - (k * r.rowsPerRep + (ys.length > 1 ? ((v - y0v) / (y1v - y0v)) * (ys.length - 1) : 0)) * rowH - rowH / 2;
    for (const t of yt) {
      const py = Math.round(Y(t));
      if (py < iy0 || py > iy0 + g.h) continue;
      c.fillRect(ix0 - 4, py, 3, 1, DARK);
      const lab = fitText(fmtNum(t), AX_W - 14);
      c.text(ix0 - 6 - textWidth(lab), py - 3, lab);
    }
  }
  const yTitle = unit ? `y (${unit})` : "y (row)";
  c.textUp(ix0 - AX_W, iy0 + Math.min(g.h, Math.round(g.h / 2 + textWidth(yTitle) / 2)), yTitle, DARK);
}

const PLOT_W = 330;
const PLOT_H = 130;
const PLOT_TILE_W = PLOT_W + 2 * PAD + 44;
const PLOT_TILE_H = PAD + TITLE_H + 4 + PLOT_H + 4 + LABEL_H + PAD;

/** Scalar signal against trigger number; missing triggers as grey bands. */
function drawSeries(c: Canvas, x0: number, y0: number, s: Series, first: number): PanelLayout {
  c.text(x0 + PAD, y0 + PAD, fitText(s.title + (unitText(s.units) ? ` (${unitText(s.units)})` : ""), PLOT_TILE_W - 2 * PAD, TITLE_SCALE), BLACK, TITLE_SCALE);
  const bx = x0 + PAD + 44;
  const by = y0 + PAD + TITLE_H + 4;
  const n = s.values.length;
  let { min, max, n: good } = rangeOf(s.values);
  if (good && min === max) {
    min -= Math.abs(min) * 0.05 || 1;
    max += Math.abs(max) * 0.05 || 1;
  }
  const xOf = (i: number) => bx + (n <= 1 ? PLOT_W / 2 : ((i + 0.5) / n) * PLOT_W);
  const yOf = (v: number) => by + PLOT_H - 3 - ((v - min) / (max - min)) * (PLOT_H - 6);
  const band = Math.max(1, PLOT_W / Math.max(1, n));
  for (let i = 0; i < n; i++) if (Number.isNaN(s.values[i]!)) c.fillRect(xOf(i) - band / 2, by, Math.ceil(band), PLOT_H, MISSING);
  c.strokeRect(bx, by, PLOT_W, PLOT_H, DARK);
  const line = VIRIDIS[60]!;
  let prev: [number, number] | null = null;
  for (let i = 0; i < n; i++) {
    const v = s.values[i]!;
    if (Number.isNaN(v)) {
      prev = null;
      continue;
    }
    const p: [number, number] = [xOf(i), yOf(v)];
    if (prev) c.line(prev[0], prev[1], p[0], p[1], line);
    if (n <= 100) c.fillRect(p[0] - 1, p[1] - 1, 3, 3, line);
    prev = p;
  }
  if (good) {
    c.text(bx - 3 - textWidth(fitText(fmtNum(max), 40)), by, fitText(fmtNum(max), 40));
    c.text(bx - 3 - textWidth(fitText(fmtNum(min), 40)), by + PLOT_H - 7, fitText(fmtNum(min), 40));
  } else c.text(bx + 4, by + 4, "no data");
  const ly = by + PLOT_H + 4;
  c.text(bx, ly, `trigger ${first}`);
  const endT = `${first + n - 1}`;
  c.text(bx + PLOT_W - textWidth(endT), ly, endT);
  return { title: s.title, kind: "plot", x: bx, y: by, width: PLOT_W, height: PLOT_H, min, max, source: s.source };
}

const SPEC_H = 210;

function drawSpectrum(c: Canvas, x0: number, y0: number, width: number, sp: SpectrumData): PanelLayout {
  const title = `${sp.title}, ${sp.rows} trigger${sp.rows === 1 ? "" : "s"}`;
  c.text(x0 + PAD, y0 + PAD, fitText(title, width - 2 * PAD, TITLE_SCALE), BLACK, TITLE_SCALE);
  const bx = x0 + PAD + 44;
  const by = y0 + PAD + TITLE_H + 4;
  const bw = width - 2 * PAD - 44;
  const bh = SPEC_H;
  const bins = sp.sum.length;
  const xs = sp.energies ?? Float64Array.from({ length: bins }, (_, i) => i);
  const xmin = Math.min(xs[0]!, xs[bins - 1]!);
  const xmax = Math.max(xs[0]!, xs[bins - 1]!, xmin + 1);
  let ymax = 0;
  let ypos = Infinity;
  for (const v of sp.sum) {
    if (v > ymax) ymax = v;
    if (v > 0 && v < ypos) ypos = v;
  }
  // zero-count bins sit on the bottom of the axis
  const lyMin = ymax > 0 ? Math.floor(Math.log10(ypos)) : 0;
  const lyMax = ymax > 0 ? Math.max(lyMin + 1, Math.ceil(Math.log10(ymax * 1.05))) : 1;
  const X = (e: number) => bx + ((e - xmin) / (xmax - xmin)) * (bw - 1);
  const Y = (v: number) => by + bh - 1 - ((Math.log10(Math.max(v, Math.pow(10, lyMin))) - lyMin) / (lyMax - lyMin)) * (bh - 1);
  // ROI windows
  sp.rois.forEach((r, k) => {
    const col = ROI_COLORS[k % ROI_COLORS.length]!;
    const a = Math.max(bx, X(r.lo));
    const b = Math.min(bx + bw, X(r.hi));
    if (b <= a - 1) return;
    c.fillRect(a, by, Math.max(1, b - a), bh, col, 0.35);
    c.text(Math.round((a + b) / 2 - textWidth(r.name) / 2), by + 3 + (k % 2) * (CHAR_H + 1), r.name, DARK);
  });
  // decades
  for (let d = lyMin; d <= lyMax; d++) {
    const y = Y(Math.pow(10, d));
    for (let x = bx; x < bx + bw; x += 3) c.set(x, y, LIGHT);
    const lab = d === 0 ? "1" : `1e${d}`;
    c.text(bx - 4 - textWidth(lab), Math.round(y - 3), lab);
  }
  const ticks = niceTicks(xmin, xmax, Math.max(3, Math.floor(bw / 90)));
  for (const t of ticks) {
    const x = Math.round(X(t));
    c.fillRect(x, by + bh, 1, 4, DARK);
    const lab = fmtNum(t);
    c.text(x - Math.floor(textWidth(lab) / 2), by + bh + 6, lab);
  }
  const axisTitle = sp.energies ? "energy (eV)" : "channel";
  c.text(bx + bw - textWidth(axisTitle), by + bh + 6 + LABEL_H, axisTitle, DARK);
  c.textUp(x0 + PAD - 2, by + Math.round(bh / 2 + textWidth("counts") / 2), "counts", DARK);
  // the spectrum: connect bin centres (dense spectra draw their per-column envelope)
  let prev: [number, number] | null = null;
  if (ymax > 0) {
    for (let b = 0; b < bins; b++) {
      const p: [number, number] = [X(xs[b]!), Y(sp.sum[b]!)];
      if (prev) c.line(prev[0], prev[1], p[0], p[1], SPEC_COLOR);
      prev = p;
    }
  } else c.text(bx + 6, by + 6, sp.rows ? "no counts" : "no spectra");
  c.strokeRect(bx, by, bw, bh, DARK);
  return { title: sp.title, kind: "spectrum", x: bx, y: by, width: bw, height: bh, min: Math.pow(10, lyMin), max: Math.pow(10, lyMax), source: sp.source };
}

// ================================================================== entry point

/**
 * Render the quick look of a donki NeXus file into one PNG. Raster scans: absorption image + one map per element
 * ROI + summed spectrum; other scans: each scalar signal against trigger number + summed spectrum.
 */
export async function quicklook(file: string, opts: QuicklookOptions = {}): Promise<QuicklookResult> {
  if (opts.scale !== undefined && !(opts.scale > 0 && Number.isFinite(opts.scale))) throw new Error(`quicklook: scale must be > 0, got ${opts.scale}`);
  await h5ready();
  const scan = new ScanFile(file);
  try {
    const out = path.resolve(opts.out ?? file.replace(/(\.[^./\\]*)?$/, ".png"));
    if (out === scan.file) throw new Error(`quicklook: output ${out} would overwrite the scan file`);
    const raster = scan.raster();
    const sp = spectrum(scan);
    const header = [
      path.basename(scan.file) + (scan.continues.length ? ` (resumed; continues ${scan.continues.join(", ")})` : ""),
      `scan ${scan.str("entry_identifier") ?? "?"}`,
      scan.str("status") ?? "incomplete",
      raster
        ? `raster ${raster.rowsPerRep}x${raster.nx}${raster.snake ? " snake" : ""}${raster.ny > raster.rowsPerRep ? ` x ${Math.round(raster.ny / raster.rowsPerRep)} ${raster.repeat?.name ?? "repeats"}` : ""}`
        : `${scan.count} triggers`,
    ].join("  ");
    const subtitle = scan.str("title") ?? "";

    let mapSeries: Series[] = [];
    let plotSeries: Series[] = [];
    let mapRaster = raster;
    const reps = raster ? Math.round(raster.ny / raster.rowsPerRep) : 1;
    if (raster) {
      const abs = absorption(scan);
      mapSeries = [...(abs ? [abs] : []), ...elementMaps(scan)];
      if (reps > 1) {
        // one map per repetition (row of tiles per quantity), on a colour range common to the repetitions
        const inner = raster.rowsPerRep * raster.nx;
        mapRaster = { ...raster, ny: raster.rowsPerRep };
        const rp = raster.repeat;
        mapSeries = mapSeries.flatMap((s) => {
          const range = rangeOf(s.values);
          return Array.from({ length: reps }, (_, k) => ({
            ...s,
            title: `${s.title}, ${!rp ? `repeat ${k + 1}` : rp.units ? `${fmtNum(rp.values[k] ?? NaN)} ${rp.units}` : `${rp.name} ${fmtNum(rp.values[k] ?? NaN)}`}`,
            shift: k * inner,
            range: range.n ? { min: range.min, max: range.max } : undefined,
          }));
        });
      }
    } else {
      plotSeries = nonRasterSeries(scan);
    }
    if (!mapSeries.length && !plotSeries.length && !sp) throw new Error(`${file}: nothing to draw (no scalar signal and no spectrum)`);

    // layout
    const titles = mapSeries.map((s) => s.title);
    const scale = opts.scale ?? (mapRaster ? autoScale(mapRaster) : 1);
    const mg = mapRaster && mapSeries.length ? mapGeometry(mapRaster, scale, titles) : null;
    const tileW = mg ? mg.tileW : PLOT_TILE_W;
    const tileH = mg ? mg.tileH : PLOT_TILE_H;
    const nTiles = mapSeries.length + plotSeries.length;
    const maxCols = reps > 1 && mg ? reps : Math.max(1, mg ? Math.floor(1400 / tileW) : 3);
    const gridRows = Math.max(1, Math.ceil(nTiles / maxCols));
    const cols = Math.max(1, Math.ceil(nTiles / gridRows));
    const headerH = PAD + TITLE_H + LABEL_H + 6;
    const specTileH = sp ? PAD + TITLE_H + 4 + SPEC_H + 6 + 2 * LABEL_H + PAD : 0;
    const width = Math.max(cols * tileW, sp ? 760 : 0, 2 * PAD + textWidth(header, TITLE_SCALE) > 1600 ? 1600 : 2 * PAD + textWidth(header, TITLE_SCALE));
    const height = headerH + gridRows * tileH + specTileH;
    if (width * height > 60e6) throw new Error(`quicklook: picture would be ${width}x${height} pixels; pass a smaller scale`);
    const c = new Canvas(Math.ceil(width), Math.ceil(height));

    c.text(PAD, PAD, fitText(header, width - 2 * PAD, TITLE_SCALE), BLACK, TITLE_SCALE);
    c.text(PAD, PAD + TITLE_H, fitText(subtitle, width - 2 * PAD - 130), DARK);
    const anyMissing = [...mapSeries, ...plotSeries].some((s) => s.values.some((v) => Number.isNaN(v)));
    if (anyMissing || mapSeries.length) {
      const lx = width - PAD - textWidth("no data") - 16;
      c.fillRect(lx, PAD + TITLE_H, 12, 8, MISSING);
      c.text(lx + 16, PAD + TITLE_H, "no data", DARK);
    }

    const layout: PanelLayout[] = [];
    const tiles = mapSeries.length ? mapSeries : plotSeries;
    tiles.forEach((s, k) => {
      const x0 = (k % cols) * tileW;
      const y0 = headerH + Math.floor(k / cols) * tileH;
      layout.push(mg && mapRaster ? drawMap(c, x0, y0, mg, mapRaster, s, scan.first) : drawSeries(c, x0, y0, s, scan.first));
    });
    if (sp) layout.push(drawSpectrum(c, 0, headerH + gridRows * tileH, c.width, sp));

    fs.mkdirSync(path.dirname(out), { recursive: true });
    c.writePng(out);
    return { png: out, panels: layout.map((l) => l.title), width: c.width, height: c.height, layout, triggers: { first: scan.first, last: scan.last }, continues: [...scan.continues] };
  } finally {
    scan.close();
  }
}

/**
 * Walks a layout tree (layout.ts) into an HDF5 file: groups, constants, links and attributes when the file opens,
 * computed fields and late links when the run closes. Generic: it knows no NeXus definition, only node types.
 * Stream datasets are made by the writer (a callback), which owns rows, masks and flushing.
 */
import { type Dataset, type Group, type H5File, ensureGroup, getDataset, setAttr } from "./h5util.ts";
import { type AttrValue, type Derivation, HC_EV_NM, type LayoutNode, rasterGeometry } from "./layout.ts";
import type { RunInfo } from "./types.ts";

/** What close-time fields are computed from: the rows as stored, read back by the writer. */
export interface RowSource {
  /** Values of a scalar stream by trigger (index = trigger - 1; NaN where missing), over every file of the run. */
  scalar(key: string): Float64Array | null;
  /** Sum over every trigger that arrived of a 1-D stream's rows. */
  sum(key: string): Float64Array | null;
  /** Per trigger (index = trigger - 1), the sum of a 1-D stream's row over its bins; NaN where missing. */
  rowSums(key: string): Float64Array | null;
  /** Triggers this file covers: [first, last]. */
  first: number;
  last: number;
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";
const leafOf = (p: string) => p.slice(p.lastIndexOf("/") + 1);

/** Group at an absolute path; missing levels get `classOf(path)` (layout groups come first, so rarely used). */
export function groupAt(f: H5File, path: string, classOf: (p: string) => string): Group {
  let g: Group = f;
  let at = "";
  for (const part of path.split("/").filter(Boolean)) {
    at += `/${part}`;
    g = ensureGroup(g, part, classOf(at));
  }
  return g;
}

function attrs(obj: Group | Dataset, a: Record<string, AttrValue> | undefined): void {
  for (const [k, v] of Object.entries(a ?? {})) setAttr(obj, k, v);
}

function writeField(g: Group, name: string, value: string | number | number[] | Float64Array | BigInt64Array | Uint32Array, dtype?: string): Dataset {
  if (typeof value === "string") g.create_dataset({ name, data: value });
  else if (typeof value === "number") g.create_dataset({ name, data: [value], shape: [], dtype: dtype ?? "<d" });
  else if (value instanceof BigInt64Array) g.create_dataset({ name, data: value, shape: [value.length], dtype: "<q" });
  else if (value instanceof Uint32Array) g.create_dataset({ name, data: value, shape: [value.length], dtype: "<I" });
  else {
    const arr = value instanceof Float64Array ? value : Float64Array.from(value);
    g.create_dataset({ name, data: arr, shape: [arr.length], dtype: dtype ?? "<d" });
  }
  const d = getDataset(g, name);
  if (!d) throw new Error(`HDF5: could not create ${g.path}/${name}`);
  return d;
}

function link(f: H5File, path: string, target: string, classOf: (p: string) => string): void {
  if (f.get(path) !== null && f.get(path) !== undefined) return;
  if (f.get(target) === null || f.get(target) === undefined) return; // target not in this file (e.g. a part's stream)
  const g = groupAt(f, parentOf(path), classOf);
  g.create_hard_link(target, leafOf(path));
}

/**
 * Open-time part of the tree. `makeStream` is called, in tree order, for every stream node (after the groups above
 * it exist); links and attributes that refer to streams come after them in the tree.
 */
export function applyOpen(f: H5File, nodes: LayoutNode[], classOf: (p: string) => string, makeStream: (node: LayoutNode & { type: "stream" }) => void): void {
  for (const n of nodes) {
    if (n.type === "group") {
      const g = groupAt(f, n.path, (p) => (p === n.path ? n.nxClass : classOf(p)));
      attrs(g, n.attrs);
    } else if (n.type === "field" && n.when === "open") {
      const g = groupAt(f, parentOf(n.path), classOf);
      if (g.get(leafOf(n.path))) continue;
      const d = writeField(g, leafOf(n.path), n.value, n.dtype);
      if (n.units) setAttr(d, "units", n.units);
      attrs(d, n.attrs);
    } else if (n.type === "stream") {
      makeStream(n);
    } else if (n.type === "link" && n.when === "open") {
      link(f, n.path, n.target, classOf);
    } else if (n.type === "attr" && n.when === "open") {
      const o = n.path === "/" ? f : f.get(n.path);
      if (o) setAttr(o as Group, n.name, n.value);
    } else if (n.type === "external") {
      const g = groupAt(f, parentOf(n.path), classOf);
      if (!g.keys().includes(leafOf(n.path))) g.create_external_link(n.file, n.target, leafOf(n.path));
    }
  }
}

/** Close-time part: computed fields, then links and attributes (which may point at them). */
export function applyClose(f: H5File, nodes: LayoutNode[], classOf: (p: string) => string, run: RunInfo, rows: RowSource): void {
  for (const n of nodes) {
    if (n.type !== "field" || n.when !== "close") continue;
    const g = groupAt(f, parentOf(n.path), classOf);
    if (g.get(leafOf(n.path))) continue;
    const v = derive(n.derive, run, rows);
    if (!v) continue;
    let d: Dataset;
    if (v.shape.length > 1) {
      g.create_dataset({ name: leafOf(n.path), data: v.data as Float64Array, shape: v.shape, dtype: "<d" });
      d = getDataset(g, leafOf(n.path))!;
    } else if (n.dtype === "<q") {
      d = writeField(g, leafOf(n.path), BigInt64Array.from(v.data as Float64Array, (x) => BigInt(Number.isFinite(x) ? Math.round(x) : 0)));
    } else if (n.dtype === "<I") {
      d = writeField(g, leafOf(n.path), Uint32Array.from(v.data as Float64Array, (x) => (Number.isFinite(x) ? Math.max(0, Math.round(x)) : 0)));
    } else d = writeField(g, leafOf(n.path), v.data as Float64Array);
    if (!d) throw new Error(`HDF5: could not create ${n.path}`);
    if (n.units) setAttr(d, "units", n.units);
    attrs(d, n.attrs);
  }
  for (const n of nodes) {
    if (n.type === "link") link(f, n.path, n.target, classOf);
    else if (n.type === "attr" && n.when === "close") {
      const o = n.path === "/" ? f : f.get(n.path);
      if (o) setAttr(o as Group, n.name, n.value);
    }
  }
}

function derive(d: Derivation, run: RunInfo, rows: RowSource): { data: Float64Array; shape: number[] } | null {
  const n = Math.max(0, rows.last - rows.first + 1);
  const perTrigger = (fn: (t: number) => number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = fn(rows.first + i);
    return { data: out, shape: [n] };
  };
  const energy = (t: number) => run.energyPerTrigger?.[t - 1] ?? run.instrument?.energyEv ?? NaN;
  switch (d.op) {
    case "energy":
      return perTrigger(energy);
    case "wavelength":
      return perTrigger((t) => HC_EV_NM / energy(t));
    case "planned": {
      const p = d.param === "x" ? run.plannedX : run.plannedY;
      return perTrigger((t) => p?.[t - 1] ?? NaN);
    }
    case "copy": {
      const v = rows.scalar(d.stream);
      return v ? perTrigger((t) => v[t - 1] ?? NaN) : null;
    }
    case "ratio": {
      const a = rows.scalar(d.num);
      const b = rows.scalar(d.den);
      return a && b ? perTrigger((t) => (a[t - 1] ?? NaN) / (b[t - 1] ?? NaN)) : null;
    }
    case "row-sum": {
      const v = rows.rowSums(d.stream);
      return v ? perTrigger((t) => v[t - 1] ?? NaN) : null;
    }
    case "sum": {
      const s = rows.sum(d.stream);
      return s ? { data: s, shape: [s.length] } : null;
    }
    case "image":
    case "ratio-image": {
      const geo = rasterGeometry(run);
      if (!geo) return null;
      const a = rows.scalar(d.op === "image" ? d.stream : d.num);
      const b = d.op === "ratio-image" ? rows.scalar(d.den) : null;
      if (!a || (d.op === "ratio-image" && !b)) return null;
      const img = new Float64Array(geo.nrep * geo.ny * geo.nx).fill(NaN);
      for (let t = 1; t <= a.length; t++) {
        const c = geo.cell(t);
        if (c < 0) continue;
        img[c] = b ? a[t - 1]! / b[t - 1]! : a[t - 1]!;
      }
      return { data: img, shape: geo.nrep > 1 ? [geo.nrep, geo.ny, geo.nx] : [geo.ny, geo.nx] };
    }
  }
}

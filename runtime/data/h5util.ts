/**
 * Small, checked helpers over h5wasm. h5wasm reports many failures only on stderr (e.g. a nested
 * `create_group("a/b")`), so every structural call here is verified by reading the object back.
 */
import * as fs from "node:fs";
import { TYPED_ARRAY } from "../devices/common.ts";
import "./h5-quiet.ts"; // before h5wasm: its HDF5 error stacks stay off stderr (failures are reported as run errors)
import h5wasm from "h5wasm/node";
import type { Dataset, Group, File as H5File } from "h5wasm/node";
import { type DType } from "./types.ts";

export { h5wasm };
export type { Dataset, Group, H5File };

let readyPromise: Promise<unknown> | null = null;
export function h5ready(): Promise<unknown> {
  readyPromise ??= h5wasm.ready;
  return readyPromise;
}

/** h5wasm dtype strings (little-endian) for each DType. */
export const H5_DTYPE: Record<DType, string> = {
  uint8: "<B",
  uint16: "<H",
  uint32: "<I",
  int16: "<h",
  int32: "<i",
  float32: "<f",
  float64: "<d",
};

type TypedCtor =
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

export const TYPED_CTOR: Record<DType, TypedCtor> = TYPED_ARRAY;

export type AnyTyped = Uint8Array | Uint16Array | Uint32Array | Int16Array | Int32Array | Float32Array | Float64Array;

/**
 * View raw little-endian bytes as the TypedArray of `dtype` without copying when the offset is aligned
 * (one copy otherwise). h5wasm checks `instanceof` the exact class, so a Node Buffer is re-viewed too.
 */
export function viewAs(data: Uint8Array, dtype: DType): AnyTyped {
  const C = TYPED_CTOR[dtype];
  const bpe = C.BYTES_PER_ELEMENT;
  if (data.byteOffset % bpe === 0) return new C(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength / bpe);
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return new C(copy.buffer, 0, data.byteLength / bpe);
}

export function dtypeFromMetadata(m: { type: number; size: number; signed: boolean }): DType | null {
  // h5wasm: type 0 = integer, 1 = float
  if (m.type === 1) return m.size === 4 ? "float32" : m.size === 8 ? "float64" : null;
  if (m.type !== 0) return null;
  const table: Record<string, DType> = { "1u": "uint8", "2u": "uint16", "4u": "uint32", "2s": "int16", "4s": "int32" };
  return table[`${m.size}${m.signed ? "s" : "u"}`] ?? null;
}

/** Get or create one child group (a single level), verify it, set NX_class if given and absent. */
export function ensureGroup(parent: Group, name: string, nxClass?: string): Group {
  if (name.includes("/") || name === "") throw new Error(`ensureGroup: one level at a time, got "${name}"`);
  let g = parent.get(name);
  if (g === null) {
    parent.create_group(name);
    g = parent.get(name);
  }
  if (!(g instanceof h5wasm.Group)) {
    throw new Error(`HDF5: could not create group ${parent.path === "/" ? "" : parent.path}/${name} (got ${g ? g.constructor.name : "nothing"})`);
  }
  const grp = g;
  if (nxClass && !("NX_class" in grp.attrs)) grp.create_attribute("NX_class", nxClass);
  return grp;
}

/** Create every level of an absolute group path ("/entry/instrument/ccd"); new levels get `nxClass`. */
export function ensureGroupPath(file: Group, absPath: string, nxClass = "NXcollection"): Group {
  let g: Group = file;
  for (const part of absPath.split("/").filter((p) => p !== "")) g = ensureGroup(g, part, nxClass);
  return g;
}

/** Set (replace) an attribute. Integers go as int64 unless a dtype is given; other numbers as float64. */
export function setAttr(obj: Group | Dataset, name: string, value: string | number | string[] | number[], dtype?: string): void {
  if (name in obj.attrs) obj.delete_attribute(name);
  if (typeof value === "number") {
    obj.create_attribute(name, value, null, dtype ?? (Number.isInteger(value) ? "<q" : "<d"));
    return;
  }
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === "number") {
    obj.create_attribute(name, value as number[], [value.length], dtype ?? "<d");
    return;
  }
  obj.create_attribute(name, value as string | string[]);
}

/** Scalar string dataset (replaced if it exists is not supported: callers create once). */
export function strDataset(g: Group, name: string, value: string): Dataset {
  g.create_dataset({ name, data: value });
  const got = g.get(name);
  if (!(got instanceof h5wasm.Dataset)) throw new Error(`HDF5: could not create dataset ${g.path}/${name}`);
  return got;
}

export function numDataset(g: Group, name: string, value: number, dtype = "<q"): Dataset {
  g.create_dataset({ name, data: [value], shape: [], dtype });
  const got = g.get(name);
  if (!(got instanceof h5wasm.Dataset)) throw new Error(`HDF5: could not create dataset ${g.path}/${name}`);
  return got;
}

export function getDataset(g: Group, path: string): Dataset | null {
  const d = g.get(path);
  return d instanceof h5wasm.Dataset ? d : null;
}

export function getGroup(g: Group, path: string): Group | null {
  const d = g.get(path);
  return d instanceof h5wasm.Group ? d : null;
}

export function attrValue(obj: Group | Dataset, name: string): unknown {
  const a = obj.attrs[name];
  if (!a) return undefined;
  const v = a.value;
  if (typeof v === "bigint") return Number(v);
  return v;
}

/** Compress sorted trigger numbers into "1-5,7,9-12". */
export function toRanges(nums: number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    out.push(j === i ? `${nums[i]}` : `${nums[i]}-${nums[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when `file` carries the HDF5 signature at offset 0 or after a user block (h5wasm aborts on other files). */
export function isHdf5(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(8);
    // the superblock may follow a user block of 512, 1024, 2048 ... bytes
    for (const off of [0, 512, 1024, 2048, 4096, 8192]) {
      if (fs.readSync(fd, buf, 0, 8, off) < 8) return false;
      if (buf.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

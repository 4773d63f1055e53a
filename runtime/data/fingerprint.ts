/**
 * A file's fingerprint: a sha256 per dataset of measured data and masks (not the timestamps), used to compare
 * runs for determinism and by the CI regression scans (scenarios/golden/).
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { h5ready, h5wasm, type Group } from "./h5util.ts";
import { INSTRUMENT, MASKS, MONITOR } from "./layout.ts";

export interface Fingerprint {
  /** HDF5 path -> "dtype shape sha256". */
  datasets: Record<string, string>;
}

function walk(g: Group, prefix: string, out: Record<string, string>): void {
  for (const name of g.keys().sort()) {
    const item = g.get(name);
    const path = `${prefix}/${name}`;
    if (!item) continue;
    if (item instanceof h5wasm.Group) walk(item, path, out);
    else if (item instanceof h5wasm.Dataset) {
      const v = item.value as unknown;
      let bytes: Uint8Array;
      if (ArrayBuffer.isView(v)) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      else bytes = Buffer.from(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)));
      const h = createHash("sha256").update(bytes).digest("hex").slice(0, 32);
      out[path] = `${item.dtype} ${JSON.stringify(item.shape)} ${h}`;
    }
  }
}

/** Fingerprint of the measured data: every dataset under /entry/instrument, /entry/monitor (I0) and /entry/masks. */
export async function fingerprintFile(file: string): Promise<Fingerprint> {
  await h5ready();
  const f = new h5wasm.File(resolve(file), "r");
  try {
    const out: Record<string, string> = {};
    for (const root of [INSTRUMENT, MONITOR, MASKS]) {
      const g = f.get(root);
      if (g instanceof h5wasm.Group) walk(g, root, out);
    }
    return { datasets: out };
  } finally {
    f.close();
  }
}

/** Differences between two fingerprints, as readable lines (empty = identical). */
export function diffFingerprints(expected: Fingerprint, actual: Fingerprint): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(expected.datasets), ...Object.keys(actual.datasets)]);
  for (const k of [...keys].sort()) {
    const a = expected.datasets[k];
    const b = actual.datasets[k];
    if (a === b) continue;
    if (a === undefined) out.push(`${k}: new dataset (${b})`);
    else if (b === undefined) out.push(`${k}: missing (expected ${a})`);
    else out.push(`${k}: expected ${a}, got ${b}`);
  }
  return out;
}

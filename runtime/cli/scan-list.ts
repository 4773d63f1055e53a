/**
 * `donki inspect DIR`: a resumed scan is one scan. A run resumed with `--resume FILE` writes a new file
 * (`<prefix>_<scan>_resume<k>.nxs`) that names the file it continues (`resumed_from`); the listing shows the chain
 * as one line: the last file's status, the triggers of all of them, their total size, every file.
 */
import { basename, dirname, join } from "node:path";

export interface ScanRow {
  file: string;
  scanNumber: number;
  title: string;
  status: string;
  issued: number;
  planned: number | null;
  bytes: number;
  /** Base name of the file this one continues (a resumed run). */
  resumedFrom?: string;
  /** Every file of the scan, oldest first (more than one for a resumed scan). */
  files?: string[];
}

export function mergeResumed(rows: ScanRow[]): ScanRow[] {
  const byPath = new Map(rows.map((r) => [r.file, r]));
  const continued = new Set<string>();
  for (const r of rows) if (r.resumedFrom) continued.add(join(dirname(r.file), basename(r.resumedFrom)));
  const out: ScanRow[] = [];
  for (const r of rows) {
    if (continued.has(r.file) && rows.some((x) => x.resumedFrom && join(dirname(x.file), basename(x.resumedFrom)) === r.file && x.scanNumber === r.scanNumber)) continue; // shown with its continuation
    const chain = [r];
    for (let cur = r; cur.resumedFrom; ) {
      const prev = byPath.get(join(dirname(cur.file), basename(cur.resumedFrom)));
      if (!prev || prev.scanNumber !== r.scanNumber || chain.includes(prev)) break;
      chain.unshift(prev);
      cur = prev;
    }
    if (chain.length === 1) out.push(r);
    else
      out.push({
        ...r,
        issued: chain.reduce((a, x) => a + x.issued, 0),
        bytes: chain.reduce((a, x) => a + x.bytes, 0),
        files: chain.map((x) => x.file),
      });
  }
  return out;
}

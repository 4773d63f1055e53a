/**
 * Pre-flight check of the output disk: before the first trigger, the file's expected size (every declared stream's
 * row size x the triggers still to take) is compared with the free space of the output directory, keeping the
 * writer's reserve (output.reserveMB). `donki run` refuses with exit 2 and the numbers; `--force` starts anyway.
 */
import { DTYPE_BYTES } from "../devices/common.ts";
import type { StreamDecl } from "../protocol/messages.ts";
import { fmtBytes, freeBytes } from "../data/write-guard.ts";

export interface PreflightResult {
  ok: boolean;
  expectedBytes: number;
  freeBytes: number;
  reserveBytes: number;
  triggers: number | null;
  /** One line for the operator. */
  text: string;
}

export const rowBytes = (d: Pick<StreamDecl, "dtype" | "shape">): number => d.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[d.dtype] ?? 8);

/** HDF5's own bytes per trigger on top of the data (masks, trigger numbers, chunk index): measured ~1-2 %. */
const OVERHEAD = 1.03;

export function preflight(dir: string, streams: Array<{ player: string; decl: StreamDecl }>, triggers: number | null, reserveBytes: number, free = freeBytes(dir)): PreflightResult {
  const perTrigger = streams.reduce((a, s) => a + rowBytes(s.decl) + 1 /* mask */, 4 /* trigger number */);
  if (triggers === null) {
    return { ok: true, expectedBytes: 0, freeBytes: free, reserveBytes, triggers, text: `unbounded scan: ${fmtBytes(perTrigger)} per trigger, ${fmtBytes(free)} free in ${dir} (about ${Math.floor(Math.max(0, free - reserveBytes) / perTrigger)} triggers)` };
  }
  const expected = Math.ceil(perTrigger * triggers * OVERHEAD) + 1024 * 1024;
  const ok = expected + reserveBytes <= free;
  const text = `the scan needs about ${fmtBytes(expected)} (${triggers} triggers x ${fmtBytes(perTrigger)}) plus ${fmtBytes(reserveBytes)} reserve; ${dir} has ${fmtBytes(free)} free`;
  return { ok, expectedBytes: expected, freeBytes: free, reserveBytes, triggers, text };
}

export class PreflightError extends Error {
  constructor(readonly result: PreflightResult) {
    super(`not enough disk space: ${result.text} (--force starts anyway; the scan pauses when the disk is full)`);
    this.name = "PreflightError";
  }
}

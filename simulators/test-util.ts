/** Helpers for the simulator tests (not part of the public API). */
import { createHash } from "node:crypto";

export function hashOf(a: ArrayBufferView): string {
  return createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}

/** Mean and (population) variance of the values selected by `pick` (all when omitted). */
export function stats(a: ArrayLike<number>, pick?: (i: number) => boolean): { mean: number; variance: number; n: number } {
  let n = 0,
    s = 0,
    s2 = 0;
  for (let i = 0; i < a.length; i++) {
    if (pick && !pick(i)) continue;
    n++;
    s += a[i];
  }
  const mean = s / n;
  for (let i = 0; i < a.length; i++) {
    if (pick && !pick(i)) continue;
    const d = a[i] - mean;
    s2 += d * d;
  }
  return { mean, variance: s2 / n, n };
}

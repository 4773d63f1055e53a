/**
 * Expanding a scenario's sequence into triggers: how many, and the parameters of trigger n.
 */
import type { TriggerParams } from "../director/director.ts";
import type { SequenceDef } from "./schema.ts";

export interface ExpandedSequence {
  /** null = unbounded (time series until stopped). */
  count: number | null;
  /** Points of the inner sequence (one repetition). */
  inner: number | null;
  params(trig: number): TriggerParams;
  /** For a raster: image shape [rows (incl. repetitions), columns] and snake flag. */
  raster?: { shape: [number, number]; snake: boolean; positioner?: string };
  /** Human description, e.g. "raster 20 x 20 (snake) x 3 temperatures". */
  describe: string;
}

function lin(start: number, stop: number, points: number, i: number): number {
  return points === 1 ? start : start + ((stop - start) * i) / (points - 1);
}

export function expandSequence(seq: SequenceDef): ExpandedSequence {
  let inner: number | null;
  let point: (k: number) => Record<string, number>;
  let describe: string;
  let raster: ExpandedSequence["raster"];
  if (seq.raster) {
    const { x, y, snake } = seq.raster;
    inner = x.points * y.points;
    point = (k) => {
      const row = Math.floor(k / x.points);
      let col = k % x.points;
      if (snake && row % 2 === 1) col = x.points - 1 - col;
      return { x: lin(x.start, x.stop, x.points, col), y: lin(y.start, y.stop, y.points, row), row, col };
    };
    describe = `raster ${x.points} x ${y.points}${snake ? " (snake)" : ""}`;
    raster = { shape: [y.points * (seq.repeat?.values.length ?? 1), x.points], snake, positioner: seq.raster.positioner };
  } else if (seq.line) {
    const l = seq.line;
    inner = l.points;
    point = (k) => ({ ...l.fixed, [l.axis]: lin(l.start, l.stop, l.points, k), index: k });
    describe = `line scan of ${l.axis} ${l.start}..${l.stop} in ${l.points} points`;
  } else if (seq.points) {
    const pts = seq.points;
    inner = pts.length;
    point = (k) => ({ ...pts[k], index: k });
    describe = `${pts.length} listed points`;
  } else {
    const t = seq.time!;
    inner = t.count;
    point = (k) => ({ ...t.fixed, index: k });
    describe = t.count === null ? "time series until stopped" : `time series of ${t.count} triggers`;
  }
  const rep = seq.repeat;
  const count = inner === null ? null : inner * (rep?.values.length ?? 1);
  if (rep) describe += ` x ${rep.values.length} ${rep.param} values`;
  const dwell = seq.dwell;
  const levels = seq.params?.levels ? Object.fromEntries(Object.entries(seq.params.levels).map(([k, v]) => [Number(k), v])) : undefined;
  const players = seq.params?.players;
  return {
    count,
    inner,
    raster,
    describe,
    params(trig: number): TriggerParams {
      const i = trig - 1;
      const k = inner === null ? i : i % inner;
      const p: Record<string, unknown> = point(k);
      if (rep && inner !== null) p[rep.param] = rep.values[Math.floor(i / inner)];
      if (dwell !== undefined) p.dwell = dwell;
      return levels || players ? { point: p, levels, players } : { point: p };
    },
  };
}

/**
 * Action deadlines from the timing model instead of one fixed `actionTimeout`: each action may take what its
 * device's model expects for that trigger (exposure, read-out, move, settle, the wait for its previous read-out)
 * times FACTOR, plus a margin, in wall time. A hung detector is noticed soon after it should have finished; a long
 * read-out is never cut short. A scenario that sets `actionTimeout` (for all, or per player) keeps its fixed one.
 */
import type { ClockMode } from "../clock.ts";
import type { Estimate } from "./estimate.ts";

export const DEADLINE_FACTOR = 1.5;
/** Margin per time mode, seconds of wall time: virtual time has no relation between the model and wall time. */
export const DEADLINE_MARGIN_S = { real: 1, scaled: 5, virtual: 10 } as const;

export interface ActionDeadline {
  /** Wall-clock milliseconds from the request. */
  ms: number;
  /** What the deadline is made of, for the fault message. */
  note: string;
}

export type DeadlineFn = (player: string, trig: number, phase: "action" | "readout") => ActionDeadline | undefined;

/** `fixed(player)`: true where the scenario set a fixed actionTimeout (the Director's policy applies). */
export function modelDeadlines(est: Estimate | null, time: ClockMode, fixed: (player: string) => boolean): DeadlineFn | undefined {
  if (!est) return undefined;
  const margin = DEADLINE_MARGIN_S[time.mode];
  const scale = time.mode === "real" ? 1 : time.mode === "scaled" ? time.scale : 0;
  const max = new Map<string, { ack: number; readout: number }>();
  for (const [p, x] of Object.entries(est.expected)) max.set(p, { ack: Math.max(0, ...x.ack), readout: Math.max(0, ...x.readout) });
  return (player, trig, phase) => {
    const x = est.expected[player];
    if (!x || fixed(player)) return undefined;
    const arr = phase === "action" ? x.ack : x.readout;
    const i = trig - 1;
    const expectedS = i >= 0 && i < arr.length ? arr[i] : phase === "action" ? max.get(player)!.ack : max.get(player)!.readout;
    const wallS = DEADLINE_FACTOR * expectedS * scale + margin;
    const what = phase === "action" ? `its acknowledgement (${x.phases.join(", ") || "no modelled phase"})` : "its read-out";
    const how = time.mode === "virtual" ? `virtual time: ${margin} s of wall time` : `${DEADLINE_FACTOR} x expected${scale !== 1 ? ` x time scale ${scale}` : ""} + ${margin} s`;
    return { ms: Math.round(wallS * 1000), note: `the timing model expects ${what} after ${expectedS.toFixed(3)} s of instrument time; deadline ${how}` };
  };
}

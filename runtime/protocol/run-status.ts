/**
 * How a run ended: declared once here, and told the same way by the file (/entry/status), the `run ended` event,
 * the summary, `donki inspect`, the `--json` report and the exit code (docs/protocol.md, docs/data-format.md).
 */

/** Every status a run can end with, in the order of the exit-code table. */
export const RUN_STATUSES = ["completed", "completed-with-gaps", "stopped", "aborted", "failed"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** What the trigger loop decided, before the data are counted: `completed-with-gaps` is derived from the file. */
export type RunOutcome = Exclude<RunStatus, "completed-with-gaps">;

/** Exit code of `donki run` / `donki director` for each status. */
export const EXIT_CODE_OF: Record<RunStatus, number> = {
  completed: 0,
  "completed-with-gaps": 4,
  stopped: 3,
  aborted: 1,
  failed: 1,
};

export const isRunStatus = (s: unknown): s is RunStatus => typeof s === "string" && (RUN_STATUSES as readonly string[]).includes(s);

/** Rows of one stream that are not in the file, as trigger ranges ("128-254,300"). */
export interface StreamGap {
  stream: string;
  missing: number;
  ranges: string;
}

/**
 * The one status rule: a run that issued every planned trigger is `completed` only if every stream holds a row for
 * every trigger; otherwise `completed-with-gaps`. A stopped, aborted or failed run keeps its outcome (its gaps are
 * listed beside it).
 */
export function finalStatus(outcome: RunOutcome, gaps: readonly StreamGap[]): RunStatus {
  return outcome === "completed" && gaps.length > 0 ? "completed-with-gaps" : outcome;
}

/** "ccd/frame 128-254; xrf/spectrum 300" (at most `max` streams, then "+N more"). */
export function describeGaps(gaps: readonly StreamGap[], max = 6): string {
  const shown = gaps.slice(0, max).map((g) => `${g.stream} ${g.ranges.length > 80 ? `${g.ranges.slice(0, 77)}...` : g.ranges}`);
  if (gaps.length > max) shown.push(`+${gaps.length - max} more`);
  return shown.join("; ");
}

/**
 * The end-of-run record: produced once by the Director, given to the file (through the sink), the event stream,
 * the CLI summary, the JSON report and the exit code.
 */
export interface RunEnd {
  run: string;
  status: RunStatus;
  /** Why it ended that way (operator stop, abort reason, write error, gaps). */
  reason?: string;
  /** First trigger of this run (1, or the resume point). */
  firstTrigger: number;
  /** Last trigger that completed every level. */
  lastTrigger: number;
  /** Highest trigger issued (lastTrigger + 1 when a trigger was cut short by an abort). */
  lastIssued: number;
  /** Triggers that completed every level. */
  done: number;
  /** null = unbounded. */
  planned: number | null;
  gaps: StreamGap[];
  file?: string;
}

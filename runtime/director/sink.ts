import type { StreamDecl } from "../protocol/messages.ts";
import type { RunOutcome, RunStatus, StreamGap } from "../protocol/run-status.ts";

/** A stream as the Director knows it: which player declared it, and its declaration. */
export interface StreamKey {
  player: string;
  decl: StreamDecl;
}

export interface RunDescription {
  runId: string;
  plannedTriggers: number | null;
  startTime: Date;
}

export interface SinkCloseInfo {
  /** How the trigger loop ended (the sink derives completed-with-gaps from what it stored). */
  status: RunOutcome;
  /** Last trigger that completed every level. */
  lastTrigger: number;
  /** Highest trigger issued. */
  lastIssued: number;
  message?: string;
  /** Planned vs actual dead time (the file's /entry/dead_time). */
  deadTime?: import("../data/types.ts").DeadTimeReport;
}

/** What the sink stored, as it tells it: the status it wrote and the gaps behind it. */
export interface SinkCloseReport {
  status: RunStatus;
  gaps: StreamGap[];
  file?: string;
}

/** A failure below the sink (disk full, I/O error): the run pauses or aborts (output.onWriteError). */
export interface WriteFault {
  /** "disk full: out/ (0 B free), writing ccd/frame row 312" */
  message: string;
  kind: "disk-full" | "io" | "journal";
}

/**
 * Where the Director puts data. The Director validates messages (declared stream, dtype, shape, trigger inside the
 * run) before calling `accept`; the sink owns placement, buffering and files. `accept` must not keep a reference
 * to `payload` beyond the bytes it needs (the buffer belongs to ZeroMQ).
 */
export interface DataSink {
  open(run: RunDescription, streams: StreamKey[]): Promise<void>;
  /** Where the sink reports write faults (set by the Director before open). */
  onWriteFault?: (f: WriteFault) => void;
  /** Try the held writes again (after a write fault paused the run and the operator resumed). */
  retry?(): void;
  addStream(stream: StreamKey): void;
  /** The player stopped taking part after `lastTrigger` (left, disabled): its rows after that are not expected. */
  endStreams?(player: string, lastTrigger: number): void;
  accept(player: string, stream: string, trig: number, payload: Buffer): void;
  noteTrigger(trig: number): void;
  /**
   * True when the sink reports a noted trigger as done later, through `onDone` (e.g. once a write-ahead journal has
   * it): the Director then counts it done (event stream, progress) only there. Otherwise at noteTrigger.
   */
  readonly defersDone?: boolean;
  /** Set by the Director before the first trigger; called in trigger order. */
  onDone?: (trig: number) => void;
  /** False while the sink's queue is over its limit: the Director issues no new trigger until it is true. */
  hasCapacity(): boolean;
  /** Resolves when hasCapacity() becomes true. */
  whenCapacity(): Promise<void>;
  /** Rows still missing up to `lastTrigger` over all streams, or over the streams of `players` only (closeout waits for 0 or its timeout). */
  missing(lastTrigger: number, players?: ReadonlySet<string>): number;
  close(info: SinkCloseInfo): Promise<Partial<SinkCloseReport> | void>;
}

import type { StreamDecl } from "../protocol/messages.ts";

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
  status: "completed" | "stopped" | "aborted" | "failed";
  lastTrigger: number;
  message?: string;
}

/**
 * Where the Director puts data. The Director validates messages (declared stream, dtype, shape, trigger inside the
 * run) before calling `accept`; the sink owns placement, buffering and files. `accept` must not keep a reference
 * to `payload` beyond the bytes it needs (the buffer belongs to ZeroMQ).
 */
export interface DataSink {
  open(run: RunDescription, streams: StreamKey[]): Promise<void>;
  addStream(stream: StreamKey): void;
  /** The player stopped taking part after `lastTrigger` (left, disabled): its rows after that are not expected. */
  endStreams?(player: string, lastTrigger: number): void;
  accept(player: string, stream: string, trig: number, payload: Buffer): void;
  noteTrigger(trig: number): void;
  /** False while the sink's queue is over its limit: the Director issues no new trigger until it is true. */
  hasCapacity(): boolean;
  /** Resolves when hasCapacity() becomes true. */
  whenCapacity(): Promise<void>;
  /** Rows still missing up to `lastTrigger` over all streams (closeout waits for 0 or its timeout). */
  missing(lastTrigger: number): number;
  close(info: SinkCloseInfo): Promise<unknown>;
}

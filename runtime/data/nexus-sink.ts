/**
 * The Director's DataSink backed by the NeXus writer queue: opens the file when the run starts, feeds data rows,
 * applies back-pressure, tracks which rows are still expected for the closeout wait.
 */
import type { DataSink, RunDescription, SinkCloseInfo, StreamKey, WriteFault } from "../director/sink.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import { WriterQueue, type WriterQueueOptions } from "./writer-queue.ts";
import type { NexusWriterOptions } from "./nexus-writer.ts";
import type { CloseResult, DeadTimeReport, RunInfo, StreamSpec } from "./types.ts";
import type { JournalStats } from "./journal-stage.ts";

export interface NexusSinkOptions {
  dir: string;
  prefix: string;
  /** Everything about the run except what the Director decides (run id, planned triggers, start time). */
  run: Omit<RunInfo, "runId" | "plannedTriggers" | "startTime">;
  flushEveryTriggers?: number;
  flushEverySeconds?: number;
  rolloverTriggers?: number;
  compression?: "none" | "gzip";
  resumeFrom?: { path: string };
  queue?: WriterQueueOptions;
  /**
   * Write-ahead journal beside the file (journal.ts, journal-stage.ts; default on, not with rollover), written by the
   * writer's worker: a trigger counts as done (onDone) only once its rows are in it. syncSeconds: power-loss bound,
   * the journal or the HDF5 file is fdatasync'ed at most this far apart (default 1; 0 = every trigger).
   */
  journal?: { syncSeconds?: number; segmentBytes?: number; fileSync?: boolean } | false;
  log?: Logger;
}

/** Which triggers of one stream arrived, and the ranges in which the stream was expected. */
class Arrivals {
  private bits = new Uint8Array(1024);
  private segments: Array<[number, number]> = [];
  constructor(from: number) {
    this.segments.push([from, Infinity]);
  }
  mark(trig: number): void {
    if (trig >= this.bits.length) {
      let n = this.bits.length;
      while (n <= trig) n *= 2;
      const b = new Uint8Array(n);
      b.set(this.bits);
      this.bits = b;
    }
    this.bits[trig] = 1;
  }
  end(last: number): void {
    const s = this.segments[this.segments.length - 1];
    if (s[1] === Infinity) s[1] = last;
  }
  reopen(from: number): void {
    const s = this.segments[this.segments.length - 1];
    if (s[1] === Infinity) return;
    this.segments.push([from, Infinity]);
  }
  missing(last: number): number {
    let n = 0;
    for (const [a, b] of this.segments) {
      const hi = Math.min(b, last);
      for (let t = a; t <= hi; t++) if (!this.bits[t]) n++;
    }
    return n;
  }
}

export type SinkResult = CloseResult & { file: string; errors: number; rejected: number; journal?: JournalStats; deadTime?: DeadTimeReport };

export class NexusSink implements DataSink {
  private q: WriterQueue | null = null;
  private readonly arrivals = new Map<string, Arrivals>();
  private readonly byPlayer = new Map<string, string[]>();
  private lastNoted = 0;
  private readonly log: Logger;
  private writeErrors = 0;
  result: SinkResult | null = null;
  onWriteFault?: (f: WriteFault) => void;
  onDone?: (trig: number) => void;
  /** Triggers noted and not yet reported done (their DONE record is on its way to the journal). */
  private unjournaled: number[] = [];
  private unjournaledHead = 0;

  constructor(private readonly o: NexusSinkOptions) {
    this.log = o.log ?? silentLogger;
  }

  get path(): string | undefined {
    return this.q?.path;
  }
  get scanNumber(): number | undefined {
    return this.q?.scanNumber;
  }

  async open(run: RunDescription, streams: StreamKey[]): Promise<void> {
    const specs = streams.map(toSpec);
    const j = this.o.journal ?? {};
    const journaling = j !== false && !this.o.rolloverTriggers;
    const reserve = this.o.queue?.reserveBytes ?? 8 * 2 ** 20;
    const wopts: NexusWriterOptions = {
      dir: this.o.dir,
      prefix: this.o.prefix,
      run: { ...this.o.run, runId: run.runId, plannedTriggers: run.plannedTriggers, startTime: run.startTime },
      streams: specs,
      flushEveryTriggers: this.o.flushEveryTriggers,
      flushEverySeconds: this.o.flushEverySeconds,
      rolloverTriggers: this.o.rolloverTriggers,
      compression: this.o.compression,
      resumeFrom: this.o.resumeFrom,
    };
    this.q = await WriterQueue.open(wopts, {
      ...this.o.queue,
      onError: (err, op) => {
        this.writeErrors++;
        this.log.warn({ err: err.message, ...op }, "the writer refused a row");
      },
      onFault: (f) => this.onWriteFault?.({ kind: f.kind, message: f.message }),
      ...(journaling
        ? {
            // half the writer's reserve: when the disk fills, the writer stops first and the rows it then holds still
            // reach the journal (donki recover writes them once there is room); the rest stays for closing the file
            journal: { syncSeconds: j.syncSeconds ?? 1, segmentBytes: j.segmentBytes, reserveBytes: reserve / 2, runId: run.runId, fileSync: j.fileSync },
            onJournaled: (trig: number) => this.journaled(trig),
            onJournalFault: (f: { kind: "disk-full" | "journal"; message: string }) => {
              this.log.info({ err: f.message }, "journal write failed; journal off until the run resumes"); // the CLI prints the fault line
              this.onWriteFault?.(f);
            },
          }
        : {}),
    });
    this.journaling = journaling;
    this.lastNoted = this.q.firstTrigger - 1;
    for (const s of streams) this.track(s, this.q.firstTrigger);
  }

  private journaling = false;

  /** True when triggers are reported done (onDone) only once the journal has them, after noteTrigger returned. */
  get defersDone(): boolean {
    return this.journaling;
  }

  private journaled(trig: number): void {
    const u = this.unjournaled;
    while (this.unjournaledHead < u.length && u[this.unjournaledHead]! <= trig) {
      const t = u[this.unjournaledHead++]!; // not inside onDone?.(...): its arguments are skipped when onDone is unset
      this.onDone?.(t);
    }
    if (this.unjournaledHead > 1024 && this.unjournaledHead * 2 > u.length) {
      u.splice(0, this.unjournaledHead);
      this.unjournaledHead = 0;
    }
  }

  private track(s: StreamKey, from: number): void {
    const key = `${s.player}/${s.decl.name}`;
    const a = this.arrivals.get(key);
    if (a) a.reopen(from);
    else this.arrivals.set(key, new Arrivals(from));
    const l = this.byPlayer.get(s.player) ?? [];
    if (!l.includes(key)) l.push(key);
    this.byPlayer.set(s.player, l);
  }

  addStream(s: StreamKey): void {
    const key = `${s.player}/${s.decl.name}`;
    if (!this.arrivals.has(key)) {
      this.q!.addStream(toSpec(s)); // journaled by the writer's worker
    }
    this.track(s, this.lastNoted + 1);
  }

  endStreams(player: string, lastTrigger: number): void {
    for (const key of this.byPlayer.get(player) ?? []) this.arrivals.get(key)?.end(lastTrigger);
  }

  accept(player: string, stream: string, trig: number, payload: Buffer): void {
    const key = `${player}/${stream}`;
    this.arrivals.get(key)?.mark(trig);
    this.q!.push(key, trig, payload); // journaled by the writer's worker before it is written to the file
  }

  /**
   * The trigger completed every level. With the journal, it is reported done (onDone) once the writer's worker has
   * its DONE record written to the OS (after every row queued before it); the trigger loop does not wait for that.
   */
  noteTrigger(trig: number): void {
    this.lastNoted = trig;
    if (this.journaling) this.unjournaled.push(trig);
    this.q!.noteTrigger(trig);
  }

  /** Try the held writes again; the writer's worker re-opens the journal if a write error had switched it off. */
  retry(): void {
    this.q?.retry();
  }

  hasCapacity(): boolean {
    return !this.q!.full;
  }

  whenCapacity(): Promise<void> {
    return this.q!.whenBelow();
  }

  missing(lastTrigger: number, players?: ReadonlySet<string>): number {
    let n = 0;
    if (!players) for (const a of this.arrivals.values()) n += a.missing(lastTrigger);
    else for (const p of players) for (const key of this.byPlayer.get(p) ?? []) n += this.arrivals.get(key)?.missing(lastTrigger) ?? 0;
    return n;
  }

  async close(info: SinkCloseInfo): Promise<SinkResult> {
    // the writer's worker deletes the journal once the file is closed with every row (writer-worker.ts)
    const r = await this.q!.close({ status: info.status, lastTrigger: info.lastTrigger, lastIssued: info.lastIssued, message: info.message, ...(info.deadTime ? { deadTime: info.deadTime } : {}) });
    this.result = { ...r, file: r.path, errors: this.writeErrors + r.errors, rejected: r.stats.rejected, ...(info.deadTime ? { deadTime: info.deadTime } : {}) };
    return this.result;
  }
}

function toSpec(s: StreamKey): StreamSpec {
  return { player: s.player, name: s.decl.name, dtype: s.decl.dtype, shape: s.decl.shape, units: s.decl.units, role: s.decl.role, alias: s.decl.alias, axis: s.decl.axis };
}

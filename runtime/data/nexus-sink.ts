/**
 * The Director's DataSink backed by the NeXus writer queue: opens the file when the run starts, feeds data rows,
 * applies back-pressure, tracks which rows are still expected for the closeout wait.
 */
import type { DataSink, RunDescription, SinkCloseInfo, StreamKey, WriteFault } from "../director/sink.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import { WriterQueue, type WriterQueueOptions } from "./writer-queue.ts";
import type { NexusWriterOptions } from "./nexus-writer.ts";
import type { CloseResult, RunInfo, StreamSpec } from "./types.ts";
import { JournalWriter, journalSegments } from "./journal.ts";
import { DiskGuard, WriteFaultError } from "./write-guard.ts";
import { resolve as resolvePath } from "node:path";
import { rmSync } from "node:fs";

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
   * Write-ahead journal beside the file (journal.ts; default on, not with rollover): a trigger counts as done only
   * once its rows are in it. syncSeconds: fdatasync at most this far apart (default 1; 0 = every trigger).
   */
  journal?: { syncSeconds?: number; segmentBytes?: number } | false;
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

export type SinkResult = CloseResult & { file: string; errors: number; rejected: number };

export class NexusSink implements DataSink {
  private q: WriterQueue | null = null;
  private readonly arrivals = new Map<string, Arrivals>();
  private readonly byPlayer = new Map<string, string[]>();
  private lastNoted = 0;
  private readonly log: Logger;
  private writeErrors = 0;
  result: SinkResult | null = null;
  onWriteFault?: (f: WriteFault) => void;
  private journal: JournalWriter | null = null;
  private streamSpecs: StreamSpec[] = [];
  /** The journal was switched off by a write error during the run (its segments stay until a clean close). */
  private journalOff = false;

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
    this.streamSpecs = [...specs];
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
      onCheckpoint: (seq) => this.journalDo(() => this.journal?.release(seq)),
    });
    this.runId = run.runId;
    this.openJournal(specs);
    this.lastNoted = this.q.firstTrigger - 1;
    for (const s of streams) this.track(s, this.q.firstTrigger);
  }

  private runId = "";

  private openJournal(specs: StreamSpec[]): void {
    const j = this.o.journal ?? {};
    const q = this.q!;
    if (j !== false && !this.o.rolloverTriggers) {
      const jw = new JournalWriter(
        q.path,
        { file: q.path.slice(q.path.lastIndexOf("/") + 1), runId: this.runId, firstTrigger: q.firstTrigger, created: new Date().toISOString() },
        {
          syncSeconds: j.syncSeconds ?? 1,
          segmentBytes: j.segmentBytes,
          // half the writer's reserve: when the disk fills, the writer stops first and the rows it then holds still
          // reach the journal (donki recover writes them once there is room); the rest stays for closing the file
          guard: (this.o.queue?.reserveBytes ?? 8 * 2 ** 20) > 0 ? new DiskGuard(resolvePath(this.o.dir), (this.o.queue?.reserveBytes ?? 8 * 2 ** 20) / 2) : undefined,
        },
      );
      try {
        for (const s of specs) jw.stream({ key: `${s.player}/${s.name}`, dtype: s.dtype, shape: s.shape });
      } catch (e) {
        jw.close(false);
        throw e;
      }
      this.journal = jw; // only a journal that knows every stream is used
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
      this.q!.addStream(toSpec(s));
      this.streamSpecs.push(toSpec(s));
      this.journalDo(() => this.journal?.stream({ key, dtype: s.decl.dtype, shape: s.decl.shape }));
    }
    this.track(s, this.lastNoted + 1);
  }

  endStreams(player: string, lastTrigger: number): void {
    for (const key of this.byPlayer.get(player) ?? []) this.arrivals.get(key)?.end(lastTrigger);
  }

  accept(player: string, stream: string, trig: number, payload: Buffer): void {
    const key = `${player}/${stream}`;
    this.arrivals.get(key)?.mark(trig);
    if (this.journal) this.journalDo(() => this.journal?.row(key, trig, payload)); // before the queue may detach it
    this.q!.push(key, trig, payload);
  }

  /** The trigger completed every level: its DONE record reaches the journal (the OS) before it counts as done. */
  noteTrigger(trig: number): void {
    this.lastNoted = trig;
    if (this.journal) {
      this.journalDo(() => {
        this.journal!.done(trig);
        const full = this.journal!.rotateIfFull();
        if (full !== null) this.q!.checkpoint(full);
      });
    }
    this.q!.noteTrigger(trig);
  }

  /** A journal write that fails (disk full, I/O error) is a write fault; the run goes on without the journal. */
  private journalDo(fn: () => void): void {
    if (!this.journal) return;
    try {
      fn();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const j = this.journal;
      this.journal = null;
      this.journalOff = true;
      try {
        j.close(false);
      } catch {
        /* the segments already written stay for donki recover */
      }
      this.log.info({ err: err.message }, "journal write failed; journal off until the run resumes"); // the CLI prints the fault line
      const guarded = e instanceof WriteFaultError;
      const kind = guarded ? e.kind : err.code === "ENOSPC" || err.code === "EDQUOT" ? "disk-full" : "journal";
      const what = guarded ? e.message : `${err.code === "ENOSPC" ? "disk full" : err.message} (${this.o.dir})`;
      this.onWriteFault?.({ kind: kind === "io" ? "journal" : kind, message: `${what}; the journal is off until the scan resumes` });
    }
  }

  retry(): void {
    if (this.journalOff && !this.journal && this.q) {
      // the operator made room: journal again from here (the rows in between are in the writer's queue/file)
      try {
        this.openJournal(this.streamSpecs);
        this.journalOff = false;
      } catch (e) {
        // still no room: the scan pauses again with the reason (the writer's retry meets the same disk)
        this.log.info({ err: (e as Error).message }, "could not re-open the journal");
        this.onWriteFault?.({ kind: e instanceof WriteFaultError ? e.kind : "journal", message: `${(e as Error).message}; the journal is off until the scan resumes` });
      }
    }
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
    const held = this.q!.stalled !== null;
    const r = await this.q!.close({ status: info.status, lastTrigger: info.lastTrigger, lastIssued: info.lastIssued, message: info.message });
    // the file is closed: the journal is deleted, unless the file could not take every row (write fault: the held
    // rows are only in the journal, for donki recover once there is room; a stream not finalised)
    const final = !held && r.unfinalised.length === 0;
    this.journalDo(() => this.journal?.close(final));
    if (final && this.journalOff) for (const p of journalSegments(this.q!.path)) rmSync(p, { force: true });
    this.journal = null;
    this.result = { ...r, file: r.path, errors: this.writeErrors + r.errors, rejected: r.stats.rejected };
    return this.result;
  }
}

function toSpec(s: StreamKey): StreamSpec {
  return { player: s.player, name: s.decl.name, dtype: s.decl.dtype, shape: s.decl.shape, units: s.decl.units, role: s.decl.role, alias: s.decl.alias, axis: s.decl.axis };
}

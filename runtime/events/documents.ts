/**
 * The run documents (runtime/events/schema.ts) made from what the Director sees: a DataSink that passes everything
 * to the real sink (the NeXus writer) and, on the side, batches scalar values, row references and decimated previews
 * into `event_page` documents, publishes `start`, `descriptor`s, periodic `status` and `stop`.
 *
 * Bounded at any trigger rate: the hot path (`accept`) decodes one number or stamps one row reference; pages go out
 * on a timer (pageMs), previews at most one per array stream per previewMs, status every statusMs.
 */
import type { DataSink, RunDescription, SinkCloseInfo, SinkCloseReport, StreamKey, WriteFault } from "../director/sink.ts";
import type { Director } from "../director/director.ts";
import { TYPED_ARRAY } from "../devices/common.ts";
import type { DType } from "../devices/common.ts";
import { DOC_VERSION, type DescriptorT, type DocName, type EventPageT, type StartT, type StatusT, type StopT } from "./schema.ts";

export interface DocumentOptions {
  /** Where the documents go (the Director's event stream: director.publish("doc", {name, doc})). */
  publish: (name: DocName, doc: object) => void;
  /** The Director whose players, levels and faults the status documents show. */
  director: Pick<Director, "status" | "registry" | "faultsSoFar">;
  /**
   * Re-sends of `start` and the descriptors for consumers that connect mid-run (topic `doc.late`, every lateMs);
   * `doc` itself carries each document once.
   */
  publishLate?: (name: DocName, doc: object) => void;
  lateMs?: number;
  /** Run metadata for the start document, asked for once the inner sink is open (it knows the file then). */
  describeRun: () => Omit<StartT, "version" | "run" | "time" | "planned" | "firstTrigger">;
  /** Extra descriptor fields per stream (e.g. the ROIs of a spectrum in eV). */
  describeStream?: (player: string, stream: string) => Partial<Pick<DescriptorT, "rois">>;
  pageMs?: number;
  previewMs?: number;
  statusMs?: number;
  /** Largest preview: bins of a spectrum, pixels along a frame's longer side. */
  previewSpectrumBins?: number;
  previewFramePixels?: number;
}

interface StreamState {
  key: string;
  dtype: DType;
  scalar: boolean;
  shape: number[];
  count: number;
  trig: number[];
  value: number[];
  lastPreview: number;
  preview: { trig: number; shape: number[]; values: number[] } | null;
  binning: number[];
  previewShape: number[];
}

function readScalar(dtype: DType, b: Buffer): number {
  switch (dtype) {
    case "float64":
      return b.readDoubleLE(0);
    case "float32":
      return b.readFloatLE(0);
    case "uint8":
      return b.readUInt8(0);
    case "uint16":
      return b.readUInt16LE(0);
    case "uint32":
      return b.readUInt32LE(0);
    case "int16":
      return b.readInt16LE(0);
    case "int32":
      return b.readInt32LE(0);
  }
}

/** Decimate one array payload: sum over bins for 1-d (counts stay counts), mean over blocks for 2-d. */
export function decimate(dtype: DType, shape: number[], binning: number[], payload: Buffer): { shape: number[]; values: number[] } {
  const T = TYPED_ARRAY[dtype];
  const copy = new Uint8Array(payload).buffer; // aligned copy of the bytes (the payload belongs to ZeroMQ)
  const a = new T(copy);
  if (shape.length === 1) {
    const [b] = binning;
    const n = Math.ceil(shape[0] / b);
    const out = new Array<number>(n).fill(0);
    for (let i = 0; i < shape[0]; i++) out[Math.floor(i / b)] += a[i];
    return { shape: [n], values: out };
  }
  const [h, w] = shape.slice(-2);
  const [bh, bw] = binning;
  const oh = Math.ceil(h / bh);
  const ow = Math.ceil(w / bw);
  const sum = new Float64Array(oh * ow);
  const cnt = new Uint32Array(oh * ow);
  for (let y = 0; y < h; y++) {
    const oy = Math.floor(y / bh) * ow;
    for (let x = 0; x < w; x++) {
      const o = oy + Math.floor(x / bw);
      sum[o] += a[y * w + x];
      cnt[o]++;
    }
  }
  const values = new Array<number>(oh * ow);
  for (let i = 0; i < values.length; i++) values[i] = Math.round((sum[i] / cnt[i]) * 100) / 100;
  return { shape: [oh, ow], values };
}

export class DocumentSink implements DataSink {
  private streams = new Map<string, StreamState>();
  private run: RunDescription | null = null;
  private first = 1;
  private lastTrig = 0;
  private seq = 0;
  private t0 = 0;
  private pageTimer: NodeJS.Timeout | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private lateTimer: NodeJS.Timeout | null = null;
  private startDoc: StartT | null = null;
  private descriptors: DescriptorT[] = [];
  private readonly pageMs: number;
  private readonly previewMs: number;
  private readonly statusMs: number;

  constructor(
    private readonly inner: DataSink,
    private readonly o: DocumentOptions,
    /** First trigger of the run (a resumed run starts later). */
    firstTrigger = 1,
  ) {
    this.first = firstTrigger;
    this.lastTrig = firstTrigger - 1;
    this.pageMs = o.pageMs ?? 200;
    this.previewMs = o.previewMs ?? 500;
    this.statusMs = o.statusMs ?? 500;
  }

  /** Write faults and retries belong to the sink that writes: passed through. */
  get onWriteFault(): ((f: WriteFault) => void) | undefined {
    return this.inner.onWriteFault;
  }
  set onWriteFault(fn: ((f: WriteFault) => void) | undefined) {
    this.inner.onWriteFault = fn;
  }

  retry(): void {
    this.inner.retry?.();
  }

  /** Done reports (after the inner sink's journal has the trigger) are passed through too. */
  get defersDone(): boolean {
    return this.inner.defersDone === true;
  }
  get onDone(): ((trig: number) => void) | undefined {
    return this.inner.onDone;
  }
  set onDone(fn: ((trig: number) => void) | undefined) {
    this.inner.onDone = fn;
  }

  async open(run: RunDescription, streams: StreamKey[]): Promise<void> {
    await this.inner.open(run, streams);
    this.run = run;
    this.t0 = performance.now();
    const start: StartT = { version: DOC_VERSION, run: run.runId, time: run.startTime.getTime() / 1000, planned: run.plannedTriggers, firstTrigger: this.first, ...this.o.describeRun() };
    this.startDoc = start;
    this.o.publish("start", start);
    for (const s of streams) this.describe(s);
    if (this.o.publishLate) {
      const late = this.o.publishLate;
      this.lateTimer = setInterval(() => {
        late("start", this.startDoc!);
        for (const d of this.descriptors) late("descriptor", d);
      }, this.o.lateMs ?? 5000);
      this.lateTimer.unref();
    }
    this.pageTimer = setInterval(() => this.flush(), this.pageMs);
    this.statusTimer = setInterval(() => this.publishStatus(), this.statusMs);
    this.pageTimer.unref();
    this.statusTimer.unref();
    this.publishStatus();
  }

  private describe(s: StreamKey): void {
    const key = `${s.player}/${s.decl.name}`;
    if (this.streams.has(key)) return;
    const scalar = s.decl.shape.length === 0 || s.decl.shape.every((n) => n === 1);
    let binning: number[] = [];
    let previewShape: number[] = [];
    if (s.decl.shape.length === 1) {
      binning = [Math.max(1, Math.ceil(s.decl.shape[0] / (this.o.previewSpectrumBins ?? 512)))];
      previewShape = [Math.ceil(s.decl.shape[0] / binning[0])];
    } else if (s.decl.shape.length === 2) {
      const b = Math.max(1, Math.ceil(Math.max(...s.decl.shape) / (this.o.previewFramePixels ?? 128)));
      binning = [b, b];
      previewShape = s.decl.shape.map((n) => Math.ceil(n / b));
    }
    this.streams.set(key, { key, dtype: s.decl.dtype, scalar, shape: s.decl.shape, count: 0, trig: [], value: [], lastPreview: -Infinity, preview: null, binning, previewShape });
    const d: DescriptorT = {
      version: DOC_VERSION,
      run: this.run!.runId,
      stream: key,
      player: s.player,
      name: s.decl.name,
      level: this.o.director.registry.get(s.player)?.level ?? -1,
      dtype: s.decl.dtype,
      shape: s.decl.shape,
      units: s.decl.units ?? "",
      role: s.decl.role,
      ...(s.decl.axis ? { axis: s.decl.axis } : {}),
      kind: scalar ? "scalar" : "array",
      ...(!scalar && binning.length ? { preview: { shape: previewShape, binning } } : {}),
      ...this.o.describeStream?.(s.player, s.decl.name),
    };
    this.descriptors.push(d);
    this.o.publish("descriptor", d);
  }

  addStream(stream: StreamKey): void {
    this.inner.addStream(stream);
    if (this.run) this.describe(stream);
  }

  endStreams(player: string, lastTrigger: number): void {
    this.inner.endStreams?.(player, lastTrigger);
  }

  accept(player: string, stream: string, trig: number, payload: Buffer): void {
    const s = this.streams.get(`${player}/${stream}`);
    if (s) {
      s.count++;
      s.trig.push(trig);
      if (s.scalar) s.value.push(readScalar(s.dtype, payload));
      else if (s.binning.length) {
        const now = performance.now();
        if (now - s.lastPreview >= this.previewMs) {
          s.lastPreview = now;
          s.preview = { trig, ...decimate(s.dtype, s.shape, s.binning, payload) };
        }
      }
    }
    this.inner.accept(player, stream, trig, payload);
  }

  noteTrigger(trig: number): void {
    this.lastTrig = trig;
    this.inner.noteTrigger(trig);
  }

  hasCapacity(): boolean {
    return this.inner.hasCapacity();
  }

  whenCapacity(): Promise<void> {
    return this.inner.whenCapacity();
  }

  missing(lastTrigger: number, players?: ReadonlySet<string>): number {
    return this.inner.missing(lastTrigger, players);
  }

  /** Publish what arrived since the last page (nothing when nothing arrived). */
  flush(): void {
    if (!this.run) return;
    const page: EventPageT = { version: DOC_VERSION, run: this.run.runId, seq: 0, data: {}, refs: {}, previews: {} };
    let any = false;
    for (const s of this.streams.values()) {
      if (s.trig.length) {
        any = true;
        if (s.scalar) page.data[s.key] = { trig: s.trig, value: s.value };
        else page.refs[s.key] = { trig: s.trig, row: s.trig.map((t) => t - this.first) };
        s.trig = [];
        s.value = [];
      }
      if (s.preview) {
        any = true;
        page.previews[s.key] = s.preview;
        s.preview = null;
      }
    }
    if (!any) return;
    page.seq = ++this.seq;
    this.o.publish("event_page", page);
  }

  statusDocument(): StatusT {
    const st = this.o.director.status();
    const now = performance.now();
    const faults = this.o.director.faultsSoFar();
    const byLevel = new Map<number, StatusT["levels"][number]["players"]>();
    for (const e of this.o.director.registry.all()) {
      let l = byLevel.get(e.level);
      if (!l) byLevel.set(e.level, (l = []));
      l.push({ name: e.name, level: e.level, enabled: e.enabled, alive: e.alive, lastSeenMs: Math.round(now - e.lastSeen), lastAckMs: e.lastAckMs === null ? null : Math.round(e.lastAckMs * 100) / 100, faults: faults.filter((f) => f.player === e.name).length });
    }
    const elapsedS = (now - this.t0) / 1000;
    const done = this.lastTrig - this.first + 1;
    const planned = this.run?.plannedTriggers ?? null;
    const etaS = planned !== null && done > 0 ? ((planned - this.lastTrig) * elapsedS) / done : null;
    return {
      version: DOC_VERSION,
      run: this.run?.runId ?? st.run ?? "",
      time: Date.now() / 1000,
      state: st.state,
      ...(st.pausedBecause ? { reason: st.pausedBecause } : {}),
      trig: this.lastTrig,
      planned,
      elapsedS: Math.round(elapsedS * 1000) / 1000,
      etaS: etaS === null ? null : Math.round(etaS * 10) / 10,
      simTime: st.simTime,
      levels: [...byLevel.entries()].sort((a, b) => a[0] - b[0]).map(([level, players]) => ({ level, players })),
      faults: faults.slice(-100).map((f) => ({ trig: f.trig, lvl: f.lvl, player: f.player, kind: f.kind, message: f.message, action: f.action })),
    };
  }

  private publishStatus(): void {
    if (this.run) this.o.publish("status", this.statusDocument());
  }

  async close(info: SinkCloseInfo): Promise<Partial<SinkCloseReport> | void> {
    if (this.pageTimer) clearInterval(this.pageTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.lateTimer) clearInterval(this.lateTimer);
    this.flush();
    let result: Partial<SinkCloseReport> | void = undefined;
    let error: Error | null = null;
    try {
      result = await this.inner.close(info);
    } catch (e) {
      error = e as Error;
    }
    const counts: StopT["counts"] = {};
    for (const s of this.streams.values()) counts[s.key] = s.count;
    const gaps: StopT["gaps"] = {};
    const per = (result as { perStream?: Array<{ key: string; missing: number[] }> } | undefined)?.perStream;
    if (per) for (const p of per) if (p.missing.length) gaps[p.key] = { missing: p.missing.length, first: p.missing.slice(0, 100) };
    // the sink's verdict (completed-with-gaps when rows are missing) is the run's end status, told here as in the file
    const status = error && info.status === "completed" ? "failed" : (result?.status ?? info.status);
    const message = error ? [info.message, `closing the data file failed: ${error.message}`].filter(Boolean).join("; ") : info.message;
    const file = (result as { path?: string } | undefined)?.path ?? this.o.describeRun().file ?? null;
    const d = info.deadTime;
    const efficiency = d ? { actual: d.efficiency.actual, planned: d.efficiency.planned, instrumentS: d.instrumentS.actual, exposureS: d.exposureS.actual } : undefined;
    const stop: StopT = { version: DOC_VERSION, run: this.run?.runId ?? "", time: Date.now() / 1000, status, ...(message ? { message } : {}), lastTrigger: info.lastTrigger, counts, gaps, file, ...(efficiency ? { efficiency } : {}) };
    this.publishStatus();
    this.o.publish("stop", stop);
    if (error) throw error;
    return result;
  }
}

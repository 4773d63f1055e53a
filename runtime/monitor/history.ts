/**
 * What a monitor keeps of the current run so that a browser that (re)connects sees the whole run so far: the start
 * and descriptor documents, every scalar value and row reference merged per stream, the latest preview per stream,
 * the latest status, the fault list and the stop document. Memory is O(triggers x scalar streams) numbers.
 */
import type { StreamMessage } from "../events/follow.ts";

interface Columns {
  trig: number[];
  value: number[];
}

export class RunHistory {
  private start: StreamMessage | null = null;
  private descriptors: StreamMessage[] = [];
  private data = new Map<string, Columns>();
  private refs = new Map<string, { trig: number[]; row: number[] }>();
  private previews = new Map<string, unknown>();
  private seq = 0;
  private status: StreamMessage | null = null;
  private stop: StreamMessage | null = null;
  private state: StreamMessage | null = null;
  private faults: StreamMessage[] = [];

  /**
   * Take one message of the event stream; returns the message to pass on to the pages, or null. A `doc.late`
   * re-send (start and descriptors for consumers that connected mid-run) counts only when it is news.
   */
  accept(m: StreamMessage): StreamMessage | null {
    if (m.topic === "doc.late") {
      const doc = m.body.doc as { run?: string; stream?: string };
      const cur = (this.start?.body.doc as { run?: string } | undefined)?.run;
      if (m.body.name === "start" && cur === doc.run) return null;
      if (m.body.name === "descriptor" && (cur !== doc.run || this.descriptors.some((d) => (d.body.doc as { stream: string }).stream === doc.stream))) return null;
      m = { topic: "doc", body: { ...m.body, type: "doc" } };
    }
    this.add(m);
    return m;
  }

  add(m: StreamMessage): void {
    if (m.topic === "state") {
      this.state = m;
      return;
    }
    if (m.topic === "fault") {
      this.faults.push(m);
      if (this.faults.length > 1000) this.faults.shift();
      return;
    }
    if (m.topic !== "doc") return;
    const name = m.body.name as string;
    const doc = m.body.doc as Record<string, any>;
    if (name === "start") {
      this.start = m;
      this.descriptors = [];
      this.data.clear();
      this.refs.clear();
      this.previews.clear();
      this.faults = [];
      this.stop = null;
      this.seq = 0;
    } else if (name === "descriptor") this.descriptors.push(m);
    else if (name === "status") this.status = m;
    else if (name === "stop") this.stop = m;
    else if (name === "event_page") {
      this.seq = doc.seq;
      for (const [k, c] of Object.entries(doc.data as Record<string, Columns>)) {
        let d = this.data.get(k);
        if (!d) this.data.set(k, (d = { trig: [], value: [] }));
        for (let i = 0; i < c.trig.length; i++) {
          d.trig.push(c.trig[i]);
          d.value.push(c.value[i]);
        }
      }
      for (const [k, r] of Object.entries(doc.refs as Record<string, { trig: number[]; row: number[] }>)) {
        // row references: only the latest is kept (the file has the rest)
        this.refs.set(k, { trig: r.trig.slice(-1), row: r.row.slice(-1) });
      }
      for (const [k, p] of Object.entries(doc.previews as Record<string, unknown>)) this.previews.set(k, p);
    }
  }

  /** The run so far as messages a fresh consumer applies in order (one merged event_page). */
  replay(): StreamMessage[] {
    const out: StreamMessage[] = [];
    if (this.start) {
      out.push(this.start, ...this.descriptors);
      const run = (this.start.body.doc as { run: string }).run;
      const version = (this.start.body.doc as { version: number }).version;
      out.push({
        topic: "doc",
        body: {
          type: "doc",
          v: this.start.body.v,
          name: "event_page",
          doc: { version, run, seq: this.seq || 1, data: Object.fromEntries(this.data), refs: Object.fromEntries(this.refs), previews: Object.fromEntries(this.previews) },
          replay: true,
        },
      });
    }
    out.push(...this.faults);
    if (this.status) out.push(this.status);
    if (this.state) out.push(this.state);
    if (this.stop) out.push(this.stop);
    return out;
  }
}

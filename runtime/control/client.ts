/**
 * Clients of a running Director: ControlClient (control channel, request/reply) and EventStream (the PUB event
 * stream). Used by `donki ctl`, tests, and any GUI or script that drives a Director.
 */
import * as zmq from "zeromq";
import { encode } from "../protocol/codec.ts";
import { Packr } from "msgpackr";
import { PROTOCOL_VERSION, type ControlCmd, type ControlReply, type DirectorStatus } from "../protocol/messages.ts";
import { type CurveClientConfig, useCurveClient } from "../transport/curve.ts";

const unpackr = new Packr({ useRecords: false, mapsAsObjects: true });

export class ControlClient {
  private readonly sock = new zmq.Dealer();
  private nextId = 1;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(endpoint: string, curve?: CurveClientConfig) {
    useCurveClient(this.sock, curve);
    this.sock.linger = 0;
    this.sock.receiveTimeout = 5000;
    this.sock.sendTimeout = 5000;
    this.sock.connect(endpoint);
  }

  /** Send one command and wait for its reply (rejects after timeoutMs with a clear message). */
  request(cmd: ControlCmd, args: { player?: string; level?: number } = {}, timeoutMs = 5000): Promise<ControlReply> {
    const p = this.busy.then(async () => {
      const id = this.nextId++;
      this.sock.receiveTimeout = timeoutMs;
      await this.sock.send(encode({ v: PROTOCOL_VERSION, type: "control", id, cmd, ...args }));
      for (;;) {
        let frames: Buffer[];
        try {
          frames = await this.sock.receive();
        } catch {
          throw new Error(`no reply from the Director to '${cmd}' within ${timeoutMs} ms`);
        }
        const r = unpackr.unpack(frames[frames.length - 1]) as ControlReply;
        if (r.id === id) return r;
      }
    });
    this.busy = p.catch(() => {});
    return p;
  }

  async command(cmd: ControlCmd, args: { player?: string; level?: number } = {}): Promise<void> {
    const r = await this.request(cmd, args);
    if (!r.ok) throw new Error(`Director refused '${cmd}': ${r.error}`);
  }

  async status(): Promise<DirectorStatus> {
    const r = await this.request("status");
    if (!r.ok || !r.status) throw new Error(`status failed: ${r.error}`);
    return r.status;
  }

  close(): void {
    this.sock.close();
  }
}

export interface DirectorEvent {
  topic: string;
  body: Record<string, unknown> & { type: string };
  /** Local receive time, ms (performance.now()). */
  at: number;
}

/** Subscribes to a Director's event stream and keeps what it received. */
export class EventStream {
  private readonly sock = new zmq.Subscriber();
  readonly events: DirectorEvent[] = [];
  private listeners: Array<(e: DirectorEvent) => void> = [];
  private closed = false;

  constructor(endpoint: string, topics: string[] = [], curve?: CurveClientConfig) {
    useCurveClient(this.sock, curve);
    this.sock.linger = 0;
    this.sock.connect(endpoint);
    if (topics.length) this.sock.subscribe(...topics);
    else this.sock.subscribe();
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      try {
        const [topic, body] = await this.sock.receive();
        const e: DirectorEvent = { topic: topic.toString(), body: unpackr.unpack(body), at: performance.now() };
        this.events.push(e);
        for (const l of this.listeners) l(e);
      } catch {
        if (this.closed) return;
      }
    }
  }

  /** Wait for the first event (received from now on, or already received if `past`) matching `pred`. */
  next(pred: (e: DirectorEvent) => boolean, timeoutMs = 10_000, past = false): Promise<DirectorEvent> {
    if (past) {
      const hit = this.events.find(pred);
      if (hit) return Promise.resolve(hit);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== l0);
        reject(new Error(`no matching Director event within ${timeoutMs} ms`));
      }, timeoutMs);
      const l0 = (e: DirectorEvent) => {
        if (!pred(e)) return;
        clearTimeout(t);
        this.listeners = this.listeners.filter((l) => l !== l0);
        resolve(e);
      };
      this.listeners.push(l0);
    });
  }

  close(): void {
    this.closed = true;
    this.sock.close();
  }
}

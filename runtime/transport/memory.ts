/**
 * inproc:// in JavaScript: a ROUTER and DEALERs in one process exchanging messages through memory, for the players
 * that `donki run --in-process` runs in the Director's process. Same semantics as the other MessageSockets (and
 * as libzmq's inproc): a DEALER may connect before the ROUTER binds (its messages wait, bounded); the ROUTER
 * prefixes each received message with the peer's routing id and drops a message for an unknown id; delivery is
 * asynchronous (the next event-loop turn, in order), never re-entrant.
 *
 * Each frame is copied once on send, like a socket would: the receiver owns what it gets (the writer may transfer
 * a received frame's buffer to its worker) and the sender may reuse its buffers. This replaces zeromq.js's inproc
 * (libzmq through N-API and a promise per received message), which cost more per message than the simulated
 * devices themselves (docs/benchmarks.md, "Virtual-time speed").
 */
import type { Frames, MessageSocket, MessageSocketOptions } from "./socket.ts";

/** Bound routers by endpoint; DEALERs that connected before the bind wait in `waiting`. */
const routers = new Map<string, MemoryRouter>();
const waiting = new Map<string, Set<MemoryDealer>>();
let nextId = 1;

function copyFrames(frames: Frames): Buffer[] {
  const out = new Array<Buffer>(frames.length);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    // Buffer.from of a string or a Uint8Array copies: the receiver owns what it gets
    out[i] = typeof f === "string" ? Buffer.from(f) : Buffer.from(f instanceof Buffer ? f : new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
  }
  return out;
}

/** Messages for one socket, delivered in order on a later event-loop turn. */
class Inbox {
  private queue: Buffer[][] = [];
  private scheduled = false;
  constructor(private readonly deliver: (frames: Buffer[]) => void) {}
  push(frames: Buffer[]): void {
    this.queue.push(frames);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }
  clear(): void {
    this.queue = [];
  }
  private readonly drain = (): void => {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (const m of q) this.deliver(m);
  };
}

function checkEndpoint(endpoint: string): void {
  if (!/^inproc:\/\/.+/.test(endpoint)) throw new Error(`bad endpoint '${endpoint}' (expected inproc://NAME)`);
}

export class MemoryRouter implements MessageSocket {
  readonly transport = "memory" as const;
  readonly maxMessageSize: number;
  private handler: (frames: Buffer[]) => void = () => {};
  private readonly peers = new Map<string, MemoryDealer>();
  private readonly inbox = new Inbox((f) => this.receive(f));
  private endpoint: string | null = null;
  private closed = false;
  private readonly onError: (e: Error) => void;

  constructor(opts: MessageSocketOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? -1;
    this.onError = opts.onError ?? (() => {});
  }

  onMessage(handler: (frames: Buffer[]) => void): void {
    this.handler = handler;
  }

  async bind(endpoint: string): Promise<string> {
    checkEndpoint(endpoint);
    if (this.closed) throw new Error("socket closed");
    if (this.endpoint) throw new Error(`already bound to ${this.endpoint}`);
    if (routers.has(endpoint)) throw new Error(`${endpoint}: address already in use`);
    routers.set(endpoint, this);
    this.endpoint = endpoint;
    const w = waiting.get(endpoint);
    waiting.delete(endpoint);
    for (const d of w ?? []) d.attach(this);
    return endpoint;
  }

  connect(): void {
    throw new Error("the in-memory ROUTER only binds");
  }

  /** A DEALER joins: its routing id (7 bytes, so it never collides with libzmq's 5 or donki's ZMTP 6). */
  join(d: MemoryDealer): Buffer {
    const id = Buffer.alloc(7);
    id[0] = 0x6d; // 'm'
    id.writeUIntBE(nextId++, 1, 6);
    this.peers.set(id.toString("latin1"), d);
    return id;
  }

  leave(id: Buffer): void {
    this.peers.delete(id.toString("latin1"));
  }

  /** From a DEALER: [routing id, ...frames] (already copied). */
  post(frames: Buffer[]): void {
    if (this.closed) return;
    if (this.maxMessageSize >= 0) {
      for (let i = 1; i < frames.length; i++)
        if (frames[i].length > this.maxMessageSize) {
          this.onError(new Error(`in-memory peer sent a ${frames[i].length}-byte frame (limit ${this.maxMessageSize}): message dropped`));
          return;
        }
    }
    this.inbox.push(frames);
  }

  private receive(frames: Buffer[]): void {
    if (this.closed) return;
    try {
      this.handler(frames);
    } catch (e) {
      this.onError(e as Error);
    }
  }

  send(frames: Frames): void {
    if (this.closed || frames.length < 2) return;
    const id = frames[0];
    const key = typeof id === "string" ? Buffer.from(id).toString("latin1") : Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");
    const d = this.peers.get(key);
    if (!d) return; // unknown peer: dropped, like a ROUTER without ROUTER_MANDATORY
    d.post(copyFrames(frames.slice(1)));
  }

  async flush(): Promise<void> {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.clear();
    if (this.endpoint && routers.get(this.endpoint) === this) routers.delete(this.endpoint);
    for (const d of this.peers.values()) d.detach(this);
    this.peers.clear();
  }
}

export class MemoryDealer implements MessageSocket {
  readonly transport = "memory" as const;
  readonly maxMessageSize: number;
  private handler: (frames: Buffer[]) => void = () => {};
  private readonly inbox = new Inbox((f) => this.receive(f));
  private router: MemoryRouter | null = null;
  private id: Buffer | null = null;
  private endpoint: string | null = null;
  /** Messages sent before the ROUTER is bound (or after it closed, until one binds again). */
  private pending: Buffer[][] = [];
  private readonly maxQueue: number;
  private readonly onError: (e: Error) => void;
  private closed = false;

  constructor(opts: MessageSocketOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? -1;
    this.maxQueue = opts.maxQueue ?? 100_000;
    this.onError = opts.onError ?? (() => {});
  }

  onMessage(handler: (frames: Buffer[]) => void): void {
    this.handler = handler;
  }

  async bind(): Promise<string> {
    throw new Error("the in-memory DEALER only connects");
  }

  connect(endpoint: string): void {
    checkEndpoint(endpoint);
    if (this.closed) throw new Error("socket closed");
    if (this.endpoint) throw new Error(`already connected to ${this.endpoint}`);
    this.endpoint = endpoint;
    const r = routers.get(endpoint);
    if (r) this.attach(r);
    else this.wait();
  }

  private wait(): void {
    const e = this.endpoint!;
    let w = waiting.get(e);
    if (!w) waiting.set(e, (w = new Set()));
    w.add(this);
  }

  /** The ROUTER bound (or was bound already): join it and hand over what was sent meanwhile. */
  attach(r: MemoryRouter): void {
    if (this.closed) return;
    this.router = r;
    this.id = r.join(this);
    const p = this.pending;
    this.pending = [];
    for (const m of p) r.post([this.id, ...m]);
  }

  /** The ROUTER closed: wait for the next one on the same endpoint (like a reconnecting DEALER). */
  detach(r: MemoryRouter): void {
    if (this.router !== r) return;
    this.router = null;
    this.id = null;
    if (!this.closed) this.wait();
  }

  /** From the ROUTER (already copied). */
  post(frames: Buffer[]): void {
    if (!this.closed) this.inbox.push(frames);
  }

  private receive(frames: Buffer[]): void {
    if (this.closed) return;
    try {
      this.handler(frames);
    } catch (e) {
      this.onError(e as Error);
    }
  }

  send(frames: Frames): void {
    if (this.closed) return;
    const m = copyFrames(frames);
    if (this.router && this.id) return this.router.post([this.id, ...m]);
    if (this.pending.length >= this.maxQueue) {
      this.onError(new Error(`not connected and ${this.maxQueue} messages queued: message dropped`));
      return;
    }
    this.pending.push(m);
  }

  async flush(): Promise<void> {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inbox.clear();
    this.pending = [];
    if (this.router && this.id) this.router.leave(this.id);
    this.router = null;
    if (this.endpoint) waiting.get(this.endpoint)?.delete(this);
  }
}

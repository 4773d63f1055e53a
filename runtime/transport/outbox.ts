import type * as zmq from "zeromq";

type Frames = Array<Buffer | Uint8Array | string>;

/**
 * Serialises sends on one ZeroMQ socket: zeromq.js allows one blocked send at a time. Messages sent while a
 * send is in flight wait in a bounded JS queue, in order. Errors are reported, never thrown at the caller.
 */
export class Outbox {
  private inflight = false;
  private readonly queue: Frames[] = [];
  private closed = false;

  /** The socket's sendTimeout is 0 (a ROUTER that drops rather than blocks): no JS queue needed. */
  private readonly neverBlocks: boolean;
  private readonly reportError = (e: Error) => {
    if (!this.closed) this.onError(e);
  };

  constructor(
    private readonly sock: zmq.Socket & { send(m: Frames): Promise<void> },
    private readonly onError: (e: Error) => void,
    private readonly maxQueue = 100_000,
  ) {
    this.neverBlocks = (sock as unknown as { sendTimeout?: number }).sendTimeout === 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  send(frames: Frames): void {
    if (this.closed) return;
    if (this.neverBlocks) {
      // sendTimeout 0: zeromq.js sends at once or rejects (EAGAIN); there is nothing to queue behind
      try {
        this.sock.send(frames).catch(this.reportError);
      } catch (e) {
        this.onError(e as Error);
      }
      return;
    }
    if (this.inflight) {
      if (this.queue.length >= this.maxQueue) {
        this.onError(new Error(`outbox full (${this.maxQueue} messages queued): message dropped`));
        return;
      }
      this.queue.push(frames);
      return;
    }
    this.start(frames);
  }

  private start(frames: Frames): void {
    this.inflight = true;
    let p: Promise<void>;
    try {
      p = this.sock.send(frames);
    } catch (e) {
      this.inflight = false;
      this.onError(e as Error);
      return;
    }
    p.then(this.next, (e: Error) => {
      if (!this.closed) this.onError(e);
      this.next();
    });
  }

  private readonly next = (): void => {
    this.inflight = false;
    const f = this.queue.shift();
    if (f && !this.closed) this.start(f);
  };

  /** Resolve when everything queued has been handed to ZeroMQ (or after timeoutMs). */
  async flush(timeoutMs = 2000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ((this.inflight || this.queue.length) && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }
}

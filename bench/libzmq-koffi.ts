/**
 * libzmq called directly through koffi (the `zmq_*` symbols of the addon the `zeromq` package ships: nothing more
 * to install), with a receive path that has no promise per message: a koffi async call of libc poll() waits on the
 * socket's ZMQ_FD in koffi's worker thread; when it wakes, the main thread drains every queued message
 * synchronously (ZMQ_EVENTS, zmq_msg_recv with ZMQ_DONTWAIT) and hands each to a plain callback. The worker thread
 * only ever touches the file descriptor, never the socket (libzmq sockets are not thread-safe).
 *
 * A measured direction of issue 17 (bench/triggers.ts --koffi; docs/benchmarks.md): it LOST against zeromq.js, so it
 * stays in bench/, not in runtime/. The wire is
 * ZMTP as with zeromq.js, so any ZeroMQ peer (pyzmq, zeromq.js) talks to it. Linux only (the addon's path is read
 * from /proc/self/maps).
 */
import koffi from "koffi";
import * as zmq from "zeromq";
import { readFileSync } from "node:fs";

void zmq; // importing zeromq loads its addon, whose libzmq symbols are bound below

export const ZMQ = {
  PAIR: 0,
  PUB: 1,
  SUB: 2,
  DEALER: 5,
  ROUTER: 6,
  RCVMORE: 13,
  FD: 14,
  EVENTS: 15,
  LINGER: 17,
  RCVTIMEO: 27,
  SNDTIMEO: 28,
  LAST_ENDPOINT: 32,
  POLLIN: 1,
  POLLOUT: 2,
  DONTWAIT: 1,
  SNDMORE: 2,
} as const;
const EAGAIN = 11;
const EINTR = 4;

/** Path of the zeromq addon loaded in this process. */
function addonPath(): string {
  const line = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .find((l) => /zeromq\/build\/.*addon\.node$/.test(l));
  if (!line) throw new Error("libzmq via koffi: the zeromq addon is not loaded in this process (Linux only)");
  return line.slice(line.indexOf("/"));
}

interface Lib {
  ctxNew: () => unknown;
  socket: (ctx: unknown, type: number) => unknown;
  close: (s: unknown) => number;
  bind: (s: unknown, ep: string) => number;
  connect: (s: unknown, ep: string) => number;
  setopt: (s: unknown, opt: number, v: Buffer, len: number) => number;
  getopt: (s: unknown, opt: number, v: Buffer, len: Buffer) => number;
  send: (s: unknown, buf: Buffer | Uint8Array, len: number, flags: number) => number;
  msgInit: (m: Buffer) => number;
  msgRecv: (m: Buffer, s: unknown, flags: number) => number;
  msgData: (m: Buffer) => unknown;
  msgMore: (m: Buffer) => number;
  msgClose: (m: Buffer) => number;
  errno: () => number;
  strerror: (e: number) => string;
  poll: ((fds: Buffer, n: number, timeout: number) => number) & { async: (fds: Buffer, n: number, timeout: number, cb: (err: unknown, r: number) => void) => void };
}

let lib: Lib | null = null;
let ctx: unknown = null;

function load(): Lib {
  if (lib) return lib;
  const l = koffi.load(addonPath());
  const c = koffi.load("libc.so.6");
  lib = {
    ctxNew: l.func("void* zmq_ctx_new()"),
    socket: l.func("void* zmq_socket(void*, int)"),
    close: l.func("int zmq_close(void*)"),
    bind: l.func("int zmq_bind(void*, const char*)"),
    connect: l.func("int zmq_connect(void*, const char*)"),
    // plain pointers to Buffers: koffi marshals _Out_ typed arrays ~3x slower (measured 6.3 vs 2.2 us per call)
    setopt: l.func("int zmq_setsockopt(void*, int, void*, size_t)"),
    getopt: l.func("int zmq_getsockopt(void*, int, void*, void*)"),
    send: l.func("int zmq_send(void*, void*, size_t, int)"),
    msgInit: l.func("int zmq_msg_init(void*)"),
    msgRecv: l.func("int zmq_msg_recv(void*, void*, int)"),
    msgData: l.func("void* zmq_msg_data(void*)"),
    msgMore: l.func("int zmq_msg_more(void*)"),
    msgClose: l.func("int zmq_msg_close(void*)"),
    errno: l.func("int zmq_errno()"),
    strerror: l.func("const char* zmq_strerror(int)"),
    poll: c.func("int poll(void*, unsigned long, int)") as unknown as Lib["poll"],
  };
  ctx = lib.ctxNew();
  return lib;
}

function fail(l: Lib, what: string): never {
  const e = l.errno();
  throw new Error(`${what}: ${l.strerror(e)} (errno ${e})`);
}

/**
 * One libzmq socket owned by the main thread. `onMessage` is called synchronously for every message, in order;
 * `send` never blocks: it returns false when libzmq would block (EAGAIN: high-water mark, or no peer yet on a
 * DEALER), and the caller decides (the Director drops like a ROUTER with sendTimeout 0; see `whenWritable`).
 */
export class LibzmqSocket {
  private readonly l: Lib;
  private s: unknown;
  private readonly fd: number;
  private readonly pfd = Buffer.alloc(8);
  private readonly msg = Buffer.alloc(64);
  private readonly opt = Buffer.alloc(256);
  private readonly optLen = Buffer.alloc(8);
  private closed = false;
  private polling = false;
  private drainQueued = false;
  private writableWaiters: Array<() => void> = [];
  onMessage: (frames: Buffer[]) => void = () => {};
  onError: (e: Error) => void = () => {};

  /** Synchronous wait for the next message after activity, ms (0 = none): see `lingerWait`. */
  private readonly waitMs: number;
  private waitQueued = false;
  private lastActivity = 0;

  constructor(type: number, opts: { linger?: number; syncWaitMs?: number } = {}) {
    this.waitMs = opts.syncWaitMs ?? 0;
    this.l = load();
    this.s = this.l.socket(ctx, type);
    if (!this.s) fail(this.l, "zmq_socket");
    this.setInt(ZMQ.LINGER, opts.linger ?? 0);
    this.fd = this.getInt(ZMQ.FD);
    this.pfd.writeInt32LE(this.fd, 0);
    this.pfd.writeInt16LE(1 /* POLLIN */, 4);
  }

  setInt(opt: number, v: number): void {
    this.opt.writeInt32LE(v, 0);
    if (this.l.setopt(this.s, opt, this.opt, 4) !== 0) fail(this.l, `zmq_setsockopt(${opt})`);
  }

  setBytes(opt: number, v: Buffer | string): void {
    const b = typeof v === "string" ? Buffer.from(v) : v;
    if (this.l.setopt(this.s, opt, b, b.length) !== 0) fail(this.l, `zmq_setsockopt(${opt})`);
  }

  getInt(opt: number): number {
    this.optLen.writeUInt32LE(4, 0);
    this.optLen.writeUInt32LE(0, 4);
    if (this.l.getopt(this.s, opt, this.opt, this.optLen) !== 0) fail(this.l, `zmq_getsockopt(${opt})`);
    return this.opt.readInt32LE(0);
  }

  get lastEndpoint(): string {
    this.optLen.writeUInt32LE(256, 0);
    this.optLen.writeUInt32LE(0, 4);
    if (this.l.getopt(this.s, ZMQ.LAST_ENDPOINT, this.opt, this.optLen) !== 0) fail(this.l, "zmq_getsockopt(LAST_ENDPOINT)");
    return this.opt.toString("utf8", 0, this.optLen.readUInt32LE(0) - 1);
  }

  /** `poll` false: the socket is used only with the blocking helpers. */
  bind(ep: string, poll = true): void {
    if (this.l.bind(this.s, ep) !== 0) fail(this.l, `bind ${ep}`);
    if (poll) this.arm();
  }

  connect(ep: string, poll = true): void {
    if (this.l.connect(this.s, ep) !== 0) fail(this.l, `connect ${ep}`);
    if (poll) this.arm();
  }

  /** Send a multipart message at once; false if libzmq would block (nothing was sent). */
  send(frames: Array<Buffer | Uint8Array | string>): boolean {
    if (this.closed) return false;
    const n = frames.length;
    for (let i = 0; i < n; i++) {
      let f = frames[i];
      if (typeof f === "string") f = Buffer.from(f);
      const flags = ZMQ.DONTWAIT | (i < n - 1 ? ZMQ.SNDMORE : 0);
      while (this.l.send(this.s, f, f.length, flags) < 0) {
        const e = this.l.errno();
        if (e === EINTR) continue;
        // a multipart message is atomic in libzmq: a refused first part means nothing was queued
        if (e === EAGAIN && i === 0) {
          this.queueDrain();
          return false;
        }
        this.queueDrain();
        throw new Error(`zmq_send: ${this.l.strerror(e)} (errno ${e})`);
      }
    }
    // a send may have processed libzmq's commands and consumed the fd's wake-up: look at the queue again
    this.queueDrain();
    this.noteActivity();
    return true;
  }

  /**
   * Blocking ping-pong helpers for the reference "libzmq from Node with the main thread blocked in zmq_recv" (no event
   * loop involved, as pyzmq does it): never use them on a socket that is also polled.
   */
  sendBlocking(b: Buffer): void {
    if (this.l.send(this.s, b, b.length, 0) < 0) fail(this.l, "zmq_send");
  }

  recvBlocking(): Buffer {
    this.l.msgInit(this.msg);
    const n = this.l.msgRecv(this.msg, this.s, 0);
    if (n < 0) {
      const e = this.l.errno();
      this.l.msgClose(this.msg);
      throw new Error(`zmq_msg_recv: ${this.l.strerror(e)} (errno ${e})`);
    }
    const b = n === 0 ? Buffer.alloc(0) : Buffer.from(koffi.view(this.l.msgData(this.msg), n).slice(0));
    this.l.msgClose(this.msg);
    return b;
  }

  /** Resolves once the socket reports POLLOUT (after a send returned false). */
  whenWritable(): Promise<void> {
    return new Promise((res) => {
      this.writableWaiters.push(res);
      this.queueDrain();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.l.close(this.s);
    this.s = null;
    for (const w of this.writableWaiters.splice(0)) w();
  }

  private queueDrain(): void {
    if (this.drainQueued) return;
    this.drainQueued = true;
    queueMicrotask(this.drainTask);
  }

  private readonly drainTask = (): void => {
    this.drainQueued = false;
    this.drain();
  };

  /**
   * After a message or a send, the answer usually follows within one round trip: wait for it synchronously on the
   * main thread (poll() on the fd, at most waitMs, sleeping, not spinning), once the microtasks that react to the
   * last message have run. This spares the wake-up through koffi's worker thread and the event loop. Bounded:
   * timers and other sockets are delayed by at most waitMs.
   */
  private readonly lingerWait = (): void => {
    this.waitQueued = false;
    if (this.closed) return;
    if (performance.now() - this.lastActivity > this.waitMs) return;
    if (this.l.poll(this.pfd, 1, this.waitMs) > 0) this.drain();
  };

  private noteActivity(): void {
    if (!this.waitMs) return;
    this.lastActivity = performance.now();
    if (this.waitQueued) return;
    this.waitQueued = true;
    setImmediate(this.lingerWait);
  }

  /** Read every message queued now, synchronously; then wait on the fd again. */
  private drain(): void {
    while (!this.closed) {
      const ev = this.getInt(ZMQ.EVENTS);
      if (ev & ZMQ.POLLOUT && this.writableWaiters.length) for (const w of this.writableWaiters.splice(0)) w();
      if (!(ev & ZMQ.POLLIN)) break;
      const frames = this.readMessage();
      if (!frames) break;
      this.noteActivity();
      try {
        this.onMessage(frames);
      } catch (e) {
        this.onError(e as Error);
      }
    }
    this.arm();
  }

  private readMessage(): Buffer[] | null {
    const frames: Buffer[] = [];
    for (;;) {
      this.l.msgInit(this.msg);
      let n: number;
      while ((n = this.l.msgRecv(this.msg, this.s, ZMQ.DONTWAIT)) < 0) {
        const e = this.l.errno();
        if (e === EINTR) continue;
        this.l.msgClose(this.msg);
        if (e === EAGAIN && frames.length === 0) return null;
        this.onError(new Error(`zmq_msg_recv: ${this.l.strerror(e)} (errno ${e})`));
        return null;
      }
      frames.push(n === 0 ? Buffer.alloc(0) : Buffer.from(koffi.view(this.l.msgData(this.msg), n).slice(0)));
      const more = this.l.msgMore(this.msg);
      this.l.msgClose(this.msg);
      if (!more) return frames;
    }
  }

  /** Wait (in koffi's worker thread) until the fd signals, then drain on the main thread. */
  private arm(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    // a bounded wait so a closed socket's poll ends by itself (the fd is not touched after zmq_close)
    this.l.poll.async(this.pfd, 1, 100, () => {
      this.polling = false;
      if (!this.closed) this.drain();
    });
  }
}

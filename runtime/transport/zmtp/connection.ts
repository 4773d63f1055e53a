import type { Socket } from "node:net";
import { COMPATIBLE, FLAG_COMMAND, FLAG_MORE, FrameDecoder, FrameTooLarge, GREETING_SIZE, errorCommand, greeting, parseCommand, parseGreeting, parseProperties, pongFor, ready, type SocketType } from "./codec.ts";

/** Frames of one message at most (a peer sending endless MORE frames is disconnected). */
export const MAX_FRAMES_PER_MESSAGE = 10_000;

export interface ConnectionHandlers {
  /** The handshake is complete; return a reason to refuse the peer (the connection is closed), or null. */
  onReady(conn: ZmtpConnection): string | null;
  /** One complete multipart message (called synchronously while the received bytes are decoded). */
  onMessage(conn: ZmtpConnection, frames: Buffer[]): void;
  /** The connection is gone (after onReady or not); `reason` says why when it was not a clean close. */
  onClose(conn: ZmtpConnection, reason: string | null): void;
  /** The socket's write buffer emptied. */
  onDrain?(conn: ZmtpConnection): void;
}

export interface ConnectionOptions {
  socketType: SocketType;
  /** Identity property sent in READY (DEALER; empty: let the ROUTER choose). */
  identity?: Buffer;
  /** Largest frame accepted; a peer sending a bigger one is disconnected, like libzmq's ZMQ_MAXMSGSIZE. -1: none. */
  maxMessageSize: number;
  /** A peer that has not completed the handshake by then is disconnected. */
  handshakeTimeoutMs: number;
  /**
   * The socket was made with net's `onread` (one read buffer, reused): no 'data' events; the owner passes each read
   * to onRead, and what must outlive the call is copied. Saves the stream machinery and a Buffer per read.
   */
  reusedReadBuffer?: boolean;
}

/**
 * One ZMTP 3.x connection over a TCP socket with the NULL mechanism: greeting, READY exchange (Socket-Type checked,
 * Identity read), then multipart messages in both directions. Our greeting and READY are sent at once, without
 * waiting for the peer's (libzmq accepts that), so neither side waits on the other.
 */
export class ZmtpConnection {
  /** Identity the peer announced in READY (empty when it did not set one). */
  peerIdentity: Buffer = Buffer.alloc(0);
  peerSocketType = "";
  /** Routing id on a ROUTER (set by the ROUTER after onReady). */
  routingId: Buffer = Buffer.alloc(0);
  ready = false;
  private closed = false;
  private greetingBuf: Buffer | null = Buffer.alloc(0);
  private readonly decoder: FrameDecoder;
  private parts: Buffer[] = [];
  private handshakeTimer: NodeJS.Timeout | null;

  constructor(
    readonly socket: Socket,
    private readonly opts: ConnectionOptions,
    private readonly h: ConnectionHandlers,
  ) {
    this.decoder = new FrameDecoder((flags, body) => this.onFrame(flags, body), opts.maxMessageSize);
    socket.setNoDelay(true);
    // a socket made with net's `onread` (ZmtpDealer) hands its reads to onRead; the others emit 'data'
    if (!opts.reusedReadBuffer) socket.on("data", (chunk: Buffer) => this.onData(chunk, false));
    socket.on("error", (e) => this.destroy(e.message));
    socket.on("close", () => this.destroy(null));
    socket.on("drain", () => this.h.onDrain?.(this));
    this.handshakeTimer = setTimeout(() => this.fail(`no ZMTP handshake within ${opts.handshakeTimeoutMs} ms`), opts.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    socket.cork();
    socket.write(greeting());
    socket.write(ready({ "Socket-Type": opts.socketType, ...(opts.identity?.length ? { Identity: opts.identity } : {}) }));
    socket.uncork();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes written but not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  /**
   * Write one encoded message (the pieces of encodeMessage). The messages written in one tick leave in one
   * `writev` (the socket is corked until the end of the tick): a player's data message and its acknowledgement
   * cost one system call instead of two.
   */
  write(pieces: Buffer[]): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    for (const p of pieces) this.socket.write(p);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** Close after what was written has been sent (or at once with `now`). */
  close(now = false): void {
    if (this.closed) return;
    if (now) this.socket.destroy();
    else this.socket.end();
    this.destroy(null);
  }

  /** Bytes read into a buffer that is reused after this call (net's `onread`; opts.reusedReadBuffer). */
  onRead(chunk: Buffer): void {
    this.onData(chunk, true);
  }

  private onData(chunk: Buffer, transient: boolean): void {
    if (this.closed) return;
    try {
      if (this.greetingBuf) {
        const g = this.greetingBuf.length || transient ? Buffer.concat([this.greetingBuf, chunk]) : chunk;
        transient = false;
        // reject a non-ZMTP peer at its first byte rather than after 64
        if (g[0] !== 0xff) return this.fail("not a ZMTP peer (bad greeting signature)");
        if (g.length < GREETING_SIZE) {
          this.greetingBuf = g;
          return;
        }
        this.greetingBuf = null;
        const pg = parseGreeting(g.subarray(0, GREETING_SIZE));
        if (pg.mechanism !== "NULL") return this.fail(`security mechanism ${pg.mechanism} not supported here (NULL only)`);
        chunk = g.subarray(GREETING_SIZE);
        if (!chunk.length) return;
      }
      this.decoder.push(chunk, transient);
    } catch (e) {
      this.fail(e instanceof FrameTooLarge ? `message too large: ${e.message}` : (e as Error).message);
    }
  }

  private onFrame(flags: number, body: Buffer): void {
    if (this.closed) return;
    if (flags & FLAG_COMMAND) return this.onCommand(body);
    if (!this.ready) throw new Error("message before the ZMTP handshake completed");
    this.parts.push(body);
    if (flags & FLAG_MORE) {
      if (this.parts.length >= MAX_FRAMES_PER_MESSAGE) throw new Error(`message of more than ${MAX_FRAMES_PER_MESSAGE} frames`);
      return;
    }
    const frames = this.parts;
    this.parts = [];
    this.h.onMessage(this, frames);
  }

  private onCommand(body: Buffer): void {
    const c = parseCommand(body);
    switch (c.name) {
      case "READY": {
        if (this.ready) throw new Error("second READY");
        const props = parseProperties(c.data);
        this.peerSocketType = props.get("socket-type")?.toString("latin1") ?? "";
        if (!COMPATIBLE[this.opts.socketType].has(this.peerSocketType))
          throw new Error(`peer socket type '${this.peerSocketType}' cannot talk to a ${this.opts.socketType}`);
        const id = props.get("identity");
        if (id && id.length > 255) throw new Error("peer identity longer than 255 bytes");
        this.peerIdentity = id ? Buffer.from(id) : Buffer.alloc(0);
        if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
        const refusal = this.h.onReady(this);
        if (refusal) throw new Error(refusal);
        this.ready = true;
        return;
      }
      case "PING":
        if (this.ready) this.socket.write(pongFor(c.data));
        return;
      case "ERROR":
        this.destroy(`peer sent ERROR: ${c.data.subarray(1, 1 + (c.data[0] ?? 0)).toString("latin1")}`);
        this.socket.destroy();
        return;
      default:
        // PONG, SUBSCRIBE/CANCEL and commands of later versions: nothing to do on ROUTER/DEALER
        return;
    }
  }

  /** Tell the peer why (ERROR command) and disconnect. */
  private fail(reason: string): void {
    if (this.closed) return;
    try {
      if (!this.greetingBuf) this.socket.write(errorCommand(reason));
    } catch {
      // the socket may already be unwritable
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 100).unref();
    this.destroy(reason);
  }

  private destroy(reason: string | null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.parts = [];
    this.h.onClose(this, reason);
  }
}

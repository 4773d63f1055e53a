import { connect as netConnect } from "node:net";
import { encodeMessage } from "./codec.ts";
import { ZmtpConnection } from "./connection.ts";
import { parseTcpEndpoint, type Frames, type MessageSocket, type MessageSocketOptions, type TcpAddress } from "../socket.ts";

/** Reconnect delays: the first after 100 ms (libzmq's ZMQ_RECONNECT_IVL), doubling up to 1 s while the peer is away. */
export const RECONNECT_MIN_MS = 100;
export const RECONNECT_MAX_MS = 1000;
/** While the kernel has this much unsent, further messages wait in the queue (backpressure, bounded by maxQueue). */
const WRITE_HWM_BYTES = 8 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * A ZMTP 3.x DEALER over node:net (NULL mechanism) connected to one endpoint: reconnects with backoff when the peer
 * goes away, queues what is sent while disconnected (bounded; a message is either sent whole or kept), delivers
 * each received message to one callback.
 */
export class ZmtpDealer implements MessageSocket {
  readonly transport = "zmtp" as const;
  readonly maxMessageSize: number;
  private handler: (frames: Buffer[]) => void = () => {};
  private addr: TcpAddress | null = null;
  private conn: ZmtpConnection | null = null;
  private active: ZmtpConnection | null = null;
  private readonly queue: Buffer[][] = [];
  private readonly maxQueue: number;
  private delay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Where the socket reads (reused for every read; the connection copies what it keeps). */
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  /** Completed handshakes (1 after the first connection; more after reconnections). */
  connections = 0;
  lastDisconnectReason: string | null = null;

  constructor(
    private readonly opts: MessageSocketOptions & { routingId?: Buffer } = {},
  ) {
    this.maxMessageSize = opts.maxMessageSize ?? -1;
    this.maxQueue = opts.maxQueue ?? 100_000;
  }

  get connected(): boolean {
    return this.active !== null;
  }

  get queued(): number {
    return this.queue.length;
  }

  onMessage(handler: (frames: Buffer[]) => void): void {
    this.handler = handler;
  }

  bind(): Promise<string> {
    return Promise.reject(new Error("this DEALER only connects"));
  }

  connect(endpoint: string): void {
    if (this.addr) throw new Error("this DEALER connects to one endpoint");
    this.addr = parseTcpEndpoint(endpoint, false);
    this.open();
  }

  private open(): void {
    this.reconnectTimer = null;
    if (this.closed || !this.addr) return;
    // reads land in one buffer, handed to the connection without a stream in between (net's `onread`)
    let conn: ZmtpConnection | null = null;
    const sock = netConnect({
      host: this.addr.host,
      port: this.addr.port,
      noDelay: true,
      onread: {
        buffer: this.readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          conn?.onRead((buf as Buffer).subarray(0, n));
          return true;
        },
      },
    });
    conn = this.conn = new ZmtpConnection(sock, { socketType: "DEALER", identity: this.opts.routingId, maxMessageSize: this.maxMessageSize, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, reusedReadBuffer: true }, {
      onReady: (c) => {
        this.active = c;
        this.connections++;
        this.delay = RECONNECT_MIN_MS;
        // after the handshake, so what was queued follows the READY exchange
        queueMicrotask(() => this.drain());
        return null;
      },
      onMessage: (_c, frames) => {
        try {
          this.handler(frames);
        } catch (e) {
          this.opts.onError?.(e as Error);
        }
      },
      onDrain: () => this.drain(),
      onClose: (c, reason) => {
        if (reason) this.lastDisconnectReason = reason;
        if (this.active === c) this.active = null;
        if (this.conn === c) this.conn = null;
        if (!this.closed && !this.reconnectTimer) {
          this.reconnectTimer = setTimeout(() => this.open(), this.delay);
          this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
        }
      },
    });
  }

  send(frames: Frames): void {
    if (this.closed) return;
    const pieces = encodeMessage(frames);
    const c = this.active;
    if (c && this.queue.length === 0 && c.pendingBytes < WRITE_HWM_BYTES) {
      c.write(pieces);
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.opts.onError?.(new Error(`send queue full (${this.maxQueue} messages): message dropped`));
      return;
    }
    this.queue.push(pieces);
  }

  private drain(): void {
    const c = this.active;
    while (c && !c.isClosed && this.queue.length && c.pendingBytes < WRITE_HWM_BYTES) c.write(this.queue.shift()!);
  }

  async flush(timeoutMs = 2000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ((this.queue.length || (this.active?.pendingBytes ?? 0) > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const c = this.conn;
    const linger = this.opts.linger ?? 0;
    if (!c) return;
    if (linger > 0 && this.active === c) {
      // what is queued goes out behind what was written; the socket ends when sent, or is cut after `linger`
      while (this.queue.length) c.write(this.queue.shift()!);
      const sock = c.socket;
      c.close();
      setTimeout(() => sock.destroy(), linger).unref();
    } else c.close(true);
    this.queue.length = 0;
  }
}

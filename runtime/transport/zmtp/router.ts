import { createServer, type Server } from "node:net";
import { randomBytes } from "node:crypto";
import { encodeMessage } from "./codec.ts";
import { ZmtpConnection } from "./connection.ts";
import { formatTcpEndpoint, parseTcpEndpoint, type Frames, type MessageSocket, type MessageSocketOptions } from "../socket.ts";

/** A peer whose unsent bytes exceed this gets no more messages until it drains (they are dropped, like libzmq's HWM). */
export const ROUTER_SEND_HWM_BYTES = 64 * 1024 * 1024;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_CONNECTIONS = 10_000;

/**
 * A ZMTP 3.x ROUTER over node:net (NULL mechanism): binds, accepts many peers, gives each a routing id (the peer's
 * Identity property when it sends one, else a generated 0x00-prefixed one), prefixes received messages with it and
 * routes sends by it. A message for an unknown routing id is dropped, as libzmq's ROUTER does without
 * ROUTER_MANDATORY; a second peer announcing an identity already connected is refused (no ROUTER_HANDOVER).
 */
export class ZmtpRouter implements MessageSocket {
  readonly transport = "zmtp" as const;
  readonly maxMessageSize: number;
  private handler: (frames: Buffer[]) => void = () => {};
  private readonly servers: Server[] = [];
  private readonly peers = new Map<string, ZmtpConnection>();
  private readonly pending = new Set<ZmtpConnection>();
  /** Generated ids: 0x00 'z' + a counter from a random start (6 bytes: never equal to libzmq's 5-byte ids). */
  private nextId = randomBytes(4).readUInt32BE();
  private closed = false;
  /** Messages dropped: unknown routing id, or the peer's send buffer over the high-water mark. */
  dropped = 0;
  /** Peers disconnected for a protocol violation or an oversize frame, with the last reason. */
  disconnected = 0;
  lastDisconnectReason: string | null = null;

  constructor(private readonly opts: MessageSocketOptions & { handshakeTimeoutMs?: number } = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? -1;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  onMessage(handler: (frames: Buffer[]) => void): void {
    this.handler = handler;
  }

  bind(endpoint: string): Promise<string> {
    if (this.closed) return Promise.reject(new Error("socket closed"));
    const { host, port } = parseTcpEndpoint(endpoint, true);
    const server = createServer({ noDelay: true }, (sock) => this.accept(sock));
    server.maxConnections = MAX_CONNECTIONS;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off("error", reject);
        server.on("error", (e) => this.opts.onError?.(e));
        this.servers.push(server);
        const a = server.address();
        resolve(formatTcpEndpoint(host, typeof a === "object" && a ? a.port : port));
      });
    });
  }

  connect(): void {
    throw new Error("this ROUTER only binds");
  }

  private accept(sock: import("node:net").Socket): void {
    if (this.closed) {
      sock.destroy();
      return;
    }
    const conn = new ZmtpConnection(sock, { socketType: "ROUTER", maxMessageSize: this.maxMessageSize, handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS }, {
      onReady: (c) => {
        let id = c.peerIdentity;
        if (id.length) {
          if (this.peers.has(id.toString("latin1"))) return `identity ${id.toString("hex")} already connected`;
        } else {
          id = Buffer.alloc(6);
          id[1] = 0x7a;
          id.writeUInt32BE((this.nextId = (this.nextId + 1) >>> 0), 2);
        }
        c.routingId = id;
        this.pending.delete(c);
        this.peers.set(id.toString("latin1"), c);
        return null;
      },
      onMessage: (c, frames) => {
        frames.unshift(c.routingId);
        try {
          this.handler(frames);
        } catch (e) {
          this.opts.onError?.(e as Error);
        }
      },
      onClose: (c, reason) => {
        this.pending.delete(c);
        const key = c.routingId.toString("latin1");
        if (c.routingId.length && this.peers.get(key) === c) this.peers.delete(key);
        if (reason && !this.closed) {
          this.disconnected++;
          this.lastDisconnectReason = reason;
        }
      },
    });
    if (!conn.isClosed && !conn.ready) this.pending.add(conn);
  }

  send(frames: Frames): void {
    if (this.closed || frames.length < 2) return;
    const id = frames[0];
    const key = typeof id === "string" ? Buffer.from(id).toString("latin1") : Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");
    const conn = this.peers.get(key);
    if (!conn || conn.pendingBytes > ROUTER_SEND_HWM_BYTES) {
      this.dropped++;
      return;
    }
    conn.write(encodeMessage(frames.slice(1)));
  }

  async flush(timeoutMs = 2000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const busy = () => [...this.peers.values()].some((c) => c.pendingBytes > 0);
    while (busy() && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.servers) s.close();
    for (const c of [...this.peers.values(), ...this.pending]) c.close(true);
    this.peers.clear();
    this.pending.clear();
  }
}

/**
 * The message socket the trigger path uses (the Director's player ROUTER, the Player's DEALER), whatever carries it:
 * zeromq.js (libzmq) or donki's own ZMTP 3.x over `node:net` (runtime/transport/zmtp/). Both speak ZMTP on tcp://,
 * so pyzmq/libzmq/zeromq.js peers talk to either. runtime/transport/select.ts picks one.
 */

export type Frames = ReadonlyArray<Buffer | Uint8Array | string>;

export type TransportKind = "zmtp" | "zeromq";

export interface MessageSocket {
  /**
   * What carries it ("zmtp": donki's own ZMTP over node:net; "zeromq": zeromq.js; "memory": inproc:// between
   * sockets of one process, runtime/transport/memory.ts).
   */
  readonly transport: TransportKind | "memory";
  /** Largest frame accepted from a peer (-1: none); a peer sending more is disconnected. */
  readonly maxMessageSize: number;
  /** Listen; resolves with the endpoint actually bound (the port filled in for tcp://HOST:*). */
  bind(endpoint: string): Promise<string>;
  /** Connect (and reconnect after the peer goes away); messages sent meanwhile are queued, bounded. */
  connect(endpoint: string): void;
  /**
   * Where received messages go: one call per multipart message, no promise per message. On a ROUTER the first frame
   * is the peer's routing id. Set it before bind/connect.
   */
  onMessage(handler: (frames: Buffer[]) => void): void;
  /**
   * Send a multipart message; never throws and never blocks: a ROUTER drops a message for an unknown routing id
   * (like libzmq's ROUTER without ROUTER_MANDATORY) or for a peer whose send buffer is full; a DEALER queues up to a
   * bound, then drops and reports through the options' onError.
   */
  send(frames: Frames): void;
  /** Resolve when everything queued has been handed to the kernel / libzmq (or after timeoutMs). */
  flush(timeoutMs?: number): Promise<void>;
  /** Stop listening/connecting and close every connection (a DEALER lingers for its linger time to send). */
  close(): void;
}

export interface MessageSocketOptions {
  /** Largest frame accepted from a peer; -1 (default): none. */
  maxMessageSize?: number;
  /** ms a closing socket keeps trying to send what is queued (default 0). */
  linger?: number;
  /** Messages a DEALER queues while disconnected or behind a full send buffer (default 100,000). */
  maxQueue?: number;
  /** Send failures and dropped messages (never thrown). */
  onError?: (e: Error) => void;
}

export interface TcpAddress {
  host: string;
  port: number;
}

/** tcp://HOST:PORT (HOST may be *, a name, an IPv4 address or [IPv6]; PORT may be * or 0 for bind). */
export function parseTcpEndpoint(endpoint: string, forBind: boolean): TcpAddress {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\*|\d{1,5})$/.exec(endpoint);
  if (!m) throw new Error(`bad endpoint '${endpoint}' (expected tcp://HOST:PORT)`);
  let host = m[1];
  if (host.startsWith("[")) host = host.slice(1, -1);
  const port = m[2] === "*" ? 0 : Number(m[2]);
  if (port > 65535) throw new Error(`bad endpoint '${endpoint}': port ${port} out of range`);
  if (!forBind && (host === "*" || port === 0)) throw new Error(`bad endpoint '${endpoint}': connect needs a host and a port`);
  if (host === "*") host = "0.0.0.0";
  return { host, port };
}

export function formatTcpEndpoint(host: string, port: number): string {
  return `tcp://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Which transport carries the trigger path (the Director's player ROUTER, the Player's DEALER):
 *   - zeromq.js whenever CURVE is configured (CURVE and ZAP live in libzmq);
 *   - inproc:// (in-process players) in memory (runtime/transport/memory.ts), without CURVE;
 *   - otherwise the default below, or DONKI_TRANSPORT=zeromq | zmtp (the `transport` option wins over the variable).
 * Both speak ZMTP 3.x on tcp://, so a peer on either (or pyzmq/libzmq) talks to the other.
 */
import type { MessageSocket, TransportKind } from "./socket.ts";
import { ZmtpRouter } from "./zmtp/router.ts";
import { ZmtpDealer } from "./zmtp/dealer.ts";
import { ZeromqSocket, type ZeromqSocketOptions } from "./zeromq-socket.ts";
import { MemoryDealer, MemoryRouter } from "./memory.ts";
import type { Frames, MessageSocketOptions } from "./socket.ts";

/** The transport used on tcp:// without CURVE when neither the option nor DONKI_TRANSPORT says otherwise. */
export const DEFAULT_TRANSPORT: TransportKind = "zmtp";

export function chosenTransport(option?: TransportKind, env: NodeJS.ProcessEnv = process.env): TransportKind {
  if (option) return option;
  const v = env.DONKI_TRANSPORT?.trim();
  if (!v) return DEFAULT_TRANSPORT;
  if (v === "zeromq" || v === "zmtp") return v;
  throw new Error(`DONKI_TRANSPORT='${v}': expected 'zeromq' (zeromq.js) or 'zmtp' (donki's own ZMTP over node:net)`);
}

/**
 * The Director's player socket: a ROUTER bound on tcp:// and on inproc://. With the ZMTP transport the tcp:// peers
 * are served by ZmtpRouter, with zeromq.js by a zeromq.js ROUTER; the inproc:// ones by a MemoryRouter (by a
 * zeromq.js ROUTER with CURVE). Replies go to the socket the routing id came from (ZmtpRouter's generated ids are 6
 * bytes, libzmq's 5, MemoryRouter's 7, so they never collide).
 */
export class PlayerRouter implements MessageSocket {
  readonly transport: TransportKind;
  readonly maxMessageSize: number;
  private tcp: MessageSocket | null = null;
  private zmq: ZeromqSocket | null = null;
  private mem: MemoryRouter | null = null;
  private handler: (frames: Buffer[]) => void = () => {};
  /** routing id -> the socket it arrived on (only needed when there are two). */
  private readonly via = new Map<string, MessageSocket>();

  constructor(private readonly opts: ZeromqSocketOptions & { transport?: TransportKind }) {
    this.transport = opts.curveServer ? "zeromq" : chosenTransport(opts.transport);
    this.maxMessageSize = opts.maxMessageSize ?? -1;
  }

  onMessage(handler: (frames: Buffer[]) => void): void {
    this.handler = handler;
  }

  /** The distinct sockets this ROUTER is made of. */
  private get parts(): MessageSocket[] {
    const out: MessageSocket[] = [];
    for (const s of [this.tcp, this.zmq, this.mem]) if (s && !out.includes(s)) out.push(s);
    return out;
  }

  private get split(): boolean {
    return this.parts.length > 1;
  }

  private zmqSocket(): ZeromqSocket {
    if (!this.zmq) {
      this.zmq = new ZeromqSocket("router", this.opts);
      this.zmq.onMessage((f) => this.receive(this.zmq!, f));
    }
    return this.zmq;
  }

  private receive(from: MessageSocket, frames: Buffer[]): void {
    if (this.split) {
      const key = frames[0].toString("latin1");
      if (this.via.get(key) !== from) {
        this.via.set(key, from);
        if (this.via.size > 100_000) this.via.delete(this.via.keys().next().value!);
      }
    }
    this.handler(frames);
  }

  bind(endpoint: string): Promise<string> {
    if (endpoint.startsWith("tcp://") && this.transport === "zmtp") {
      if (this.tcp) return Promise.reject(new Error("the ZMTP player socket binds one tcp:// endpoint"));
      const r = new ZmtpRouter(this.opts);
      r.onMessage((f) => this.receive(r, f));
      this.tcp = r;
      return r.bind(endpoint);
    }
    if (endpoint.startsWith("inproc://") && !this.opts.curveServer) {
      if (this.mem) return Promise.reject(new Error("the player socket binds one inproc:// endpoint"));
      const m = new MemoryRouter(this.opts);
      m.onMessage((f) => this.receive(m, f));
      this.mem = m;
      return m.bind(endpoint);
    }
    const z = this.zmqSocket();
    if (endpoint.startsWith("tcp://")) this.tcp = z;
    return z.bind(endpoint);
  }

  connect(): void {
    throw new Error("the player socket only binds");
  }

  send(frames: Frames): void {
    if (!this.split) return (this.tcp ?? this.zmq ?? this.mem)?.send(frames);
    const id = frames[0];
    const key = typeof id === "string" ? Buffer.from(id).toString("latin1") : Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");
    (this.via.get(key) ?? this.tcp ?? this.parts[0]).send(frames);
  }

  async flush(timeoutMs?: number): Promise<void> {
    await Promise.all(this.parts.map((s) => s.flush(timeoutMs)));
  }

  close(): void {
    for (const s of this.parts) s.close();
  }
}

/**
 * The Player's socket to the Director: ZmtpDealer on tcp:// without CURVE (unless zeromq.js is chosen), a
 * MemoryDealer on inproc:// without CURVE, else zeromq.js.
 */
export function playerDealer(endpoint: string, opts: ZeromqSocketOptions & { transport?: TransportKind }): MessageSocket {
  if (endpoint.startsWith("inproc://") && !opts.curveClient) return new MemoryDealer(opts);
  const kind = opts.curveClient || !endpoint.startsWith("tcp://") ? "zeromq" : chosenTransport(opts.transport);
  return kind === "zmtp" ? new ZmtpDealer(opts as MessageSocketOptions) : new ZeromqSocket("dealer", opts);
}

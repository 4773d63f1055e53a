import * as zmq from "zeromq";
import { Outbox } from "./outbox.ts";
import { useCurveClient, type CurveClientConfig } from "./curve.ts";
import type { Frames, MessageSocket, MessageSocketOptions } from "./socket.ts";

/** CURVE server settings of a zeromq.js socket (the ZAP domain decides which keys it admits). */
export interface CurveServerSettings {
  publicKey: string;
  secretKey: string;
  zapDomain: string;
}

export interface ZeromqSocketOptions extends MessageSocketOptions {
  /** 0: a send that cannot go at once is dropped (a ROUTER that never blocks); undefined: zeromq.js's default. */
  sendTimeout?: number;
  curveServer?: CurveServerSettings;
  curveClient?: CurveClientConfig;
}

/**
 * The MessageSocket on zeromq.js (libzmq): ROUTER or DEALER, tcp:// and inproc://, CURVE with ZAP. Sends go through
 * an Outbox (zeromq.js allows one blocked send at a time); received messages are read by one receive loop.
 */
export class ZeromqSocket implements MessageSocket {
  readonly transport = "zeromq" as const;
  readonly maxMessageSize: number;
  readonly sock: zmq.Router | zmq.Dealer;
  private readonly out: Outbox;
  private handler: (frames: Buffer[]) => void = () => {};
  private readonly onError: (e: Error) => void;
  private looping = false;
  private closed = false;

  constructor(kind: "router" | "dealer", opts: ZeromqSocketOptions = {}) {
    this.sock = kind === "router" ? new zmq.Router() : new zmq.Dealer();
    this.maxMessageSize = opts.maxMessageSize ?? -1;
    this.onError = opts.onError ?? (() => {});
    if (opts.maxMessageSize !== undefined) this.sock.maxMessageSize = opts.maxMessageSize;
    this.sock.linger = opts.linger ?? 0;
    if (opts.sendTimeout !== undefined) this.sock.sendTimeout = opts.sendTimeout;
    if (opts.curveServer) {
      this.sock.curveServer = true;
      this.sock.curveSecretKey = opts.curveServer.secretKey;
      this.sock.curvePublicKey = opts.curveServer.publicKey;
      this.sock.zapDomain = opts.curveServer.zapDomain;
    }
    useCurveClient(this.sock, opts.curveClient);
    this.out = new Outbox(this.sock, (e) => opts.onError?.(e), opts.maxQueue);
  }

  onMessage(handler: (frames: Buffer[]) => void): void {
    this.handler = handler;
  }

  async bind(endpoint: string): Promise<string> {
    await this.sock.bind(endpoint);
    this.startLoop();
    return this.sock.lastEndpoint!;
  }

  connect(endpoint: string): void {
    this.sock.connect(endpoint);
    this.startLoop();
  }

  send(frames: Frames): void {
    this.out.send(frames as Array<Buffer | Uint8Array | string>);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.out.flush(timeoutMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close();
    this.sock.close();
  }

  private startLoop(): void {
    if (this.looping) return;
    this.looping = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.sock.receive();
      } catch (e) {
        if (this.closed) return;
        this.onError(new Error(`receive failed: ${(e as Error).message}`));
        continue;
      }
      try {
        this.handler(frames);
      } catch (e) {
        // one message never stops the loop
        this.onError(e as Error);
      }
    }
  }
}

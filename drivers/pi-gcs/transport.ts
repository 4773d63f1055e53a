/** Byte transports for a GCS 2.0 controller: TCP (port 50000, Nagle off) and RS-232 (serialport). */
import net from "node:net";
import { SerialPort } from "serialport";

export interface TransportHandlers {
  data(d: Buffer): void;
  /** The link closed (by the peer, an error, or close()). */
  close(err?: Error): void;
}

export interface GcsTransport {
  /** e.g. "tcp://127.0.0.1:50000" or "serial:/dev/ttyS0@115200". */
  readonly description: string;
  readonly isOpen: boolean;
  setHandlers(h: TransportHandlers): void;
  /** Open the link; rejects with a plain Error on failure. */
  open(): Promise<void>;
  write(data: Buffer): Promise<void>;
  /** Close; idempotent. */
  close(): Promise<void>;
}

export interface TcpTransportOptions {
  host: string;
  /** Default 50000 (the PI controllers' GCS port). */
  port?: number;
  /** Connect timeout in real milliseconds (default 3000). */
  connectTimeoutMs?: number;
}

export class TcpTransport implements GcsTransport {
  private sock?: net.Socket;
  private h?: TransportHandlers;
  readonly host: string;
  readonly port: number;

  constructor(private readonly o: TcpTransportOptions) {
    this.host = o.host;
    this.port = o.port ?? 50000;
  }

  get description(): string {
    return `tcp://${this.host}:${this.port}`;
  }

  get isOpen(): boolean {
    return !!this.sock && !this.sock.destroyed && this.sock.readyState === "open";
  }

  setHandlers(h: TransportHandlers): void {
    this.h = h;
  }

  open(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host: this.host, port: this.port });
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        s.destroy();
        reject(new Error(`connect to ${this.description} timed out after ${this.o.connectTimeoutMs ?? 3000} ms`));
      }, this.o.connectTimeoutMs ?? 3000);
      s.once("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        s.setNoDelay(true);
        this.sock = s;
        resolve();
      });
      s.on("error", (e) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(e);
        }
      });
      s.on("data", (d: Buffer) => {
        if (this.sock === s) this.h?.data(d);
      });
      s.on("close", () => {
        if (this.sock === s) {
          this.sock = undefined;
          this.h?.close();
        }
      });
    });
  }

  write(data: Buffer): Promise<void> {
    const s = this.sock;
    if (!s || s.destroyed || !s.writable) return Promise.reject(new Error("socket is not open"));
    return new Promise((resolve, reject) => s.write(data, (e) => (e ? reject(e) : resolve())));
  }

  close(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (!s || s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      s.once("close", () => resolve());
      s.destroy();
    });
  }
}

export interface SerialTransportOptions {
  path: string;
  /** Default 115200 (older controllers: 9600). */
  baud?: number;
  /** Hardware handshake (the controllers use RTS/CTS; a pty does not support it). Default false. */
  rtscts?: boolean;
}

export class SerialTransport implements GcsTransport {
  private port?: SerialPort;
  private h?: TransportHandlers;
  readonly baud: number;

  constructor(private readonly o: SerialTransportOptions) {
    this.baud = o.baud ?? 115200;
  }

  get description(): string {
    return `serial:${this.o.path}@${this.baud}`;
  }

  get isOpen(): boolean {
    return !!this.port?.isOpen;
  }

  setHandlers(h: TransportHandlers): void {
    this.h = h;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    const p = new SerialPort({ path: this.o.path, baudRate: this.baud, rtscts: this.o.rtscts ?? false, autoOpen: false });
    await new Promise<void>((resolve, reject) => p.open((e) => (e ? reject(e) : resolve())));
    this.port = p;
    p.on("data", (d: Buffer) => {
      if (this.port === p) this.h?.data(d);
    });
    p.on("error", () => {});
    p.on("close", (err?: Error) => {
      if (this.port === p) {
        this.port = undefined;
        this.h?.close(err ?? undefined);
      }
    });
  }

  write(data: Buffer): Promise<void> {
    const p = this.port;
    if (!p?.isOpen) return Promise.reject(new Error("serial port is not open"));
    return new Promise((resolve, reject) => {
      p.write(data, (e) => {
        if (e) return reject(e);
        p.drain((e2) => (e2 ? reject(e2) : resolve()));
      });
    });
  }

  close(): Promise<void> {
    const p = this.port;
    this.port = undefined;
    if (!p?.isOpen) return Promise.resolve();
    return new Promise((resolve) => p.close(() => resolve()));
  }
}

/**
 * GcsController: the GCS 2.0 command layer over a byte transport. One request in flight (a FIFO queue),
 * a per-query timeout (real time, default 5 s) that raises -7 and flushes stale bytes, `ERR?` after set
 * commands, and transparent reconnection of a dropped link (a read-only query interrupted by a drop is
 * retried once on the new link; set commands are not retried).
 */
import { GCS, GcsError } from "./errors.ts";
import { GcsFramer, replyLines } from "./framer.ts";
import type { GcsTransport } from "./transport.ts";

export interface GcsControllerOptions {
  transport: GcsTransport;
  /** Device name used in errors (default "pi-gcs"). */
  name?: string;
  /** Per-query timeout, real milliseconds (default 5000). */
  timeoutMs?: number;
  /** After a timeout, wait for this many real ms of line silence (discarding bytes) before the next request (default 50). */
  flushQuietMs?: number;
  /** Reopen a dropped link on the next request (default true). */
  autoReconnect?: boolean;
  /** Query ERR? after every set command and throw the controller's error (default true). */
  checkErrors?: boolean;
}

interface Pending {
  resolve(reply: string): void;
  reject(e: Error): void;
}

export class GcsController {
  readonly name: string;
  readonly transport: GcsTransport;
  private readonly framer = new GcsFramer();
  private chain: Promise<unknown> = Promise.resolve();
  private pending?: Pending;
  private wanted = false;
  private needFlush = false;
  private lastRx = 0;
  /** Bytes received while no request was in flight (discarded). */
  staleBytes = 0;
  reconnects = 0;

  constructor(private readonly o: GcsControllerOptions) {
    this.transport = o.transport;
    this.name = o.name ?? "pi-gcs";
    this.transport.setHandlers({
      data: (d) => this.onData(d),
      close: () => this.onClose(),
    });
  }

  get timeoutMs(): number {
    return this.o.timeoutMs ?? 5000;
  }

  get isOpen(): boolean {
    return this.transport.isOpen;
  }

  private err(code: number, detail?: string): GcsError {
    return new GcsError(this.name, code, detail);
  }

  private onData(d: Buffer): void {
    this.lastRx = Date.now();
    if (!this.pending || this.needFlush) {
      this.staleBytes += d.length;
      return;
    }
    const replies = this.framer.push(d);
    if (replies.length) {
      const p = this.pending;
      this.pending = undefined;
      if (replies.length > 1 || this.framer.pending) this.needFlush = true; // more than one reply: out of sync
      p.resolve(replies[0]);
    }
  }

  private onClose(): void {
    const p = this.pending;
    this.pending = undefined;
    this.framer.reset();
    p?.reject(this.err(GCS.COM_ERROR, `connection ${this.transport.description} closed by the controller`));
  }

  /** Open the link. Idempotent. Rejects with -6 on failure. */
  async connect(): Promise<void> {
    this.wanted = true;
    await this.exclusive(() => this.ensureOpen(true));
  }

  async close(): Promise<void> {
    this.wanted = false;
    await this.transport.close();
  }

  /** Run fn with the line to itself (FIFO). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private async ensureOpen(first = false): Promise<void> {
    if (this.transport.isOpen) return;
    if (!this.wanted) throw this.err(GCS.NOT_CONNECTED, this.transport.description);
    if (!first && this.o.autoReconnect === false) throw this.err(GCS.NOT_CONNECTED, `${this.transport.description}: connection lost`);
    try {
      await this.transport.open();
    } catch (e) {
      throw this.err(GCS.CONNECTION_FAILED, `${this.transport.description}: ${(e as Error).message}`);
    }
    this.framer.reset();
    if (!first) this.reconnects++;
  }

  private async flushIfNeeded(): Promise<void> {
    if (!this.needFlush) return;
    const quiet = this.o.flushQuietMs ?? 50;
    this.lastRx = Math.max(this.lastRx, Date.now());
    for (;;) {
      const wait = this.lastRx + quiet - Date.now();
      if (wait <= 0) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    this.framer.reset();
    this.needFlush = false;
  }

  private async write(data: Buffer): Promise<void> {
    try {
      await this.transport.write(data);
    } catch (e) {
      throw this.err(GCS.SEND_ERROR, `${this.transport.description}: ${(e as Error).message}`);
    }
  }

  /** Send bytes and wait for one framed reply (no queueing: call inside exclusive). */
  private async exchange(data: Buffer, what: string, timeoutMs: number): Promise<string> {
    await this.ensureOpen();
    await this.flushIfNeeded();
    this.framer.reset();
    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending !== p) return;
        this.pending = undefined;
        this.needFlush = true;
        this.framer.reset();
        reject(this.err(GCS.TIMEOUT, `no reply to ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const p: Pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.pending = p;
    });
    try {
      await this.write(data);
    } catch (e) {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e as Error);
    }
    return reply;
  }

  private static lineOf(cmd: string): Buffer {
    return Buffer.from(cmd + "\n", "latin1");
  }

  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const code = e instanceof GcsError ? e.code : undefined;
      if ((code === GCS.COM_ERROR || code === GCS.SEND_ERROR) && this.wanted && this.o.autoReconnect !== false) return fn();
      throw e;
    }
  }

  /** A query line (e.g. "POS? 1 2"); resolves with the framed reply (multi-line replies keep their " \n"). */
  query(cmd: string, opts: { timeoutMs?: number; retry?: boolean } = {}): Promise<string> {
    const t = opts.timeoutMs ?? this.timeoutMs;
    const once = () => this.exchange(GcsController.lineOf(cmd), JSON.stringify(cmd), t);
    return this.exclusive(() => (opts.retry === false ? once() : this.withRetry(once)));
  }

  /** A query, split into lines (trailing spaces removed). */
  async queryLines(cmd: string, opts?: { timeoutMs?: number; retry?: boolean }): Promise<string[]> {
    return replyLines(await this.query(cmd, opts));
  }

  /** A single-byte command with a reply (#5, #7, #9). */
  queryByte(byte: number, opts: { timeoutMs?: number } = {}): Promise<string> {
    const t = opts.timeoutMs ?? this.timeoutMs;
    return this.exclusive(() => this.withRetry(() => this.exchange(Buffer.from([byte]), `#${byte}`, t)));
  }

  /** ERR?: the stored error code (clears it on the controller). */
  readError(): Promise<number> {
    return this.exclusive(() => this.withRetry(() => this.readErrorNow()));
  }

  private async readErrorNow(): Promise<number> {
    const r = await this.exchange(GcsController.lineOf("ERR?"), '"ERR?"', this.timeoutMs);
    const t = r.trim();
    if (!/^-?\d+$/.test(t)) throw this.err(GCS.UNEXPECTED_RESPONSE, `ERR? answered ${JSON.stringify(r)}`);
    return Number(t);
  }

  /**
   * A set command (no reply), followed by ERR? unless checkErrors is false; a non-zero code not in `ignore`
   * throws the mapped GcsError.
   */
  send(cmd: string, opts: { ignore?: number[]; check?: boolean } = {}): Promise<void> {
    return this.sendBytes(GcsController.lineOf(cmd), JSON.stringify(cmd), opts);
  }

  /** A single-byte command without reply (#24 stop), followed by ERR? like send(). */
  sendByte(byte: number, opts: { ignore?: number[]; check?: boolean } = {}): Promise<void> {
    return this.sendBytes(Buffer.from([byte]), `#${byte}`, opts);
  }

  private sendBytes(data: Buffer, what: string, opts: { ignore?: number[]; check?: boolean }): Promise<void> {
    return this.exclusive(async () => {
      await this.ensureOpen();
      await this.flushIfNeeded();
      await this.write(data);
      if (opts.check ?? this.o.checkErrors ?? true) {
        const code = await this.readErrorNow();
        if (code !== 0 && !(opts.ignore ?? []).includes(code)) throw this.err(code, `after ${what}`);
      }
    });
  }
}

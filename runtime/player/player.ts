/**
 * A Player: registers with a Director, runs its setup on the pre-operation signal, acts on every trigger of its
 * level, pushes trigger-tagged data, and runs its teardown on the post-operation signal. Wire format:
 * docs/protocol.md. Use it as a library (give it an action function or a device adapter) or as a process
 * (`donki player`).
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { decodeFromDirector, encode, ProtocolError, DTYPE_SIZE } from "../protocol/codec.ts";
import { encodeAck } from "../protocol/fast-codec.ts";
import { LOG_LEVEL_NAMES, PROTOCOL_VERSION, type LogLevelName, type DataRow, type DeviceDecl, type DirectorToPlayer, type RunStatus, type StreamDecl } from "../protocol/messages.ts";
import { TYPED_ARRAY } from "../devices/common.ts";
import type { CurveClientConfig } from "../transport/curve.ts";
import { playerDealer } from "../transport/select.ts";
import type { MessageSocket, TransportKind } from "../transport/socket.ts";
import { helloProof } from "../transport/roles.ts";
import { silentLogger, type Logger } from "../log.ts";
import { LEVEL_VALUES } from "../log-format.ts";

export type DataValue = ArrayBufferView | number | number[];

export interface ActionContext {
  run: string;
  trig: number;
  level: number;
  /** Simulated time at the start of this level (virtual-time twins follow it). */
  t: number;
  /** Aborted when the Director aborts the run or the player stops. */
  signal: AbortSignal;
  /**
   * performance.now() when the trigger arrived, if the Player was still busy with the previous action then
   * (overlap: its read-out); scaled clocks count the wait from here. Undefined when it was idle.
   */
  receivedAt?: number;
  /** Push one row of a declared stream for this trigger. The array must not be modified afterwards. */
  push(stream: string, value: DataValue): void;
  /** Push a row for another (earlier) trigger of this run, sent at once: late or out-of-order data. */
  pushAt(trig: number, stream: string, value: DataValue): void;
  /**
   * Overlap: the point the next level depends on has passed (a camera's exposure ended and the shutter closed; a
   * mapping detector's dwell ended). The Player acknowledges now (`ack` with `pending: true`, after the rows pushed
   * so far); the action goes on (read-out, data) and its end is reported with `complete`. The next trigger waits
   * in the Player until the action returns, unless `next` is true: the device can begin the next action while this
   * one goes on (a frame-transfer camera exposes its image area while the storage area reads out), so the Player
   * starts the next trigger's action at once; at most one action goes on in the background, and a third waits
   * until it has returned. A second call does nothing. docs/protocol.md "Overlap".
   */
  release(info?: { dt?: number; phases?: Record<string, number> }, opts?: { next?: boolean }): void;
  /** The player's logger: its records reach the operator (through the Director for a player on another host). */
  log: Logger;
}

export interface ActionResult {
  /** Simulated seconds the action took (virtual time); omit on hardware. */
  dt?: number;
  /** Rows of declared streams to push for this trigger (same as calling ctx.push). */
  data?: Record<string, DataValue>;
  /** Simulated seconds per phase (after the release point when the action released), for the dead-time report. */
  phases?: Record<string, number>;
}

export type ActionFn = (trig: number, params: Record<string, unknown>, ctx: ActionContext) => ActionResult | void | Promise<ActionResult | void>;

export interface SetupContext {
  run: string;
  t: number;
  signal: AbortSignal;
  /** The player's logger (as in ActionContext). */
  log: Logger;
}

/** What a player does. A device adapter implements this; a plain function can be wrapped with `fromAction`. */
export interface PlayerBehaviour {
  streams?: StreamDecl[];
  device?: DeviceDecl;
  /** Pre-operation: configure the device for the run (config = this player's scenario section). */
  setup?(config: Record<string, unknown>, ctx: SetupContext): Promise<void> | void;
  action: ActionFn;
  /** Post-operation. */
  teardown?(status: RunStatus, ctx: SetupContext): Promise<void> | void;
  /** Release the device when the player stops. */
  close?(): Promise<void> | void;
}

export interface PlayerOptions {
  name: string;
  /** Priority level; -1 = disabled. */
  level: number;
  /** Director player endpoint, e.g. tcp://127.0.0.1:5570 */
  director: string;
  behaviour: PlayerBehaviour;
  join?: "next-trigger" | "next-run";
  hbIntervalMs?: number;
  hbTimeoutMs?: number;
  curve?: CurveClientConfig;
  log?: Logger;
  /** Registration deadline for start(). Default 10 s. */
  registerTimeoutMs?: number;
  /** The run's credential without CURVE (`donki run` hands it out; docs/protocol.md "Admission"). */
  token?: string;
  /** What carries the socket on tcp:// without CURVE (runtime/transport/select.ts; default: DONKI_TRANSPORT or zmtp). */
  transport?: TransportKind;
  /** Forward this process's log records to the Director (`forwardLog`) when it asks for them. */
  forwardLogs?: boolean;
}

export function fromAction(action: ActionFn, streams: StreamDecl[] = []): PlayerBehaviour {
  return { action, streams, device: { kind: "function", model: "action function", simulated: false } };
}

interface RowBatch {
  run: string;
  trig: number;
  rows: DataRow[];
  payloads: Buffer[];
  bytes: number;
}

/** A data message is sent as soon as its rows reach this size (frames of a long sequence stream out). */
const BATCH_BYTES = 4 * 1024 * 1024;

interface Job {
  kind: "pre" | "trig" | "post";
  msg: DirectorToPlayer & { run: string; seq: number };
  /** performance.now() when it arrived, if the player was busy then. */
  at: number | undefined;
}

export class PlayerRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlayerRejected";
  }
}

export class Player {
  readonly name: string;
  private level: number;
  /** The DEALER to the Director, created at start (transport chosen by runtime/transport/select.ts). */
  private sock!: MessageSocket;
  private readonly log: Logger;
  private readonly b: PlayerBehaviour;
  private readonly streams: StreamDecl[];
  private readonly streamMap: Map<string, StreamDecl>;
  private readonly instance = randomBytes(6).toString("hex");
  private readonly hbIntervalMs: number;
  private hbTimeoutMs: number;
  private hbTimer?: NodeJS.Timeout;
  private lastHeard = 0;
  private registered = false;
  /** welcome.logs: the lowest level of records the Director takes (null: none). */
  private directorLogs: LogLevelName | null = null;
  private forwarding = false;
  private closed = false;
  private stopping = false;
  private readonly jobs: Job[] = [];
  private working = false;
  private current: Pick<AbortController, "abort"> | null = null;
  /** The trig requests being acted on, by seq (for `cancel`): the current one and at most one going on after `release(.., {next})`. */
  private readonly acting = new Map<number, Pick<AbortController, "abort">>();
  private abortedRuns = new Set<string>();
  private welcomeWaiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private idleWaiters: Array<() => void> = [];
  /** Counters for tests and status. */
  readonly counters = { malformed: 0, actions: 0, errors: 0, directorErrors: 0, released: 0 };
  lastDirectorError: string | null = null;
  /** The level the Director applies (the declared one unless the scenario pins another). */
  appliedLevel: number;
  /** The Director's notice at registration (e.g. the declared level was overridden), if any. */
  notice: string | null = null;
  onFatal: (e: Error) => void = () => {};
  /** The Director said it is shutting down for good (`shutdown`); by default the player closes. */
  onShutdown: (reason: string) => void = () => void this.close();

  constructor(private readonly opts: PlayerOptions) {
    this.name = opts.name;
    this.level = opts.level;
    this.appliedLevel = opts.level;
    this.b = opts.behaviour;
    this.streams = opts.behaviour.streams ?? [];
    this.streamMap = new Map(this.streams.map((s) => [s.name, s]));
    this.hbIntervalMs = opts.hbIntervalMs ?? 500;
    this.hbTimeoutMs = opts.hbTimeoutMs ?? 3000;
    this.log = opts.log ?? silentLogger;
  }

  /** Connect and register; resolves on `welcome`, rejects on `reject` or after registerTimeoutMs. */
  async start(): Promise<void> {
    this.sock = playerDealer(this.opts.director, { curveClient: this.opts.curve, linger: 1000, transport: this.opts.transport, onError: (e) => this.log.warn({ err: e.message }, "send failed") });
    this.sock.onMessage((frames) => this.onFrames(frames));
    this.sock.connect(this.opts.director);
    const registered = new Promise<void>((resolve, reject) => (this.welcomeWaiter = { resolve, reject }));
    this.sendHello();
    this.lastHeard = performance.now();
    this.hbTimer = setInterval(() => this.heartbeat(), this.hbIntervalMs);
    const ms = this.opts.registerTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`player '${this.name}': no answer from the Director at ${this.opts.director} within ${ms} ms`)), ms);
    });
    try {
      await Promise.race([registered, timeout]);
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Clean leave: finish the current action, tell the Director, close. */
  async stop(reason = "player stopped"): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    await this.whenIdle(30_000);
    // after `bye` the Director forgets this player: no heartbeat may follow it (it would be answered `unknown-peer`)
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.send({ v: PROTOCOL_VERSION, type: "bye", reason });
    await this.sock.flush(1000);
    await this.close();
  }

  /** Close without saying goodbye (the Director will notice through the heartbeat timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.current?.abort(new Error("player closing"));
    for (const a of this.acting.values()) a.abort(new Error("player closing"));
    this.sock?.close();
    try {
      await this.b.close?.();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "device close failed");
    }
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  private lastHello = 0;
  private proofCache: string | null | undefined;

  /** Under CURVE, proof that this process holds its key's secret (lets the Director apply name-limited roles). */
  private get proof(): string | null {
    if (this.proofCache === undefined) {
      const c = this.opts.curve;
      try {
        this.proofCache = c ? helloProof(c.secretKey, c.publicKey, c.serverKey, this.name) : null;
      } catch {
        this.proofCache = null; // a malformed key: the CURVE handshake reports it
      }
    }
    return this.proofCache;
  }

  private sendHello(): void {
    this.lastHello = performance.now();
    this.send({
      v: PROTOCOL_VERSION,
      type: "hello",
      name: this.name,
      level: this.level,
      streams: this.streams,
      device: this.b.device ?? { kind: "function", model: "action function", simulated: false },
      instance: this.instance,
      pid: process.pid,
      host: hostname(),
      join: this.opts.join ?? "next-trigger",
      ...(this.opts.token !== undefined ? { token: this.opts.token } : {}),
      ...(this.proof ? { key: this.opts.curve!.publicKey, proof: this.proof } : {}),
    });
  }

  private heartbeat(): void {
    if (this.closed) return;
    if (performance.now() - this.lastHeard > this.hbTimeoutMs) {
      if (this.registered) this.log.warn({ director: this.opts.director }, "director silent: registering again");
      this.registered = false;
      this.sendHello();
    } else {
      this.send({ v: PROTOCOL_VERSION, type: "hb" });
    }
  }

  /** Every message from the Director (called by the transport, one call per message). */
  private onFrames(frames: Buffer[]): void {
    if (this.closed) return;
    try {
      this.onMessage(frames);
    } catch (e) {
      this.log.error({ err: (e as Error).stack }, "error while handling a director message");
    }
  }

  private onMessage(frames: Buffer[]): void {
    const m = decodeFromDirector(frames);
    if (m instanceof ProtocolError) {
      this.counters.malformed++;
      this.log.warn({ reason: m.message }, "rejected a message from the director");
      return;
    }
    this.lastHeard = performance.now();
    switch (m.type) {
      case "welcome":
        this.registered = true;
        this.hbTimeoutMs = m.hbTimeout;
        if (m.level !== undefined) this.appliedLevel = m.level;
        if (m.notice && m.notice !== this.notice) this.log.warn({ declared: this.level, level: this.appliedLevel }, m.notice);
        this.notice = m.notice ?? null;
        this.directorLogs = m.logs ?? null;
        this.log.info({ session: m.session }, "registered with the director");
        this.welcomeWaiter?.resolve();
        this.welcomeWaiter = null;
        return;
      case "reject": {
        const e = new PlayerRejected(`player '${this.name}' rejected by the Director: ${m.reason}`);
        this.log.error(e.message);
        if (this.welcomeWaiter) {
          this.welcomeWaiter.reject(e);
          this.welcomeWaiter = null;
        } else this.onFatal(e);
        return;
      }
      case "error":
        if (m.code === "unknown-peer") {
          if (this.stopping) return; // leaving (bye sent, or the Director shut down): nothing to register again with
          // a restarted Director does not know us: register again (at most once per heartbeat interval)
          const now = performance.now();
          if (now - this.lastHello >= this.hbIntervalMs) {
            if (this.registered) this.log.warn({ director: this.opts.director }, "the Director does not know this player (restarted?): registering again");
            this.registered = false;
            this.sendHello();
          }
          return;
        }
        this.counters.directorErrors++;
        this.lastDirectorError = m.reason;
        this.log.warn({ reason: m.reason }, "the director rejected a message");
        return;
      case "hb":
        return;
      case "shutdown":
        // no bye: the Director is gone; no re-registration loop either
        this.log.info({ reason: m.reason }, "the Director is shutting down");
        this.stopping = true;
        this.onShutdown(m.reason ?? "the Director is shutting down");
        return;
      case "abort":
        this.abortedRuns.add(m.run);
        this.current?.abort(new Error("run aborted by the Director"));
        for (const a of this.acting.values()) a.abort(new Error("run aborted by the Director"));
        // drop queued triggers of that run; pre/post still run
        for (let i = this.jobs.length - 1; i >= 0; i--) if (this.jobs[i].kind === "trig" && this.jobs[i].msg.run === m.run) this.jobs.splice(i, 1);
        return;
      case "cancel":
        // the Director gave up on this request (deadline): stop the action; its ack will be stale
        this.acting.get(m.seq)?.abort(new Error(`trigger cancelled by the Director (no ack within its deadline)`));
        for (let i = this.jobs.length - 1; i >= 0; i--) if (this.jobs[i].kind === "trig" && this.jobs[i].msg.seq === m.seq) this.jobs.splice(i, 1);
        return;
      case "pre":
        this.abortedRuns.delete(m.run);
        return this.enqueue({ kind: "pre", msg: m, at: undefined });
      case "trig":
        if (this.stopping) return;
        // a trigger that arrives while an action is under way (overlap: its read-out) waits here: note since when
        return this.enqueue({ kind: "trig", msg: m, at: this.working ? performance.now() : undefined });
      case "post":
        return this.enqueue({ kind: "post", msg: m, at: undefined });
    }
  }

  private enqueue(j: Job): void {
    this.jobs.push(j);
    if (!this.working) this.work();
  }

  /**
   * Run the queued jobs in order. A trigger whose action returns synchronously is acknowledged synchronously (no
   * promise, no microtask between the trigger and its ack); anything else continues in workAsync.
   */
  private work(): void {
    this.working = true;
    while (this.jobs.length && !this.closed) {
      if (this.jobs[0].kind !== "trig" || this.background) return void this.workAsync(null);
      const j = this.jobs.shift()!;
      const a = this.doTrig(j.msg as Extract<DirectorToPlayer, { type: "trig" }>, j.at);
      if (a) return void this.workAsync(a);
    }
    this.workDone();
  }

  /** The job loop for what does not end synchronously; `first` is a trigger's action under way. */
  private async workAsync(first: TrigHandle | null): Promise<void> {
    let a = first;
    for (;;) {
      if (a) {
        await a.next;
        if (!a.detached()) await a.done;
        // at most one action goes on in the background: the one before must have returned before the next job
        const before = this.background;
        this.background = a.detached() ? a.done : null;
        if (before) await before;
      }
      a = null;
      if (!this.jobs.length || this.closed) break;
      const j = this.jobs.shift()!;
      if (j.kind === "trig") {
        a = this.doTrig(j.msg as Extract<DirectorToPlayer, { type: "trig" }>, j.at) ?? null;
        if (!a) {
          // ended at once (returned, nothing detached): the one in the background must have returned too
          const before = this.background;
          this.background = null;
          if (before) await before;
        }
        continue;
      }
      await this.settleBackground();
      if (j.kind === "pre") await this.doPhase(j.msg as Extract<DirectorToPlayer, { type: "pre" }>);
      else await this.doPhase(j.msg as Extract<DirectorToPlayer, { type: "post" }>);
    }
    this.workDone();
  }

  private workDone(): void {
    this.working = false;
    // an action still reading out in the background: new jobs start at once (enqueue), the idle waiters wait for it
    const b = this.background;
    if (b && !this.closed) {
      const settled = () => {
        if (this.background === b) this.background = null;
        if (!this.working && !this.background) this.notifyIdle();
      };
      b.then(settled, settled);
      return;
    }
    this.background = null;
    this.notifyIdle();
  }

  /** An action that released with `next` and still goes on (its read-out), or null. */
  private background: Promise<void> | null = null;

  private async settleBackground(): Promise<void> {
    const b = this.background;
    if (b) await b;
    if (this.background === b) this.background = null;
  }

  private notifyIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private whenIdle(timeoutMs: number): Promise<void> {
    if (!this.working && !this.background) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(res, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        res();
      });
    });
  }

  private async doPhase(m: Extract<DirectorToPlayer, { type: "pre" | "post" }>): Promise<void> {
    const ac = new AbortController();
    this.current = ac;
    const ctx: SetupContext = { run: m.run, t: m.type === "pre" ? m.t : 0, signal: ac.signal, log: this.log };
    let error: string | undefined;
    try {
      if (m.type === "pre") await this.b.setup?.(m.config, ctx);
      else await this.b.teardown?.(m.status as RunStatus, ctx);
    } catch (e) {
      error = describe(e);
      this.counters.errors++;
      this.log.error({ run: m.run, phase: m.type, err: error }, `${m.type}-operation failed`);
    } finally {
      this.current = null;
    }
    this.send({ v: PROTOCOL_VERSION, type: m.type === "pre" ? "ready" : "done", run: m.run, seq: m.seq, ok: error === undefined, ...(error !== undefined ? { error } : {}) });
  }

  /**
   * Run one trigger's action. Returns undefined when it ended synchronously (rows, then the ack, already sent; no
   * promise made). Otherwise `next` resolves when the Player may start the next job: when the action returned, or
   * when it released with `{ next: true }` (then `detached()` is true and `done` resolves when it returned).
   */
  private doTrig(m: Extract<DirectorToPlayer, { type: "trig" }>, receivedAt: number | undefined): TrigHandle | undefined {
    if (this.abortedRuns.has(m.run)) return undefined;
    const ctx = new TrigContext(this, m, receivedAt, this.log);
    this.acting.set(m.seq, ctx);
    this.counters.actions++;
    let r: ActionResult | void | Promise<ActionResult | void>;
    try {
      r = this.b.action(m.trig, m.params, ctx);
    } catch (e) {
      this.endTrig(ctx, undefined, e, true);
      return undefined;
    }
    if (r === null || typeof r !== "object" || typeof (r as Promise<unknown>).then !== "function") {
      this.endTrig(ctx, r as ActionResult | void, undefined, false);
      return undefined;
    }
    let allowNext!: () => void;
    const next = new Promise<void>((res) => (allowNext = res));
    ctx.allowNext = allowNext;
    if (ctx.detached) allowNext(); // released with next before its first await
    // Promise.resolve: a native promise is taken as it is, another thenable is adopted
    const done = Promise.resolve(r as Promise<ActionResult | void>)
      .then(
        (v) => this.endTrig(ctx, v, undefined, false),
        (e) => this.endTrig(ctx, undefined, e, true),
      )
      .finally(allowNext);
    return { next, done, detached: () => ctx.detached };
  }

  /** The action of `ctx` ended (with a result, or failed with `err`): its rows, then the ack or `complete`. */
  private endTrig(ctx: TrigContext, r: ActionResult | void, err: unknown, failed: boolean): void {
    const m = ctx.m;
    let error: string | undefined;
    let dt: number | undefined;
    let phases: Record<string, number> | undefined;
    if (failed) {
      error = describe(err);
      this.counters.errors++;
      this.log.error({ run: m.run, trig: m.trig, err: error }, ctx.released ? "action failed after its acknowledgement (read-out)" : "action failed");
    } else if (r) {
      dt = r.dt;
      phases = r.phases;
      try {
        if (r.data) for (const k in r.data) this.addRow(ctx.batch, k, r.data[k]);
      } catch (e) {
        error = describe(e);
        this.counters.errors++;
        this.log.error({ run: m.run, trig: m.trig, err: error }, ctx.released ? "action failed after its acknowledgement (read-out)" : "action failed");
      }
    }
    this.acting.delete(m.seq);
    this.sendBatch(ctx.batch);
    // after an early ack the end of the action is a `complete` (the rows above travelled before it)
    if (!ctx.released && error === undefined && dt === undefined && !phases) {
      this.sendAck(m, false);
      return;
    }
    const reply: Record<string, unknown> = { v: PROTOCOL_VERSION, type: ctx.released ? "complete" : "ack", run: m.run, trig: m.trig, lvl: m.lvl, seq: m.seq, ok: error === undefined };
    if (error !== undefined) reply.error = error;
    if (dt !== undefined) reply.dt = dt;
    if (phases) reply.phases = phases;
    this.send(reply);
  }

  /** Overlap: the action released the level (ctx.release): the rows so far, then `ack` with `pending: true`. */
  releaseTrig(ctx: TrigContext, info: { dt?: number; phases?: Record<string, number> } | undefined, opts: { next?: boolean } | undefined): void {
    if (ctx.released) return;
    ctx.released = true;
    this.counters.released++;
    // the rows pushed so far go first; the ack tells the Director the level may go on while this action continues
    this.sendBatch(ctx.batch);
    const m = ctx.m;
    if (info?.dt === undefined && !info?.phases) this.sendAck(m, true);
    else {
      const ack: Record<string, unknown> = { v: PROTOCOL_VERSION, type: "ack", run: m.run, trig: m.trig, lvl: m.lvl, seq: m.seq, ok: true, pending: true };
      if (info?.dt !== undefined) ack.dt = info.dt;
      if (info?.phases) ack.phases = info.phases;
      this.send(ack);
    }
    if (opts?.next === true) {
      ctx.detached = true;
      ctx.allowNext?.();
    }
  }

  /** The plain `ack` (ok, no dt, no phases): encoded without building a header object (protocol/fast-codec.ts). */
  private sendAck(m: Extract<DirectorToPlayer, { type: "trig" }>, pending: boolean): void {
    if (this.closed) return;
    this.sock.send([encodeAck(m.run, m.trig, m.lvl, m.seq, pending)]);
  }

  /** @internal (TrigContext) */
  addRow(b: RowBatch, stream: string, value: DataValue): void {
    const decl = this.streamMap.get(stream);
    if (!decl) throw new Error(`player '${this.name}': stream '${stream}' was not declared (declared: ${[...this.streamMap.keys()].join(", ") || "none"})`);
    const bytes = toBytes(decl, value, this.name);
    b.rows.push({ stream, dtype: decl.dtype, shape: decl.shape });
    b.payloads.push(bytes);
    b.bytes += bytes.byteLength;
    if (b.bytes >= BATCH_BYTES) this.sendBatch(b);
  }

  private sendBatch(b: RowBatch): void {
    if (!b.rows.length || this.closed) return;
    this.sock.send([encode({ v: PROTOCOL_VERSION, type: "data", run: b.run, trig: b.trig, rows: b.rows }), ...b.payloads]);
    b.rows = [];
    b.payloads = [];
    b.bytes = 0;
  }

  /** Send one row of a declared stream at once (late data, outside an action). Validated against the declaration. */
  pushData(run: string, trig: number, stream: string, value: DataValue): void {
    const b: RowBatch = { run, trig, rows: [], payloads: [], bytes: 0 };
    this.addRow(b, stream, value);
    this.sendBatch(b);
  }

  private send(msg: object): void {
    if (this.closed) return;
    this.sock.send([encode(msg)]);
  }

  /**
   * One of this process's log records (a pino record), forwarded to the Director when it asked for them
   * (`welcome.logs`) and this process was started to forward (a player on another host; `donki run` shows its own
   * players' stderr itself). Never throws; a record logged while forwarding is not forwarded again.
   */
  forwardLog(rec: Record<string, unknown>): void {
    if (!this.opts.forwardLogs || !this.registered || !this.directorLogs || this.forwarding || this.closed) return;
    const level = LOG_LEVEL_NAMES.find((n) => LEVEL_VALUES[n] === rec.level);
    if (!level || LEVEL_VALUES[level]! < LEVEL_VALUES[this.directorLogs]!) return;
    this.forwarding = true;
    try {
      this.send({ v: PROTOCOL_VERSION, type: "log", level, msg: typeof rec.msg === "string" ? rec.msg : "", ...(typeof rec.time === "number" ? { t: rec.time } : {}), ...logFields(rec) });
    } catch {
      // the socket is gone: the record stays in the local log
    } finally {
      this.forwarding = false;
    }
  }
}

const NOT_FORWARDED = new Set(["level", "time", "msg", "pid", "hostname", "name", "v"]);

/** A record's own fields as scalars (objects as JSON, cut), at most 16: `log.fields`. */
function logFields(rec: Record<string, unknown>): { fields?: Record<string, string | number | boolean> } {
  const fields: Record<string, string | number | boolean> = {};
  let n = 0;
  for (const [k, v] of Object.entries(rec)) {
    if (NOT_FORWARDED.has(k) || v === undefined || n >= 16) continue;
    fields[k] = typeof v === "number" || typeof v === "boolean" ? v : (typeof v === "string" ? v : JSON.stringify(v) ?? String(v)).slice(0, 500);
    n++;
  }
  return n ? { fields } : {};
}

/** A trigger's action under way (doTrig): when the next job may start, when it returned, whether it detached. */
interface TrigHandle {
  next: Promise<void>;
  done: Promise<void>;
  detached: () => boolean;
}

/**
 * The context of one action. Nothing named is made per trigger: tsx's keepNames wraps every named closure in an
 * `Object.defineProperty` (`__name`), which cost ~10 % of a player's CPU per trigger. push/pushAt/release are own
 * properties bound to this context (made by the unnamed factories below), so `{ ...ctx }` and `const { push } = ctx`
 * keep working; `signal` is a getter on the prototype that makes the AbortController only if the action asks.
 */
class TrigContext implements ActionContext {
  readonly batch: RowBatch;
  released = false;
  /** Released with `{ next: true }`: the next job may start while this action goes on. */
  detached = false;
  /** Lets the next job start (set for an action that returned a promise). */
  allowNext: (() => void) | undefined = undefined;
  private ac: AbortController | null = null;
  readonly run: string;
  readonly trig: number;
  readonly level: number;
  readonly t: number;
  readonly push: (stream: string, value: DataValue) => void;
  readonly pushAt: (trig: number, stream: string, value: DataValue) => void;
  readonly release: (info?: { dt?: number; phases?: Record<string, number> }, opts?: { next?: boolean }) => void;

  constructor(
    readonly player: Player,
    readonly m: Extract<DirectorToPlayer, { type: "trig" }>,
    readonly receivedAt: number | undefined,
    readonly log: Logger,
  ) {
    this.run = m.run;
    this.trig = m.trig;
    this.level = m.lvl;
    this.t = m.t;
    // rows pushed during the action travel together in one data message, just before the ack (fewer messages
    // per trigger); a batch that grows past BATCH_BYTES is sent at once so big sequences stream out
    this.batch = { run: m.run, trig: m.trig, rows: [], payloads: [], bytes: 0 };
    this.push = pushFor(this);
    this.pushAt = pushAtFor(this);
    this.release = releaseFor(this);
  }

  /** The AbortController is made only if the action looks at ctx.signal (most empty actions never do). */
  get signal(): AbortSignal {
    return (this.ac ??= new AbortController()).signal;
  }

  /** The player aborts the action (run aborted, trigger cancelled, player closing). */
  abort(reason?: unknown): void {
    (this.ac ??= new AbortController()).abort(reason);
  }
}

// the context's methods, bound to it; returned unnamed, so tsx's keepNames does not wrap them per trigger
function pushFor(c: TrigContext) {
  return (stream: string, value: DataValue): void => c.player.addRow(c.batch, stream, value);
}
function pushAtFor(c: TrigContext) {
  return (trig: number, stream: string, value: DataValue): void => c.player.pushData(c.run, trig, stream, value);
}
function releaseFor(c: TrigContext) {
  return (info?: { dt?: number; phases?: Record<string, number> }, opts?: { next?: boolean }): void => c.player.releaseTrig(c, info, opts);
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

const CTORS = TYPED_ARRAY;

function toBytes(decl: StreamDecl, value: DataValue, player: string): Buffer {
  const n = decl.shape.reduce((a, b) => a * b, 1);
  const want = n * DTYPE_SIZE[decl.dtype];
  let view: ArrayBufferView;
  if (typeof value === "number" || Array.isArray(value)) {
    const arr = typeof value === "number" ? [value] : value;
    const ta = new (CTORS[decl.dtype] as unknown as { new (n: number): ArrayLike<number> & ArrayBufferView & { [i: number]: number } })(arr.length);
    for (let i = 0; i < arr.length; i++) ta[i] = arr[i];
    view = ta;
  } else view = value;
  if (view.byteLength !== want)
    throw new Error(`player '${player}': stream '${decl.name}' expects ${decl.dtype} ${JSON.stringify(decl.shape)} (${want} bytes), got ${view.byteLength} bytes`);
  if (!(view instanceof Uint8Array) && !(view instanceof CTORS[decl.dtype]))
    throw new Error(`player '${player}': stream '${decl.name}' expects ${decl.dtype} data, got ${(view as object).constructor.name}`);
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

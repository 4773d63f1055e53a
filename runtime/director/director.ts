/**
 * The Director: registry of players, the trigger sequence walked through priority levels, liveness, policies,
 * control socket and event stream. Wire format: docs/protocol.md.
 */
import * as zmq from "zeromq";
import { decodeControl, decodeFromPlayer, encode, ProtocolError } from "../protocol/codec.ts";
import {
  PROTOCOL_VERSION,
  type Ack,
  type ControlReply,
  type ControlRequest,
  type DataHeader,
  type DirectorCounters,
  type DirectorState,
  type DirectorStatus,
  type Done,
  type Hello,
  type Ready,
  type RunStatus,
} from "../protocol/messages.ts";
import { Outbox } from "../transport/outbox.ts";
import { ZapAuthenticator, type CurveServerConfig } from "../transport/curve.ts";
import { silentLogger, type Logger } from "../log.ts";
import { PriorityBarrier, type BarrierMember } from "./barrier.ts";
import { PlayerRegistry, type PlayerEntry } from "./registry.ts";
import type { DataSink } from "./sink.ts";

export type FaultPolicy = "pause" | "retry" | "abort";

export interface PlayerPolicy {
  onFault: FaultPolicy;
  /** With onFault "retry": how many re-sends before falling back to pause. */
  retries: number;
  actionTimeoutMs: number;
}

export interface TriggerParams {
  /** The scan point, seen by every level (e.g. {x, y, temperature}). */
  point?: Record<string, unknown>;
  /** Extra parameters per level. */
  levels?: Record<number, Record<string, unknown>>;
  /** Extra parameters per player name. */
  players?: Record<string, Record<string, unknown>>;
}

export interface RunPlan {
  /** Number of the last trigger (the run's size); null runs until stopped. */
  triggers: number | null;
  /** First trigger number (default 1; a resumed run starts at its first missing trigger). */
  startTrigger?: number;
  params?: (trig: number) => TriggerParams;
  /** Players that must be registered (and ready) for the run to start. */
  require?: string[];
  /** How long planning waits for required players to register. Default 10 s. */
  waitForPlayersMs?: number;
  /** Per-player configuration sent with the pre-operation signal. */
  config?: Record<string, Record<string, unknown>>;
  policy?: Partial<PlayerPolicy>;
  perPlayer?: Record<string, Partial<PlayerPolicy>>;
  /** Deadline of pre/post replies. Default 30 s. */
  phaseTimeoutMs?: number;
  /** How long closeout waits for late data. Default 10 s. */
  closeoutDataTimeoutMs?: number;
  /** Allow priority changes between triggers (otherwise only between runs). */
  allowPriorityChange?: boolean;
  sink?: DataSink;
  /** Called after every completed trigger (progress display). */
  onTrigger?: (trig: number, simTime: number) => void;
  /** Stop after this many wall-clock ms (for time series "run for an hour"); undefined = no limit. */
  maxWallMs?: number;
}

export interface FaultRecord {
  trig: number;
  lvl: number;
  player: string;
  kind: "timeout" | "lost" | "error";
  message: string;
  action: "pause" | "retry" | "abort";
}

export interface RunResult {
  runId: string;
  status: RunStatus;
  /** Number of triggers that completed every level in this run. */
  triggers: number;
  firstTrigger: number;
  /** Last trigger number that completed every level (firstTrigger - 1 if none). */
  lastTrigger: number;
  simTime: number;
  wallMs: number;
  faults: FaultRecord[];
  message?: string;
  players: string[];
  sink?: unknown;
}

export interface DirectorOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Ports; 0 = any free port (default). */
  playerPort?: number;
  controlPort?: number;
  eventPort?: number;
  hbIntervalMs?: number;
  hbTimeoutMs?: number;
  /** Period of the single deadline-checking tick. */
  tickMs?: number;
  /** Minimum interval between 'trigger' progress events (default 50 ms). */
  progressEventMs?: number;
  curve?: CurveServerConfig;
  log?: Logger;
}

export class RunFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunFailed";
  }
}

class RunInterrupted extends Error {}

interface Waiter {
  cond: () => boolean;
  deadline: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timeoutMessage: () => string;
}

interface LevelGroup {
  lvl: number;
  players: PlayerEntry[];
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

export class Director {
  private readonly log: Logger;
  private readonly opts: Required<Pick<DirectorOptions, "host" | "hbIntervalMs" | "hbTimeoutMs" | "tickMs" | "progressEventMs">> & DirectorOptions;
  private readonly players = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly events = new zmq.Publisher();
  private playerOut!: Outbox;
  private controlOut!: Outbox;
  private eventOut!: Outbox;
  private zap?: ZapAuthenticator;
  private tickTimer?: NodeJS.Timeout;
  private closed = false;
  readonly registry = new PlayerRegistry();
  readonly counters: DirectorCounters = { malformed: 0, badVersion: 0, stale: 0, unknownPeer: 0, errorAcks: 0, timeouts: 0, lost: 0, rejectedData: 0 };
  readonly session = Math.random().toString(36).slice(2, 10);
  endpoints = { player: "", inproc: "", control: "", events: "" };

  // ---- run state ----
  private state: DirectorState = "idle";
  private runId: string | null = null;
  private runCounter = 0;
  private plan: RunPlan | null = null;
  private seq = 0;
  private issued = 0;
  private firstTrig = 1;
  private barrier: PriorityBarrier | null = null;
  private simTime = 0;
  private readonly pauseReasons = new Set<string>();
  private stopRequested = false;
  private abortReason: string | null = null;
  private faults: FaultRecord[] = [];
  private levelPlan: LevelGroup[] = [];
  private levelPlanDirty = true;
  private readonly waiters = new Set<Waiter>();
  private gateWaiters: Array<() => void> = [];
  private abortWaiters: Array<() => void> = [];
  private lastHbSent = 0;
  private postSeqs = new Map<string, number>();
  private readonly sinkClosed = new Set<string>();

  constructor(opts: DirectorOptions = {}) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as DirectorOptions;
    this.opts = { host: "127.0.0.1", hbIntervalMs: 500, hbTimeoutMs: 3000, tickMs: 50, progressEventMs: 50, ...given };
    this.log = opts.log ?? silentLogger;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<typeof this.endpoints> {
    const { host, curve } = this.opts;
    if (curve) {
      this.zap = new ZapAuthenticator(curve.authorizedKeys, (key, address) => {
        this.log.warn({ key, address }, "CURVE: refused a client whose public key is not authorised");
        this.emit("protocol", { peer: address, reason: `CURVE key ${key} not authorised` });
      });
      await this.zap.start();
      for (const s of [this.players, this.control, this.events]) {
        s.curveServer = true;
        s.curveSecretKey = curve.secretKey;
        s.curvePublicKey = curve.publicKey;
        s.zapDomain = this.zap.domain;
      }
    }
    this.players.linger = 0;
    // a ROUTER never blocks on send (a message to a peer over its high-water mark is dropped, and the liveness
    // checks notice a stuck peer); sendTimeout 0 also takes zeromq.js's fast path (no ZMQ_EVENTS query per send)
    this.players.sendTimeout = 0;
    this.control.sendTimeout = 0;
    this.control.linger = 0;
    this.events.linger = 0;
    const addr = (port: number | undefined) => `tcp://${host}:${port ? port : "*"}`;
    await this.players.bind(addr(this.opts.playerPort));
    await this.control.bind(addr(this.opts.controlPort));
    await this.events.bind(addr(this.opts.eventPort));
    const tcpPlayer = this.players.lastEndpoint!;
    // players in this same process (donki run --in-process) connect here: no TCP, no syscalls per message
    await this.players.bind(`inproc://donki-players-${this.session}`);
    this.endpoints = {
      player: tcpPlayer,
      inproc: this.players.lastEndpoint!,
      control: this.control.lastEndpoint!,
      events: this.events.lastEndpoint!,
    };
    const onErr = (what: string) => (e: Error) => this.log.warn({ err: e.message }, `${what} send failed`);
    this.playerOut = new Outbox(this.players, onErr("player"));
    this.controlOut = new Outbox(this.control, onErr("control"));
    this.eventOut = new Outbox(this.events, onErr("event"), 10_000);
    void this.playerLoop();
    void this.controlLoop();
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs);
    this.log.info(this.endpoints, "director listening");
    return this.endpoints;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.state !== "idle") this.abort("director closing");
    await this.playerOut?.flush(500);
    this.playerOut?.close();
    this.controlOut?.close();
    this.eventOut?.close();
    this.players.close();
    this.control.close();
    this.events.close();
    this.zap?.close();
  }

  // ------------------------------------------------------------------ receiving

  private async playerLoop(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.players.receive();
      } catch (e) {
        if (this.closed) return;
        this.log.error({ err: (e as Error).message }, "player socket receive failed");
        continue;
      }
      try {
        this.onPlayerMessage(frames);
      } catch (e) {
        // never let one message take the director down
        this.log.error({ err: (e as Error).stack }, "error while handling a player message");
      }
    }
  }

  private onPlayerMessage(frames: Buffer[]): void {
    const id = frames[0];
    const d = decodeFromPlayer(frames, 1);
    if (d instanceof ProtocolError) {
      this.counters[d.kind]++;
      const peer = this.registry.byRoutingId(id)?.name ?? `peer ${id.toString("hex")}`;
      this.log.warn({ peer, reason: d.message }, "rejected a message");
      this.emit("protocol", { peer, reason: d.message });
      this.sendTo(id, { v: PROTOCOL_VERSION, type: d.kind === "badVersion" ? "reject" : "error", reason: d.message });
      return;
    }
    const msg = d.msg;
    if (msg.type === "hello") return this.onHello(id, msg);
    const entry = this.registry.byRoutingId(id);
    if (!entry) {
      this.counters.unknownPeer++;
      this.sendTo(id, { v: PROTOCOL_VERSION, type: "error", code: "unknown-peer", reason: `unknown peer: send 'hello' first (got '${msg.type}')` });
      return;
    }
    entry.lastSeen = performance.now();
    if (!entry.alive) this.onBack(entry);
    switch (msg.type) {
      case "hb":
        return;
      case "ack":
        return this.onAck(entry, msg);
      case "data":
        return this.onData(entry, msg, d.payloads!);
      case "ready":
        return this.onReady(entry, msg);
      case "done":
        return this.onDone(entry, msg);
      case "bye":
        return this.onBye(entry, msg.reason);
    }
  }

  private onHello(id: Buffer, h: Hello): void {
    const now = performance.now();
    const before = this.registry.get(h.name);
    const wasParticipating = before?.participating ?? false;
    const wasLost = before !== undefined && !before.alive;
    const { entry, added, newInstance } = this.registry.register(id, h, now);
    this.sendTo(id, { v: PROTOCOL_VERSION, type: "welcome", name: entry.name, session: this.session, hbInterval: this.opts.hbIntervalMs, hbTimeout: this.opts.hbTimeoutMs });
    if (added) {
      this.log.info({ player: h.name, level: h.level, host: h.host, pid: h.pid }, "player registered");
      this.emit("player", { name: h.name, event: "joined", level: h.level });
    } else if (newInstance) {
      this.log.info({ player: h.name, pid: h.pid }, "player re-registered (new process takes over the name)");
      this.emit("player", { name: h.name, event: "back", level: entry.level });
    } else if (wasLost) {
      // the same process, silent for a while (network cut, frozen), registers again: it is back
      entry.alive = false;
      this.onBack(entry);
    }
    this.levelPlanDirty = true;
    const runActive = this.runId !== null && (this.state === "running" || this.state === "paused" || this.state === "planning" || this.state === "stopping");
    if (runActive && newInstance && (wasParticipating || entry.join === "next-trigger") && entry.level >= 0 && entry.enabled) {
      this.sendPre(entry);
    }
    this.poke();
  }

  private onBack(entry: PlayerEntry): void {
    entry.alive = true;
    this.log.info({ player: entry.name }, "player is alive again");
    this.emit("player", { name: entry.name, event: "back", level: entry.level });
    const m = this.barrier?.members.get(entry.name);
    if (m && m.state === "faulted" && m.fault?.startsWith("lost") && entry.readyFor === this.runId) this.resend(m);
  }

  private onAck(entry: PlayerEntry, a: Ack): void {
    const b = this.barrier;
    if (!b || a.run !== b.run || a.trig !== b.trig || a.lvl !== b.lvl) {
      this.counters.stale++;
      return;
    }
    if (a.ok) {
      if (!b.ack(entry.name, a.seq, a.dt)) this.counters.stale++;
      else entry.lastAckMs = performance.now() - b.t0;
      return;
    }
    const m = b.members.get(entry.name);
    if (!m || m.seq !== a.seq || m.state !== "waiting") {
      this.counters.stale++;
      return;
    }
    this.counters.errorAcks++;
    this.onFault(entry, "error", a.error ?? "action failed (no message)");
  }

  private onData(entry: PlayerEntry, h: DataHeader, payloads: Buffer[]): void {
    const reject = (stream: string, reason: string) => {
      this.counters.rejectedData++;
      this.log.warn({ player: entry.name, stream, trig: h.trig, reason }, "rejected data");
      this.sendTo(entry.routingId, { v: PROTOCOL_VERSION, type: "error", reason });
    };
    const sink = this.plan?.sink;
    if (h.run !== this.runId || !sink || this.sinkClosed.has(h.run)) {
      for (const r of h.rows) reject(r.stream, `data for run '${h.run}', which is not open (current: ${this.runId ?? "none"})`);
      return;
    }
    if (h.trig < this.firstTrig || h.trig > this.issued) {
      for (const r of h.rows) reject(r.stream, `trigger ${h.trig} is outside the run (issued ${this.firstTrig}..${this.issued})`);
      return;
    }
    for (let i = 0; i < h.rows.length; i++) {
      const r = h.rows[i];
      const decl = entry.streamByName.get(r.stream);
      if (!decl) reject(r.stream, `stream '${r.stream}' was not declared by player '${entry.name}'`);
      else if (decl.dtype !== r.dtype || decl.shape.length !== r.shape.length || decl.shape.some((d, k) => d !== r.shape[k]))
        reject(r.stream, `stream '${entry.name}/${r.stream}' declared ${decl.dtype} ${JSON.stringify(decl.shape)}, got ${r.dtype} ${JSON.stringify(r.shape)} at trigger ${h.trig}`);
      else sink.accept(entry.name, r.stream, h.trig, payloads[i]);
    }
  }

  private onReady(entry: PlayerEntry, r: Ready): void {
    if (r.run !== this.runId || r.seq !== entry.preSeq) {
      this.counters.stale++;
      return;
    }
    entry.preSeq = null;
    if (!r.ok) {
      entry.readyFor = null;
      const message = `player '${entry.name}' failed its pre-operation: ${r.error ?? "no message"}`;
      this.log.error({ player: entry.name, error: r.error }, "pre-operation failed");
      this.emit("fault", { run: this.runId, trig: this.issued, lvl: -1, player: entry.name, kind: "error", message, action: "excluded" });
      entry.preFailed = message;
      this.poke();
      return;
    }
    entry.readyFor = r.run;
    entry.preFailed = undefined;
    const m = this.barrier?.members.get(entry.name);
    if (m && m.state !== "acked" && (m.state === "faulted" || entry.participating)) this.resend(m);
    this.levelPlanDirty = true;
    this.poke();
  }

  private onDone(entry: PlayerEntry, d: Done): void {
    if (this.postSeqs.get(entry.name) !== d.seq) {
      this.counters.stale++;
      return;
    }
    this.postSeqs.delete(entry.name);
    if (!d.ok) this.log.warn({ player: entry.name, error: d.error }, "post-operation failed");
    this.poke();
  }

  private onBye(entry: PlayerEntry, reason?: string): void {
    this.log.info({ player: entry.name, reason }, "player leaves");
    entry.leaving = true;
    this.barrier?.drop(entry.name);
    this.pauseReasons.delete(`fault:${entry.name}`);
    if (!entry.participating) this.removePlayer(entry);
    this.levelPlanDirty = true;
    this.releaseGate();
    this.poke();
  }

  private removePlayer(entry: PlayerEntry): void {
    this.registry.remove(entry.name);
    this.emit("player", { name: entry.name, event: "left", level: entry.level });
  }

  // ------------------------------------------------------------------ control

  private async controlLoop(): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await this.control.receive();
      } catch {
        if (this.closed) return;
        continue;
      }
      const id = frames[0];
      // REQ clients put an empty delimiter frame before the body
      const off = frames.length > 2 && frames[1].length === 0 ? 2 : 1;
      const envelope = frames.slice(0, off);
      const req = decodeControl(frames, off);
      let reply: ControlReply;
      if (req instanceof ProtocolError) {
        this.counters[req.kind]++;
        reply = { v: PROTOCOL_VERSION, type: "control-reply", id: 0, ok: false, error: req.message };
      } else {
        try {
          reply = this.handleControl(req);
        } catch (e) {
          reply = { v: PROTOCOL_VERSION, type: "control-reply", id: req.id, ok: false, error: (e as Error).message };
        }
      }
      this.controlOut.send([...envelope, encode(reply)]);
    }
  }

  private handleControl(r: ControlRequest): ControlReply {
    const ok = (extra: Partial<ControlReply> = {}): ControlReply => ({ v: PROTOCOL_VERSION, type: "control-reply", id: r.id, ok: true, ...extra });
    switch (r.cmd) {
      case "status":
        return ok({ status: this.status() });
      case "pause":
        this.pause();
        return ok();
      case "resume":
        this.resume();
        return ok();
      case "stop":
        this.stop();
        return ok();
      case "abort":
        this.abort("aborted by operator (control socket)");
        return ok();
      case "disable":
        this.disable(r.player!);
        return ok();
      case "enable":
        this.enable(r.player!);
        return ok();
      case "priority":
        this.setPriority(r.player!, r.level!);
        return ok();
    }
  }

  /** Pause before the next level starts. */
  pause(): void {
    if (this.runId === null) return;
    this.pauseReasons.add("operator");
    this.updatePausedState();
  }

  resume(): void {
    this.pauseReasons.delete("operator");
    const b = this.barrier;
    if (b) {
      for (const m of b.faulted()) {
        if (m.entry.alive && m.entry.readyFor === b.run) this.resend(m);
      }
    }
    this.updatePausedState();
    this.releaseGate();
  }

  /** Finish the current trigger, then closeout. */
  stop(): void {
    if (this.runId === null) return;
    this.stopRequested = true;
    this.pauseReasons.delete("operator");
    const hasFaultPause = [...this.pauseReasons].some((r) => r.startsWith("fault:"));
    if (hasFaultPause) this.barrier?.fail(new RunInterrupted("stopped while waiting for a faulted player"));
    if (this.state === "running" || this.state === "paused") this.setState("stopping", "stop requested");
    this.releaseGate();
  }

  /** Stop now; closeout best-effort. */
  abort(reason = "aborted"): void {
    if (this.runId === null || this.abortReason) return;
    this.abortReason = reason;
    this.log.warn({ reason }, "run aborted");
    this.barrier?.fail(new RunInterrupted(reason));
    for (const e of this.registry.all()) if (e.participating && e.alive) this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "abort", run: this.runId });
    this.releaseGate();
    for (const w of this.abortWaiters.splice(0)) w();
    this.failWaiters(new RunInterrupted(reason));
  }

  disable(name: string): void {
    const e = this.mustGet(name);
    e.enabled = false;
    this.barrier?.drop(name);
    this.pauseReasons.delete(`fault:${name}`);
    this.levelPlanDirty = true;
    this.emit("player", { name, event: "disabled", level: e.level });
    this.updatePausedState();
    this.releaseGate();
    this.poke();
  }

  enable(name: string): void {
    const e = this.mustGet(name);
    e.enabled = true;
    this.levelPlanDirty = true;
    this.emit("player", { name, event: "enabled", level: e.level });
    if (this.runId && e.readyFor !== this.runId && e.preSeq === null && e.alive && e.level >= 0) this.sendPre(e);
  }

  setPriority(name: string, level: number): void {
    const e = this.mustGet(name);
    if (!Number.isInteger(level) || level < -1) throw new Error(`priority for '${name}' must be an integer >= -1, got ${level}`);
    if (this.runId === null) {
      e.level = level;
    } else if (this.plan?.allowPriorityChange) {
      e.pendingLevel = level;
    } else {
      throw new Error(`the running scan does not allow priority changes between triggers; change '${name}' after the run`);
    }
    this.levelPlanDirty = true;
  }

  private mustGet(name: string): PlayerEntry {
    const e = this.registry.get(name);
    if (!e) throw new Error(`no player named '${name}' (registered: ${this.registry.all().map((p) => p.name).join(", ") || "none"})`);
    return e;
  }

  status(): DirectorStatus {
    const now = performance.now();
    const paused = [...this.pauseReasons];
    return {
      state: this.state,
      run: this.runId ?? undefined,
      trig: this.barrier?.trig,
      lvl: this.barrier?.lvl,
      triggers: this.plan?.triggers,
      simTime: this.simTime,
      players: this.registry.all().map((p) => p.status(now)),
      counters: { ...this.counters },
      pausedBecause: paused.length ? paused.join(", ") : undefined,
    };
  }

  // ------------------------------------------------------------------ running a scan

  /** Wait until the named players are registered (or the deadline passes). */
  async waitForPlayers(names: string[], timeoutMs: number): Promise<void> {
    await this.waitUntil(
      () => names.every((n) => this.registry.get(n)?.alive),
      timeoutMs,
      () => `players not registered after ${timeoutMs} ms: ${names.filter((n) => !this.registry.get(n)?.alive).join(", ")}`,
    );
  }

  async run(plan: RunPlan): Promise<RunResult> {
    if (this.runId !== null) throw new Error(`a run is already in progress (${this.runId})`);
    if (plan.triggers !== null && !(Number.isInteger(plan.triggers) && plan.triggers >= 0))
      throw new Error(`triggers must be a whole number >= 0 or null (unbounded), got ${plan.triggers}`);
    const first = plan.startTrigger ?? 1;
    if (!(Number.isInteger(first) && first >= 1)) throw new Error(`startTrigger must be a whole number >= 1, got ${first}`);
    const t0 = performance.now();
    this.runId = `r${++this.runCounter}-${this.session}`;
    const run = this.runId;
    this.plan = plan;
    this.issued = 0;
    this.simTime = 0;
    this.faults = [];
    this.stopRequested = false;
    this.abortReason = null;
    this.pauseReasons.clear();
    this.abortWaiters = [];
    this.levelPlanDirty = true;
    let status: RunStatus = "completed";
    let message: string | undefined;
    this.firstTrig = first;
    /** Last trigger number that completed every level. */
    let completed = first - 1;
    let sinkResult: unknown;
    let sinkOpen = false;
    this.setState("planning");
    this.emit("run", { run, event: "started", triggers: plan.triggers });
    try {
      for (const e of this.registry.all()) {
        if (e.pendingLevel !== null) {
          e.level = e.pendingLevel;
          e.pendingLevel = null;
        }
        e.readyFor = null;
        e.preSeq = null;
        e.preFailed = undefined;
        e.participating = false;
      }
      if (plan.require?.length) {
        await this.waitUntil(
          () => plan.require!.every((n) => this.registry.get(n)?.alive),
          plan.waitForPlayersMs ?? 10_000,
          () => `planning: required players not registered within ${plan.waitForPlayersMs ?? 10_000} ms: ${plan.require!.filter((n) => !this.registry.get(n)?.alive).join(", ")}`,
        );
      }
      const starting = this.registry.all().filter((e) => e.enabled && e.alive && e.level >= 0);
      if (starting.length === 0) throw new RunFailed("planning: no enabled players are registered");
      for (const e of starting) this.sendPre(e);
      const phaseMs = plan.phaseTimeoutMs ?? 30_000;
      await this.waitUntil(
        () => starting.every((e) => e.readyFor === run || e.preFailed !== undefined || !e.enabled),
        phaseMs,
        () => `planning: no 'ready' within ${phaseMs} ms from: ${starting.filter((e) => e.readyFor !== run && e.enabled).map((e) => e.name).join(", ")}`,
      );
      const failed = starting.filter((e) => e.preFailed !== undefined && e.enabled);
      if (failed.length) throw new RunFailed(`planning: ${failed.map((e) => e.preFailed).join("; ")}`);
      for (const e of starting) if (e.enabled) e.participating = true;
      if (plan.sink) {
        await plan.sink.open(
          { runId: run, plannedTriggers: plan.triggers, startTime: new Date() },
          starting.filter((e) => e.participating).flatMap((e) => e.streams.map((decl) => ({ player: e.name, decl }))),
        );
        sinkOpen = true;
      }
      this.setState(this.pauseReasons.size ? "paused" : "running");

      let lastProgress = 0;
      for (let trig = first; plan.triggers === null || trig <= plan.triggers; trig++) {
        if (this.stopRequested || this.abortReason) break;
        if (plan.maxWallMs !== undefined && performance.now() - t0 > plan.maxWallMs) break;
        if (plan.sink && !plan.sink.hasCapacity()) {
          // back-pressure: no new trigger until the writer caught up (or the run is aborted)
          const { aborted, forget } = this.interrupted();
          try {
            await Promise.race([plan.sink.whenCapacity(), aborted]);
          } finally {
            forget();
          }
        }
        if (this.abortReason) break;
        const groups = this.boundary();
        if (groups.length === 0) throw new RunFailed(`trigger ${trig}: no enabled players left in the run`);
        this.issued = trig;
        const tp = plan.params?.(trig);
        let done = true;
        for (let g = 0; g < groups.length; g++) {
          if (this.pauseReasons.size) await this.gate();
          if (this.abortReason) {
            done = false;
            break;
          }
          try {
            await this.walkLevel(run, trig, groups[g], tp);
          } catch (e) {
            if (e instanceof RunInterrupted) {
              done = false;
              break;
            }
            throw e;
          }
        }
        if (!done) break;
        completed = trig;
        plan.sink?.noteTrigger(trig);
        // progress events are coalesced (at most one per progressEventMs, plus the last): the event stream is for
        // humans and GUIs, and a PUB send per trigger would cost a measurable share of the trigger rate
        const nowMs = performance.now();
        if (nowMs - lastProgress >= this.opts.progressEventMs || trig === plan.triggers) {
          lastProgress = nowMs;
          this.emit("trigger", { run, trig, simTime: this.simTime });
        }
        plan.onTrigger?.(trig, this.simTime);
      }
      if (this.abortReason) {
        status = "aborted";
        message = this.abortReason;
      } else if (this.stopRequested) status = "stopped";
    } catch (e) {
      status = this.abortReason ? "aborted" : "failed";
      message = this.abortReason ?? (e as Error).message;
      this.log.error({ run, err: message }, "run failed");
    }

    // ---- closeout (best effort, every wait bounded)
    this.setState("closeout", message);
    this.barrier = null;
    try {
      await this.closeout(run, status, plan);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "closeout incomplete");
    }
    if (plan.sink && sinkOpen) {
      if (!this.abortReason) {
        const end = performance.now() + (plan.closeoutDataTimeoutMs ?? 10_000);
        while (plan.sink.missing(completed) > 0 && performance.now() < end) await sleepMs(10);
      }
      this.sinkClosed.add(run);
      try {
        sinkResult = await plan.sink.close({ status, lastTrigger: completed, message });
      } catch (e) {
        this.log.error({ err: (e as Error).message }, "closing the data sink failed");
        message = (message ? message + "; " : "") + `closing the data file failed: ${(e as Error).message}`;
        if (status === "completed") status = "failed";
      }
    }
    const players = this.registry.all().filter((e) => e.participating).map((e) => e.name);
    for (const e of this.registry.all()) {
      e.participating = false;
      if (e.leaving) this.removePlayer(e);
    }
    const result: RunResult = { runId: run, status, triggers: completed - first + 1, firstTrigger: first, lastTrigger: completed, simTime: this.simTime, wallMs: performance.now() - t0, faults: this.faults, message, players, sink: sinkResult };
    this.emit("run", { run, event: "ended", status, triggers: completed, message });
    this.runId = null;
    this.plan = null;
    this.pauseReasons.clear();
    this.setState("idle");
    return result;
  }

  /** Apply joins, leaves, enables and priority changes; return the level groups for this trigger. */
  private boundary(): LevelGroup[] {
    if (!this.levelPlanDirty) return this.levelPlan;
    this.levelPlanDirty = false;
    const run = this.runId!;
    for (const e of this.registry.all()) {
      if (e.leaving) {
        if (e.participating) this.plan?.sink?.endStreams?.(e.name, this.issued);
        e.participating = false;
        this.removePlayer(e);
        continue;
      }
      if (e.pendingLevel !== null) {
        e.level = e.pendingLevel;
        e.pendingLevel = null;
      }
      const eligible = e.enabled && e.level >= 0;
      if (e.participating && !eligible) {
        e.participating = false;
        this.plan?.sink?.endStreams?.(e.name, this.issued);
      }
      else if (!e.participating && eligible && e.readyFor === run && e.alive) {
        e.participating = true;
        for (const decl of e.streams) this.plan?.sink?.addStream({ player: e.name, decl });
        this.log.info({ player: e.name, level: e.level, trig: this.issued + 1 }, "player joins the run");
      }
    }
    const byLevel = new Map<number, PlayerEntry[]>();
    for (const e of this.registry.all()) {
      if (!e.participating) continue;
      let l = byLevel.get(e.level);
      if (!l) byLevel.set(e.level, (l = []));
      l.push(e);
    }
    this.levelPlan = [...byLevel.entries()].sort((a, b) => a[0] - b[0]).map(([lvl, players]) => ({ lvl, players }));
    return this.levelPlan;
  }

  /** THE place where a trigger walks a level: send to every player of the level, wait for all acks. */
  private async walkLevel(run: string, trig: number, group: LevelGroup, tp: TriggerParams | undefined): Promise<void> {
    const b = new PriorityBarrier(run, trig, group.lvl);
    this.barrier = b;
    const now = performance.now();
    const t = this.simTime;
    for (const e of group.players) {
      // left or disabled since the trigger's boundary: not waited for (it is removed at the next boundary)
      if (e.leaving || !e.enabled) continue;
      const seq = ++this.seq;
      const m = b.add(e, seq, now + this.policyFor(e.name).actionTimeoutMs);
      if (!e.alive) {
        this.onFault(e, "lost", `no heartbeat for ${Math.round(now - e.lastSeen)} ms`);
        continue;
      }
      if (e.readyFor !== run) {
        b.fault(e.name, "lost: waiting for the player to finish its pre-operation");
        continue;
      }
      this.sendTrig(m, tp, t);
    }
    b.seal();
    await b.done;
    this.simTime = t + b.maxDt;
  }

  private sendTrig(m: BarrierMember, tp: TriggerParams | undefined, t: number): void {
    const b = this.barrier!;
    let params = EMPTY;
    if (tp) {
      const lv = tp.levels?.[b.lvl];
      const pl = tp.players?.[m.entry.name];
      params = lv || pl ? { ...tp.point, ...lv, ...pl } : (tp.point ?? EMPTY);
    }
    this.sendTo(m.entry.routingId, { v: PROTOCOL_VERSION, type: "trig", run: b.run, trig: b.trig, lvl: b.lvl, seq: m.seq, params, t });
  }

  /** Re-send the current trigger to one member with a fresh seq. */
  private resend(m: BarrierMember): void {
    const b = this.barrier!;
    const seq = ++this.seq;
    b.rearm(m.entry.name, seq, performance.now() + this.policyFor(m.entry.name).actionTimeoutMs);
    this.pauseReasons.delete(`fault:${m.entry.name}`);
    this.sendTrig(m, this.plan?.params?.(b.trig), this.simTime);
    this.updatePausedState();
    this.releaseGate();
  }

  private onFault(entry: PlayerEntry, kind: FaultRecord["kind"], message: string): void {
    const b = this.barrier;
    if (!b) return;
    const m = b.fault(entry.name, `${kind}: ${message}`);
    if (!m) return;
    // a missed deadline: tell the player to stop that action, so a re-sent trigger does not queue behind it
    if (kind === "timeout" && entry.alive) this.sendTo(entry.routingId, { v: PROTOCOL_VERSION, type: "cancel", run: b.run, seq: m.seq });
    const policy = this.policyFor(entry.name);
    let action: FaultRecord["action"] = policy.onFault === "abort" ? "abort" : "pause";
    if (policy.onFault === "retry" && m.attempts <= policy.retries && entry.alive && kind !== "lost") action = "retry";
    const rec: FaultRecord = { trig: b.trig, lvl: b.lvl, player: entry.name, kind, message, action };
    this.faults.push(rec);
    const text = `player '${entry.name}' ${kind === "error" ? "failed" : kind === "timeout" ? "timed out" : "was lost"} at trigger ${b.trig}, level ${b.lvl}: ${message}`;
    this.log.warn({ ...rec }, text);
    this.emit("fault", { run: b.run, ...rec });
    if (action === "abort") this.abort(text);
    else if (action === "retry") this.resend(m);
    else {
      this.pauseReasons.add(`fault:${entry.name}`);
      this.updatePausedState(text);
    }
  }

  private policyFor(name: string): PlayerPolicy {
    const p = this.plan;
    return { onFault: "pause", retries: 2, actionTimeoutMs: 30_000, ...p?.policy, ...p?.perPlayer?.[name] };
  }

  private sendPre(e: PlayerEntry): void {
    const seq = ++this.seq;
    e.preSeq = seq;
    e.preDeadline = performance.now() + (this.plan?.phaseTimeoutMs ?? 30_000);
    const config = this.plan?.config?.[e.name] ?? EMPTY;
    this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "pre", run: this.runId, seq, config, t: this.simTime });
  }

  private async closeout(run: string, status: RunStatus, plan: RunPlan): Promise<void> {
    const targets = this.registry.all().filter((e) => (e.participating || e.readyFor === run) && e.alive);
    this.postSeqs.clear();
    for (const e of targets) {
      const seq = ++this.seq;
      this.postSeqs.set(e.name, seq);
      this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "post", run, seq, status });
    }
    const ms = this.abortReason ? Math.min(plan.phaseTimeoutMs ?? 30_000, 5000) : (plan.phaseTimeoutMs ?? 30_000);
    const abortBackup = this.abortReason;
    this.abortReason = null; // let the closeout wait run even after an abort
    try {
      await this.waitUntil(
        () => targets.every((e) => !this.postSeqs.has(e.name) || !e.alive),
        ms,
        () => `closeout: no 'done' within ${ms} ms from: ${targets.filter((e) => this.postSeqs.has(e.name)).map((e) => e.name).join(", ")}`,
      );
    } finally {
      this.abortReason = abortBackup;
    }
  }

  // ------------------------------------------------------------------ waiting, state, tick

  private setState(s: DirectorState, reason?: string): void {
    if (this.state === s) return;
    this.state = s;
    this.emit("state", { state: s, run: this.runId ?? undefined, reason });
  }

  private updatePausedState(reason?: string): void {
    if (this.state !== "running" && this.state !== "paused") return;
    if (this.pauseReasons.size) this.setState("paused", reason ?? [...this.pauseReasons].join(", "));
    else this.setState("running");
  }

  private gate(): Promise<void> {
    if (!this.pauseReasons.size || this.abortReason) return Promise.resolve();
    return new Promise<void>((res) => this.gateWaiters.push(() => res())).then(() => this.gate());
  }

  private releaseGate(): void {
    if (this.pauseReasons.size && !this.abortReason && !this.stopRequested) return;
    const w = this.gateWaiters;
    this.gateWaiters = [];
    for (const r of w) r();
  }

  /** `aborted` resolves when the run is aborted (abort() releases it; no polling); `forget` drops the waiter. */
  private interrupted(): { aborted: Promise<void>; forget: () => void } {
    if (this.abortReason) return { aborted: Promise.resolve(), forget: () => {} };
    let release!: () => void;
    const aborted = new Promise<void>((res) => (release = res));
    this.abortWaiters.push(release);
    return { aborted, forget: () => void (this.abortWaiters = this.abortWaiters.filter((w) => w !== release)) };
  }

  private waitUntil(cond: () => boolean, timeoutMs: number, timeoutMessage: () => string): Promise<void> {
    if (cond()) return Promise.resolve();
    if (this.abortReason) return Promise.reject(new RunInterrupted(this.abortReason));
    return new Promise((resolve, reject) => {
      this.waiters.add({ cond, deadline: performance.now() + timeoutMs, resolve, reject: reject as (e: Error) => void, timeoutMessage });
    });
  }

  /** Re-check the waiters after a state change. */
  private poke(): void {
    for (const w of this.waiters) {
      if (w.cond()) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private failWaiters(e: Error): void {
    for (const w of this.waiters) w.reject(e);
    this.waiters.clear();
  }

  private tick(): void {
    const now = performance.now();
    if (now - this.lastHbSent >= this.opts.hbIntervalMs) {
      this.lastHbSent = now;
      const hb = encode({ v: PROTOCOL_VERSION, type: "hb" });
      for (const e of this.registry.all()) if (e.alive) this.playerOut.send([e.routingId, hb]);
    }
    for (const e of this.registry.all()) {
      if (e.alive && now - e.lastSeen > this.opts.hbTimeoutMs) {
        e.alive = false;
        this.counters.lost++;
        this.log.warn({ player: e.name, silentMs: Math.round(now - e.lastSeen) }, "player lost (heartbeat timeout)");
        this.emit("player", { name: e.name, event: "lost", level: e.level });
        const m = this.barrier?.members.get(e.name);
        if (m && m.state === "waiting") this.onFault(e, "lost", `no heartbeat for ${Math.round(now - e.lastSeen)} ms`);
        if (e.leaving && !e.participating) this.removePlayer(e);
        this.poke();
      }
      if (e.preSeq !== null && now > e.preDeadline) {
        const message = `player '${e.name}' did not answer the pre-operation signal within ${this.plan?.phaseTimeoutMs ?? 30_000} ms`;
        e.preSeq = null;
        e.preFailed = message;
        this.log.warn({ player: e.name }, message);
        this.poke();
      }
    }
    const b = this.barrier;
    if (b && !b.settled) {
      for (const m of b.members.values()) {
        if (m.state === "waiting" && now > m.deadline) {
          this.counters.timeouts++;
          this.onFault(m.entry, "timeout", `no ack within ${this.policyFor(m.entry.name).actionTimeoutMs} ms`);
        }
      }
    }
    for (const w of this.waiters) {
      if (now > w.deadline) {
        this.waiters.delete(w);
        w.reject(new RunFailed(w.timeoutMessage()));
      }
    }
  }

  // ------------------------------------------------------------------ sending

  private sendTo(id: Buffer, msg: object): void {
    this.playerOut.send([id, encode(msg)]);
  }

  /** Publish on the event stream (run documents: topic `doc`, runtime/events/). */
  publish(topic: string, body: Record<string, unknown>): void {
    this.emit(topic, body);
  }

  /** Faults of the current run so far (status documents). */
  faultsSoFar(): readonly FaultRecord[] {
    return this.faults;
  }

  private emit(topic: string, body: Record<string, unknown>): void {
    if (!this.eventOut) return;
    this.eventOut.send([topic, encode({ v: PROTOCOL_VERSION, type: topic, ...body })]);
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The Director: registry of players, the trigger sequence walked through priority levels, liveness, policies,
 * control socket and event stream. Wire format: docs/protocol.md.
 */
import * as zmq from "zeromq";
import { decodeControl, decodeFromPlayer, encode, ProtocolError } from "../protocol/codec.ts";
import { encodeTrig } from "../protocol/fast-codec.ts";
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
  type Complete,
  type Hello,
  type Ready,
  type LogLevelName,
} from "../protocol/messages.ts";
import type { RunEnd, RunOutcome, RunStatus, StreamGap } from "../protocol/run-status.ts";
import { Outbox } from "../transport/outbox.ts";
import { PlayerRouter } from "../transport/select.ts";
import type { TransportKind } from "../transport/socket.ts";
import { ZapAuthenticator, type CurveServerConfig } from "../transport/curve.ts";
import { silentLogger, type Logger } from "../log.ts";
import { PriorityBarrier, type BarrierMember } from "./barrier.ts";
import { TriggerCompletion } from "./completion.ts";
import { DeadTimeMeter, type DeadTimeActual } from "./dead-time.ts";
import { PlayerLogRelay, forwardedLevel } from "./player-logs.ts";
import { DTYPE_BYTES } from "../devices/common.ts";
import { PlayerRegistry, type PlayerEntry } from "./registry.ts";
import { Admission, OnceLog, RateLimiter, type AdmissionOptions, type Refusal } from "./admission.ts";
import type { DataSink, WriteFault } from "./sink.ts";
import type { DeadTimeReport } from "../data/types.ts";

/** How long closeout waits for rows still missing from players that already answered `done` (ms). */
const CLOSEOUT_GRACE_MS = 1000;

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
  /**
   * The scan's own size when `triggers` stops it earlier (`donki run --triggers 50` of a 576-point raster): the file
   * and the end record say "50 of 576 planned" and the run ends as stopped, not completed. Default: `triggers`.
   */
  plannedTotal?: number | null;
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
  /** What a write fault of the sink does: pause the run (default; `resume` retries the writes) or abort it. */
  onWriteError?: "pause" | "abort";
  /** The dead-time report for the file, from what the players reported (`done`: triggers done, `wallS`: loop time). */
  deadTime?: (actual: DeadTimeActual, o: { done: number; wallS: number }) => DeadTimeReport | undefined;
  /**
   * The deadline of one action (`action`: until its ack; `readout`: from an early ack until its `complete`), e.g.
   * from the device's timing model; undefined = the player's policy actionTimeout.
   */
  deadline?: (player: string, trig: number, phase: "action" | "readout") => { ms: number; note: string } | undefined;
}

export interface FaultRecord {
  trig: number;
  lvl: number;
  player: string;
  kind: "timeout" | "lost" | "error" | "write";
  message: string;
  /** "gap": a read-out after an early ack failed or never ended; that player's rows of the trigger are missing. */
  action: "pause" | "retry" | "abort" | "gap";
}

export interface RunResult {
  runId: string;
  /** The same as end.status (kept flat for callers). */
  status: RunStatus;
  /** The end-of-run record, as the file, the event stream and the CLI tell it. */
  end: RunEnd;
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
  /** Instrument (simulated) time per level and per player and phase, as the players reported it. */
  deadTime: DeadTimeActual;
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
  /** Who may register (run token, admitted names, pinned levels, row size limit). Default: anyone (library use). */
  admission?: AdmissionOptions;
  /** Bound to a non-loopback address without CURVE (--insecure): reported at start, in status and as events. */
  insecure?: boolean;
  /** What carries the player socket on tcp:// without CURVE (runtime/transport/select.ts; default: DONKI_TRANSPORT or zmtp). */
  transport?: TransportKind;
  log?: Logger;
  /** Every event published on the event stream, in this process too (the CLI prints faults from it). */
  onEvent?: (topic: string, body: Record<string, unknown>) => void;
}

/** Registry entries beyond this many are refused (a name storm cannot grow the Director without bound). */
const MAX_REGISTRY = 1000;
/** Dead entries listed in a status reply; the rest are counted (playersNotListed). */
const MAX_DEAD_LISTED = 50;
/** Largest control request, bytes (ZeroMQ drops the connection of a peer sending more). */
const MAX_CONTROL_BYTES = 64 * 1024;
/** Room above the largest row for headers (a hello declaring 256 streams, a data header of many rows). */
const MESSAGE_MARGIN = 1024 * 1024;

export class RunFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunFailed";
  }
}

/** A wait ended by stop() or abort() (not a failure). */
export class RunInterrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunInterrupted";
  }
}

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
  /** The player socket (tcp:// and inproc://): a ROUTER on the chosen transport, created at start. */
  private players!: PlayerRouter;
  private readonly control = new zmq.Router();
  private readonly events = new zmq.Publisher();
  private controlOut!: Outbox;
  private eventOut!: Outbox;
  private zap?: ZapAuthenticator;
  private tickTimer?: NodeJS.Timeout;
  private closed = false;
  readonly registry = new PlayerRegistry();
  readonly counters: DirectorCounters = { malformed: 0, badVersion: 0, stale: 0, unknownPeer: 0, errorAcks: 0, timeouts: 0, lost: 0, rejectedData: 0, refused: 0, rateLimited: 0, pruned: 0 };
  readonly admission: Admission;
  /** Complaints about refused peers are logged once per reason and name, then at most every 10 s. */
  private readonly refusedLog = new OnceLog(10_000);
  /** Per-peer limits: registrations (hello) and control requests. */
  private readonly helloLimit = new RateLimiter(20, 40);
  private playerLogs: PlayerLogRelay | null = null;
  private readonly controlLimit = new RateLimiter(200, 400);
  /** Refusal log lines overall (a storm of distinct names must not flood the log): 20 at once, then 1 per second. */
  private readonly refusalLogLimit = new RateLimiter(1, 20, 1);
  private refusalsNotLogged = 0;
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
  /** Triggers walked by every level, waiting for the read-outs that go on after early acks (overlap). */
  private readonly completion = new TriggerCompletion();
  /** Called for each trigger that is done, in order (set by run()). */
  private onTriggerDone: ((trig: number) => void) | null = null;
  private deadTime = new DeadTimeMeter();
  /** The latest end of a read-out that went on after its ack (simulated time). */
  private lastReadyS = 0;
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
  /** Why the run was stopped (operator, signal), for the end record. */
  private stopReason: string | undefined;
  /** stop() arrived before run() started: the run ends as stopped without a trigger. */
  private preRunStop: string | null = null;
  /** The last write fault of this run that was not cleared by a successful retry. */
  private writeFaultMessage: string | null = null;

  constructor(opts: DirectorOptions = {}) {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as DirectorOptions;
    this.opts = { host: "127.0.0.1", hbIntervalMs: 500, hbTimeoutMs: 3000, tickMs: 50, progressEventMs: 50, ...given };
    this.log = opts.log ?? silentLogger;
    this.admission = new Admission({ ...opts.admission, curve: opts.curve });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<typeof this.endpoints> {
    try {
      return await this.open();
    } catch (e) {
      // a port in use, a bad address: nothing stays bound or listening (a listener would keep the process alive)
      await this.close();
      throw e;
    }
  }

  private async open(): Promise<typeof this.endpoints> {
    const { host, curve } = this.opts;
    if (curve) {
      this.zap = new ZapAuthenticator(curve.authorizedKeys, (key, address, channel, known) => {
        if (!this.mayLogRefusal()) return;
        const reason = known ? `CURVE key ${key} has no role that uses the ${channel} socket` : `CURVE key ${key} not authorised`;
        this.log.warn({ key, address, channel, ...this.notLogged() }, known ? "CURVE: refused a key on a socket its role does not use" : "CURVE: refused a client whose public key is not authorised");
        this.emit("protocol", { peer: address, reason });
      });
      await this.zap.start();
      const sockets: Array<[zmq.Router | zmq.Publisher, "player" | "control" | "events"]> = [[this.control, "control"], [this.events, "events"]];
      for (const [s, channel] of sockets) {
        s.curveServer = true;
        s.curveSecretKey = curve.secretKey;
        s.curvePublicKey = curve.publicKey;
        s.zapDomain = this.zap.domain(channel);
      }
    }
    // bounds against any peer: no frame bigger than the largest row a player may declare (plus room for headers);
    // the socket drops the connection of a peer that sends more, before the frame is taken into memory. The limit is
    // fixed at bind (a listener keeps the options it was bound with), so it derives from the row limit
    // (--max-row-mb), which every declared row must respect, not from the rows declared later
    // a ROUTER never blocks on send (a message to a peer over its high-water mark is dropped, and the liveness
    // checks notice a stuck peer); sendTimeout 0 also takes zeromq.js's fast path (no ZMQ_EVENTS query per send)
    this.players = new PlayerRouter({
      transport: this.opts.transport,
      maxMessageSize: this.admission.maxRowBytes + MESSAGE_MARGIN,
      linger: 0,
      sendTimeout: 0,
      curveServer: curve && this.zap ? { publicKey: curve.publicKey, secretKey: curve.secretKey, zapDomain: this.zap.domain("player") } : undefined,
      onError: (e) => this.log.warn({ err: e.message }, "player socket"),
    });
    this.players.onMessage((frames) => this.onPlayerFrames(frames));
    this.control.maxMessageSize = MAX_CONTROL_BYTES;
    this.events.maxMessageSize = 4096;
    this.control.sendTimeout = 0;
    this.control.linger = 0;
    this.events.linger = 0;
    const addr = (port: number | undefined) => `tcp://${host}:${port ? port : "*"}`;
    const tcpPlayer = await this.players.bind(addr(this.opts.playerPort));
    await this.control.bind(addr(this.opts.controlPort));
    await this.events.bind(addr(this.opts.eventPort));
    // players in this same process (donki run --in-process) connect here: no TCP, no syscalls per message
    const inprocPlayer = await this.players.bind(`inproc://donki-players-${this.session}`);
    this.endpoints = {
      player: tcpPlayer,
      inproc: inprocPlayer,
      control: this.control.lastEndpoint!,
      events: this.events.lastEndpoint!,
    };
    const onErr = (what: string) => (e: Error) => this.log.warn({ err: e.message }, `${what} send failed`);
    this.controlOut = new Outbox(this.control, onErr("control"));
    this.eventOut = new Outbox(this.events, onErr("event"), 10_000);
    void this.controlLoop();
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs);
    this.log.info({ ...this.endpoints, transport: this.players.transport }, "director listening");
    if (this.opts.insecure) this.warnInsecure();
    return this.endpoints;
  }

  /**
   * Close the sockets. With `farewell` (the Director is going away for good, e.g. its scan is over), every live
   * player is first told so (`shutdown`, docs/protocol.md) and leaves; without it, players keep trying to register
   * again (a Director restarted on the same endpoint finds them back).
   */
  async close(farewell?: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.state !== "idle") this.abort("director closing");
    if (farewell !== undefined) for (const e of this.registry.all()) if (e.alive) this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "shutdown", reason: farewell });
    await this.players?.flush(500);
    this.controlOut?.close();
    this.eventOut?.close();
    this.players?.close();
    this.control.close();
    this.events.close();
    this.zap?.close();
  }

  // ------------------------------------------------------------------ receiving

  /** Every message on the player socket (called by the transport, one call per message). */
  private onPlayerFrames(frames: Buffer[]): void {
    if (this.closed) return;
    try {
      this.onPlayerMessage(frames);
    } catch (e) {
      // never let one message take the director down
      this.log.error({ err: (e as Error).stack }, "error while handling a player message");
    }
  }

  private onPlayerMessage(frames: Buffer[]): void {
    const id = frames[0];
    const known = this.registry.byRoutingId(id);
    // a peer that is not registered may only register, at a bounded rate: a flood costs no decoding
    if (!known && !this.helloLimit.take(id.toString("latin1"), performance.now())) {
      this.counters.rateLimited++;
      return;
    }
    const d = decodeFromPlayer(frames, 1);
    if (d instanceof ProtocolError) {
      this.counters[d.kind]++;
      const peer = known?.name ?? `peer ${id.toString("hex")}`;
      // a registration that fails the checks gets `reject` (docs/protocol.md): the peer stops instead of retrying
      const isHello = d.kind === "badVersion" || d.msgType === "hello";
      if (this.refusedLog.shouldLog(`${d.kind}:${peer}:${d.message}`, performance.now()) !== null && this.mayLogRefusal()) {
        this.log.warn({ peer, reason: d.message, ...this.notLogged() }, "rejected a message");
        this.emit("protocol", { peer, reason: d.message });
      }
      if (isHello) this.counters.refused++;
      if (isHello) this.sendTo(id, { v: PROTOCOL_VERSION, type: "reject", code: d.kind === "badVersion" ? "bad-version" : "bad-hello", reason: d.message });
      else this.sendTo(id, { v: PROTOCOL_VERSION, type: "error", reason: d.message });
      return;
    }
    const msg = d.msg;
    if (msg.type === "hello") return this.onHello(id, msg);
    const entry = known;
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
      case "complete":
        return this.onComplete(entry, msg);
      case "data":
        return this.onData(entry, msg, d.payloads!);
      case "ready":
        return this.onReady(entry, msg);
      case "done":
        return this.onDone(entry, msg);
      case "bye":
        return this.onBye(entry, msg.reason);
      case "log":
        return (this.playerLogs ??= new PlayerLogRelay(this.log)).take(entry, msg, performance.now());
    }
  }

  private onHello(id: Buffer, h: Hello): void {
    const now = performance.now();
    // a registered peer re-sending hello (re-registration) is limited too; an unregistered one was limited above
    if (this.registry.byRoutingId(id) && !this.helloLimit.take(id.toString("latin1"), now)) {
      this.counters.rateLimited++;
      return;
    }
    const refusal = this.admission.check(h) ?? (!this.registry.get(h.name) && this.registry.size >= MAX_REGISTRY ? { code: "registry-full" as const, reason: `the Director already has ${MAX_REGISTRY} registered players` } : null);
    if (refusal) return this.refuse(id, h, refusal, now);
    const before = this.registry.get(h.name);
    const wasParticipating = before?.participating ?? false;
    const wasLost = before !== undefined && !before.alive;
    const { entry, added, newInstance } = this.registry.register(id, h, now);
    // priorities are read from the players (the original's rule); a scenario may pin one for this scan
    const lv = this.admission.levelFor(h.name, h.level);
    if (!entry.participating && entry.pendingLevel === null && (added || newInstance)) entry.level = lv.level;
    if (lv.notice && (added || newInstance)) {
      this.log.warn({ player: h.name, declared: h.level, pinned: lv.level }, lv.notice);
      this.emit("player", { name: h.name, event: "level-pinned", level: lv.level, declared: h.level, message: lv.notice });
    }
    this.sendTo(id, { v: PROTOCOL_VERSION, type: "welcome", name: entry.name, session: this.session, hbInterval: this.opts.hbIntervalMs, hbTimeout: this.opts.hbTimeoutMs, level: entry.level, ...(lv.notice ? { notice: lv.notice } : {}), ...this.logsField() });
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

  /** Refuse a registration: `reject` to the peer, counted, logged once per reason and name (rate-limited). */
  private refuse(id: Buffer, h: Hello, r: Refusal, now: number): void {
    this.counters.refused++;
    this.sendTo(id, { v: PROTOCOL_VERSION, type: "reject", code: r.code, reason: r.reason });
    const suppressed = this.refusedLog.shouldLog(`${r.code}:${h.name.slice(0, 64)}`, now);
    if (suppressed === null || !this.mayLogRefusal()) return;
    this.log.warn({ player: h.name, host: h.host, pid: h.pid, code: r.code, ...(suppressed ? { suppressed } : {}), ...this.notLogged() }, `registration refused: ${r.reason}`);
    this.emit("protocol", { peer: h.name, reason: `registration refused: ${r.reason}`, code: r.code });
  }

  private mayLogRefusal(): boolean {
    if (this.refusalLogLimit.take("all", performance.now())) return true;
    this.refusalsNotLogged++;
    return false;
  }

  /** How many refusals went unlogged since the last logged one (the log says so once it logs again). */
  private notLogged(): { notLogged?: number } {
    const n = this.refusalsNotLogged;
    this.refusalsNotLogged = 0;
    return n ? { notLogged: n } : {};
  }

  private onBack(entry: PlayerEntry): void {
    entry.alive = true;
    this.log.info({ player: entry.name }, "player is alive again");
    this.emit("player", { name: entry.name, event: "back", level: entry.level });
    const m = this.barrier?.members.get(entry.name);
    if (m && m.state === "faulted" && (m.fault?.startsWith("lost") || m.fault?.startsWith("timeout")) && entry.readyFor === this.runId) this.resend(m);
  }

  private onAck(entry: PlayerEntry, a: Ack): void {
    const b = this.barrier;
    if (!b || a.run !== b.run || a.trig !== b.trig || a.lvl !== b.lvl) {
      this.counters.stale++;
      return;
    }
    const m = b.members.get(entry.name);
    if (m && m.seq === a.seq && m.state === "faulted" && m.fault?.startsWith("timeout") && entry.readyFor === b.run && m.attempts <= Math.max(1, this.policyFor(entry.name).retries)) {
      // a late ack (ok or cancelled) for the request that timed out: the player is alive and idle again. As for a
      // player that comes back, the trigger is re-sent to it (new seq) without an operator; a player that keeps
      // missing its deadline stays paused after `retries` re-sends
      this.counters.stale++;
      this.log.info({ player: entry.name, trig: b.trig, lvl: b.lvl }, "late ack after a timeout: the player is back, re-sending the trigger");
      this.resend(m);
      return;
    }
    if (a.ok) {
      if (!b.ack(entry.name, a.seq, a.dt)) this.counters.stale++;
      else {
        entry.lastAckMs = entry.lastSeen - b.t0; // lastSeen: this message's arrival
        this.deadTime.action(entry.name, b.lvl, a.phases);
        // overlap: the action goes on (read-out); the trigger is done only after its `complete`
        if (a.pending) {
          const dl = this.deadlineOf(entry.name, b.trig, "readout");
          this.completion.expect({ trig: b.trig, lvl: b.lvl, t: b.simT, player: entry.name, seq: a.seq, deadline: performance.now() + dl.ms, since: performance.now(), limit: dl });
        }
      }
      return;
    }
    if (!m || m.seq !== a.seq || m.state !== "waiting") {
      this.counters.stale++;
      return;
    }
    this.counters.errorAcks++;
    this.onFault(entry, "error", a.error ?? "action failed (no message)");
  }

  /** The end of an action that was acknowledged early: its rows arrived before this message. */
  private onComplete(entry: PlayerEntry, c: Complete): void {
    const p = c.run === this.runId ? this.completion.complete(entry.name, c.trig, c.seq) : undefined;
    if (!p) {
      this.counters.stale++;
      return;
    }
    this.deadTime.action(entry.name, p.lvl, c.phases);
    // the scan is over when its last read-out has ended (simulated time)
    if (c.dt !== undefined) this.lastReadyS = Math.max(this.lastReadyS, p.t + c.dt);
    if (!c.ok) {
      this.counters.errorAcks++;
      this.recordGap(p.player, p.trig, p.lvl, `read-out after the acknowledgement failed: ${c.error ?? "no message"}`);
    }
    this.releaseDone();
  }

  /** Stop waiting for a read-out: a gap, and the action is cancelled so the player can go on. */
  /** An action's deadline: from the plan (timing model) or the player's fixed actionTimeout. */
  private deadlineOf(player: string, trig: number, phase: "action" | "readout"): { ms: number; note?: string } {
    return this.plan?.deadline?.(player, trig, phase) ?? { ms: this.policyFor(player).actionTimeoutMs };
  }

  private giveUpReadout(p: { player: string; trig: number; lvl: number; seq: number }, message: string): void {
    this.counters.timeouts++;
    this.recordGap(p.player, p.trig, p.lvl, message, "timeout");
    const e = this.registry.get(p.player);
    if (e && this.runId) this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "cancel", run: this.runId, seq: p.seq });
  }

  /** A read-out that failed or never ended: the trigger goes on without that player's rows (a gap in the file). */
  private recordGap(player: string, trig: number, lvl: number, message: string, kind: FaultRecord["kind"] = "error"): void {
    const f: FaultRecord = { trig, lvl, player, kind, message, action: "gap" };
    this.faults.push(f);
    this.log.error({ player, trig, lvl }, message);
    this.emit("fault", { run: this.runId, ...f });
  }

  /** Release the triggers that are done (in order): their rows are in the sink. */
  private releaseDone(): void {
    // a player that is gone (lost, disabled, leaving) owes nothing any more: its rows become gaps
    if (this.completion.waiting.actions) {
      for (const [name, trig] of this.completion.busy()) {
        const e = this.registry.get(name);
        if (e && e.alive && e.enabled && !e.leaving) continue;
        for (const p of this.completion.drop(name)) {
          this.recordGap(name, p.trig, p.lvl, `player ${e ? (e.alive ? "disabled or leaving" : "lost") : "removed"} before its read-out of trigger ${trig} ended`, e && !e.alive ? "lost" : "error");
          // a player only thought lost (a stall) must not stay in that read-out: its next triggers queue behind it
          if (e && this.runId) this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "cancel", run: this.runId, seq: p.seq });
        }
      }
    }
    const done = this.completion.takeDone();
    for (const t of done) this.onTriggerDone?.(t);
    if (done.length) this.poke();
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

  /** welcome.logs: the lowest level the Director takes from players (its own logger's level). */
  private logsField(): { logs?: LogLevelName } {
    const logs = forwardedLevel(this.log.level);
    return logs ? { logs } : {};
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
      if (!this.controlLimit.take(id.toString("latin1"), performance.now())) {
        this.counters.rateLimited++;
        continue;
      }
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
      case "admit":
        this.admit(r.player!);
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
    if (this.pauseReasons.delete("write")) {
      // the writes held since the fault are tried again; a new fault pauses again
      this.writeFaultMessage = null;
      this.plan?.sink?.retry?.();
    }
    const b = this.barrier;
    if (b) {
      for (const m of b.faulted()) {
        if (m.entry.alive && m.entry.readyFor === b.run) this.resend(m);
      }
    }
    this.updatePausedState();
    this.releaseGate();
  }

  /** Finish the current trigger, then closeout. Before the first trigger (planning), the run ends at once. */
  stop(reason = "stopped by the operator"): void {
    if (this.runId === null) {
      // not running yet (e.g. waiting for a remote player to register): end that wait, and the run if it starts
      this.preRunStop ??= reason;
      this.failWaiters(new RunInterrupted(reason));
      return;
    }
    this.stopRequested = true;
    this.stopReason ??= reason;
    if (this.state === "planning") this.failWaiters(new RunInterrupted(reason));
    this.pauseReasons.delete("operator");
    this.pauseReasons.delete("write"); // closeout closes the file with what was written; held rows are masked
    for (const w of this.abortWaiters.splice(0)) w(); // a back-pressure wait ends too (a stalled writer never frees it)
    const hasFaultPause = [...this.pauseReasons].some((r) => r.startsWith("fault:"));
    if (hasFaultPause) this.barrier?.fail(new RunInterrupted("stopped while waiting for a faulted player"));
    if (this.state === "running" || this.state === "paused") this.setState("stopping", this.stopReason);
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

  /** Let a player the scenario does not name register (its hello still needs the run's credential). */
  admit(name: string): void {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`player name '${name}' is not valid (1-64 of letters, digits, _ . -)`);
    if (this.admission.isAdmitted(name)) return;
    this.admission.admit(name);
    this.log.warn({ player: name }, "operator admitted a player the scenario does not name");
    this.emit("player", { name, event: "admitted", level: -1 });
  }

  private warnInsecure(): void {
    const text = `INSECURE: sockets bound to ${this.opts.host} without CURVE (--insecure): anyone who can reach this host can read the status, drive the scan and, with the run token, register players`;
    this.log.warn({ host: this.opts.host }, text);
    this.emit("security", { insecure: true, message: text });
  }

  private mustGet(name: string): PlayerEntry {
    const e = this.registry.get(name);
    if (!e) throw new Error(`no player named '${name}' (registered: ${this.registry.all().map((p) => p.name).join(", ") || "none"})`);
    return e;
  }

  status(): DirectorStatus {
    const now = performance.now();
    const paused = [...this.pauseReasons].map((r) => (r === "write" && this.writeFaultMessage ? `write error: ${this.writeFaultMessage}` : r));
    // bounded: every live or participating player, then dead ones up to MAX_DEAD_LISTED (the rest counted)
    const listed: PlayerEntry[] = [];
    let dead = 0;
    for (const p of this.registry.all()) {
      if (p.alive || p.participating) listed.push(p);
      else if (dead++ < MAX_DEAD_LISTED) listed.push(p);
    }
    const busy = this.completion.busy();
    return {
      state: this.state,
      run: this.runId ?? undefined,
      trig: this.barrier?.trig,
      lvl: this.barrier?.lvl,
      triggers: this.plan?.triggers,
      simTime: this.simTime,
      levelSimS: this.levelSimS.length ? this.levelSimS.map((x) => x ?? 0) : undefined,
      players: listed.map((p) => {
        const s = p.status(now);
        const r = busy.get(p.name);
        return r === undefined ? s : { ...s, readout: r };
      }),
      playersNotListed: dead > MAX_DEAD_LISTED ? dead - MAX_DEAD_LISTED : undefined,
      counters: { ...this.counters },
      pausedBecause: paused.length ? paused.join(", ") : undefined,
      waitingFor: this.awaited ? this.awaited.filter((n) => !this.registry.get(n)?.alive) : undefined,
      insecure: this.opts.insecure ? true : undefined,
      memory: { rssMB: Math.round(process.memoryUsage.rss() / 1048576), heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1048576) },
    };
  }

  // ------------------------------------------------------------------ running a scan

  /** Wait until the named players are registered (or the deadline passes). */
  async waitForPlayers(names: string[], timeoutMs: number): Promise<void> {
    if (this.preRunStop) throw new RunInterrupted(this.preRunStop);
    this.awaited = names;
    try {
      await this.waitUntil(
        () => names.every((n) => this.registry.get(n)?.alive),
        timeoutMs,
        () => `players not registered after ${+(timeoutMs / 1000).toFixed(1)} s: ${names.filter((n) => !this.registry.get(n)?.alive).join(", ")}`,
      );
    } finally {
      this.awaited = null;
    }
  }

  /** Players waited for (waitForPlayers, or a run's `require` while planning) that are not registered yet. */
  private awaited: string[] | null = null;

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
    this.completion.reset();
    this.deadTime = new DeadTimeMeter();
    this.lastReadyS = 0;
    this.levelSimS = [];
    this.faults = [];
    this.stopRequested = false;
    this.abortReason = null;
    this.pauseReasons.clear();
    this.abortWaiters = [];
    this.levelPlanDirty = true;
    let status: RunOutcome = "completed";
    let message: string | undefined;
    this.firstTrig = first;
    /** Last trigger number that completed every level. */
    let completed = first - 1;
    let sinkResult: unknown;
    let sinkOpen = false;
    let finalStatus: RunStatus | null = null;
    let gaps: StreamGap[] = [];
    let file: string | undefined;
    this.writeFaultMessage = null;
    this.stopReason = undefined;
    if (this.preRunStop) {
      this.stopRequested = true;
      this.stopReason = this.preRunStop;
      this.preRunStop = null;
    }
    if (plan.sink) plan.sink.onWriteFault = (f) => this.onWriteFault(f);
    this.setState("planning");
    this.emit("run", { run, event: "started", triggers: plan.triggers, ...(this.opts.insecure ? { insecure: true } : {}) });
    if (this.opts.insecure) this.warnInsecure();
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
      if (this.stopRequested) throw new RunInterrupted(this.stopReason ?? "stopped before the first trigger");
      if (plan.require?.length) {
        this.awaited = plan.require;
        try {
          await this.waitUntil(
            () => plan.require!.every((n) => this.registry.get(n)?.alive),
            plan.waitForPlayersMs ?? 10_000,
            () => `planning: required players not registered within ${plan.waitForPlayersMs ?? 10_000} ms: ${plan.require!.filter((n) => !this.registry.get(n)?.alive).join(", ")}`,
          );
        } finally {
          this.awaited = null;
        }
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
      if (this.stopRequested) throw new RunInterrupted(this.stopReason ?? "stopped before the first trigger");
      const failed = starting.filter((e) => e.preFailed !== undefined && e.enabled);
      if (failed.length) throw new RunFailed(`planning: ${failed.map((e) => e.preFailed).join("; ")}`);
      for (const e of starting) if (e.enabled) e.participating = e.everJoined = true;
      if (plan.sink) {
        await plan.sink.open(
          { runId: run, plannedTriggers: plan.plannedTotal !== undefined ? plan.plannedTotal : plan.triggers, startTime: new Date() },
          starting.filter((e) => e.participating).flatMap((e) => e.streams.map((decl) => ({ player: e.name, decl }))),
        );
        sinkOpen = true;
      }
      this.setState(this.pauseReasons.size ? "paused" : "running");

      let lastProgress = 0;
      // a trigger counts as done (event stream, progress) when its rows are in (completion: late rows after early
      // acks) and the sink has it safe: at once, or when the sink's journal reports it (defersDone; the loop does not
      // wait for that)
      const deferred = plan.sink?.defersDone === true;
      const reportDone = (trig: number) => {
        // progress events are coalesced (at most one per progressEventMs, plus the last): the event stream is for
        // humans and GUIs, and a PUB send per trigger would cost a measurable share of the trigger rate
        const nowMs = performance.now();
        if (nowMs - lastProgress >= this.opts.progressEventMs || trig === plan.triggers) {
          lastProgress = nowMs;
          this.emit("trigger", { run, trig, simTime: this.simTime });
        }
        plan.onTrigger?.(trig, this.simTime);
      };
      if (plan.sink) plan.sink.onDone = deferred ? reportDone : undefined;
      this.onTriggerDone = (trig) => {
        completed = trig;
        plan.sink?.noteTrigger(trig);
        if (!deferred) reportDone(trig);
      };
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
        if (this.abortReason || this.stopRequested) break;
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
        this.completion.levelsDone(trig);
        this.releaseDone();
      }
      // read-outs still under way after early acks (overlap): the last triggers are done when their rows are in
      if (!this.abortReason) await this.waitCompletions(plan.closeoutDataTimeoutMs ?? 10_000);
      this.simTime = Math.max(this.simTime, this.lastReadyS);
      if (this.abortReason) {
        status = "aborted";
        message = this.abortReason;
      } else if (this.stopRequested) {
        status = "stopped";
        message = this.stopReason;
      } else if (plan.triggers !== null && completed < plan.triggers) {
        // ended before the planned end without an operator's stop (maxWallMs): stopped, not completed
        status = "stopped";
        message = `stopped after ${completed - first + 1} of ${plan.triggers - first + 1} planned triggers (time limit)`;
      } else if (plan.plannedTotal != null && plan.triggers !== null && plan.triggers < plan.plannedTotal) {
        status = "stopped";
        message = `stopped after trigger ${completed} of ${plan.plannedTotal} planned (trigger limit)`;
      }
    } catch (e) {
      if (this.abortReason) {
        status = "aborted";
        message = this.abortReason;
      } else if (this.stopRequested && e instanceof RunInterrupted) {
        status = "stopped";
        message = this.stopReason ?? (e as Error).message;
      } else {
        status = "failed";
        message = (e as Error).message;
        this.log.error({ run, err: message }, "run failed");
      }
    }
    if (this.writeFaultMessage && !message?.includes(this.writeFaultMessage)) message = [message, `write error: ${this.writeFaultMessage}`].filter(Boolean).join("; ");

    // a run that ends early (stop, abort, failure) does not count triggers whose read-out is still owed
    this.onTriggerDone = null;
    this.completion.reset();
    // ---- closeout (best effort, every wait bounded)
    this.setState("closeout", message);
    this.barrier = null;
    const answered = new Set<string>();
    try {
      await this.closeout(run, status, plan, answered);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "closeout incomplete");
    }
    if (plan.sink && sinkOpen) {
      if (!this.abortReason) {
        // A player sends its rows before its `done` (docs/protocol.md): once it answered, a row still missing will
        // not come (a trigger it failed, a row it never pushed). Late rows are waited for a short grace from every
        // player (a row handed over by another thread of a player), then only from those that did not answer.
        const unsettled = new Set(this.registry.all().filter((e) => !answered.has(e.name)).map((e) => e.name));
        const t = performance.now();
        const end = t + (plan.closeoutDataTimeoutMs ?? 10_000);
        const grace = t + Math.min(plan.closeoutDataTimeoutMs ?? 10_000, CLOSEOUT_GRACE_MS);
        for (let now = t; now < end; now = performance.now()) {
          const from = now < grace ? undefined : unsettled;
          if ((from && !from.size) || plan.sink.missing(completed, from) === 0) break;
          await sleepMs(10);
        }
      }
      this.sinkClosed.add(run);
      try {
        let deadTime: DeadTimeReport | undefined;
        try {
          deadTime = plan.deadTime?.(this.deadTime.result(this.simTime), { done: completed - first + 1, wallS: (performance.now() - t0) / 1000 });
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, "dead-time report failed");
        }
        const rep = await plan.sink.close({ status, lastTrigger: completed, lastIssued: Math.max(this.issued, completed), message, ...(deadTime ? { deadTime } : {}) });
        sinkResult = rep;
        if (rep && rep.status) finalStatus = rep.status;
        if (rep && rep.gaps) gaps = rep.gaps;
        if (rep && rep.file) file = rep.file;
      } catch (e) {
        this.log.error({ err: (e as Error).message }, "closing the data sink failed");
        message = (message ? message + "; " : "") + `closing the data file failed: ${(e as Error).message}`;
        if (status === "completed") finalStatus = "failed";
      }
    }
    const players = this.registry.all().filter((e) => e.participating).map((e) => e.name);
    for (const e of this.registry.all()) {
      e.participating = false;
      if (e.leaving) this.removePlayer(e);
    }
    const end: RunEnd = {
      run,
      status: finalStatus ?? status,
      reason: message,
      firstTrigger: first,
      lastTrigger: completed,
      lastIssued: Math.max(this.issued, completed),
      done: completed - first + 1,
      planned: plan.plannedTotal !== undefined ? plan.plannedTotal : plan.triggers,
      gaps,
      file,
    };
    if (end.status === "completed-with-gaps") {
      // the gaps are part of the reason, on every surface
      const g = gaps.map((x) => `${x.stream} ${x.ranges}`).join("; ");
      if (!end.reason?.includes("gaps:")) end.reason = [end.reason, `gaps: ${g}`].filter(Boolean).join("; ");
    }
    const result: RunResult = { runId: run, status: end.status, end, triggers: end.done, firstTrigger: first, lastTrigger: completed, simTime: this.simTime, wallMs: performance.now() - t0, faults: this.faults, message: end.reason, players, sink: sinkResult, deadTime: this.deadTime.result(this.simTime) };
    this.emit("run", { ...end, event: "ended", triggers: completed, message: end.reason });
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
      // its rows are expected up to the last trigger it was asked to act on (not one it was passed over)
      const lastActed = e.skippedAt === this.issued ? this.issued - 1 : this.issued;
      if (e.leaving) {
        if (e.participating) this.plan?.sink?.endStreams?.(e.name, lastActed);
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
        this.plan?.sink?.endStreams?.(e.name, lastActed);
      } else if (e.participating && eligible && lastActed < this.issued) {
        // disabled and enabled again within one trigger: no rows for the trigger it sat out, expected again from here
        this.plan?.sink?.endStreams?.(e.name, lastActed);
        for (const decl of e.streams) this.plan?.sink?.addStream({ player: e.name, decl });
      }
      else if (!e.participating && eligible && e.readyFor === run && e.alive) {
        e.participating = e.everJoined = true;
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
    b.simT = t;
    for (const e of group.players) {
      // left or disabled since the trigger's boundary: not waited for (it is removed at the next boundary)
      if (e.leaving || !e.enabled) {
        e.skippedAt = trig;
        continue;
      }
      const seq = ++this.seq;
      const dl = this.deadlineOf(e.name, trig, "action");
      const m = b.add(e, seq, now + dl.ms);
      m.limit = dl;
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
    this.deadTime.level(group.lvl, b.maxDt);
    this.levelSimS[group.lvl] = (this.levelSimS[group.lvl] ?? 0) + b.maxDt;
  }

  private sendTrig(m: BarrierMember, tp: TriggerParams | undefined, t: number): void {
    const b = this.barrier!;
    let params = EMPTY;
    if (tp) {
      const lv = tp.levels?.[b.lvl];
      const pl = tp.players?.[m.entry.name];
      params = lv || pl ? { ...tp.point, ...lv, ...pl } : (tp.point ?? EMPTY);
    }
    this.players.send([m.entry.routingId, encodeTrig(b.run, b.trig, b.lvl, m.seq, params, t)]);
  }

  /** Re-send the current trigger to one member with a fresh seq. */
  private resend(m: BarrierMember): void {
    const b = this.barrier!;
    const seq = ++this.seq;
    const dl = this.deadlineOf(m.entry.name, b.trig, "action");
    b.rearm(m.entry.name, seq, performance.now() + dl.ms);
    m.limit = dl;
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

  /** A failure below the sink (disk full, I/O error): pause with the reason (resume retries) or abort. */
  private onWriteFault(f: WriteFault): void {
    if (this.runId === null) return;
    this.writeFaultMessage = f.message;
    const action = this.plan?.onWriteError === "abort" ? "abort" : "pause";
    const rec: FaultRecord = { trig: this.issued, lvl: -1, player: "writer", kind: "write", message: f.message, action };
    this.faults.push(rec);
    this.log.info({ ...rec }, `write error: ${f.message}`); // the CLI prints one clear line from the event
    this.emit("fault", { run: this.runId, ...rec });
    if (action === "abort") this.abort(`write error: ${f.message}`);
    else {
      this.pauseReasons.add("write");
      if (this.state === "running" || this.state === "paused") this.setState("paused", `write error: ${f.message}`);
    }
  }

  private policyFor(name: string): PlayerPolicy {
    const p = this.plan;
    // made once per player and plan (deadlineOf asks for every player on every trigger)
    if (this.policies.plan !== p) this.policies = { plan: p, byName: new Map() };
    let pol = this.policies.byName.get(name);
    if (!pol) this.policies.byName.set(name, (pol = { onFault: "pause", retries: 2, actionTimeoutMs: 30_000, ...p?.policy, ...p?.perPlayer?.[name] }));
    return pol;
  }

  private policies: { plan: RunPlan | null; byName: Map<string, PlayerPolicy> } = { plan: null, byName: new Map() };

  private sendPre(e: PlayerEntry): void {
    const seq = ++this.seq;
    e.preSeq = seq;
    e.preDeadline = performance.now() + (this.plan?.phaseTimeoutMs ?? 30_000);
    const config = this.plan?.config?.[e.name] ?? EMPTY;
    this.sendTo(e.routingId, { v: PROTOCOL_VERSION, type: "pre", run: this.runId, seq, config, t: this.simTime });
  }

  /** Post to the run's players and wait (bounded) for their `done`; returns the players that answered. */
  private async closeout(run: string, status: RunStatus, plan: RunPlan, answered: Set<string>): Promise<void> {
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
      for (const e of targets) if (!this.postSeqs.has(e.name) && e.alive) answered.add(e.name);
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

  /**
   * Wait (bounded) for the read-outs still under way after early acks. A player that does not complete in time
   * leaves a gap for that trigger (a fault record names it), and the trigger is released: the file tells the gap.
   */
  private async waitCompletions(timeoutMs: number): Promise<void> {
    if (!this.completion.waiting.triggers) return;
    try {
      await this.waitUntil(() => this.completion.waiting.triggers === 0, timeoutMs, () => `read-outs not completed within ${timeoutMs} ms`);
    } catch (e) {
      if (this.abortReason) throw e;
      for (const p of this.completion.dropAll()) this.giveUpReadout(p, `no 'complete' for trigger ${p.trig} within ${timeoutMs} ms after the last trigger (read-out never ended)`);
      this.releaseDone();
    }
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

  private lastStatusEvent = 0;
  /** Instrument time spent in each level this run, s (status: the operator's per-level time). */
  private levelSimS: number[] = [];

  private tick(): void {
    const now = performance.now();
    // the status as an event, once a second: observers (event stream only) see what `status` would answer
    if (now - this.lastStatusEvent >= 1000) {
      this.lastStatusEvent = now;
      this.emit("status", { status: this.status() });
    }
    if (now - this.lastHbSent >= this.opts.hbIntervalMs) {
      this.lastHbSent = now;
      const hb = encode({ v: PROTOCOL_VERSION, type: "hb" });
      for (const e of this.registry.all()) if (e.alive) this.players.send([e.routingId, hb]);
    }
    for (const e of this.registry.all()) {
      // an entry that never took part in a run and has been dead for a few heartbeat timeouts is forgotten
      if (!e.alive && !e.everJoined && !e.participating && e.readyFor === null && now - e.lastSeen > 3 * this.opts.hbTimeoutMs) {
        this.counters.pruned++;
        this.removePlayer(e);
        continue;
      }
      if (e.alive && now - e.lastSeen > this.opts.hbTimeoutMs) {
        e.alive = false;
        this.counters.lost++;
        this.log.warn({ player: e.name, silentMs: Math.round(now - e.lastSeen) }, "player lost (heartbeat timeout)");
        this.emit("player", { name: e.name, event: "lost", level: e.level });
        const m = this.barrier?.members.get(e.name);
        if (m && m.state === "waiting") this.onFault(e, "lost", `no heartbeat for ${Math.round(now - e.lastSeen)} ms`);
        if (e.leaving && !e.participating) this.removePlayer(e);
        this.releaseDone();
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
    if (this.completion.waiting.actions) {
      // a read-out after an early ack has the player's action deadline too: past it, the trigger goes on with a gap
      const late = this.completion.overdue(now);
      for (const p of late) this.giveUpReadout(p, `phase read-out: no 'complete' for trigger ${p.trig} after its ack: ${describeDeadline(p.limit, now - p.since)}`);
      if (late.length) this.releaseDone();
    }
    const b = this.barrier;
    if (b && !b.settled) {
      for (const m of b.members.values()) {
        if (m.state === "waiting" && now > m.deadline) {
          this.counters.timeouts++;
          this.onFault(m.entry, "timeout", m.limit?.note ? `phase action: no ack: ${describeDeadline(m.limit, now - (m.deadline - m.limit.ms))}` : `no ack within ${m.limit?.ms ?? this.policyFor(m.entry.name).actionTimeoutMs} ms`);
        } else if (m.state === "faulted" && m.fault?.startsWith("timeout") && m.entry.alive && m.entry.readyFor === b.run && !this.abortReason && !this.stopRequested) {
          // timed out, still heartbeating, and no late ack within another action timeout (its cancelled request
          // may have been dropped unanswered): it is healthy, so the trigger is re-sent, up to `retries` times
          const p = this.policyFor(m.entry.name);
          if (now > m.deadline + p.actionTimeoutMs && m.attempts <= Math.max(1, p.retries)) {
            this.log.info({ player: m.entry.name, trig: b.trig, lvl: b.lvl }, "no late ack from a live player after its timeout: re-sending the trigger");
            this.resend(m);
          }
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
    this.players.send([id, encode(msg)]);
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
    this.opts.onEvent?.(topic, body);
    if (!this.eventOut) return;
    this.eventOut.send([topic, encode({ v: PROTOCOL_VERSION, type: topic, ...body })]);
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** "expected ... ; elapsed 2.31 s (deadline 2.00 s)" for a timeout's fault message. */
function describeDeadline(limit: { ms: number; note?: string }, elapsedMs: number): string {
  return `${limit.note ? `${limit.note}; ` : ""}elapsed ${(elapsedMs / 1000).toFixed(2)} s of wall time (deadline ${(limit.ms / 1000).toFixed(2)} s)`;
}

/** Message types of protocol version 1 (see docs/protocol.md). */
import type { DType } from "../devices/common.ts";

export const PROTOCOL_VERSION = 1;

export type StreamRole = "signal" | "positioner" | "monitor" | "metadata";

/** A linear calibration of a stream's last dimension (e.g. the energy of each MCA bin: offset + step * i). */
export interface StreamAxis {
  name: string;
  units: string;
  offset: number;
  step: number;
}

export interface StreamDecl {
  name: string;
  dtype: DType;
  shape: number[];
  units?: string;
  role: StreamRole;
  alias?: string;
  axis?: StreamAxis;
}

export interface DeviceDecl {
  kind: string;
  model: string;
  simulated: boolean;
}

export type { RunStatus, RunOutcome, RunEnd, StreamGap } from "./run-status.ts";
import type { RunOutcome } from "./run-status.ts";

// ---- player -> director ----
export interface Hello {
  v: number;
  type: "hello";
  name: string;
  level: number;
  streams: StreamDecl[];
  device: DeviceDecl;
  instance: string;
  pid: number;
  host: string;
  join: "next-trigger" | "next-run";
  /** The run's credential (without CURVE): 32 hex characters handed out by `donki run` (docs/protocol.md "Admission"). */
  token?: string;
  /** Under CURVE: this player's public key (Z85) and `proof` of holding its secret (needed for name-limited keys). */
  key?: string;
  proof?: string;
}
export interface Ready {
  v: number;
  type: "ready";
  run: string;
  seq: number;
  ok: boolean;
  error?: string;
}
export interface Ack {
  v: number;
  type: "ack";
  run: string;
  trig: number;
  lvl: number;
  seq: number;
  ok: boolean;
  error?: string;
  dt?: number;
  /**
   * The action goes on after this ack (overlap: the exposure is over, read-out and data follow); a `complete`
   * for the same request ends it. Absent = the action is finished (every older player).
   */
  pending?: boolean;
  /** Simulated seconds per phase of the action so far (wait, exposure, move ...), for the dead-time report. */
  phases?: Record<string, number>;
}
/** End of an action acknowledged early (`ack.pending`): its rows were sent before this message. */
export interface Complete {
  v: number;
  type: "complete";
  run: string;
  trig: number;
  lvl: number;
  seq: number;
  ok: boolean;
  error?: string;
  /** Simulated seconds from the level's start until the player was ready again (virtual time). */
  dt?: number;
  /** Simulated seconds per phase after the ack (readout ...). */
  phases?: Record<string, number>;
}
/** One row of one stream in a data message; its bytes are the payload frame at the same index. */
export interface DataRow {
  stream: string;
  dtype: DType;
  shape: number[];
}
export interface DataHeader {
  v: number;
  type: "data";
  run: string;
  trig: number;
  /** The rows this message carries, in the order of the payload frames. */
  rows: DataRow[];
}
export interface Done {
  v: number;
  type: "done";
  run: string;
  seq: number;
  ok: boolean;
  error?: string;
}
export interface Heartbeat {
  v: number;
  type: "hb";
}
export interface Bye {
  v: number;
  type: "bye";
  reason?: string;
}
/** One of the player's log records, forwarded to the Director (only after a `welcome` with `logs`). */
export interface LogMsg {
  v: number;
  type: "log";
  level: LogLevelName;
  msg: string;
  /** The record's time, ms since the epoch (the player's clock). */
  t?: number;
  /** The record's other fields (scalars), at most 16. */
  fields?: Record<string, string | number | boolean>;
}
export type LogLevelName = "debug" | "info" | "warn" | "error" | "fatal";
export const LOG_LEVEL_NAMES: readonly LogLevelName[] = ["debug", "info", "warn", "error", "fatal"];
export type PlayerToDirector = Hello | Ready | Ack | Complete | DataHeader | Done | Heartbeat | Bye | LogMsg;

// ---- director -> player ----
export interface Welcome {
  v: number;
  type: "welcome";
  name: string;
  session: string;
  hbInterval: number;
  hbTimeout: number;
  /** The level that applies to this player (differs from the declared one when the scenario pins it). */
  level?: number;
  /** Something the player should report (e.g. its declared level was overridden). */
  notice?: string;
  /** The lowest level of log records the Director takes from this player (`log` messages); absent: none. */
  logs?: LogLevelName;
}
export interface Reject {
  v: number;
  type: "reject";
  reason: string;
  /** "bad-token" | "not-admitted" | "row-too-large" | "bad-hello" | "role" | "registry-full" | "bad-version" */
  code?: string;
}
export interface Pre {
  v: number;
  type: "pre";
  run: string;
  seq: number;
  config: Record<string, unknown>;
  t: number;
}
export interface Trig {
  v: number;
  type: "trig";
  run: string;
  trig: number;
  lvl: number;
  seq: number;
  params: Record<string, unknown>;
  t: number;
}
export interface Post {
  v: number;
  type: "post";
  run: string;
  seq: number;
  status: RunOutcome;
}
export interface AbortMsg {
  v: number;
  type: "abort";
  run: string;
}
export interface CancelMsg {
  v: number;
  type: "cancel";
  run: string;
  /** The request (trig) whose action must stop: its deadline passed. */
  seq: number;
}
export interface ErrorMsg {
  v: number;
  type: "error";
  reason: string;
  /** "unknown-peer": the Director does not know this sender (e.g. it restarted): register again. */
  code?: string;
}
/**
 * The Director is shutting down for good (its scan is over, or the operator ended it): the player leaves cleanly
 * instead of waiting for a Director that will not come back. Optional: an older player treats it as an unknown
 * message and notices the silence through its heartbeat timeout, as before.
 */
export interface Shutdown {
  v: number;
  type: "shutdown";
  reason?: string;
}
export type DirectorToPlayer = Welcome | Reject | Pre | Trig | Post | AbortMsg | CancelMsg | Heartbeat | ErrorMsg | Shutdown;

// ---- control channel ----
export type ControlCmd = "status" | "pause" | "resume" | "stop" | "abort" | "disable" | "enable" | "priority" | "admit";
export interface ControlRequest {
  v: number;
  type: "control";
  id: number | string;
  cmd: ControlCmd;
  player?: string;
  level?: number;
}
export interface ControlReply {
  v: number;
  type: "control-reply";
  id: number | string;
  ok: boolean;
  error?: string;
  status?: DirectorStatus;
}

export type DirectorState = "idle" | "planning" | "running" | "paused" | "stopping" | "closeout";

export interface DirectorCounters {
  malformed: number;
  badVersion: number;
  stale: number;
  unknownPeer: number;
  errorAcks: number;
  timeouts: number;
  lost: number;
  rejectedData: number;
  /** Registrations refused (bad token, name not admitted, row too large, bad fields). */
  refused: number;
  /** Registrations or control requests dropped by the per-peer rate limit. */
  rateLimited: number;
  /** Registry entries dropped because they never joined a run and were dead for a few heartbeat timeouts. */
  pruned: number;
}

export interface PlayerStatus {
  name: string;
  level: number;
  enabled: boolean;
  alive: boolean;
  lastSeenMs: number;
  host: string;
  pid: number;
  /** Overlap: the trigger this player is still reading out after its ack (not ready for the next one yet). */
  readout?: number;
}

export interface DirectorStatus {
  state: DirectorState;
  run?: string;
  trig?: number;
  lvl?: number;
  triggers?: number | null;
  simTime: number;
  /** Instrument time spent in each priority level this run, s (index = level). */
  levelSimS?: number[];
  /** Players listed: the live ones and those of the current run, then dead ones up to a bound. */
  players: PlayerStatus[];
  /** Dead registry entries counted but not listed (the reply stays bounded). */
  playersNotListed?: number;
  counters: DirectorCounters;
  pausedBecause?: string;
  /** While it waits for players to register before a run: the names still missing (absent otherwise). */
  waitingFor?: string[];
  /** The Director process's memory, MiB (resident set; JavaScript heap in use). */
  memory?: { rssMB: number; heapUsedMB: number };
  /** Present (true) when a socket is bound to a non-loopback address without CURVE (--insecure). */
  insecure?: boolean;
}

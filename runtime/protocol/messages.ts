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
export type PlayerToDirector = Hello | Ready | Ack | DataHeader | Done | Heartbeat | Bye;

// ---- director -> player ----
export interface Welcome {
  v: number;
  type: "welcome";
  name: string;
  session: string;
  hbInterval: number;
  hbTimeout: number;
}
export interface Reject {
  v: number;
  type: "reject";
  reason: string;
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
export type DirectorToPlayer = Welcome | Reject | Pre | Trig | Post | AbortMsg | CancelMsg | Heartbeat | ErrorMsg;

// ---- control channel ----
export type ControlCmd = "status" | "pause" | "resume" | "stop" | "abort" | "disable" | "enable" | "priority";
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
}

export interface PlayerStatus {
  name: string;
  level: number;
  enabled: boolean;
  alive: boolean;
  lastSeenMs: number;
  host: string;
  pid: number;
}

export interface DirectorStatus {
  state: DirectorState;
  run?: string;
  trig?: number;
  lvl?: number;
  triggers?: number | null;
  simTime: number;
  players: PlayerStatus[];
  counters: DirectorCounters;
  pausedBecause?: string;
}

import type { Device } from "./common.ts";

/** Axis identifier as the controller names it ("1", "2", "A", "X" ...). */
export type AxisId = string;

export interface AxisLimits {
  min: number;
  max: number;
}

export interface AxisStatus {
  position: number;
  onTarget: boolean;
  moving: boolean;
  servo: boolean;
  referenced: boolean;
}

/**
 * A multi-axis positioner (PI piezo stage through GCS 2.0, or its twin). Units are the controller's
 * (micrometres for PI piezo stages).
 */
export interface Positioner extends Device {
  axes(): Promise<AxisId[]>;
  units(): string;
  /** Absolute move; resolves when the command is accepted, not when the move ends. */
  moveAbsolute(targets: Record<AxisId, number>): Promise<void>;
  moveRelative(steps: Record<AxisId, number>): Promise<void>;
  position(axes?: AxisId[]): Promise<Record<AxisId, number>>;
  onTarget(axes?: AxisId[]): Promise<Record<AxisId, boolean>>;
  /** Resolve when all given axes are on target; rejects with a DeviceError after `timeoutS` (clock seconds). */
  waitOnTarget(axes: AxisId[], timeoutS: number, signal?: AbortSignal): Promise<void>;
  setVelocity(v: Record<AxisId, number>): Promise<void>;
  velocity(axes?: AxisId[]): Promise<Record<AxisId, number>>;
  limits(axes?: AxisId[]): Promise<Record<AxisId, AxisLimits>>;
  setServo(on: Record<AxisId, boolean>): Promise<void>;
  servo(axes?: AxisId[]): Promise<Record<AxisId, boolean>>;
  /** Reference axes that need it (no-op for absolute sensors); resolves when referenced. */
  reference(axes: AxisId[], timeoutS: number): Promise<void>;
  needsReferencing(axis: AxisId): Promise<boolean>;
  status(axis: AxisId): Promise<AxisStatus>;
  /** Stop all motion now. */
  stop(): Promise<void>;
}

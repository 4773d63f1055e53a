import type { Device } from "./common.ts";

/** A set-point controller (sample temperature). */
export interface SetpointController extends Device {
  units(): string;
  setpoint(): Promise<number>;
  setSetpoint(value: number): Promise<void>;
  /** Ramp rate in units per minute; 0 = step. */
  setRamp(ratePerMin: number): Promise<void>;
  read(): Promise<number>;
  /** True when the value has stayed within the tolerance of the set-point for the stability time. */
  stable(): Promise<boolean>;
  /** Resolve when stable or reject after timeoutS (clock seconds). */
  waitStable(timeoutS: number, signal?: AbortSignal): Promise<void>;
}

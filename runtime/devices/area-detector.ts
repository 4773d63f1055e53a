import type { Device } from "./common.ts";

export interface Roi {
  /** 0-based first column and row, inclusive, in unbinned pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export type TriggerMode = "internal" | "external" | "external-exposure" | "software";
export type ShutterMode = "auto" | "open" | "closed" | "none";

export interface CoolingStatus {
  temperatureC: number;
  setpointC: number;
  coolerOn: boolean;
  state: "off" | "not-reached" | "not-stabilized" | "stabilized" | "drift";
}

export interface AreaDetectorTiming {
  exposureS: number;
  readoutS: number;
  /** Time from start of one frame to start of the next in a sequence. */
  cycleS: number;
}

export interface Frame {
  width: number;
  height: number;
  /** Row-major pixel data; 16-bit for all TWINMIC cameras. */
  data: Uint16Array;
  /** Device time (clock seconds) at the start of the exposure. */
  timestamp: number;
  /** Exposure really applied (quantised by the device). */
  exposureS: number;
  /** 1-based frame counter since connect. */
  number: number;
  /** Pixels clipped by the full well or the ADC (when the device knows; else the player counts full-scale pixels). */
  saturated?: number;
}

export interface AreaDetectorSettings {
  exposureS: number;
  roi: Roi;
  binning: { x: number; y: number };
  /** Read-out speed: ADC rate or horizontal shift rate, in Hz. */
  readoutRateHz: number;
  /** Analog gain index (pre-amp gain) */
  gainIndex: number;
  /** EM gain (EMCCDs only; 0 or 1 = off). */
  emGain: number;
  triggerMode: TriggerMode;
  shutter: ShutterMode;
  /** Frame transfer mode (frame-transfer sensors only). */
  frameTransfer: boolean;
}

/**
 * Options of one acquisition for overlapped scanning (docs/scenarios.md "Overlap"). A device that cannot tell the
 * end of the exposure ignores them: its acquisition then ends the action as a whole (no overlap).
 */
export interface AcquireOptions {
  /**
   * Called once when the exposure is over and the sensor no longer collects charge (shutter closed, charge in the
   * storage area of a frame-transfer sensor): what comes after is read-out only, and the sample may move.
   */
  onExposureEnd?: (e: ExposureEnd) => void;
  /**
   * Frames follow each other as in a triggered sequence: the previous frame's read-out emptied the sensor, so no
   * clear cycles before this exposure (PVCAM CLEAR_PRE_SEQUENCE) unless the sensor sat idle (dark charge).
   */
  continuous?: boolean;
}

/** What the sensor can do once an exposure is over (passed to `AcquireOptions.onExposureEnd`). */
export interface ExposureEnd {
  /**
   * The image area is free for the next exposure now, while this frame still reads out: a frame-transfer sensor
   * has shifted the charge into its masked storage area (Andor iXon manual, "Frame Transfer"). The next `acquire()`
   * may then be called before this one returns (it exposes during this frame's read-out). False for a full-frame
   * sensor, which reads out through the image area.
   */
  imageAreaFree: boolean;
}

/** A CCD/EMCCD camera (Princeton Instruments X-ray CCD, Andor iXon, or their twins). */
export interface AreaDetector extends Device {
  /** Full sensor size in pixels. */
  sensor(): { width: number; height: number; pixelSizeUm: number; bitDepth: number };
  /** Available read-out rates in Hz. */
  readoutRates(): number[];
  settings(): AreaDetectorSettings;
  /** Apply (part of) the settings; validates against the device, throws DeviceError on bad values. */
  configure(s: Partial<AreaDetectorSettings>): Promise<AreaDetectorSettings>;
  /** Timing the device really applies with the current settings. */
  timing(): AreaDetectorTiming;
  /** Acquire one frame (exposure + read-out), honouring the clock. */
  acquire(signal?: AbortSignal, opts?: AcquireOptions): Promise<Frame>;
  /** Acquire `n` frames; `onFrame` is called for each as it is read out. */
  acquireSequence(n: number, onFrame: (f: Frame) => void | Promise<void>, signal?: AbortSignal): Promise<void>;
  /** Abort an acquisition in progress. */
  abort(): Promise<void>;
  setCooling(on: boolean, setpointC?: number): Promise<void>;
  cooling(): Promise<CoolingStatus>;
  /** Resolve once the sensor is stabilised at its set-point (or reject after timeoutS clock seconds). */
  waitCooled(timeoutS: number, signal?: AbortSignal): Promise<void>;
}

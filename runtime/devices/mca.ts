import type { Device } from "./common.ts";

export interface SpectrumStats {
  /** Real (wall) time of the acquisition, seconds. */
  realTimeS: number;
  /** Live time (real time minus dead time), seconds. */
  liveTimeS: number;
  /** Input count rate, counts per second (fast channel). */
  icr: number;
  /** Output count rate, counts per second (events in the spectrum / real time). */
  ocr: number;
  /** Dead time fraction 0..1 = 1 - live/real. */
  deadTime: number;
  /** Events in the spectrum. */
  counts: number;
}

export interface Spectrum {
  /** Counts per bin. */
  data: Uint32Array;
  stats: SpectrumStats;
  /** Device time at start (clock seconds). */
  timestamp: number;
}

export type GateMode = "free-running" | "trigger-rising" | "trigger-falling" | "trigger-both" | "gated-high" | "gated-low";

export interface McaSettings {
  bins: 1024 | 2048 | 4096;
  /** Preset real time per spectrum, seconds. */
  acquisitionTimeS: number;
  /** eV per bin and offset of bin 0 (energy calibration). */
  gainEvPerBin: number;
  offsetEv: number;
  peakingTimeUs: number;
  gate: GateMode;
}

/** A fluorescence spectrometer / pulse processor (XGLab DANTE or its twin). */
export interface Mca extends Device {
  settings(): McaSettings;
  configure(s: Partial<McaSettings>): Promise<McaSettings>;
  /**
   * Acquire one spectrum for the preset time. `opts.onDwellEnd` (overlap) is called when the preset time is over:
   * what remains is the transfer of the spectrum (a device that cannot tell ignores it).
   */
  acquire(signal?: AbortSignal, opts?: { onDwellEnd?: () => void }): Promise<Spectrum>;
  /**
   * Mapping mode: `points` spectra of `dwellS` each, closed by the gate per trigger. `onSpectrum`
   * receives each one in order.
   */
  acquireMap(points: number, dwellS: number, onSpectrum: (i: number, s: Spectrum) => void | Promise<void>, signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  /** Channel energies (eV) of the bin centres. */
  energies(): Float64Array;
}

import type { Device } from "./common.ts";

export interface CounterReading {
  /** Counts (or integrated ADC value) per channel over the gate. */
  values: Float64Array;
  gateS: number;
  timestamp: number;
}

/** Simple I/O: counters / ADCs reading a photodiode or an ion chamber over a gate time. */
export interface IoCounter extends Device {
  channels(): string[];
  units(): string;
  /** Count for `gateS` clock seconds. */
  count(gateS: number, signal?: AbortSignal): Promise<CounterReading>;
}

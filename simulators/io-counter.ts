/**
 * Twin of the beam intensity counters (V2F + counter, or a scaler): I0 (upstream, incident flux) and It
 * (photodiode behind the specimen, transmitted flux).
 *
 *   I0 ~ Poisson(F * gate * eff0 + dark0 * gate),  It ~ Poisson(F * T(x, y, E) * gate * effT + darkT * gate)
 *
 * I0 is a thin monitor upstream of the specimen that counts a stated fraction of the photons (default 1 %, an
 * estimate for a thin foil/mesh drain-current monitor behind a V2F); It a photodiode behind the specimen
 * (default 80 %). With nothing in the beam It/I0 = effT/eff0 (`emptyBeamRatio()`), the value transmission is
 * normalised by. T includes the support membrane, so a blank membrane reads exp(-mu t) < 1.
 *
 * Timing: count(gate) takes gate + overheadS (arming + read-back). Overrange fault: every channel reads full
 * scale (2^32 - 1), like a saturated V2F.
 */
import type { CounterReading, IoCounter } from "../runtime/devices/io.ts";
import { TwinBase, anySignal, type TwinCodes, type TwinOptions } from "./twin-base.ts";
import { transmissionAt } from "./beam.ts";

export interface IoCounterConfig {
  /** Channel names; "I0" = incident, "It" = transmitted, anything else reads only its dark rate. */
  channels: string[];
  /** Detection efficiency per channel (fraction of the photons counted). */
  efficiency: Record<string, number>;
  /** Dark counts per second per channel. */
  darkCps: Record<string, number>;
  overheadS: number;
  maxGateS: number;
  fullScale: number;
}

export const IO_DEFAULTS: IoCounterConfig = {
  channels: ["I0", "It"],
  efficiency: { I0: 0.01, It: 0.8 },
  darkCps: { I0: 50, It: 50 },
  overheadS: 0.0005,
  maxGateS: 1000,
  fullScale: 4294967295,
};

export interface IoCounterTwinOptions extends TwinOptions {
  config?: Partial<IoCounterConfig>;
  model?: string;
}

export class IoCounterTwin extends TwinBase implements IoCounter {
  protected readonly kind = "io" as const;
  protected readonly model: string;
  protected readonly codes: TwinCodes = {
    notConnected: ["NOT_CONNECTED", "not connected"],
    busy: ["BUSY", "counting in progress"],
    badArgument: ["RANGE", "gate out of range"],
    timeout: ["TIMEOUT", "timeout"],
    communication: ["COMM", "communication error"],
    error: ["ERROR", "counter error"],
    aborted: ["ABORTED", "aborted"],
  };
  readonly cfg: IoCounterConfig;
  private busy = false;

  constructor(o: IoCounterTwinOptions) {
    super(o, "io", o.connectS ?? 0.01);
    this.cfg = { ...IO_DEFAULTS, ...(o.config ?? {}) };
    this.model = o.model ?? "I0/It counters (twin)";
  }

  channels(): string[] {
    return [...this.cfg.channels];
  }

  units(): string {
    return "counts";
  }

  /** Modelled time of count(gateS) (does not sleep). */
  cycleTime(gateS: number): number {
    return gateS + this.cfg.overheadS;
  }

  /** It/I0 (dark-subtracted) with nothing in the beam: effT / eff0. */
  emptyBeamRatio(): number {
    const e = this.cfg.efficiency;
    return (e.It ?? 0) / (e.I0 ?? 1);
  }

  /** Expected counts per channel for a gate with the beam as it is now. */
  expectedCounts(gateS: number, beam = this.env.beam.snapshot()): Float64Array {
    const c = this.cfg;
    const T = transmissionAt(this.env.specimen, beam);
    const f = beam.on ? beam.fluxPhS : 0;
    return Float64Array.from(c.channels, (ch) => {
      const dark = (c.darkCps[ch] ?? 0) * gateS;
      const eff = c.efficiency[ch] ?? 0;
      if (ch === "I0") return f * gateS * eff + dark;
      if (ch === "It") return f * T * gateS * eff + dark;
      return dark;
    });
  }

  async count(gateS: number, signal?: AbortSignal): Promise<CounterReading> {
    if (!(Number.isFinite(gateS) && gateS > 0 && gateS <= this.cfg.maxGateS)) throw this.badArg(`gate ${gateS} s outside (0, ${this.cfg.maxGateS}]`);
    const called = this.clock.now();
    this.requireConnected();
    if (this.busy) throw this.error("already counting", "busy");
    this.busy = true;
    try {
      const over = await this.guard("count", signal);
      const t0 = this.startOf(called);
      const beam = this.env.beam.snapshot();
      const key = this.nextKey();
      const draw = () => {
        const mean = this.expectedCounts(gateS, beam);
        const rng = this.rng("count", key[0], key[1]);
        const values = new Float64Array(mean.length);
        for (let i = 0; i < mean.length; i++) values[i] = over ? this.cfg.fullScale : Math.min(this.cfg.fullScale, rng.poisson(mean[i]));
        return values;
      };
      // real or scaled time: the counts are drawn during the gate, so the host's CPU time for the simulation does not
      // lengthen it; virtual time: as before (no host time passes)
      if (this.clock.kind !== "virtual") {
        const values = draw();
        await this.clock.sleepUntil(t0 + gateS + this.cfg.overheadS, anySignal(signal));
        return { values, gateS, timestamp: t0 };
      }
      await this.clock.sleep(gateS + this.cfg.overheadS, anySignal(signal));
      return { values: draw(), gateS, timestamp: t0 };
    } finally {
      this.busy = false;
    }
  }
}

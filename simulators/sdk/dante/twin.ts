/**
 * DanteSdkTwin: libXGL_DPP simulated at the SDK boundary. It implements the same `DanteSdk` interface as the
 * koffi binding, so the real driver logic (drivers/dante/driver.ts) runs unchanged on top of it. Spectra,
 * statistics and dead time come from `XglabDanteTwin` (simulators/dante.ts); this class adds what the library
 * does around them: initialisation and the one-process lock (79), discovery (USB units at once, Ethernet units
 * only after add_to_query and a discovery delay), asynchronous calls answered through the registered callback
 * after a latency on the clock, the running / last-data flags, the mapping buffer read with getAllData, and
 * getLastError.
 *
 * Fault injection (simulators/faults.ts, one guarded call per C function except getLastError/resetLastError):
 * - "error" (code, default 80): that call returns false / call id 0 and getLastError gives the code;
 * - "timeout": start/start_map -> the acquisition never finishes (the driver's deadline must fire); another
 *   asynchronous call -> its answer never comes; a synchronous call -> false with code 64;
 * - "disconnect": the device disappears (code 57 now and on every later call naming it; get_dev_number = 0)
 *   until `replug()`;
 * - "overrange": the next spectrum is taken with a paralysed input (forwarded to XglabDanteTwin).
 * A second DanteSdkTwin with the same `libraryKey` whose InitLibrary comes while the first is initialised
 * gets 79 (DLL_MULTIPLE_INSTANCES), like a second process on the real library.
 */
import type { Clock } from "../../../runtime/clock.ts";
import type { GateMode, Spectrum } from "../../../runtime/devices/mca.ts";
import { DANTE_ANSWER, DANTE_MAP_ADV_STATS, DANTE_MAP_STATS, type DanteAllDataBuffers, type DanteCallback, type DanteConfiguration, type DanteSdk, type DanteStatistics } from "../../../drivers/dante/sdk.ts";
import { XglabDanteTwin, type DanteTwinOptions } from "../../dante.ts";
import { FaultPlan, type FaultSpec } from "../../faults.ts";

export interface DanteSdkTwinOptions {
  clock: Clock;
  /** The physics behind it (default: a new XglabDanteTwin from `twinOptions`, connect time 0). */
  twin?: XglabDanteTwin;
  twinOptions?: Partial<DanteTwinOptions>;
  /** Serial / identifier reported by get_ids (default "DANTE-SIM-0001"). */
  identifier?: string;
  /** Boards in the daisy chain (default 1). */
  boards?: number;
  /** Set for an Ethernet unit: it is found only after add_to_query(address) plus `discoveryS`. */
  address?: string;
  /** Clock seconds after add_to_query before an Ethernet unit is listed (default 1). */
  discoveryS?: number;
  /** Clock seconds before an asynchronous call is answered (default 0.001). */
  callLatencyS?: number;
  /** eV per ADC LSB: the spectrum's eV/bin is this divided by the configured DPP gain (default 1.25). */
  evPerLsb?: number;
  faults?: readonly FaultSpec[] | FaultPlan;
  /** Twins sharing a key behave as processes sharing one installed library (default "libXGL_DPP"). */
  libraryKey?: string;
  libraryVersion?: string;
  firmware?: [number, number, number];
}

const GATES: GateMode[] = ["free-running", "trigger-rising", "trigger-falling", "trigger-both", "gated-high", "gated-low"];
const DEPTHS = [1024, 2048, 4096];

/** Library instances per key: the "one process" lock. */
const holders = new Map<string, DanteSdkTwin>();

type Mode = "idle" | "single" | "map";

class CallFailed extends Error {
  constructor(readonly code: number) {
    super(`DANTE twin call failed with ${code}`);
  }
}

export class DanteSdkTwin implements DanteSdk {
  readonly description: string;
  readonly simulated = true;
  readonly clock: Clock;
  readonly twin: XglabDanteTwin;
  readonly identifier: string;
  readonly faults: FaultPlan;
  private readonly o: DanteSdkTwinOptions;
  private readonly key: string;
  private initialised = false;
  private lastError = 0;
  private handler: DanteCallback | null = null;
  private nextCallId = 0;
  private present = true;
  private addedAt: number | undefined;
  private cfg: DanteConfiguration | undefined;
  private gate: GateMode = "free-running";
  // acquisition state
  private mode: Mode = "idle";
  private running = false;
  /** Measuring (not yet transferring): isRunning_system. A single spectrum stops measuring at its preset time. */
  private measuring = false;
  private runGen = 0;
  private run: AbortController | undefined;
  private single: Spectrum | undefined;
  /** Mapping spectra not yet read, and how many were read (ids continue from there). */
  private mapBuffer: Spectrum[] = [];
  private mapRead = 0;
  private readonly pendingAnswers = new Set<AbortController>();

  constructor(o: DanteSdkTwinOptions) {
    if (!o?.clock) throw new Error("DanteSdkTwin: options.clock is required");
    this.o = o;
    this.clock = o.clock;
    this.twin = o.twin ?? new XglabDanteTwin({ clock: o.clock, connectS: 0, name: "dante-sdk", ...(o.twinOptions ?? {}) });
    this.identifier = o.identifier ?? "DANTE-SIM-0001";
    this.faults = FaultPlan.from(o.faults);
    this.key = o.libraryKey ?? "libXGL_DPP";
    this.description = `DanteSdkTwin (simulated libXGL_DPP, ${this.identifier})`;
  }

  // ----- test controls ---------------------------------------------------------------------------------

  /** Pull the cable: every later call naming the device fails with 57 until replug(). */
  unplug(): void {
    this.present = false;
    this.abortRun();
  }

  /** Plug the unit back in: it comes back idle, with empty buffers. */
  replug(): void {
    this.present = true;
    this.running = false;
    this.mode = "idle";
    this.single = undefined;
    this.mapBuffer = [];
  }

  get isPresent(): boolean {
    return this.present;
  }

  get isRunning(): boolean {
    return this.running;
  }

  // ----- plumbing ----------------------------------------------------------------------------------------

  /** Count the call, apply an injected fault. Returns the fault kind that the caller must model, if any. */
  private guard(method: string): "timeout" | "overrange" | undefined {
    const spec = this.faults.next({ method, trigger: this.twin.env.beam.trigger, now: this.clock.now() });
    if (!spec) return undefined;
    switch (spec.kind) {
      case "error":
        throw new CallFailed(typeof spec.code === "number" ? spec.code : 80);
      case "disconnect":
        this.unplug();
        throw new CallFailed(typeof spec.code === "number" ? spec.code : 57);
      case "timeout":
        return "timeout";
      case "overrange":
        return "overrange";
    }
  }

  private requireInit(): void {
    if (!this.initialised) throw new CallFailed(4);
  }

  private requireDevice(identifier: string, board?: number): void {
    this.requireInit();
    if (identifier !== this.identifier) throw new CallFailed(62);
    if (!this.present) throw new CallFailed(57);
    if (board !== undefined && !(Number.isInteger(board) && board >= 0 && board < (this.o.boards ?? 1))) throw new CallFailed(60);
  }

  /** Run a synchronous C function: false (and lastError) on failure. */
  private sync<R extends object>(method: string, fail: R, body: () => R): { ok: boolean } & R {
    try {
      if (this.guard(method) === "timeout") throw new CallFailed(64);
      return { ok: true, ...body() };
    } catch (e) {
      if (!(e instanceof CallFailed)) throw e;
      this.lastError = e.code;
      return { ok: false, ...fail };
    }
  }

  private bool(method: string, body: () => void): boolean {
    return this.sync(method, {}, () => (body(), {})).ok;
  }

  /**
   * Run an asynchronous C function: returns the call id (0 + lastError when rejected) and answers later through
   * the callback: ACK [1] / DATA [...] on success, ERROR [] (+ lastError) when `body` throws asynchronously.
   */
  private async_(method: string, body: (fault: "timeout" | "overrange" | undefined) => { type?: number; data?: number[]; later?: Promise<void> } | void): number {
    let fault: "timeout" | "overrange" | undefined;
    let r: { type?: number; data?: number[]; later?: Promise<void> } | void;
    try {
      fault = this.guard(method);
      r = body(fault);
    } catch (e) {
      if (!(e instanceof CallFailed)) throw e;
      this.lastError = e.code;
      return 0;
    }
    const callId = ++this.nextCallId;
    // an unanswered call (timeout fault on a plain async call) never calls back
    if (fault === "timeout" && method !== "start" && method !== "start_map") return callId;
    const type = r?.type ?? DANTE_ANSWER.ACK;
    const data = r?.data ?? [1];
    this.answerLater(callId, type, data, r?.later);
    return callId;
  }

  private answerLater(callId: number, type: number, data: number[], after?: Promise<void>): void {
    const ac = new AbortController();
    this.pendingAnswers.add(ac);
    const deliver = async () => {
      try {
        if (after) await after;
        await this.clock.sleep(this.o.callLatencyS ?? 0.001, ac.signal);
      } catch (e) {
        if (ac.signal.aborted) return;
        this.lastError = e instanceof CallFailed ? e.code : 80;
        type = DANTE_ANSWER.ERROR;
        data = [];
      } finally {
        this.pendingAnswers.delete(ac);
      }
      try {
        this.handler?.(type, callId, Uint32Array.from(data));
      } catch {
        // like a C library: an exception in the callback does not reach the caller
      }
    };
    void deliver();
  }

  // ----- library ---------------------------------------------------------------------------------------

  InitLibrary(): boolean {
    return this.bool("InitLibrary", () => {
      const holder = holders.get(this.key);
      if (holder && holder !== this && holder.initialised) throw new CallFailed(79);
      holders.set(this.key, this);
      this.initialised = true;
      this.lastError = 0;
    });
  }

  CloseLibrary(): boolean {
    this.abortRun();
    for (const ac of this.pendingAnswers) ac.abort();
    this.pendingAnswers.clear();
    if (holders.get(this.key) === this) holders.delete(this.key);
    this.initialised = false;
    return true;
  }

  getLastError(): { ok: boolean; code: number } {
    return { ok: true, code: this.lastError };
  }

  resetLastError(): boolean {
    this.lastError = 0;
    return true;
  }

  libVersion(maxLength = 64): { ok: boolean; version: string } {
    return this.sync("libVersion", { version: "" }, () => {
      const v = this.o.libraryVersion ?? "3.7.16.0-sim";
      if (maxLength < v.length + 1) throw new CallFailed(5);
      return { version: v };
    });
  }

  add_to_query(address: string): boolean {
    return this.bool("add_to_query", () => {
      this.requireInit();
      if (this.o.address !== undefined && address === this.o.address && this.addedAt === undefined) this.addedAt = this.clock.now();
    });
  }

  private visible(): boolean {
    if (!this.present) return false;
    if (this.o.address === undefined) return true;
    return this.addedAt !== undefined && this.clock.now() >= this.addedAt + (this.o.discoveryS ?? 1);
  }

  get_dev_number(): { ok: boolean; devs: number } {
    return this.sync("get_dev_number", { devs: 0 }, () => {
      this.requireInit();
      return { devs: this.visible() ? 1 : 0 };
    });
  }

  get_ids(nb: number, maxLength = 64): { ok: boolean; identifier: string } {
    return this.sync("get_ids", { identifier: "" }, () => {
      this.requireInit();
      if (!this.visible() || nb !== 0) throw new CallFailed(60);
      if (maxLength < this.identifier.length + 1) throw new CallFailed(5);
      return { identifier: this.identifier };
    });
  }

  get_boards_in_chain(identifier: string): { ok: boolean; boards: number } {
    return this.sync("get_boards_in_chain", { boards: 0 }, () => {
      this.requireDevice(identifier);
      return { boards: this.o.boards ?? 1 };
    });
  }

  register_callback(callback: DanteCallback | null): boolean {
    this.handler = callback;
    return true;
  }

  getFirmware(identifier: string, board: number): number {
    return this.async_("getFirmware", () => {
      this.requireDevice(identifier, board);
      return { type: DANTE_ANSWER.DATA, data: this.o.firmware ?? [1, 6, 3] };
    });
  }

  configure(identifier: string, board: number, cfg: DanteConfiguration): number {
    return this.async_("configure", () => {
      this.requireDevice(identifier, board);
      if (this.running) throw new CallFailed(68);
      if (!(cfg.peaking_time >= 1 && cfg.peaking_time <= 500 && cfg.gain > 0 && Number.isFinite(cfg.gain))) throw new CallFailed(60);
      const c = { ...cfg };
      // the twin validates the derived settings; its DeviceError becomes an ERROR answer with 60
      const later = this.twin.connect().then(() =>
        this.twin.configure({ peakingTimeUs: c.peaking_time * 0.032, gainEvPerBin: (this.o.evPerLsb ?? 1.25) / c.gain }).then(
          () => void (this.cfg = c),
          () => {
            throw new CallFailed(60);
          },
        ),
      );
      return { later };
    });
  }

  configure_gating(identifier: string, mode: number, board: number): number {
    return this.async_("configure_gating", () => {
      this.requireDevice(identifier, board);
      if (this.running) throw new CallFailed(68);
      const g = GATES[mode];
      if (g === undefined) throw new CallFailed(60);
      this.gate = g;
    });
  }

  // ----- acquisition -------------------------------------------------------------------------------------

  private beginRun(mode: Mode, hang: boolean, acquire: (signal: AbortSignal, gen: number) => Promise<void>): void {
    const gen = ++this.runGen;
    const ac = new AbortController();
    this.run = ac;
    this.mode = mode;
    this.running = true;
    this.measuring = true;
    this.single = undefined;
    this.mapBuffer = [];
    this.mapRead = 0;
    const task = async () => {
      if (hang) await new Promise<void>((_, reject) => ac.signal.addEventListener("abort", () => reject(new Error("stopped")), { once: true }));
      await this.twin.connect();
      await acquire(ac.signal, gen);
    };
    task().then(
      () => {
        if (gen === this.runGen) this.running = false;
      },
      () => {
        // stopped or device gone: the flags were set by abortRun
        if (gen === this.runGen && !ac.signal.aborted) this.running = false;
      },
    );
  }

  private abortRun(): void {
    if (!this.run) return;
    this.runGen++;
    this.run.abort(new Error("DANTE twin: acquisition stopped"));
    this.run = undefined;
    // after stop() the data received so far stay readable; a vanished device never says "last data"
    this.running = !this.present;
  }

  private twinSettings(depth: number, timeS?: number) {
    return { bins: depth as 1024 | 2048 | 4096, gate: this.gate, ...(timeS !== undefined ? { acquisitionTimeS: timeS } : {}) };
  }

  start(identifier: string, timeS: number, spectDepth: number): number {
    return this.async_("start", (fault) => {
      this.requireDevice(identifier);
      if (this.running) throw new CallFailed(68);
      if (!DEPTHS.includes(spectDepth)) throw new CallFailed(60);
      // time 0 (free-running until stop) is accepted by the library; the twin does not model it
      if (!(timeS > 0 && timeS <= this.twin.cfg.maxTimeS)) throw new CallFailed(60);
      if (fault === "overrange") this.twin.faults.add({ at: { call: 1, method: "acquire" }, kind: "overrange" });
      this.beginRun("single", fault === "timeout", async (signal, gen) => {
        await this.twin.configure(this.twinSettings(spectDepth, timeS));
        // the board stops measuring at the end of the preset time (isRunning_system: 0); the spectrum's transfer
        // follows (isLastDataReceived: true once it is in), as the twin's timing model has it
        this.single = await this.twin.acquire(signal, { onDwellEnd: () => void (gen === this.runGen && (this.measuring = false)) });
      });
    });
  }

  start_map(identifier: string, spTimeMs: number, points: number, spectDepth: number): number {
    return this.async_("start_map", (fault) => {
      this.requireDevice(identifier);
      if (this.running) throw new CallFailed(68);
      if (!DEPTHS.includes(spectDepth)) throw new CallFailed(60);
      if (!(Number.isInteger(spTimeMs) && spTimeMs >= 1 && Number.isInteger(points) && points >= 1)) throw new CallFailed(60);
      if (fault === "overrange") this.twin.faults.add({ at: { call: 1, method: "acquireMap" }, kind: "overrange" });
      this.beginRun("map", fault === "timeout", async (signal) => {
        await this.twin.configure(this.twinSettings(spectDepth));
        await this.twin.acquireMap(points, spTimeMs / 1000, (_i, s) => void this.mapBuffer.push(s), signal);
      });
    });
  }

  stop(identifier: string): number {
    return this.async_("stop", () => {
      this.requireDevice(identifier);
      if (this.running) this.abortRun();
    });
  }

  clear_chain(identifier: string): boolean {
    return this.bool("clear_chain", () => {
      this.requireDevice(identifier);
      if (this.running) throw new CallFailed(68);
      this.single = undefined;
      this.mapBuffer = [];
      this.mapRead = 0;
      this.mode = "idle";
    });
  }

  isRunning_system(identifier: string, board: number): number {
    return this.async_("isRunning_system", () => {
      this.requireDevice(identifier, board);
      return { type: DANTE_ANSWER.DATA, data: [this.running && this.measuring ? 1 : 0] };
    });
  }

  isLastDataReceived(identifier: string, board: number): { ok: boolean; last: boolean } {
    return this.sync("isLastDataReceived", { last: false }, () => {
      this.requireDevice(identifier, board);
      return { last: !this.running };
    });
  }

  getAvailableData(identifier: string, board: number): { ok: boolean; count: number } {
    return this.sync("getAvailableData", { count: 0 }, () => {
      this.requireDevice(identifier, board);
      const count = this.mode === "map" ? this.mapBuffer.length : this.single ? 1 : 0;
      return { count };
    });
  }

  private statsOf(s: Spectrum): DanteStatistics {
    const T = s.stats.realTimeS;
    return {
      real_time: Math.round(T * 1e6),
      live_time: Math.round(s.stats.liveTimeS * 1e6),
      ICR: s.stats.icr / 1000,
      OCR: s.stats.ocr / 1000,
      last_timestamp: Math.round((s.timestamp + T) / 8e-9),
      detected: Math.round(s.stats.icr * T),
      measured: s.stats.counts,
      edge_dt: 0,
      filt1_dt: Math.round((T - s.stats.liveTimeS) * 1e6),
      zerocounts: 0,
      baselines_value: 0,
      pup_value: 0,
      pup_f1_value: 0,
      pup_notf1_value: 0,
      reset_counter_value: 0,
    };
  }

  getData(identifier: string, board: number, values: BigUint64Array): { ok: boolean; id: number; stats: DanteStatistics; spectraSize: number } {
    const fail = { id: 0, stats: this.statsOfEmpty(), spectraSize: 0 };
    return this.sync("getData", fail, () => {
      this.requireDevice(identifier, board);
      if (this.mode === "map") throw new CallFailed(69);
      const s = this.single;
      if (!s) {
        values.fill(0n);
        return { id: 0, stats: this.statsOfEmpty(), spectraSize: 0 };
      }
      if (values.length < s.data.length) throw new CallFailed(6);
      for (let i = 0; i < s.data.length; i++) values[i] = BigInt(s.data[i]);
      return { id: 1, stats: this.statsOf(s), spectraSize: s.data.length };
    });
  }

  private statsOfEmpty(): DanteStatistics {
    return { real_time: 0, live_time: 0, ICR: 0, OCR: 0, last_timestamp: 0, detected: 0, measured: 0, edge_dt: 0, filt1_dt: 0, zerocounts: 0, baselines_value: 0, pup_value: 0, pup_f1_value: 0, pup_notf1_value: 0, reset_counter_value: 0 };
  }

  getAllData(identifier: string, board: number, out: DanteAllDataBuffers, spectraSize: number, dataNumber: number): { ok: boolean; spectraSize: number; dataNumber: number } {
    return this.sync("getAllData", { spectraSize, dataNumber: 0 }, () => {
      this.requireDevice(identifier, board);
      if (this.mode !== "map") throw new CallFailed(69);
      const n = Math.min(dataNumber, this.mapBuffer.length);
      if (n > 0) {
        const bins = this.mapBuffer[0].data.length;
        if (spectraSize < bins) throw new CallFailed(6);
        if (out.values.length < n * bins || out.ids.length < n || out.stats.length < n * DANTE_MAP_STATS || out.advStats.length < n * DANTE_MAP_ADV_STATS) throw new CallFailed(6);
        for (let k = 0; k < n; k++) {
          const s = this.mapBuffer[k];
          const base = k * bins;
          // the library delivers mapping spectra as uint16: counts saturate at 65535
          for (let b = 0; b < bins; b++) out.values[base + b] = Math.min(65535, s.data[b]);
          out.ids[k] = this.mapRead + k + 1;
          const st = this.statsOf(s);
          out.stats.set([st.real_time, st.live_time, st.ICR, st.OCR], k * DANTE_MAP_STATS);
          const adv = k * DANTE_MAP_ADV_STATS;
          out.advStats[adv] = BigInt(st.last_timestamp);
          out.advStats[adv + 1] = BigInt(st.detected);
          out.advStats[adv + 2] = BigInt(st.measured);
        }
        // release what was read (the library frees its buffer too)
        this.mapBuffer.splice(0, n);
        this.mapRead += n;
        return { spectraSize: bins, dataNumber: n };
      }
      return { spectraSize, dataNumber: 0 };
    });
  }
}

export function createDanteSdkTwin(o: DanteSdkTwinOptions): DanteSdkTwin {
  return new DanteSdkTwin(o);
}

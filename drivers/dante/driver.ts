/**
 * XglabDante: the Mca on a DANTE pulse processor, on top of any `DanteSdk` (the koffi binding of libXGL_DPP or
 * the simulated one). This file holds the driver logic: discovery by identifier, configuration, the acquisition
 * state machine, answers to asynchronous calls, deadlines, stop, and recovery. It never touches koffi.
 *
 * State machine (see docs/drivers-dante-usb.md):
 *
 *   closed --connect()--> connecting --ok--> idle <------------------------------+
 *                              |                |  configure() -> configuring -> idle
 *                              +--fail--> closed|  acquire()    -> acquiring   --+-- done / stop() -> idle
 *                                               |  acquireMap() -> mapping     --+
 *   any --fatal code (57, 64, 62, 4, ...)--> fault --next call or recover()--> connecting (CloseLibrary + re-open)
 *   any --close()--> closed
 *
 * Asynchronous library calls: the call returns an id; the answer comes through the registered callback into
 * an answer map on the JS thread; the driver polls that map on its Clock (pollIntervalS) until the answer or
 * the deadline (callTimeoutS). Nothing ever blocks the event loop waiting for the library's thread.
 */
import { RealClock, type Clock } from "../../runtime/clock.ts";
import { DeviceError, type DeviceInfo } from "../../runtime/devices/common.ts";
import type { GateMode, Mca, McaSettings, Spectrum } from "../../runtime/devices/mca.ts";
import { DANTE, DANTE_FATAL_CODES, DANTE_HOST, DanteError } from "./codes.ts";
import { allocAllData, DANTE_ANSWER, DANTE_CONFIGURATION_DEFAULTS, DANTE_GATING, DANTE_MAP_STATS, type DanteConfiguration, type DanteSdk, type DanteStatistics } from "./sdk.ts";

export type DanteState = "closed" | "connecting" | "idle" | "configuring" | "acquiring" | "mapping" | "stopping" | "fault";

export interface XglabDanteOptions {
  sdk: DanteSdk;
  /** Clock for every poll interval and deadline (default RealClock). */
  clock?: Clock;
  /** Device name in errors (default "dante"). */
  name?: string;
  /** Unit to use (serial number or IP identifier as get_ids reports it); default the first one found. */
  identifier?: string;
  /** Ethernet unit: its IP, passed to add_to_query (USB units are found without it). */
  address?: string;
  /** Board in the daisy chain (0 = master). */
  board?: number;
  settings?: Partial<McaSettings>;
  /** Raw `configuration` fields (thresholds, filters...) on top of the header defaults. */
  dpp?: Partial<DanteConfiguration>;
  /** Calibration: eV per ADC LSB. The DPP gain (bins per LSB) sent is evPerLsb / gainEvPerBin (default 1.25). */
  evPerLsb?: number;
  /** Clock seconds to wait after add_to_query before listing (default 5 with an address, as EPICS does; else 0). */
  discoveryWaitS?: number;
  /** Give up discovery after this long (default 10). */
  discoveryTimeoutS?: number;
  /** Poll interval for answers, run state and mapping data, clock seconds (default 0.01). */
  pollIntervalS?: number;
  /** Overlap: isRunning_system poll interval from the end of the preset time until the spectrum closed (default 0.001). */
  releasePollS?: number;
  /** Deadline for the answer to an asynchronous call (default 5). */
  callTimeoutS?: number;
  /** Single spectrum deadline = preset * 1.1 + this (default 2). */
  acquisitionMarginS?: number;
  /** Mapping: longest wait for the next spectrum beyond the dwell (default 10; in triggered gate modes the longest gap between triggers). */
  mapIdleTimeoutS?: number;
  /** EPICS found start_map collecting N-1 points with some library versions: ask for N+1 and stop after N (default false). */
  mapExtraPoint?: boolean;
  /** Unit of ICR/OCR as the library reports them (header: kcps; default "kcps"). */
  rateUnit?: "kcps" | "cps";
  /** Run the recovery automatically before the next operation after a fatal error (default true). */
  autoRecover?: boolean;
  /** Peaking time limits, us (default 0.032..16). */
  peakingLimitsUs?: [number, number];
}

const GATE_CODE: Record<GateMode, number> = {
  "free-running": DANTE_GATING.FreeRunning,
  "trigger-rising": DANTE_GATING.TriggerRising,
  "trigger-falling": DANTE_GATING.TriggerFalling,
  "trigger-both": DANTE_GATING.TriggerBoth,
  "gated-high": DANTE_GATING.GatedHigh,
  "gated-low": DANTE_GATING.GatedLow,
};

const MAP_CHUNK = 256;

interface Answer {
  type: number;
  data: Uint32Array;
}

/** Identifiers of the masters the library currently sees (synchronous; InitLibrary must have been called). */
export function listDanteIds(sdk: DanteSdk): { ok: boolean; ids: string[]; code?: number } {
  const n = sdk.get_dev_number();
  if (!n.ok) return { ok: false, ids: [], code: sdk.getLastError().code };
  const ids: string[] = [];
  for (let i = 0; i < n.devs; i++) {
    const r = sdk.get_ids(i);
    if (r.ok && r.identifier) ids.push(r.identifier);
  }
  return { ok: true, ids };
}

export class XglabDante implements Mca {
  readonly sdk: DanteSdk;
  readonly clock: Clock;
  readonly name: string;
  private readonly o: XglabDanteOptions;
  private s: McaSettings;
  private st: DanteState = "closed";
  private id = "";
  private boards = 0;
  private version = "";
  private firmware = "";
  private sentGate: GateMode | undefined;
  private readonly answers = new Map<number, Answer>();
  private readonly pending = new Set<number>();
  private active: { ac: AbortController; done: Promise<void> } | undefined;
  /** The error that put the driver in "fault", if any. */
  lastFault: DeviceError | undefined;

  constructor(o: XglabDanteOptions) {
    if (!o?.sdk) throw new Error("XglabDante: options.sdk is required (loadDanteSdk() or a DanteSdkTwin)");
    this.o = o;
    this.sdk = o.sdk;
    this.clock = o.clock ?? new RealClock();
    this.name = o.name ?? "dante";
    this.s = { bins: 2048, acquisitionTimeS: 1, gainEvPerBin: 1.25, offsetEv: 0, peakingTimeUs: 1, gate: "free-running" };
    if (o.settings) this.s = this.validate({ ...this.s, ...o.settings });
  }

  // ----- identity --------------------------------------------------------------------------------------

  info(): DeviceInfo {
    const parts = [this.version && `lib ${this.version}`, this.firmware && `fw ${this.firmware}`, this.boards && `${this.boards} board(s)`].filter(Boolean);
    return { kind: "mca", model: `XGLab DANTE${parts.length ? ` (${parts.join(", ")})` : ""}`, serial: this.id || this.o.identifier || this.o.address, simulated: !!this.sdk.simulated };
  }

  get state(): DanteState {
    return this.st;
  }

  /** Identifier of the unit in use (after connect). */
  get identifier(): string {
    return this.id;
  }

  settings(): McaSettings {
    return { ...this.s };
  }

  energies(): Float64Array {
    const e = new Float64Array(this.s.bins);
    for (let b = 0; b < e.length; b++) e[b] = this.s.offsetEv + this.s.gainEvPerBin * b;
    return e;
  }

  // ----- library plumbing ------------------------------------------------------------------------------

  private err(code: number | string, detail?: string): DanteError {
    return new DanteError(this.name, code, detail);
  }

  /** The library's reason for the failure of `what` (getLastError, then reset it). */
  private lastErr(what: string): DanteError {
    const e = this.sdk.getLastError();
    this.sdk.resetLastError();
    const code = e.ok && e.code ? e.code : DANTE.RUNTIME_ERROR;
    return this.err(code, `${what} failed${e.ok && e.code ? "" : " (getLastError gave no code)"}${code === DANTE.MULTIPLE_INSTANCES ? ": only one process may use libXGL_DPP — close the other DANTE client" : ""}`);
  }

  private check(ok: boolean, what: string): void {
    if (!ok) throw this.lastErr(what);
  }

  /** Callback target: runs on the JS thread; only stores answers we wait for. */
  private readonly onAnswer = (type: number, callId: number, data: Uint32Array): void => {
    if (this.pending.has(callId)) this.answers.set(callId, { type, data: Uint32Array.from(data) });
  };

  /** Make an asynchronous call and wait (on the clock) for its answer. */
  private async call(what: string, fn: () => number, signal?: AbortSignal, timeoutS = this.o.callTimeoutS ?? 5, pollS = this.poll()): Promise<Uint32Array> {
    const callId = fn();
    if (!callId) throw this.lastErr(what);
    this.pending.add(callId);
    const deadline = this.clock.now() + timeoutS;
    try {
      for (;;) {
        const a = this.answers.get(callId);
        if (a) {
          if (a.type === DANTE_ANSWER.ERROR || (a.type === DANTE_ANSWER.ACK && a.data[0] !== 1)) throw this.lastErr(`${what} (call ${callId})`);
          return a.data;
        }
        if (this.clock.now() >= deadline) throw this.err(DANTE.TIMEOUT, `no answer to ${what} (call ${callId}) within ${timeoutS} s`);
        await this.clock.sleep(pollS, signal);
      }
    } finally {
      this.pending.delete(callId);
      this.answers.delete(callId);
    }
  }

  private poll(): number {
    return this.o.pollIntervalS ?? 0.01;
  }

  // ----- connection and discovery ---------------------------------------------------------------------

  /** Initialise the library, find the unit, read versions, send the configuration. Idempotent. */
  async connect(): Promise<void> {
    if (this.st === "fault") return this.recover();
    if (this.st !== "closed") return;
    await this.open();
  }

  private async open(): Promise<void> {
    this.st = "connecting";
    try {
      if (!this.sdk.InitLibrary()) {
        const e = this.lastErr("InitLibrary");
        if (e.code !== DANTE.ALREADY_INITIALIZED) throw e;
      }
      const v = this.sdk.libVersion();
      this.version = v.ok ? v.version : "";
      this.check(this.sdk.register_callback(this.onAnswer), "register_callback");
      await this.discover();
      const fw = await this.call("getFirmware", () => this.sdk.getFirmware(this.id, this.board));
      this.firmware = [...fw.subarray(0, 3)].join(".");
      this.sentGate = undefined;
      await this.apply(this.s);
      this.st = "idle";
      this.lastFault = undefined;
    } catch (e) {
      this.sdk.register_callback(null);
      this.sdk.CloseLibrary();
      this.st = "closed";
      throw e;
    }
  }

  private get board(): number {
    return this.o.board ?? 0;
  }

  private async discover(): Promise<void> {
    if (this.o.address) {
      this.check(this.sdk.add_to_query(this.o.address), `add_to_query(${this.o.address})`);
      await this.clock.sleep(this.o.discoveryWaitS ?? 5);
    } else if (this.o.discoveryWaitS) await this.clock.sleep(this.o.discoveryWaitS);
    const timeoutS = this.o.discoveryTimeoutS ?? 10;
    const deadline = this.clock.now() + timeoutS;
    const want = this.o.identifier;
    let seen: string[] = [];
    for (;;) {
      const l = listDanteIds(this.sdk);
      if (!l.ok && l.code !== undefined && l.code !== DANTE.COMM_ERROR) throw this.err(l.code, "get_dev_number failed");
      seen = l.ids;
      const pick = want ? seen.find((x) => x === want) : seen[0];
      if (pick) {
        this.id = pick;
        break;
      }
      if (this.clock.now() >= deadline) {
        if (want && seen.length) throw this.err(DANTE.WRONG_ID, `unit "${want}" not found; the library sees ${seen.map((x) => `"${x}"`).join(", ")}`);
        throw this.err(DANTE.COMM_ERROR, `no DANTE found within ${timeoutS} s${want ? ` (wanted "${want}")` : ""} — ${this.o.address ? `is ${this.o.address} reachable and powered?` : "USB: check cable and power; Ethernet units need the address option"}`);
      }
      await this.clock.sleep(0.5);
    }
    // the daisy chain needs ~1 s to synchronise after discovery
    for (;;) {
      const b = this.sdk.get_boards_in_chain(this.id);
      if (b.ok && b.boards > this.board) {
        this.boards = b.boards;
        return;
      }
      if (this.clock.now() >= deadline) {
        if (!b.ok) throw this.lastErr("get_boards_in_chain");
        throw this.err(DANTE.ARGUMENT_OUT_OF_RANGE, `board ${this.board} requested but the chain of ${this.id} has ${b.boards} board(s)`);
      }
      await this.clock.sleep(0.5);
    }
  }

  async close(): Promise<void> {
    if (this.st === "closed") return;
    if (this.active) await this.stop().catch(() => {});
    this.sdk.register_callback(null);
    this.sdk.CloseLibrary();
    this.answers.clear();
    this.pending.clear();
    this.st = "closed";
  }

  /**
   * Recovery after a fatal error: stop whatever runs, close the library and open it again (re-discovery, the
   * configuration sent again). Throws (state "closed") if the unit is still gone.
   */
  async recover(): Promise<void> {
    if (this.active) await this.stop().catch(() => {});
    if (this.id) this.sdk.stop(this.id); // best effort, answer not awaited
    this.sdk.register_callback(null);
    this.sdk.CloseLibrary();
    this.answers.clear();
    this.pending.clear();
    this.st = "closed";
    await this.open();
  }

  /** Before an operation: connected, recovered if needed, not busy. */
  private async ready(op: string): Promise<void> {
    if (this.st === "fault" && (this.o.autoRecover ?? true)) await this.recover();
    if (this.st === "closed" || this.st === "connecting") throw this.err(DANTE_HOST.NOT_CONNECTED, `${op}: call connect() first`);
    if (this.st === "fault") throw this.err(DANTE_HOST.NOT_CONNECTED, `${op}: the driver is in fault (${this.lastFault?.message ?? "?"}); call recover()`);
    if (this.st !== "idle") throw this.err(DANTE.RUNNING, `${op}: the DANTE is ${this.st}`);
  }

  /** Classify an error: fatal codes put the driver in "fault" (recovered before the next operation). */
  private classify(e: unknown): unknown {
    if (e instanceof DeviceError && typeof e.code === "number" && DANTE_FATAL_CODES.has(e.code)) {
      this.st = "fault";
      this.lastFault = e;
    } else if (this.st !== "closed") this.st = "idle";
    return e;
  }

  // ----- configuration --------------------------------------------------------------------------------

  private validate(n: McaSettings): McaSettings {
    const bad = (m: string) => this.err(DANTE.ARGUMENT_OUT_OF_RANGE, m);
    if (![1024, 2048, 4096].includes(n.bins)) throw bad(`bins ${n.bins}: the DANTE supports 1024, 2048 or 4096`);
    if (!(n.acquisitionTimeS > 0 && Number.isFinite(n.acquisitionTimeS))) throw bad(`acquisition time ${n.acquisitionTimeS} s must be > 0`);
    if (!(n.gainEvPerBin > 0 && Number.isFinite(n.gainEvPerBin))) throw bad(`gain ${n.gainEvPerBin} eV/bin must be > 0`);
    if (!Number.isFinite(n.offsetEv)) throw bad(`offset ${n.offsetEv} eV`);
    if (!(n.gate in GATE_CODE)) throw bad(`gate mode ${String(n.gate)}`);
    const [lo, hi] = this.o.peakingLimitsUs ?? [0.032, 16];
    const units = Math.round(n.peakingTimeUs / 0.032);
    const pt = units * 0.032;
    if (!(pt >= lo - 1e-9 && pt <= hi + 1e-9)) throw bad(`peaking time ${n.peakingTimeUs} us outside ${lo}..${hi} us`);
    return { ...n, peakingTimeUs: Math.round(pt * 1000) / 1000 };
  }

  /** The `configuration` struct for settings `s`. */
  dppConfiguration(s: McaSettings = this.s): DanteConfiguration {
    return {
      ...DANTE_CONFIGURATION_DEFAULTS,
      ...(this.o.dpp ?? {}),
      peaking_time: Math.round(s.peakingTimeUs / 0.032),
      gain: (this.o.evPerLsb ?? 1.25) / s.gainEvPerBin,
    };
  }

  private async apply(s: McaSettings): Promise<void> {
    await this.call("configure", () => this.sdk.configure(this.id, this.board, this.dppConfiguration(s)));
    if (this.sentGate !== s.gate) {
      await this.call("configure_gating", () => this.sdk.configure_gating(this.id, GATE_CODE[s.gate], this.board));
      this.sentGate = s.gate;
    }
  }

  async configure(p: Partial<McaSettings>): Promise<McaSettings> {
    await this.ready("configure");
    const n = this.validate({ ...this.s, ...p });
    this.st = "configuring";
    try {
      await this.apply(n);
      this.s = n;
      this.st = "idle";
      return this.settings();
    } catch (e) {
      throw this.classify(e);
    }
  }

  // ----- acquisition ----------------------------------------------------------------------------------

  private rate(v: number): number {
    return (this.o.rateUnit ?? "kcps") === "kcps" ? v * 1000 : v;
  }

  private spectrum(data: Uint32Array, real: number, live: number, icr: number, ocr: number, t0: number, presetS: number): Spectrum {
    let counts = 0;
    for (let i = 0; i < data.length; i++) counts += data[i];
    const realTimeS = real > 0 ? real / 1e6 : presetS;
    const liveTimeS = Math.min(live / 1e6, realTimeS);
    return {
      data,
      stats: { realTimeS, liveTimeS, icr: this.rate(icr), ocr: this.rate(ocr), deadTime: realTimeS > 0 ? Math.max(0, 1 - liveTimeS / realTimeS) : 0, counts },
      timestamp: t0,
    };
  }

  /** Start a run: state, an internal AbortController for stop(), and a promise stop() can await. */
  private begin(state: "acquiring" | "mapping", signal?: AbortSignal): { sig: AbortSignal; ac: AbortController; finish: () => void } {
    const ac = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    this.active = { ac, done };
    this.st = state;
    const sig = signal ? AbortSignal.any([signal, ac.signal]) : ac.signal;
    return { sig, ac, finish };
  }

  /** After an abort or an error while running: stop the hardware (best effort) and report. */
  private async halt(): Promise<boolean> {
    try {
      await this.call("stop", () => this.sdk.stop(this.id));
      return true;
    } catch {
      return false;
    }
  }

  private async endRun(e: unknown, ac: AbortController, signal: AbortSignal | undefined, what: string): Promise<unknown> {
    if (ac.signal.aborted || signal?.aborted) {
      this.st = "stopping";
      const stopped = await this.halt();
      this.st = stopped ? "idle" : "fault";
      if (!stopped) this.lastFault = this.err(DANTE.COMM_ERROR, `stop after ${what} got no answer`);
      if (signal?.aborted && !ac.signal.aborted) return signal.reason instanceof Error ? signal.reason : this.err(DANTE_HOST.STOPPED, `${what} aborted`);
      return this.err(DANTE_HOST.STOPPED, `${what} stopped`);
    }
    if (e instanceof DeviceError && e.code === DANTE.TIMEOUT) {
      // a run that never finished: try to stop it; if the unit answers it is usable again
      this.st = "stopping";
      const stopped = await this.halt();
      this.st = stopped ? "idle" : "fault";
      if (!stopped) this.lastFault = e;
      return e;
    }
    const r = this.classify(e);
    if (this.st === "idle") await this.halt();
    return r;
  }

  /**
   * One spectrum of the preset time. Overlap (`opts.onDwellEnd`): from the end of the preset time on, the driver
   * asks isRunning_system (every releasePollS for 50 ms, then every pollIntervalS) until the board says it stopped measuring (the spectrum is closed;
   * its transfer follows), calls onDwellEnd, then waits for isLastDataReceived and getData as without it. A
   * failure before that point releases nothing (the action fails as a whole).
   */
  async acquire(signal?: AbortSignal, opts?: { onDwellEnd?: () => void }): Promise<Spectrum> {
    await this.ready("acquire");
    const { sig, ac, finish } = this.begin("acquiring", signal);
    const T = this.s.acquisitionTimeS;
    const bins = this.s.bins;
    try {
      const t0 = this.clock.now();
      await this.call("start", () => this.sdk.start(this.id, T, bins), sig);
      const deadline = t0 + T * 1.1 + (this.o.acquisitionMarginS ?? 2);
      await this.clock.sleep(Math.max(0, t0 + T - this.clock.now()), sig);
      let released = !opts?.onDwellEnd;
      const fine = this.o.releasePollS ?? 0.001;
      for (;;) {
        if (!released) {
          // the board's own word that the spectrum is closed (the preset time is over)
          const run = await this.call("isRunning_system", () => this.sdk.isRunning_system(this.id, this.board), sig, undefined, fine);
          if (run[0] === 0) {
            released = true;
            opts!.onDwellEnd!();
          }
        }
        const r = this.sdk.isLastDataReceived(this.id, this.board);
        this.check(r.ok, "isLastDataReceived");
        if (r.last) break;
        if (this.clock.now() >= deadline) throw this.err(DANTE.TIMEOUT, `the ${T} s acquisition has not finished after ${(this.clock.now() - t0).toFixed(3)} s${released && opts?.onDwellEnd ? " (its spectrum closed: the transfer is late)" : ""}`);
        // finely for the first 50 ms after the preset time (the spectrum closes then and its transfer takes
        // milliseconds), then every pollIntervalS (a gated spectrum may stay open: no 1 kHz calls to the unit)
        await this.clock.sleep(this.clock.now() - t0 - T < 0.05 ? fine : this.poll(), sig);
      }
      const values = new BigUint64Array(bins);
      const d = this.sdk.getData(this.id, this.board, values);
      this.check(d.ok, "getData");
      const data = new Uint32Array(bins);
      for (let i = 0; i < bins; i++) data[i] = values[i] > 0xffffffffn ? 0xffffffff : Number(values[i]);
      this.st = "idle";
      return this.spectrum(data, d.stats.real_time, d.stats.live_time, d.stats.ICR, d.stats.OCR, t0, T);
    } catch (e) {
      throw await this.endRun(e, ac, signal, "acquisition");
    } finally {
      this.active = undefined;
      finish();
    }
  }

  async acquireMap(points: number, dwellS: number, onSpectrum: (i: number, s: Spectrum) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
    if (!(Number.isInteger(points) && points >= 1)) throw this.err(DANTE.ARGUMENT_OUT_OF_RANGE, `points ${points} must be an integer >= 1`);
    const dwellMs = Math.round(dwellS * 1000);
    if (!(Number.isFinite(dwellS) && dwellMs >= 1)) throw this.err(DANTE.ARGUMENT_OUT_OF_RANGE, `dwell ${dwellS} s: the DANTE needs >= 1 ms per spectrum (whole ms)`);
    await this.ready("acquireMap");
    const { sig, ac, finish } = this.begin("mapping", signal);
    const bins = this.s.bins;
    const extra = this.o.mapExtraPoint ? 1 : 0;
    const idleS = dwellMs / 1000 + (this.o.mapIdleTimeoutS ?? 10);
    try {
      this.check(this.sdk.clear_chain(this.id), "clear_chain");
      const t0 = this.clock.now();
      await this.call("start_map", () => this.sdk.start_map(this.id, dwellMs, points + extra, bins), sig);
      const buf = allocAllData(Math.min(points, MAP_CHUNK), bins);
      let got = 0;
      let cursor = t0;
      let progress = this.clock.now();
      while (got < points) {
        const av = this.sdk.getAvailableData(this.id, this.board);
        this.check(av.ok, "getAvailableData");
        if (av.count > 0) {
          const want = Math.min(av.count, MAP_CHUNK, points - got);
          const r = this.sdk.getAllData(this.id, this.board, buf, bins, want);
          this.check(r.ok, "getAllData");
          for (let k = 0; k < r.dataNumber && got < points; k++) {
            const st = buf.stats.subarray(k * DANTE_MAP_STATS, (k + 1) * DANTE_MAP_STATS);
            const data = new Uint32Array(buf.values.subarray(k * bins, (k + 1) * bins));
            const sp = this.spectrum(data, st[0], st[1], st[2], st[3], cursor, dwellMs / 1000);
            cursor += sp.stats.realTimeS;
            await onSpectrum(got++, sp);
            if (sig.aborted) throw sig.reason;
          }
          progress = this.clock.now();
          continue;
        }
        const last = this.sdk.isLastDataReceived(this.id, this.board);
        this.check(last.ok, "isLastDataReceived");
        if (last.last) {
          const again = this.sdk.getAvailableData(this.id, this.board);
          if (again.ok && again.count > 0) continue;
          throw this.err(DANTE.MISSED_SPECTRA, `the map ended after ${got} of ${points} spectra`);
        }
        if (this.clock.now() - progress > idleS) throw this.err(DANTE.TIMEOUT, `no spectrum for ${(this.clock.now() - progress).toFixed(3)} s (${got}/${points} received)${this.s.gate === "free-running" ? "" : `; gate mode ${this.s.gate}: is the trigger arriving?`}`);
        await this.clock.sleep(this.poll(), sig);
      }
      // the extra point (or a library that keeps running): stop it
      const last = this.sdk.isLastDataReceived(this.id, this.board);
      if (!last.ok || !last.last) await this.call("stop", () => this.sdk.stop(this.id));
      this.st = "idle";
    } catch (e) {
      throw await this.endRun(e, ac, signal, "map");
    } finally {
      this.active = undefined;
      finish();
    }
  }

  /** Stop a running acquisition (it rejects with code STOPPED) and wait until the unit is idle again. */
  async stop(): Promise<void> {
    const a = this.active;
    if (!a) return;
    a.ac.abort(this.err(DANTE_HOST.STOPPED, "stopped"));
    await a.done;
  }
}

/** Statistics struct -> the Mca's stats, for callers using the SDK directly. */
export function danteStatsSummary(s: DanteStatistics, rateUnit: "kcps" | "cps" = "kcps"): { realTimeS: number; liveTimeS: number; icr: number; ocr: number } {
  const k = rateUnit === "kcps" ? 1000 : 1;
  return { realTimeS: s.real_time / 1e6, liveTimeS: s.live_time / 1e6, icr: s.ICR * k, ocr: s.OCR * k };
}

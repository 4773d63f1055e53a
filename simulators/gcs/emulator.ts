/**
 * GcsEmulator: a PI GCS 2.0 controller (E-727-like) speaking the real ASCII protocol over TCP (one client at a
 * time, like the real controller) and/or a serial port (e.g. one end of a socat pty pair), backed by the
 * PI stage motion model. Line timing is modelled through the clock (10 bits per byte at the baud rate on
 * serial, `tcpExchangeS` per exchange on TCP), so it runs in virtual, scaled or real time.
 *
 * Protocol rules implemented:
 *  - mnemonics case-insensitive, arguments separated by spaces, lines end with LF (CR ignored);
 *  - single-byte commands without LF: 0x05 (#5 motion mask, hex), 0x07 (#7 ready: 0xB1 ready / 0xB0 busy),
 *    0x09 (#9 wave generator mask), 0x18 (#24 stop all, sets error 10);
 *  - set commands never reply; errors are stored and `ERR?` returns the last one and clears it;
 *  - an unknown or invalid query gets NO reply and stores the error (2 unknown command, 15 invalid axis ...);
 *  - multi-line replies end every line but the last with SPACE+LF; `axis=value` replies.
 * The query set an E-727 answers (docs/pi-gcs.md, with sources): identity and versions (*IDN?, VER?, SSN?,
 * CSV?), help (HLP?, HPA? parameter list, HDR? data recorder options), parameters (SPA/SPA?), and the data
 * recorder (TNR?, DRC/DRC?, RTR/RTR?, DRT/DRT?, DRR? in the GCS array format with a `#` header).
 */
import net from "node:net";
import { SerialPort } from "serialport";
import type { Clock } from "../../runtime/clock.ts";
import { MotionError, MotionModel, type AxisConfig } from "../pi-stage/motion.ts";

export const PARAM_ON_TARGET_WINDOW = 0x07000900;
export const PARAM_SETTLING_TIME = 0x07000901;
export const PARAM_RANGE_MIN = 0x07000000;
export const PARAM_RANGE_MAX = 0x07000001;
export const PARAM_SERVO_UPDATE_TIME = 0x0e000200;

/** Parameters the emulator knows (HPA?), per axis: id, data type, description, writable. */
const PARAMS: ReadonlyArray<{ id: number; type: "FLOAT" | "INT"; text: string; writable: boolean }> = [
  { id: PARAM_RANGE_MIN, type: "FLOAT", text: "Range Limit min", writable: false },
  { id: PARAM_RANGE_MAX, type: "FLOAT", text: "Range Limit max", writable: false },
  { id: PARAM_ON_TARGET_WINDOW, type: "FLOAT", text: "On Target Tolerance", writable: true },
  { id: PARAM_SETTLING_TIME, type: "FLOAT", text: "Settling Time", writable: true },
  { id: PARAM_SERVO_UPDATE_TIME, type: "FLOAT", text: "Servo Update Time", writable: false },
];
const hex8 = (v: number) => "0x" + v.toString(16).toUpperCase().padStart(8, "0");

/**
 * HLP?: one command per line, "<command> <description>", between a title line and "end of help" (clients such
 * as PI's PIPython take the first word of each inner line as a supported command).
 */
const HELP: ReadonlyArray<[string, string]> = [
  ["#5", "Request Motion Status"],
  ["#7", "Request Controller Ready Status"],
  ["#9", "Get Wave Generator Status"],
  ["#24", "Stop All Axes"],
  ["*IDN?", "Get Device Identification"],
  ["CSV?", "Get Current Syntax Version"],
  ["DRC", "Set Data Recorder Configuration"],
  ["DRC?", "Get Data Recorder Configuration"],
  ["DRL?", "Get Number of Recorded Points"],
  ["DRR?", "Get Recorded Data Values"],
  ["DRT", "Set Data Recorder Trigger Source"],
  ["DRT?", "Get Data Recorder Trigger Source"],
  ["ERR?", "Get Error Number"],
  ["FRF", "Fast Reference Move To Reference Switch"],
  ["FRF?", "Get Referencing Result"],
  ["HDR?", "Get All Data Recorder Options"],
  ["HLP?", "Get List Of Available Commands"],
  ["HLT", "Halt Motion Smoothly"],
  ["HPA?", "Get List Of Available Parameters"],
  ["MOV", "Set Target Position"],
  ["MOV?", "Get Target Position"],
  ["MVR", "Set Target Relative To Current Position"],
  ["ONT?", "Get On Target State"],
  ["OVF?", "Get Overflow State"],
  ["POS?", "Get Real Position"],
  ["RTR", "Set Record Table Rate"],
  ["RTR?", "Get Record Table Rate"],
  ["SAI?", "Get List Of Current Axis Identifiers"],
  ["SPA", "Set Volatile Memory Parameters"],
  ["SPA?", "Get Volatile Memory Parameters"],
  ["SRG?", "Query Status Register Value"],
  ["SSN?", "Get Device Serial Number"],
  ["STP", "Stop All Axes"],
  ["SVA", "Set Open-Loop Axis Value"],
  ["SVO", "Set Servo Mode"],
  ["SVO?", "Get Servo Mode"],
  ["TMN?", "Get Minimum Commandable Position"],
  ["TMX?", "Get Maximum Commandable Position"],
  ["TNR?", "Get Number Of Record Tables"],
  ["VEL", "Set Closed-Loop Velocity"],
  ["VEL?", "Get Closed-Loop Velocity"],
  ["VER?", "Get Versions Of Firmware And Drivers"],
  ["WGO", "Set Wave Generator Start/Stop Mode"],
  ["WGO?", "Get Wave Generator Start/Stop Mode"],
];

/** Data recorder record options (DRC) the emulator records, by number, and their HDR? text. */
const RECORD_OPTIONS: Record<number, string> = {
  0: "Nothing is recorded",
  1: "Commanded Position of Axis",
  2: "Real Position of Axis",
  3: "Position Error of Axis",
};

export interface GcsEmulatorOptions {
  clock: Clock;
  /** Use this motion model (else one is built from axes/seed/noise). */
  model?: MotionModel;
  axes?: AxisConfig[] | number;
  seed?: number;
  noise?: number;
  /** `*IDN?` reply. */
  idn?: string;
  /** Modelled clock seconds per TCP request/reply exchange (default 0.001). */
  tcpExchangeS?: number;
  /** Longest accepted command line in characters (default 256; longer -> error 3). */
  maxLineLength?: number;
  /** Byte trace, for debugging. */
  trace?: (dir: "rx" | "tx", link: "tcp" | "serial", data: Buffer) => void;
  /** `SSN?` reply (default "0000000000"). */
  serialNumber?: string;
  /** `VER?` lines (default: emulated firmware components). */
  versions?: string[];
  /** Servo cycle, seconds (E-727 (typ.): 20 us, 50 kHz): the data recorder's sample period at RTR 1. */
  servoCycleS?: number;
  /** Data recorder tables (TNR?, default 8) and points per table (default 262144). */
  recorderTables?: number;
  recorderPoints?: number;
}

export type EmulatorFault =
  /** The next `count` replies are replaced by unparseable bytes (still LF-terminated). */
  | { kind: "garbage"; count?: number }
  /** Stop replying (and executing) until `setSilent(false)` / `clearFaults()`. */
  | { kind: "silent" }
  /** Close the TCP connection now (serial: no-op). */
  | { kind: "drop" }
  /** Close the TCP connection when the next command arrives, without executing it. */
  | { kind: "drop-on-next" }
  /** Store this error code (the next `ERR?` returns it). */
  | { kind: "error"; code: number }
  /** Send the next reply `delayMs` REAL milliseconds late (a controller answering after the host timeout). */
  | { kind: "late"; delayMs: number };

class CmdError extends Error {
  constructor(readonly code: number) {
    super(`GCS error ${code}`);
  }
}

interface Link {
  kind: "tcp" | "serial";
  gen: number;
  write(b: Buffer): void;
  chain: Promise<void>;
  pending: number[];
}

type Unit = { line: string } | { byte: number };

const SINGLE_BYTES = new Set([0x05, 0x07, 0x09, 0x18]);
/** Commands that change a position: each starts a new data recording (DRT trigger 0, the default). */
const MOTION_COMMANDS = new Set(["MOV", "MVR", "SVA", "SVO", "STP", "HLT", "FRF"]);

function fmt(v: number): string {
  return (Object.is(v, -0) ? 0 : v).toFixed(6);
}

export class GcsEmulator {
  readonly model: MotionModel;
  readonly clock: Clock;
  private err = 0;
  private readonly idn: string;
  private readonly tcpExchangeS: number;
  private readonly maxLine: number;
  private server?: net.Server;
  private client?: net.Socket;
  private clientLink?: Link;
  private serial?: SerialPort;
  private serialLink?: Link;
  private baud = 115200;
  private garbageLeft = 0;
  private silent = false;
  private dropNext = false;
  private lateMs = 0;
  private readonly waveGen = new Set<number>();
  /** Data recorder: per table (1-based) its source axis and record option; rate in servo cycles; start. */
  private readonly drc = new Map<number, { source: string; option: number }>();
  private rtr = 1;
  /** Clock time before which the current reply may not leave (DRR? of points still being recorded). */
  private replyNotBefore = -Infinity;
  private drt = 0;
  private recordStart: number;
  /** Accepted / refused TCP connections, commands received (lines + single bytes) and executed (for tests). */
  readonly stats = { accepted: 0, refused: 0, received: 0, commands: 0 };

  constructor(private readonly opts: GcsEmulatorOptions) {
    this.clock = opts.clock;
    this.model = opts.model ?? new MotionModel({ clock: opts.clock, axes: opts.axes, seed: opts.seed, noise: opts.noise });
    this.idn = opts.idn ?? "(c)2024 Physik Instrumente (PI) GmbH & Co. KG, E-727, 0000000000 (emulated), 00.000";
    this.tcpExchangeS = opts.tcpExchangeS ?? 0.001;
    this.maxLine = opts.maxLineLength ?? 256;
    const axes = this.model.axes();
    for (let t = 1; t <= this.recorderTables; t++) this.drc.set(t, t <= axes.length ? { source: axes[t - 1], option: 2 } : { source: axes[0], option: 0 });
    this.recordStart = this.clock.now();
  }

  private get recorderTables(): number {
    return this.opts.recorderTables ?? 8;
  }

  private get servoCycleS(): number {
    return this.opts.servoCycleS ?? 20e-6;
  }

  /** A command that changes a position starts a new recording (DRT 0, the default trigger). */
  private restartRecording(): void {
    this.recordStart = this.clock.now();
  }

  // ----- transports --------------------------------------------------------------------------------------

  /** Listen on TCP (default 127.0.0.1, port 0 = a free port); resolves with the bound address. */
  async listenTcp(o: { host?: string; port?: number } = {}): Promise<{ host: string; port: number }> {
    if (this.server) throw new Error("GcsEmulator: already listening");
    const host = o.host ?? "127.0.0.1";
    const server = net.createServer((s) => this.onConnection(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address() as net.AddressInfo;
    return { host, port: a.port };
  }

  get tcpPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : undefined;
  }

  /** True while a TCP client is connected. */
  get hasClient(): boolean {
    return !!this.client;
  }

  private onConnection(s: net.Socket): void {
    if (this.client) {
      // The controller serves one client: close a second connection at once.
      this.stats.refused++;
      s.destroy();
      return;
    }
    this.stats.accepted++;
    s.setNoDelay(true);
    this.client = s;
    const link: Link = {
      kind: "tcp",
      gen: 0,
      chain: Promise.resolve(),
      pending: [],
      write: (b) => {
        if (!s.destroyed) s.write(b);
      },
    };
    this.clientLink = link;
    s.on("data", (d: Buffer) => this.onData(link, d));
    s.on("error", () => {});
    s.on("close", () => {
      link.gen++;
      if (this.client === s) {
        this.client = undefined;
        this.clientLink = undefined;
      }
    });
  }

  /** Open a serial device (e.g. one end of a socat pty pair). `baud` only drives the timing model. */
  async openSerial(path: string, baud = 115200): Promise<void> {
    if (this.serial) throw new Error("GcsEmulator: serial already open");
    this.baud = baud;
    const port = new SerialPort({ path, baudRate: baud, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    this.serial = port;
    const link: Link = {
      kind: "serial",
      gen: 0,
      chain: Promise.resolve(),
      pending: [],
      write: (b) => {
        if (port.isOpen) port.write(b);
      },
    };
    this.serialLink = link;
    port.on("data", (d: Buffer) => this.onData(link, d));
    port.on("error", () => {});
  }

  async close(): Promise<void> {
    if (this.clientLink) this.clientLink.gen++;
    if (this.serialLink) this.serialLink.gen++;
    this.client?.destroy();
    this.client = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
    const port = this.serial;
    this.serial = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }

  // ----- faults ------------------------------------------------------------------------------------------

  inject(f: EmulatorFault): void {
    switch (f.kind) {
      case "garbage":
        this.garbageLeft += f.count ?? 1;
        break;
      case "silent":
        this.silent = true;
        break;
      case "drop":
        this.dropConnection();
        break;
      case "drop-on-next":
        this.dropNext = true;
        break;
      case "error":
        this.err = f.code;
        break;
      case "late":
        this.lateMs = f.delayMs;
        break;
    }
  }

  setSilent(on: boolean): void {
    this.silent = on;
  }

  dropConnection(): void {
    if (this.clientLink) this.clientLink.gen++;
    this.client?.destroy();
  }

  clearFaults(): void {
    this.garbageLeft = 0;
    this.silent = false;
    this.dropNext = false;
    this.lateMs = 0;
  }

  /** The stored error code (what the next ERR? returns). */
  get errorCode(): number {
    return this.err;
  }

  // ----- byte stream -------------------------------------------------------------------------------------

  private onData(link: Link, d: Buffer): void {
    this.opts.trace?.("rx", link.kind, d);
    for (const b of d) {
      if (SINGLE_BYTES.has(b)) {
        this.enqueue(link, { byte: b });
      } else if (b === 0x0a) {
        const line = Buffer.from(link.pending).toString("latin1");
        link.pending = [];
        if (line.trim().length) this.enqueue(link, { line });
      } else if (b !== 0x0d) {
        link.pending.push(b);
      }
    }
  }

  private enqueue(link: Link, u: Unit): void {
    this.stats.received++;
    const gen = link.gen;
    link.chain = link.chain.then(() => this.process(link, gen, u)).catch(() => {});
  }

  private wireTime(link: Link, nBytes: number): number {
    return link.kind === "serial" ? (nBytes * 10) / this.baud : this.tcpExchangeS / 2;
  }

  private async process(link: Link, gen: number, u: Unit): Promise<void> {
    if (gen !== link.gen || this.silent) return;
    if (this.dropNext && link.kind === "tcp") {
      this.dropNext = false;
      this.dropConnection();
      return;
    }
    const inBytes = "line" in u ? u.line.length + 1 : 1;
    await this.clock.sleep(this.wireTime(link, inBytes));
    if (gen !== link.gen || this.silent) return;
    this.replyNotBefore = -Infinity;
    let reply = this.handle(u);
    if (reply === null) return;
    const wait = this.replyNotBefore - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    if (this.garbageLeft > 0) {
      this.garbageLeft--;
      reply = Buffer.from("\x15?#garbage%&\x7f\n", "latin1");
    }
    await this.clock.sleep(this.wireTime(link, reply.length));
    if (this.lateMs > 0) {
      const ms = this.lateMs;
      this.lateMs = 0;
      await new Promise((r) => setTimeout(r, ms));
    }
    if (gen !== link.gen || this.silent) return;
    this.opts.trace?.("tx", link.kind, reply);
    link.write(reply);
  }

  // ----- command interpreter (also usable without any transport) ----------------------------------------

  /** Execute one command line (without LF) or one single-byte command; returns the reply bytes or null. */
  handle(u: Unit | string | number): Buffer | null {
    const unit: Unit = typeof u === "string" ? { line: u } : typeof u === "number" ? { byte: u } : u;
    this.stats.commands++;
    if ("byte" in unit) return this.handleByte(unit.byte);
    const text = this.handleLine(unit.line);
    return text === null ? null : Buffer.from(text, "latin1");
  }

  private handleByte(b: number): Buffer | null {
    switch (b) {
      case 0x05:
        return Buffer.from(this.model.motionMask().toString(16).toUpperCase() + "\n", "latin1");
      case 0x07:
        return Buffer.from([this.model.busy() ? 0xb0 : 0xb1, 0x0a]);
      case 0x09: {
        let m = 0;
        for (const g of this.waveGen) m |= 1 << (g - 1);
        return Buffer.from(m.toString(16).toUpperCase() + "\n", "latin1");
      }
      case 0x18:
        this.model.stop();
        this.waveGen.clear();
        this.restartRecording();
        this.err = 10;
        return null;
    }
    return null;
  }

  private handleLine(raw: string): string | null {
    if (raw.length > this.maxLine) {
      this.err = 3;
      return null;
    }
    const tokens = raw.trim().split(/\s+/);
    const mn = tokens[0].toUpperCase();
    const args = tokens.slice(1);
    const h = this.commands[mn];
    if (!h) {
      this.err = 2;
      return null;
    }
    try {
      const lines = h(args);
      if (MOTION_COMMANDS.has(mn)) this.restartRecording();
      if (!mn.endsWith("?") || lines === undefined) return null;
      return lines.join(" \n") + "\n";
    } catch (e) {
      if (e instanceof CmdError || e instanceof MotionError) {
        this.err = e.code;
        return null;
      }
      throw e;
    }
  }

  // ----- argument helpers ---------------------------------------------------------------------------------

  private axesArg(args: string[]): string[] {
    if (args.length === 0 || (args.length === 1 && args[0].toUpperCase() === "ALL")) return this.model.axes();
    for (const a of args) if (!this.model.hasAxis(a)) throw new CmdError(15);
    return args;
  }

  private num(s: string): number {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new CmdError(1);
    return Number(s);
  }

  private pairs(args: string[]): [string, string][] {
    if (args.length === 0) throw new CmdError(26);
    if (args.length % 2) throw new CmdError(24);
    const out: [string, string][] = [];
    for (let i = 0; i < args.length; i += 2) {
      if (!this.model.hasAxis(args[i])) throw new CmdError(15);
      out.push([args[i], args[i + 1]]);
    }
    return out;
  }

  private numPairs(args: string[]): Record<string, number> {
    const r: Record<string, number> = {};
    for (const [a, v] of this.pairs(args)) r[a] = this.num(v);
    return r;
  }

  private noArgs(args: string[]): void {
    if (args.length) throw new CmdError(24);
  }

  private param(s: string): number {
    const v = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? parseInt(s, 10) : NaN;
    if (Number.isNaN(v)) throw new CmdError(1);
    if (!PARAMS.some((p) => p.id === v)) throw new CmdError(54);
    return v;
  }

  private checkWaveGen(axes: string[]): void {
    const order = this.model.axes();
    for (const a of axes) if (this.waveGen.has(order.indexOf(a) + 1)) throw new CmdError(73);
  }

  private paramValue(ax: string, p: number): number {
    switch (p) {
      case PARAM_ON_TARGET_WINDOW:
        return this.model.onTargetWindow(ax);
      case PARAM_SETTLING_TIME:
        return this.model.settlingTime(ax);
      case PARAM_RANGE_MIN:
        return this.model.limits(ax).min;
      case PARAM_RANGE_MAX:
        return this.model.limits(ax).max;
      default:
        return this.servoCycleS;
    }
  }

  private tablesArg(a: string[]): number[] {
    if (a.length === 0) return [...this.drc.keys()];
    return a.map((s) => {
      const t = this.num(s);
      if (!Number.isInteger(t) || t < 1 || t > this.recorderTables) throw new CmdError(17);
      return t;
    });
  }

  /**
   * (DRR? is documented at recordedData.)
   */
  /** Points recorded since the recording started (every RTR servo cycles, up to the table length). */
  private recordedPoints(): number {
    const dt = this.rtr * this.servoCycleS;
    return Math.min(this.opts.recorderPoints ?? 262144, Math.floor((this.clock.now() - this.recordStart) / dt + 1e-9) + 1);
  }

  /**
   * DRR? [start [count [tables...]]]: recorded points since the last position-changing command, one every RTR
   * servo cycles, in the GCS array format: `# KEY = value` header lines up to `# END_HEADER`, then one line
   * per point with one column per table. All `count` points are sent (up to the table length): points not
   * yet recorded are sent once they are (the reply waits on the clock, `replyNotBefore`), as a client reading
   * the data while the recorder fills expects. Without `count`: the points recorded so far.
   */
  private recordedData(a: string[]): string[] {
    const dt = this.rtr * this.servoCycleS;
    const maxPts = this.opts.recorderPoints ?? 262144;
    const recorded = this.recordedPoints();
    const start = a.length > 0 ? this.num(a[0]) : 1;
    if (!Number.isInteger(start) || start < 1 || start > maxPts) throw new CmdError(17);
    const count = a.length > 1 ? this.num(a[1]) : Math.max(0, recorded - start + 1);
    if (!Number.isInteger(count) || count < 0) throw new CmdError(17);
    const tables = a.length > 2 ? this.tablesArg(a.slice(2)) : [...this.drc.keys()].filter((t) => this.drc.get(t)!.option !== 0);
    const n = Math.min(count, maxPts - start + 1);
    const head = ["# VERSION = 1", "# TYPE = 1", "# SEPARATOR = 32", `# DIM = ${tables.length}`, `# SAMPLE_TIME = ${fmt(dt)}`, `# NDATA = ${n}`];
    tables.forEach((t, i) => {
      const c = this.drc.get(t)!;
      head.push(`# NAME${i} = ${RECORD_OPTIONS[c.option]} ${c.source}`);
    });
    head.push("# END_HEADER");
    const rows: string[] = [];
    for (let k = 0; k < n; k++) {
      // the motion model is a function of time within the current moves, also ahead of now
      const t = this.recordStart + (start - 1 + k) * dt;
      rows.push(tables.map((tb) => fmt(this.recordValue(this.drc.get(tb)!, t))).join(" "));
    }
    if (n > 0) this.replyNotBefore = Math.max(this.replyNotBefore, this.recordStart + (start - 1 + n - 1) * dt);
    return [...head, ...rows];
  }

  private recordValue(c: { source: string; option: number }, t: number): number {
    switch (c.option) {
      case 1:
        return this.model.target(c.source);
      case 2:
        return this.model.exactPosition(c.source, t);
      case 3:
        return this.model.target(c.source) - this.model.exactPosition(c.source, t);
      default:
        return 0;
    }
  }

  private readonly commands: Record<string, (args: string[]) => string[] | undefined> = {
    "*IDN?": (a) => (this.noArgs(a), [this.idn]),
    "CSV?": (a) => (this.noArgs(a), ["2.0"]),
    "SAI?": (a) => {
      if (a.length && !(a.length === 1 && a[0].toUpperCase() === "ALL")) throw new CmdError(24);
      return this.model.axes();
    },
    "ERR?": (a) => {
      this.noArgs(a);
      const e = this.err;
      this.err = 0;
      return [String(e)];
    },
    "HLP?": (a) => (this.noArgs(a), ["The following commands are valid:", ...HELP.map(([c, d]) => `${c} ${d}`), "end of help"]),
    SVO: (a) => {
      const p = this.pairs(a);
      const r: Record<string, boolean> = {};
      for (const [ax, v] of p) {
        const n = this.num(v);
        if (n !== 0 && n !== 1) throw new CmdError(17);
        r[ax] = n === 1;
      }
      this.model.setServo(r);
      return undefined;
    },
    "SVO?": (a) => this.axesArg(a).map((ax) => `${ax}=${this.model.servo(ax) ? 1 : 0}`),
    MOV: (a) => {
      const t = this.numPairs(a);
      this.checkWaveGen(Object.keys(t));
      this.model.move(t);
      return undefined;
    },
    "MOV?": (a) => this.axesArg(a).map((ax) => `${ax}=${fmt(this.model.target(ax))}`),
    MVR: (a) => {
      const t = this.numPairs(a);
      this.checkWaveGen(Object.keys(t));
      this.model.moveRelative(t);
      return undefined;
    },
    "POS?": (a) => this.axesArg(a).map((ax) => `${ax}=${fmt(this.model.position(ax))}`),
    "ONT?": (a) => this.axesArg(a).map((ax) => `${ax}=${this.model.onTarget(ax) ? 1 : 0}`),
    VEL: (a) => (this.model.setVelocity(this.numPairs(a)), undefined),
    "VEL?": (a) => this.axesArg(a).map((ax) => `${ax}=${fmt(this.model.velocity(ax))}`),
    "TMN?": (a) => this.axesArg(a).map((ax) => `${ax}=${fmt(this.model.limits(ax).min)}`),
    "TMX?": (a) => this.axesArg(a).map((ax) => `${ax}=${fmt(this.model.limits(ax).max)}`),
    "OVF?": (a) => this.axesArg(a).map((ax) => `${ax}=${this.model.overflow(ax) ? 1 : 0}`),
    STP: (a) => {
      this.noArgs(a);
      this.model.stop();
      this.waveGen.clear();
      this.err = 10;
      return undefined;
    },
    HLT: (a) => {
      const axes = this.axesArg(a);
      this.model.stop(axes);
      this.err = 10;
      return undefined;
    },
    "SRG?": (a) => {
      if (a.length === 0) return this.model.axes().map((ax) => `${ax} 1=0x${this.model.statusRegister(ax).toString(16)}`);
      if (a.length % 2) throw new CmdError(24);
      const out: string[] = [];
      for (let i = 0; i < a.length; i += 2) {
        if (!this.model.hasAxis(a[i])) throw new CmdError(15);
        if (this.num(a[i + 1]) !== 1) throw new CmdError(17);
        out.push(`${a[i]} ${a[i + 1]}=0x${this.model.statusRegister(a[i]).toString(16)}`);
      }
      return out;
    },
    FRF: (a) => (this.model.reference(this.axesArg(a)), undefined),
    "FRF?": (a) => this.axesArg(a).map((ax) => `${ax}=${this.model.referenced(ax) ? 1 : 0}`),
    SPA: (a) => {
      if (a.length === 0) throw new CmdError(26);
      if (a.length % 3) throw new CmdError(24);
      const ops: (() => void)[] = [];
      for (let i = 0; i < a.length; i += 3) {
        const ax = a[i];
        if (!this.model.hasAxis(ax)) throw new CmdError(15);
        const p = this.param(a[i + 1]);
        const v = this.num(a[i + 2]);
        if (p !== PARAM_ON_TARGET_WINDOW && p !== PARAM_SETTLING_TIME) throw new CmdError(17); // read-only here
        ops.push(() => (p === PARAM_ON_TARGET_WINDOW ? this.model.setOnTargetWindow(ax, v) : this.model.setSettlingTime(ax, v)));
      }
      // validate ranges on a dry run would need copies; settle for: apply in order, stop at the first error
      for (const op of ops) op();
      return undefined;
    },
    "SPA?": (a) => {
      const q: [string, string][] = [];
      if (a.length === 0) {
        for (const ax of this.model.axes()) for (const p of PARAMS) q.push([ax, hex8(p.id)]);
      } else {
        if (a.length % 2) throw new CmdError(24);
        for (let i = 0; i < a.length; i += 2) {
          if (!this.model.hasAxis(a[i])) throw new CmdError(15);
          this.param(a[i + 1]);
          q.push([a[i], a[i + 1]]);
        }
      }
      return q.map(([ax, p]) => `${ax} ${p}=${fmt(this.paramValue(ax, this.param(p)))}`);
    },
    "HPA?": (a) => {
      this.noArgs(a);
      // <PamID>=TAB<command level>TAB<max. items>TAB<data type>TAB<item type>TAB<description>, then "end of help"
      const n = this.model.axes().length;
      return [...PARAMS.map((p) => `${hex8(p.id)}=\t${p.writable ? 0 : 1}\t${n}\t${p.type}\tAxis\t${p.text}`), "end of help"];
    },
    "VER?": (a) => (this.noArgs(a), this.opts.versions ?? ["FW_ARM: V00.000.000 (donki GCS emulator)", "FW_FPGA: V00.000.000 (donki GCS emulator)"]),
    "SSN?": (a) => (this.noArgs(a), [this.opts.serialNumber ?? "0000000000"]),
    "TNR?": (a) => (this.noArgs(a), [String(this.recorderTables)]),
    "HDR?": (a) => {
      this.noArgs(a);
      return [
        "#RecordOptions",
        ...Object.entries(RECORD_OPTIONS).map(([k, v]) => `${k}=${v}`),
        "#TriggerOptions",
        "0=default setting",
        "#Parameters to be set with SPA",
        "#Additional information",
        `${this.recorderTables} datarecords with ${this.opts.recorderPoints ?? 262144} points each`,
        "end of help",
      ];
    },
    DRC: (a) => {
      if (a.length === 0) throw new CmdError(26);
      if (a.length % 3) throw new CmdError(24);
      const ops: [number, string, number][] = [];
      for (let i = 0; i < a.length; i += 3) {
        const t = this.num(a[i]);
        if (!Number.isInteger(t) || t < 1 || t > this.recorderTables) throw new CmdError(17);
        const opt = this.num(a[i + 2]);
        if (!(opt in RECORD_OPTIONS)) throw new CmdError(17);
        if (opt !== 0 && !this.model.hasAxis(a[i + 1])) throw new CmdError(15);
        ops.push([t, a[i + 1], opt]);
      }
      for (const [t, source, option] of ops) this.drc.set(t, { source, option });
      return undefined;
    },
    "DRC?": (a) => this.tablesArg(a).map((t) => `${t}=${this.drc.get(t)!.source} ${this.drc.get(t)!.option}`),
    RTR: (a) => {
      if (a.length !== 1) throw new CmdError(a.length ? 24 : 26);
      const r = this.num(a[0]);
      if (!Number.isInteger(r) || r < 1) throw new CmdError(17);
      this.rtr = r;
      return undefined;
    },
    "RTR?": (a) => (this.noArgs(a), [String(this.rtr)]),
    DRT: (a) => {
      if (a.length === 0) throw new CmdError(26);
      if (a.length % 3) throw new CmdError(24);
      for (let i = 0; i < a.length; i += 3) if (this.num(a[i + 1]) !== 0) throw new CmdError(17); // only the default trigger
      this.drt = 0;
      return undefined;
    },
    "DRT?": (a) => this.tablesArg(a).map((t) => `${t}=${this.drt} 0`),
    "DRR?": (a) => this.recordedData(a),
    "DRL?": (a) => {
      const n = this.recordedPoints();
      return this.tablesArg(a).map((t) => `${t}=${this.drc.get(t)!.option === 0 ? 0 : n}`);
    },
    SVA: (a) => (this.model.openLoop(this.numPairs(a)), undefined),
    WGO: (a) => {
      if (a.length === 0) throw new CmdError(26);
      if (a.length % 2) throw new CmdError(24);
      const n = this.model.axes().length;
      const ops: [number, boolean][] = [];
      for (let i = 0; i < a.length; i += 2) {
        const g = this.num(a[i]);
        if (!Number.isInteger(g) || g < 1 || g > n) throw new CmdError(17);
        ops.push([g, this.num(a[i + 1]) !== 0]);
      }
      for (const [g, on] of ops) (on ? this.waveGen.add(g) : this.waveGen.delete(g));
      return undefined;
    },
    "WGO?": (a) => {
      const n = this.model.axes().length;
      const gens = a.length ? a.map((s) => this.num(s)) : Array.from({ length: n }, (_, i) => i + 1);
      for (const g of gens) if (!Number.isInteger(g) || g < 1 || g > n) throw new CmdError(17);
      return gens.map((g) => `${g}=${this.waveGen.has(g) ? 1 : 0}`);
    },
  };
}

/** PiGcsStage: a Positioner on a real PI GCS 2.0 controller (TCP or RS-232), on top of GcsController. */
import { RealClock, type Clock } from "../../runtime/clock.ts";
import type { DeviceInfo } from "../../runtime/devices/common.ts";
import type { AxisId, AxisLimits, AxisStatus, Positioner } from "../../runtime/devices/positioner.ts";
import { GcsController } from "./controller.ts";
import { GCS, GcsError } from "./errors.ts";
import { replyLines } from "./framer.ts";
import { SerialTransport, TcpTransport, type GcsTransport } from "./transport.ts";

export type PiGcsConnection =
  | { transport: "tcp"; host: string; port?: number; connectTimeoutMs?: number }
  | { transport: "serial"; path: string; baud?: number; rtscts?: boolean }
  | { transport: "custom"; impl: GcsTransport };

export type PiGcsStageOptions = PiGcsConnection & {
  /** Clock for poll intervals and deadlines (default RealClock). Socket timeouts use real timers. */
  clock?: Clock;
  /** Device name in errors (default "pi-gcs"). */
  name?: string;
  /** Per-query timeout, real ms (default 5000). */
  timeoutMs?: number;
  /** waitOnTarget / reference poll interval, clock seconds (default 0.005). */
  pollIntervalS?: number;
  /** Poll ONT? (default) or the #5 motion byte followed by one ONT? once motion ended. */
  pollWith?: "ONT" | "#5";
  /** Stop with the #24 byte (default) or STP. */
  stopWith?: "#24" | "STP";
  /** Reopen a dropped connection on the next call (default true). */
  autoReconnect?: boolean;
  /** Units reported by units() (default "um"). */
  units?: string;
};

const SRG_SERVO = 0x1000;
const SRG_MOVING = 0x2000;

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v); // the controller rejects it (syntax error 1)
  const s = v.toFixed(7).replace(/0+$/, "").replace(/\.$/, "");
  return s === "-0" ? "0" : s;
}

export class PiGcsStage implements Positioner {
  readonly ctl: GcsController;
  readonly clock: Clock;
  readonly name: string;
  private axisList: AxisId[] | null = null;
  private idn = "";
  private connected = false;
  private readonly o: PiGcsStageOptions;

  constructor(o: PiGcsStageOptions) {
    this.o = o;
    this.clock = o.clock ?? new RealClock();
    this.name = o.name ?? "pi-gcs";
    const transport =
      o.transport === "tcp"
        ? new TcpTransport({ host: o.host, port: o.port, connectTimeoutMs: o.connectTimeoutMs })
        : o.transport === "serial"
          ? new SerialTransport({ path: o.path, baud: o.baud, rtscts: o.rtscts })
          : o.impl;
    this.ctl = new GcsController({ transport, name: this.name, timeoutMs: o.timeoutMs, autoReconnect: o.autoReconnect });
  }

  info(): DeviceInfo {
    return { kind: "positioner", model: this.idn || "PI GCS 2.0 controller", serial: this.ctl.transport.description, simulated: false };
  }

  private err(code: number, detail?: string): GcsError {
    return new GcsError(this.name, code, detail);
  }

  /** Open the link, identify the controller (*IDN?, SAI?) and clear a stale error. Idempotent. */
  async connect(): Promise<void> {
    if (this.connected && this.ctl.isOpen) return;
    await this.ctl.connect();
    try {
      this.idn = (await this.ctl.query("*IDN?")).trim();
      this.axisList = (await this.ctl.queryLines("SAI?")).map((l) => l.trim()).filter((l) => l.length);
      if (!this.axisList.length) throw this.err(GCS.UNEXPECTED_RESPONSE, "SAI? listed no axes");
      await this.ctl.readError();
    } catch (e) {
      await this.ctl.close().catch(() => {});
      if (e instanceof GcsError && (e.code === GCS.COM_ERROR || e.code === GCS.SEND_ERROR)) {
        throw this.err(GCS.CONNECTION_FAILED, `${this.ctl.transport.description} closed the connection during identification (the controller serves one TCP client at a time: is another client connected?)`);
      }
      throw e;
    }
    this.connected = true;
  }

  async close(): Promise<void> {
    this.connected = false;
    await this.ctl.close().catch(() => {});
  }

  private ensure(): AxisId[] {
    if (!this.connected || !this.axisList) throw this.err(GCS.NOT_CONNECTED, "call connect() first");
    return this.axisList;
  }

  /** Axes to address: validated locally (a query with an invalid axis would get no reply at all). */
  private sel(axes?: AxisId[]): AxisId[] {
    const all = this.ensure();
    if (!axes || axes.length === 0) return all;
    for (const a of axes) if (!all.includes(a)) throw this.err(GCS.INVALID_AXIS, `axis ${JSON.stringify(a)} not in SAI? list ${all.join(",")}`);
    return axes;
  }

  /** Parse `axis=value` lines; every requested axis must be present. */
  private parseAxes<T>(cmd: string, reply: string, axes: AxisId[], parse: (v: string) => T | undefined): Record<AxisId, T> {
    const out: Record<AxisId, T> = {};
    for (const line of replyLines(reply)) {
      const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(line);
      if (!m) throw this.err(GCS.UNEXPECTED_RESPONSE, `${cmd} answered ${JSON.stringify(reply)}`);
      const v = parse(m[2]);
      if (v === undefined) throw this.err(GCS.UNEXPECTED_RESPONSE, `${cmd} answered ${JSON.stringify(reply)}`);
      out[m[1]] = v;
    }
    for (const a of axes) if (!(a in out)) throw this.err(GCS.UNEXPECTED_RESPONSE, `${cmd} reply lacks axis ${a}: ${JSON.stringify(reply)}`);
    return out;
  }

  private static num(v: string): number | undefined {
    const n = Number(v);
    return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) && Number.isFinite(n) ? n : undefined;
  }

  private static bool(v: string): boolean | undefined {
    return v === "1" ? true : v === "0" ? false : undefined;
  }

  private async queryAxes<T>(mn: string, axes: AxisId[], parse: (v: string) => T | undefined): Promise<Record<AxisId, T>> {
    const cmd = `${mn} ${axes.join(" ")}`;
    return this.parseAxes(cmd, await this.ctl.query(cmd), axes, parse);
  }

  private async setAxes(mn: string, values: Record<AxisId, string>): Promise<void> {
    this.ensure();
    const parts = Object.entries(values).map(([a, v]) => `${a} ${v}`);
    if (!parts.length) return;
    await this.ctl.send(`${mn} ${parts.join(" ")}`);
  }

  async axes(): Promise<AxisId[]> {
    return [...this.ensure()];
  }

  units(): string {
    return this.o.units ?? "um";
  }

  async moveAbsolute(targets: Record<AxisId, number>): Promise<void> {
    await this.setAxes("MOV", Object.fromEntries(Object.entries(targets).map(([a, v]) => [a, fmtNum(v)])));
  }

  async moveRelative(steps: Record<AxisId, number>): Promise<void> {
    await this.setAxes("MVR", Object.fromEntries(Object.entries(steps).map(([a, v]) => [a, fmtNum(v)])));
  }

  async position(axes?: AxisId[]): Promise<Record<AxisId, number>> {
    return this.queryAxes("POS?", this.sel(axes), PiGcsStage.num);
  }

  async onTarget(axes?: AxisId[]): Promise<Record<AxisId, boolean>> {
    return this.queryAxes("ONT?", this.sel(axes), PiGcsStage.bool);
  }

  /** #5: bit mask of moving axes (bit i = i-th axis of SAI?). */
  async motionMask(): Promise<number> {
    this.ensure();
    const r = (await this.ctl.queryByte(0x05)).trim();
    if (!/^(0x)?[0-9a-f]+$/i.test(r)) throw this.err(GCS.UNEXPECTED_RESPONSE, `#5 answered ${JSON.stringify(r)}`);
    return parseInt(r.replace(/^0x/i, ""), 16);
  }

  /** #7: resolves when the controller is ready (0xB1), throws -1008 when busy (0xB0). */
  async checkReady(): Promise<void> {
    this.ensure();
    const r = await this.ctl.queryByte(0x07);
    const c = r.length === 1 ? r.charCodeAt(0) : -1;
    if (c === 0xb0) throw this.err(GCS.CONTROLLER_BUSY, "#7 answered 0xB0");
    if (c !== 0xb1) throw this.err(GCS.UNEXPECTED_RESPONSE, `#7 answered ${JSON.stringify(r)}`);
  }

  async waitOnTarget(axes: AxisId[], timeoutS: number, signal?: AbortSignal): Promise<void> {
    const list = this.sel(axes);
    const all = this.ensure();
    const deadline = this.clock.now() + timeoutS;
    const poll = this.o.pollIntervalS ?? 0.005;
    try {
      for (;;) {
        signal?.throwIfAborted();
        let done = false;
        if (this.o.pollWith === "#5") {
          const mask = await this.motionMask();
          const moving = list.some((a) => mask & (1 << all.indexOf(a)));
          if (!moving) done = Object.values(await this.onTarget(list)).every((v) => v);
        } else {
          done = Object.values(await this.onTarget(list)).every((v) => v);
        }
        if (done) return;
        signal?.throwIfAborted();
        const now = this.clock.now();
        if (now >= deadline) {
          let detail = "";
          try {
            const ovf = await this.queryAxes("OVF?", list, PiGcsStage.bool);
            const over = list.filter((a) => ovf[a]);
            if (over.length) detail = ` (overflow on axis ${over.join(",")})`;
          } catch {
            /* OVF? unsupported: no detail */
          }
          throw this.err(GCS.TIMEOUT, `axes ${list.join(",")} not on target after ${timeoutS} s${detail}`);
        }
        await this.clock.sleep(Math.min(poll, deadline - now), signal);
      }
    } catch (e) {
      if (signal?.aborted) await this.stop().catch(() => {});
      throw e;
    }
  }

  async setVelocity(v: Record<AxisId, number>): Promise<void> {
    await this.setAxes("VEL", Object.fromEntries(Object.entries(v).map(([a, x]) => [a, fmtNum(x)])));
  }

  async velocity(axes?: AxisId[]): Promise<Record<AxisId, number>> {
    return this.queryAxes("VEL?", this.sel(axes), PiGcsStage.num);
  }

  async limits(axes?: AxisId[]): Promise<Record<AxisId, AxisLimits>> {
    const list = this.sel(axes);
    const lo = await this.queryAxes("TMN?", list, PiGcsStage.num);
    const hi = await this.queryAxes("TMX?", list, PiGcsStage.num);
    return Object.fromEntries(list.map((a) => [a, { min: lo[a], max: hi[a] }]));
  }

  async setServo(on: Record<AxisId, boolean>): Promise<void> {
    await this.setAxes("SVO", Object.fromEntries(Object.entries(on).map(([a, v]) => [a, v ? "1" : "0"])));
  }

  async servo(axes?: AxisId[]): Promise<Record<AxisId, boolean>> {
    return this.queryAxes("SVO?", this.sel(axes), PiGcsStage.bool);
  }

  async reference(axes: AxisId[], timeoutS: number): Promise<void> {
    const list = this.sel(axes);
    const ref = await this.queryAxes("FRF?", list, PiGcsStage.bool);
    const todo = list.filter((a) => !ref[a]);
    if (!todo.length) return;
    await this.ctl.send(`FRF ${todo.join(" ")}`);
    const deadline = this.clock.now() + timeoutS;
    const poll = this.o.pollIntervalS ?? 0.005;
    for (;;) {
      const r = await this.queryAxes("FRF?", todo, PiGcsStage.bool);
      if (todo.every((a) => r[a])) return;
      const now = this.clock.now();
      if (now >= deadline) throw this.err(GCS.TIMEOUT, `referencing axes ${todo.join(",")} not done after ${timeoutS} s`);
      await this.clock.sleep(Math.min(poll, deadline - now));
    }
  }

  async needsReferencing(axis: AxisId): Promise<boolean> {
    const r = await this.queryAxes("FRF?", this.sel([axis]), PiGcsStage.bool);
    return !r[axis];
  }

  /** SRG? register 1 of an axis. */
  async statusRegister(axis: AxisId): Promise<number> {
    this.sel([axis]);
    const cmd = `SRG? ${axis} 1`;
    const reply = await this.ctl.query(cmd);
    const m = /^\s*(\S+)\s+1\s*=\s*(0x[0-9a-f]+|\d+)\s*$/i.exec(replyLines(reply)[0] ?? "");
    if (!m || m[1] !== axis) throw this.err(GCS.UNEXPECTED_RESPONSE, `${cmd} answered ${JSON.stringify(reply)}`);
    return m[2].toLowerCase().startsWith("0x") ? parseInt(m[2].slice(2), 16) : Number(m[2]);
  }

  async status(axis: AxisId): Promise<AxisStatus> {
    const srg = await this.statusRegister(axis);
    const pos = await this.position([axis]);
    const ont = await this.onTarget([axis]);
    const ref = await this.queryAxes("FRF?", [axis], PiGcsStage.bool);
    return { position: pos[axis], onTarget: ont[axis], moving: !!(srg & SRG_MOVING), servo: !!(srg & SRG_SERVO), referenced: ref[axis] };
  }

  /** Stop all axes (#24 or STP); the error 10 this leaves on the controller is read and ignored. */
  async stop(): Promise<void> {
    this.ensure();
    if ((this.o.stopWith ?? "#24") === "#24") await this.ctl.sendByte(0x18, { ignore: [GCS.STOPPED] });
    else await this.ctl.send("STP", { ignore: [GCS.STOPPED] });
  }
}

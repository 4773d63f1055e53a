import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ScaledClock, VirtualClock, type Clock } from "../../runtime/clock.ts";
import { DeviceError } from "../../runtime/devices/common.ts";
import { GcsEmulator } from "../../simulators/gcs/emulator.ts";
import type { AxisConfig } from "../../simulators/pi-stage/motion.ts";
import { GcsController } from "./controller.ts";
import { GCS_ERRORS, GcsError, gcsErrorName } from "./errors.ts";
import { positionerConformance } from "./positioner-conformance.ts";
import { hasSocat, makePtyPair } from "./pty-pair.ts";
import { PiGcsStage } from "./stage.ts";
import { TcpTransport, type GcsTransport, type TransportHandlers } from "./transport.ts";

const SOCAT = hasSocat();
const NO_SOCAT = "socat is not installed (apt-get install socat): serial pty tests skipped";

async function codeOf(p: Promise<unknown>): Promise<number | string | undefined> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return (e as DeviceError).code;
  }
  return undefined;
}

async function errOf(p: Promise<unknown>): Promise<GcsError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GcsError);
    return e as GcsError;
  }
  throw new Error("expected a GcsError, the call succeeded");
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function tcpRig(o: { clock?: Clock; timeoutMs?: number; axes?: AxisConfig[]; autoReconnect?: boolean; pollWith?: "ONT" | "#5" } = {}) {
  const clock = o.clock ?? new VirtualClock(0);
  const emu = new GcsEmulator({ clock, seed: 3, axes: o.axes });
  const { host, port } = await emu.listenTcp();
  const stage = new PiGcsStage({ transport: "tcp", host, port, clock, timeoutMs: o.timeoutMs ?? 2000, autoReconnect: o.autoReconnect, pollWith: o.pollWith });
  cleanups.push(() => emu.close(), () => stage.close());
  return { clock, emu, stage, port };
}

async function serialRig(o: { clock?: Clock; baud?: number; timeoutMs?: number } = {}) {
  const clock = o.clock ?? new VirtualClock(0);
  const pty = await makePtyPair();
  cleanups.push(() => pty.close());
  const emu = new GcsEmulator({ clock, seed: 3 });
  await emu.openSerial(pty.a, o.baud ?? 115200);
  const stage = new PiGcsStage({ transport: "serial", path: pty.b, baud: o.baud, clock, timeoutMs: o.timeoutMs ?? 2000 });
  cleanups.push(() => emu.close(), () => stage.close());
  return { clock, emu, stage, pty };
}

// ----- the shared Positioner checks ----------------------------------------------------------------------

positionerConformance("PiGcsStage over TCP to the GCS emulator", async () => {
  const r = await tcpRig();
  return { device: r.stage, clock: r.clock };
});

positionerConformance("PiGcsStage over TCP, polling #5", async () => {
  const r = await tcpRig({ pollWith: "#5" });
  return { device: r.stage, clock: r.clock };
});

describe.skipIf(!SOCAT)("serial conformance (" + (SOCAT ? "socat pty pair" : NO_SOCAT) + ")", () => {
  positionerConformance("PiGcsStage over a socat pty pair to the GCS emulator", async () => {
    const r = await serialRig();
    return { device: r.stage, clock: r.clock };
  });
});

// ----- driver specifics over TCP -------------------------------------------------------------------------

describe("PiGcsStage over TCP", () => {
  it("identifies the controller and its axes", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    expect(stage.info()).toMatchObject({ kind: "positioner", simulated: false });
    expect(stage.info().model).toMatch(/E-727/);
    expect(stage.info().serial).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(await stage.axes()).toEqual(["1", "2", "3"]);
    expect(emu.stats.accepted).toBe(1);
  });

  it("calls before connect() fail with -4 NOT_CONNECTED", async () => {
    const { stage } = await tcpRig();
    const e = await errOf(stage.position());
    expect(e.code).toBe(-4);
    expect(e.codeName).toBe("NOT_CONNECTED");
    const ctl = stage.ctl;
    expect(await codeOf(ctl.query("POS?"))).toBe(-4);
  });

  it("a garbage reply is -1004 UNEXPECTED_RESPONSE and the next call works", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    emu.inject({ kind: "garbage" });
    const e = await errOf(stage.position(["1"]));
    expect(e.code).toBe(-1004);
    expect(e.message).toMatch(/POS\? 1 answered/);
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2);
    emu.inject({ kind: "garbage" });
    expect(await codeOf(stage.setVelocity({ "1": 10 }))).toBe(-1004); // garbage reply to the ERR? check
  });

  it("a silent controller: timeout -7 (no hang), stale bytes flushed, then it works again", async () => {
    const { stage, emu } = await tcpRig({ timeoutMs: 150 });
    await stage.connect();
    emu.setSilent(true);
    const e = await errOf(stage.position(["1"]));
    expect(e.code).toBe(-7);
    expect(e.codeName).toBe("TIMEOUT");
    emu.setSilent(false);
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2);
    expect(await stage.axes()).toEqual(["1", "2", "3"]);
  });

  it("an unknown query times out (-7), and ERR? then reports 2", async () => {
    const { stage } = await tcpRig({ timeoutMs: 100 });
    await stage.connect();
    expect(await codeOf(stage.ctl.query("FOO?"))).toBe(-7);
    expect(await stage.ctl.readError()).toBe(2);
  });

  it("a late reply after a timeout is flushed, not taken as the answer to the next query", async () => {
    const clock = new VirtualClock(0);
    const emu = new GcsEmulator({ clock, noise: 0 });
    const { port } = await emu.listenTcp();
    const ctl = new GcsController({ transport: new TcpTransport({ host: "127.0.0.1", port }), timeoutMs: 100, flushQuietMs: 100 });
    cleanups.push(() => emu.close(), () => ctl.close());
    await ctl.connect();
    emu.inject({ kind: "late", delayMs: 130 }); // arrives after the 100 ms timeout, inside the quiet window
    expect(await codeOf(ctl.query("CSV?"))).toBe(-7);
    expect(await ctl.query("POS? 1")).toBe("1=50.000000");
    expect(ctl.staleBytes).toBe("2.0\n".length);
  });

  it("a dropped connection is reopened on the next call", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    emu.dropConnection();
    while (stage.ctl.isOpen) await new Promise((r) => setTimeout(r, 2));
    expect((await stage.position(["2"]))["2"]).toBeCloseTo(50, 2);
    expect(stage.ctl.reconnects).toBe(1);
    expect(emu.stats.accepted).toBe(2);
  });

  it("a drop while a query is in flight: the query is retried once on a new connection", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    emu.inject({ kind: "drop-on-next" });
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2);
    expect(stage.ctl.reconnects).toBe(1);
  });

  it("a drop under a set command is a clear failure (-1/-2), not retried; the stage then recovers", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    emu.inject({ kind: "drop-on-next" });
    const e = await errOf(stage.moveAbsolute({ "1": 60 }));
    expect([-1, -2]).toContain(e.code);
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2); // MOV never executed
  });

  it("without autoReconnect a dropped link gives -4 until connect()", async () => {
    const { stage, emu } = await tcpRig({ autoReconnect: false });
    await stage.connect();
    emu.dropConnection();
    while (stage.ctl.isOpen) await new Promise((r) => setTimeout(r, 2));
    expect(await codeOf(stage.position())).toBe(-4);
    await stage.connect();
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2);
  });

  it("a controller that went away: -6 CONNECTION_FAILED", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    await emu.close();
    while (stage.ctl.isOpen) await new Promise((r) => setTimeout(r, 2));
    const e = await errOf(stage.position());
    expect(e.code).toBe(-6);
    expect(e.codeName).toBe("CONNECTION_FAILED");
  });

  it("a second TCP client is refused (-6) while the first keeps working", async () => {
    const { stage, emu, port } = await tcpRig();
    await stage.connect();
    const second = new PiGcsStage({ transport: "tcp", host: "127.0.0.1", port, clock: new VirtualClock(0), timeoutMs: 1000 });
    cleanups.push(() => second.close());
    const e = await errOf(second.connect());
    expect(e.code).toBe(-6);
    expect(e.message).toMatch(/one TCP client/);
    expect(emu.stats.refused).toBeGreaterThanOrEqual(1);
    // a raw client sees the connection closed without a byte
    const raw = net.createConnection({ host: "127.0.0.1", port });
    let bytes = 0;
    raw.on("data", (d) => (bytes += d.length));
    raw.write("*IDN?\n");
    await new Promise<void>((r) => raw.on("close", () => r()));
    expect(bytes).toBe(0);
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2);
  });

  it("a send error is -2 SEND_ERROR", async () => {
    const t: GcsTransport = {
      description: "fake://broken",
      isOpen: true,
      setHandlers(_h: TransportHandlers) {},
      open: async () => {},
      write: async () => {
        throw new Error("EPIPE");
      },
      close: async () => {},
    };
    const ctl = new GcsController({ transport: t, autoReconnect: false });
    await ctl.connect();
    const e = await errOf(ctl.send("SVO 1 1"));
    expect(e.code).toBe(-2);
    expect(e.message).toMatch(/EPIPE/);
  });

  it("#7 busy while referencing is -1008 CONTROLLER_BUSY", async () => {
    const { stage, emu } = await tcpRig({ axes: [{ id: "1", hasReference: true, referenceTime: 0.2 }, { id: "2" }] });
    await stage.connect();
    expect(await stage.needsReferencing("1")).toBe(true);
    await stage.ctl.send("FRF 1");
    const e = await errOf(stage.checkReady());
    expect(e.code).toBe(-1008);
    expect(emu.model.referencing("1")).toBe(true);
    await stage.reference(["1"], 2);
    await stage.checkReady();
    expect(await stage.needsReferencing("1")).toBe(false);
  });

  it("reference() references an axis with a reference switch", async () => {
    const { stage, clock } = await tcpRig({ axes: [{ id: "1", hasReference: true, referenceTime: 0.2 }] });
    await stage.connect();
    expect(await codeOf(stage.moveAbsolute({ "1": 10 }))).toBe(5);
    await stage.reference(["1"], 2);
    expect(clock.now()).toBeGreaterThanOrEqual(0.2);
    await stage.moveAbsolute({ "1": 10 });
    await stage.waitOnTarget(["1"], 1);
  });

  it("waitOnTarget names an overflowed axis in its timeout", async () => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    emu.model.setOverflow("2");
    const e = await errOf(stage.waitOnTarget(["2"], 0.05));
    expect(e.code).toBe(-7);
    expect(e.message).toMatch(/overflow on axis 2/);
  });

  it("STP (stopWith) also leaves error 10, which stop() ignores", async () => {
    const clock = new VirtualClock(0);
    const emu = new GcsEmulator({ clock });
    const { port } = await emu.listenTcp();
    const stage = new PiGcsStage({ transport: "tcp", host: "127.0.0.1", port, clock, stopWith: "STP" });
    cleanups.push(() => emu.close(), () => stage.close());
    await stage.connect();
    await stage.setVelocity({ "1": 10 });
    await stage.moveAbsolute({ "1": 60 });
    await stage.stop();
    expect(emu.errorCode).toBe(0);
    expect((await stage.status("1")).moving).toBe(false);
  });

  it("SPA settling time changes when ONT? turns 1", async () => {
    const { stage, clock } = await tcpRig();
    await stage.connect();
    await stage.ctl.send("SPA 1 0x07000901 0.5");
    expect(await stage.ctl.queryLines("SPA? 1 0x07000901")).toEqual(["1 0x07000901=0.500000"]);
    const t0 = clock.now();
    await stage.moveAbsolute({ "1": 51 });
    await stage.waitOnTarget(["1"], 2);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(0.5);
  });

  it("runs with a ScaledClock too (real concurrency, compressed time)", async () => {
    const clock = new ScaledClock(0.05);
    const { stage } = await tcpRig({ clock });
    await stage.connect();
    await stage.setVelocity({ "1": 100 });
    await stage.moveAbsolute({ "1": 70 }); // 0.2 s clock = 10 ms real
    await stage.waitOnTarget(["1"], 5);
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(70, 2);
  });
});

// ----- every controller error code the emulator can produce, surfaced by ERR? after the set command --------

describe("GCS error codes through the driver (TCP)", () => {
  const cases: [number, string, (s: PiGcsStage, e: GcsEmulator) => Promise<unknown>][] = [
    [1, "syntax (NaN target)", (s) => s.moveAbsolute({ "1": NaN })],
    [2, "unknown command", (s) => s.ctl.send("XYZ 1")],
    [3, "command too long", (s) => s.ctl.send("MOV " + "1 50 ".repeat(60))],
    [5, "servo off", async (s) => (await s.setServo({ "1": false }), s.moveAbsolute({ "1": 60 }))],
    [7, "out of limits", (s) => s.moveAbsolute({ "1": 100.5 })],
    [8, "velocity out of limits", (s) => s.setVelocity({ "1": 1e6 })],
    [10, "stopped (STP without ignore)", (s) => s.ctl.send("STP")],
    [15, "invalid axis in a set command", (s) => s.moveAbsolute({ "9": 1 })],
    [17, "parameter out of range", (s) => s.ctl.send("SVO 1 2")],
    [24, "wrong number of parameters", (s) => s.ctl.send("MOV 1")],
    [26, "missing parameter", (s) => s.ctl.send("MOV")],
    [54, "unknown parameter", (s) => s.ctl.send("SPA 1 0x12345678 1")],
    [73, "wave generator active", async (s) => (await s.ctl.send("WGO 1 1"), s.moveAbsolute({ "1": 60 }))],
    [79, "open loop with servo on", (s) => s.ctl.send("SVA 1 10")],
    [216, "on limit switch (injected)", (s, e) => (e.inject({ kind: "error", code: 216 }), s.setVelocity({ "1": 10 }))],
    [506, "servo unstable (injected)", (s, e) => (e.inject({ kind: "error", code: 506 }), s.setVelocity({ "1": 10 }))],
    [604, "position error too high (injected)", (s, e) => (e.inject({ kind: "error", code: 604 }), s.setVelocity({ "1": 10 }))],
    [1024, "motion error (injected)", (s, e) => (e.inject({ kind: "error", code: 1024 }), s.setVelocity({ "1": 10 }))],
  ];
  it.each(cases)("error %i: %s", async (code, _what, act) => {
    const { stage, emu } = await tcpRig();
    await stage.connect();
    const e = await errOf(act(stage, emu));
    expect(e.code).toBe(code);
    expect(e.codeName).toBe(gcsErrorName(code));
    expect(e.message).toContain(GCS_ERRORS[code].message);
    expect(e.device).toBe("pi-gcs");
    expect(emu.errorCode).toBe(0); // read and cleared by ERR?
  });

  it("every mapped code has a name and a message", () => {
    for (const c of [1, 2, 3, 5, 7, 8, 10, 15, 17, 24, 26, 54, 73, 79, 216, 506, 604, 1024, -1, -2, -4, -6, -7, -1004, -1008]) {
      expect(GCS_ERRORS[c]?.name).toMatch(/^[A-Z_]+$/);
    }
    expect(gcsErrorName(4242)).toBe("GCS_ERROR_4242");
  });
});

// ----- serial (socat pty pair) ---------------------------------------------------------------------------

describe.skipIf(!SOCAT)("PiGcsStage over a serial pty pair (" + (SOCAT ? "socat" : NO_SOCAT) + ")", () => {
  it("identifies, moves and waits on target", async () => {
    const { stage } = await serialRig();
    await stage.connect();
    expect(stage.info().serial).toMatch(/^serial:.*@115200$/);
    expect(await stage.axes()).toEqual(["1", "2", "3"]);
    await stage.moveAbsolute({ "1": 12.5, "2": 80 });
    await stage.waitOnTarget(["1", "2"], 1);
    const p = await stage.position(["1", "2"]);
    expect(p["1"]).toBeCloseTo(12.5, 2);
    expect(p["2"]).toBeCloseTo(80, 2);
  });

  it("models line time: 10 bits per byte at the configured baud", async () => {
    const { stage, clock } = await serialRig({ baud: 9600 });
    await stage.connect();
    const t0 = clock.now();
    const r = await stage.ctl.query("POS? 1");
    const bytes = "POS? 1\n".length + r.length + 1;
    expect(clock.now() - t0).toBeCloseTo((bytes * 10) / 9600, 9);
  });

  it("garbage (-1004), silent controller (-7, no hang) and an error code over serial", async () => {
    const { stage, emu } = await serialRig({ timeoutMs: 1000 }); // long enough for a loaded machine behind socat; the silent case waits this once
    await stage.connect();
    emu.inject({ kind: "garbage" });
    expect(await codeOf(stage.position(["1"]))).toBe(-1004);
    emu.setSilent(true);
    expect(await codeOf(stage.position(["1"]))).toBe(-7);
    emu.setSilent(false);
    expect((await stage.position(["1"]))["1"]).toBeCloseTo(50, 2);
    expect(await codeOf(stage.moveAbsolute({ "1": -1 }))).toBe(7);
  });
});

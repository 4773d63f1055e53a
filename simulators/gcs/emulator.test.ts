import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { GcsEmulator } from "./emulator.ts";

const s = (b: Buffer | null) => (b === null ? null : b.toString("latin1"));

describe("GcsEmulator command interpreter (bytes)", () => {
  const mk = () => new GcsEmulator({ clock: new VirtualClock(0), noise: 0 });

  it("identity, CSV?, SAI? (multi-line: SPACE+LF between lines, bare LF at the end)", () => {
    const e = mk();
    expect(s(e.handle("*IDN?"))).toMatch(/^\(c\).*E-727.*\n$/);
    expect(s(e.handle("*IDN?"))!.endsWith(" \n")).toBe(false);
    expect(s(e.handle("CSV?"))).toBe("2.0\n");
    expect(s(e.handle("SAI?"))).toBe("1 \n2 \n3\n");
    expect(s(e.handle("sai? all"))).toBe("1 \n2 \n3\n");
  });

  it("axis=value replies; mnemonics are case-insensitive", () => {
    const e = mk();
    expect(s(e.handle("POS?"))).toBe("1=50.000000 \n2=50.000000 \n3=50.000000\n");
    expect(s(e.handle("pos? 2"))).toBe("2=50.000000\n");
    expect(s(e.handle("Ont? 1 3"))).toBe("1=1 \n3=1\n");
    expect(s(e.handle("TMN? 1"))).toBe("1=0.000000\n");
    expect(s(e.handle("TMX? 1"))).toBe("1=100.000000\n");
    expect(s(e.handle("VEL? 1"))).toBe("1=1000.000000\n");
    expect(s(e.handle("SVO?"))).toBe("1=1 \n2=1 \n3=1\n");
    expect(s(e.handle("OVF? 1"))).toBe("1=0\n");
    expect(s(e.handle("FRF? 1"))).toBe("1=1\n");
  });

  it("set commands never reply; ERR? returns the stored code once and clears it", () => {
    const e = mk();
    expect(e.handle("MOV 1 60")).toBeNull();
    expect(e.handle("mov 1 200")).toBeNull();
    expect(s(e.handle("ERR?"))).toBe("7\n");
    expect(s(e.handle("ERR?"))).toBe("0\n");
    expect(s(e.handle("MOV? 1"))).toBe("1=60.000000\n");
    expect(e.handle("SVO 2 0")).toBeNull();
    expect(e.handle("MVR 2 1")).toBeNull();
    expect(s(e.handle("ERR?"))).toBe("5\n");
  });

  it("an unknown or invalid query gets no reply at all and stores the error", () => {
    const e = mk();
    expect(e.handle("FOO?")).toBeNull();
    expect(s(e.handle("ERR?"))).toBe("2\n");
    expect(e.handle("POS? 9")).toBeNull();
    expect(s(e.handle("ERR?"))).toBe("15\n");
    expect(e.handle("SPA? 1 0x0BADBEEF")).toBeNull();
    expect(s(e.handle("ERR?"))).toBe("54\n");
    expect(e.handle("FOO 1 2")).toBeNull();
    expect(s(e.handle("ERR?"))).toBe("2\n");
  });

  it.each([
    ["MOV 1 abc", 1],
    ["XYZ", 2],
    ["MOV " + "1 50 ".repeat(60), 3],
    ["MOV 1 101", 7],
    ["VEL 1 0", 8],
    ["STP", 10],
    ["HLT 1", 10],
    ["MOV 4 1", 15],
    ["SVO 1 2", 17],
    ["MOV 1", 24],
    ["MOV", 26],
    ["SPA 1 0x12345678 1", 54],
    ["SVA 1 10", 79],
  ])("%s -> error %i", (cmd, code) => {
    const e = mk();
    expect(e.handle(cmd)).toBeNull();
    expect(s(e.handle("ERR?"))).toBe(`${code}\n`);
  });

  it("wave generator active: MOV on its axis -> 73", () => {
    const e = mk();
    e.handle("WGO 1 1");
    expect(s(e.handle("WGO?"))).toBe("1=1 \n2=0 \n3=0\n");
    expect(s(e.handle(0x09))).toBe("1\n");
    e.handle("MOV 1 10");
    expect(s(e.handle("ERR?"))).toBe("73\n");
    e.handle("MOV 2 10");
    expect(s(e.handle("ERR?"))).toBe("0\n");
  });

  it("single-byte commands: #5 motion mask (hex), #7 ready byte, #24 stop (error 10)", () => {
    const e = mk();
    expect(s(e.handle(0x05))).toBe("0\n");
    expect([...e.handle(0x07)!]).toEqual([0xb1, 0x0a]);
    e.handle("MOV 1 60 3 40");
    expect(s(e.handle(0x05))).toBe("5\n");
    expect(e.handle(0x18)).toBeNull();
    expect(s(e.handle(0x05))).toBe("0\n");
    expect(s(e.handle("ERR?"))).toBe("10\n");
  });

  it("#7 answers 0xB0 while referencing", () => {
    const clock = new VirtualClock(0);
    const e = new GcsEmulator({ clock, axes: [{ id: "1", hasReference: true, referenceTime: 0.1 }] });
    expect(s(e.handle("FRF? 1"))).toBe("1=0\n");
    e.handle("FRF 1");
    expect([...e.handle(0x07)!]).toEqual([0xb0, 0x0a]);
    expect(s(e.handle("SRG? 1 1"))).toBe("1 1=0x7000\n");
    clock.advanceTo(0.2);
    expect([...e.handle(0x07)!]).toEqual([0xb1, 0x0a]);
    expect(s(e.handle("FRF? 1"))).toBe("1=1\n");
  });

  it("SRG? status word, SPA/SPA? on-target window and settling time", () => {
    const e = mk();
    expect(s(e.handle("SRG? 1 1 2 1"))).toBe("1 1=0x9000 \n2 1=0x9000\n");
    e.handle("SPA 1 0x07000900 0.05 1 0x07000901 0.002");
    expect(s(e.handle("ERR?"))).toBe("0\n");
    expect(s(e.handle("SPA? 1 0x07000900 1 0x07000901"))).toBe("1 0x07000900=0.050000 \n1 0x07000901=0.002000\n");
    e.handle("SPA 1 0x07000901 -1");
    expect(s(e.handle("ERR?"))).toBe("17\n");
  });

  it("HLP? is a multi-line reply", () => {
    const r = s(mk().handle("HLP?"))!;
    const lines = r.split("\n");
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.slice(0, -2).every((l) => l.endsWith(" "))).toBe(true);
    expect(r.endsWith(" \n")).toBe(false);
  });
});

describe("GcsEmulator over TCP", () => {
  let emu: GcsEmulator | undefined;
  const socks: net.Socket[] = [];
  afterEach(async () => {
    for (const k of socks.splice(0)) k.destroy();
    await emu?.close();
    emu = undefined;
  });

  async function start(clock = new VirtualClock(0)) {
    emu = new GcsEmulator({ clock, noise: 0 });
    const { port } = await emu.listenTcp();
    return { port, clock, emu };
  }

  function client(port: number) {
    const k = net.createConnection({ host: "127.0.0.1", port });
    k.setNoDelay(true);
    socks.push(k);
    let rx = Buffer.alloc(0);
    const waiters: (() => void)[] = [];
    k.on("data", (d: Buffer) => {
      rx = Buffer.concat([rx, d]);
      waiters.splice(0).forEach((w) => w());
    });
    const closed = new Promise<void>((r) => k.on("close", () => r()));
    const connected = new Promise<void>((r) => k.once("connect", () => r()));
    /** Wait until the received bytes end with `end` and return them all (then reset). */
    const until = async (pred: (b: Buffer) => boolean): Promise<Buffer> => {
      while (!pred(rx)) await new Promise<void>((r) => waiters.push(r));
      const out = rx;
      rx = Buffer.alloc(0);
      return out;
    };
    const reply = () => until((b) => b.length > 0 && b[b.length - 1] === 0x0a && (b.length < 2 || b[b.length - 2] !== 0x20));
    return { k, until, reply, closed, connected, send: (x: string | Buffer) => k.write(x) };
  }

  it("exact reply bytes; a query split over two TCP segments; CR ignored", async () => {
    const { port } = await start();
    const c = client(port);
    c.send("SAI?\n");
    expect((await c.reply()).toString("latin1")).toBe("1 \n2 \n3\n");
    c.send("PO");
    await new Promise((r) => setTimeout(r, 5));
    c.send("S? 1\r\n");
    expect((await c.reply()).toString("latin1")).toBe("1=50.000000\n");
  });

  it("an unknown query produces no bytes: pipelined FOO? + ERR? yields only the ERR? reply", async () => {
    const { port } = await start();
    const c = client(port);
    c.send("FOO?\nERR?\n");
    expect((await c.reply()).toString("latin1")).toBe("2\n");
  });

  it("single bytes #7 and #5 without LF", async () => {
    const { port } = await start();
    const c = client(port);
    c.send(Buffer.from([0x07]));
    expect([...(await c.reply())]).toEqual([0xb1, 0x0a]);
    c.send(Buffer.from([0x05]));
    expect((await c.reply()).toString()).toBe("0\n");
  });

  it("models ~1 ms of clock time per TCP exchange", async () => {
    const { port, clock } = await start();
    const c = client(port);
    await c.connected;
    const t0 = clock.now();
    c.send("POS? 1\n");
    await c.reply();
    expect(clock.now() - t0).toBeCloseTo(0.001, 9);
  });

  it("serves one client at a time: a second connection is closed at once, the first keeps working", async () => {
    const { port, emu } = await start();
    const c1 = client(port);
    c1.send("CSV?\n");
    await c1.reply();
    const c2 = client(port);
    c2.send("*IDN?\n");
    await c2.closed;
    expect(emu.stats.refused).toBe(1);
    c1.send("CSV?\n");
    expect((await c1.reply()).toString()).toBe("2.0\n");
    c1.k.destroy();
    await c1.closed;
    while (emu.hasClient) await new Promise((r) => setTimeout(r, 2));
    const c3 = client(port);
    c3.send("CSV?\n");
    expect((await c3.reply()).toString()).toBe("2.0\n");
  });

  it("faults: garbage reply, silent controller, injected error, dropped connection", async () => {
    const { port, emu } = await start();
    const c = client(port);
    emu.inject({ kind: "garbage" });
    c.send("POS? 1\n");
    expect((await c.reply()).toString("latin1")).not.toMatch(/^1=/);
    emu.setSilent(true);
    const n = emu.stats.received;
    c.send("ERR?\n");
    while (emu.stats.received === n) await new Promise((r) => setTimeout(r, 1));
    emu.setSilent(false);
    c.send("*IDN?\n");
    expect((await c.reply()).toString()).toMatch(/E-727/); // the ERR? sent while silent was never answered
    emu.inject({ kind: "error", code: 604 });
    c.send("ERR?\n");
    expect((await c.reply()).toString()).toBe("604\n");
    emu.inject({ kind: "drop" });
    await c.closed;
  });
});

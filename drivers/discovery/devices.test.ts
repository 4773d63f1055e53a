import net from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RealClock } from "../../runtime/clock.ts";
import { GcsEmulator } from "../../simulators/gcs/emulator.ts";
import { FakeUsb, FakeUsbDevice, WebUsbBackend } from "../usb/index.ts";
import { discoverDevices, formatDeviceReport } from "./devices.ts";

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("discoverDevices", () => {
  let emu: GcsEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it("finds USB instruments (fake backend), serial ports (stub) and a GCS controller over TCP", async () => {
    emu = new GcsEmulator({ clock: new RealClock() });
    const addr = await emu.listenTcp({ host: "127.0.0.1", port: 0 });
    const usb = new FakeUsb([
      new FakeUsbDevice({ vendorId: 0x1a72, productId: 0x1008, serialNumber: "0119012345", manufacturerName: "PI", productName: "E-727" }),
      new FakeUsbDevice({ vendorId: 0x046d, productId: 0xc077, productName: "Mouse" }),
    ]);
    const report = await discoverDevices({
      usb: new WebUsbBackend(usb, "fake"),
      listSerialPorts: async () => [{ path: "/dev/ttyUSB0", manufacturer: "FTDI", vendorId: "0403", productId: "6001", serialNumber: "FT12AB" }],
      tcpControllers: [{ ...addr, label: "E-727" }, { ...addr }],
      timeoutMs: 2000,
    });
    expect(report.usb.available).toBe(true);
    expect(report.usb.devices.map((d) => d.instrument?.key)).toEqual(["pi-usb", undefined]);
    expect(report.serial).toMatchObject({ available: true, via: "serialport" });
    expect(report.serial.ports[0].instrument?.key).toBe("ftdi-serial");
    // the same endpoint listed twice is probed once (the controller serves one client at a time)
    expect(report.tcp.map((t) => t.ok)).toEqual([true, true]);
    expect(report.tcp[0].idn).toContain("E-727");
    expect(report.tcp[1].idn).toBe(report.tcp[0].idn);
    const text = formatDeviceReport(report);
    expect(text).toContain("/dev/ttyUSB0 [0403:6001]");
    expect(text).toContain("FTDI USB-serial adapter");
    expect(text).toMatch(/1a72:1008 PI E-727 \(serial 0119012345\) -> PI motion controller/);
    expect(text).toMatch(/E-727 127\.0\.0\.1:\d+: \(c\)2024 Physik Instrumente/);
    expect(emu.stats.accepted).toBe(1);
    // the probe closed its connection: once the controller has seen the close, the next scan gets in again
    while (emu.hasClient) await new Promise((r) => setImmediate(r));
    const again = await discoverDevices({ usb: null, listSerialPorts: null, tcpControllers: [addr], timeoutMs: 2000 });
    expect(again.tcp[0]).toMatchObject({ ok: true });
    expect(emu.stats.accepted).toBe(2);
    expect(emu.stats.refused).toBe(0);
  });

  it("says plainly when nothing is there or USB is unavailable", async () => {
    const usb = new FakeUsb();
    usb.failWith("getDevices error: /sys/bus/usb/devices/ not found (errno 2)");
    const report = await discoverDevices({ usb: new WebUsbBackend(usb), listSerialPorts: async () => [] });
    const text = formatDeviceReport(report);
    expect(text).toContain("no serial ports found");
    expect(text).toContain("USB not available: getDevices error: /sys/bus/usb/devices/ not found");
    expect(text).toContain("TCP controllers:\n  none configured");
    const empty = formatDeviceReport(await discoverDevices({ usb: new WebUsbBackend(new FakeUsb()), listSerialPorts: async () => [] }));
    expect(empty).toContain("no USB devices found");
  });

  it("a refused or silent TCP controller is reported, not thrown", async () => {
    const closed = await freePort();
    const conns = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      // accepts, reads, never answers
      conns.add(s);
      s.resume();
      s.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const silentPort = (silent.address() as net.AddressInfo).port;
    try {
      const report = await discoverDevices({ usb: null, listSerialPorts: null, tcpControllers: [{ host: "127.0.0.1", port: closed }, { host: "127.0.0.1", port: silentPort }], timeoutMs: 300 });
      expect(report.tcp[0]).toMatchObject({ ok: false });
      expect(report.tcp[0].error).toMatch(/ECONNREFUSED/);
      expect(report.tcp[1]).toMatchObject({ ok: false, error: "no reply within 300 ms" });
      const text = formatDeviceReport(report);
      expect(text).toMatch(/not reachable — ECONNREFUSED/);
    } finally {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("when the serial lister fails, scans the device directory for USB-serial nodes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "donki-dev-"));
    try {
      for (const n of ["ttyUSB1", "ttyACM0", "ttyS0", "null"]) writeFileSync(join(dir, n), "");
      const r = await discoverDevices({ usb: null, devDir: dir, listSerialPorts: async () => Promise.reject(new Error("spawn udevadm ENOENT")) });
      expect(r.serial.via).toBe("dev-scan");
      expect(r.serial.ports.map((p) => p.path)).toEqual([join(dir, "ttyACM0"), join(dir, "ttyUSB1")]);
      expect(formatDeviceReport(r)).toContain("serial port listing failed (spawn udevadm ENOENT)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs against this machine's real serial port list and USB stack without throwing", async () => {
    const r = await discoverDevices({ timeoutMs: 200 });
    expect(["serialport", "dev-scan"]).toContain(r.serial.via);
    if (!r.usb.available) expect(r.usb.reason).toMatch(/^USB not available: /);
    const text = formatDeviceReport(r);
    expect(text).toMatch(/Serial ports:/);
    if (r.serial.ports.length === 0) expect(text).toContain("no serial ports found");
    expect(text).toMatch(/USB:\n {2}(USB not available: |no USB devices found|no known instruments|[0-9a-f]{4}:)/);
  });
});

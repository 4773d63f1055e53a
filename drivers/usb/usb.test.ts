import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeviceError } from "../../runtime/devices/common.ts";
import { FakeUsb, FakeUsbDevice, knownUsbInstruments, matchUsbInstrument, NodeUsbBackend, usbGoneError, UsbWatcher, WebUsbBackend, type UsbDeviceEvent } from "./index.ts";

const PI = () => new FakeUsbDevice({ vendorId: 0x1a72, productId: 0x1008, serialNumber: "0119012345", manufacturerName: "PI", productName: "E-727" });
const FTDI = () => new FakeUsbDevice({ vendorId: 0x0403, productId: 0x6001, serialNumber: "FT12AB" });
const ANDOR = () => new FakeUsbDevice({ vendorId: 0x136e, productId: 0x0014 });
const MOUSE = () => new FakeUsbDevice({ vendorId: 0x046d, productId: 0xc077 });

describe("known USB instruments", () => {
  it("matches PI native USB, FTDI USB-serial and Andor by vendor/product id; unconfirmed entries match nothing", () => {
    expect(matchUsbInstrument(0x1a72, 0x1234)?.key).toBe("pi-usb");
    expect(matchUsbInstrument(0x0403, 0x6001)?.key).toBe("ftdi-serial");
    expect(matchUsbInstrument(0x0403, 0x9999)).toBeUndefined();
    expect(matchUsbInstrument(0x136e, 0x0014)?.key).toBe("andor");
    expect(matchUsbInstrument(0x046d, 0xc077)).toBeUndefined();
    const princeton = knownUsbInstruments().find((k) => k.key === "princeton-instruments");
    expect(princeton?.vendorId).toBeUndefined();
    expect(princeton?.confirmed).toBe(false);
  });

  it("site configuration supplies the DANTE's ids", () => {
    const table = knownUsbInstruments([{ key: "xglab-dante", vendorName: "XGLab", instrument: "DANTE", vendorId: 0x0403, productIds: [0x601f], confirmed: true }]);
    expect(matchUsbInstrument(0x0403, 0x601f, table)?.key).toBe("xglab-dante");
    expect(matchUsbInstrument(0x0403, 0x6001, table)?.key).toBe("ftdi-serial");
  });
});

describe("WebUsbBackend over a fake of the W3C USB interfaces", () => {
  it("lists devices with identity fields", async () => {
    const usb = new FakeUsb([PI(), MOUSE()]);
    const r = await new WebUsbBackend(usb).list();
    expect(r.available).toBe(true);
    expect(r.devices).toEqual([
      { vendorId: 0x1a72, productId: 0x1008, serialNumber: "0119012345", manufacturer: "PI", product: "E-727" },
      { vendorId: 0x046d, productId: 0xc077 },
    ]);
  });

  it("a failing USB stack gives 'USB not available: ...', never a rejection", async () => {
    const usb = new FakeUsb([PI()]);
    usb.failWith("getDevices error: /sys/bus/usb/devices/ not found (errno 2)");
    const b = new WebUsbBackend(usb);
    expect(await b.list()).toEqual({ available: false, reason: "USB not available: getDevices error: /sys/bus/usb/devices/ not found (errno 2)", devices: [] });
    const sub = await b.subscribe({});
    expect(sub.available).toBe(false);
    expect(sub.reason).toMatch(/^USB not available: /);
    sub.unsubscribe();
  });

  it("connect / disconnect events reach the listener; a throwing listener does not escape", async () => {
    const usb = new FakeUsb();
    const seen: string[] = [];
    const sub = await new WebUsbBackend(usb).subscribe({
      onConnect: (d) => {
        seen.push(`+${d.vendorId.toString(16)}`);
        throw new Error("listener bug");
      },
      onDisconnect: (d) => void seen.push(`-${d.vendorId.toString(16)}`),
    });
    const pi = usb.plug(PI());
    usb.unplug(pi);
    sub.unsubscribe();
    usb.plug(ANDOR());
    expect(seen).toEqual(["+1a72", "-1a72"]);
  });
});

describe("UsbWatcher", () => {
  let usb: FakeUsb;
  let events: UsbDeviceEvent[];
  let watcher: UsbWatcher;

  beforeEach(() => {
    usb = new FakeUsb([PI(), FTDI()]);
    events = [];
    watcher = new UsbWatcher(new WebUsbBackend(usb), { onGone: (e) => void events.push(e), onBack: (e) => void events.push(e) });
  });

  afterEach(() => watcher.stop());

  it("reports the hot-unplug of a device in use with its identity, and its return", async () => {
    watcher.watch("stage", { vendorId: 0x1a72, serialNumber: "0119012345" });
    expect(await watcher.start()).toEqual({ available: true });
    expect(events).toEqual([]);
    const [pi] = await usb.getDevices();
    usb.unplug(usb.plug(MOUSE())); // not watched: nothing
    usb.unplug(pi);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ label: "stage", kind: "gone", device: { vendorId: 0x1a72, serialNumber: "0119012345", product: "E-727" } });
    expect(watcher.gone()).toEqual(["stage"]);
    const err = usbGoneError(events[0]);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toMatchObject({ code: "USB_GONE", device: "stage" });
    expect(err.message).toContain("1a72:1008");
    usb.plug(PI());
    expect(events[1]).toMatchObject({ label: "stage", kind: "back" });
    expect(watcher.gone()).toEqual([]);
  });

  it("a device absent at start is reported gone at once; another serial does not count", async () => {
    watcher.watch("camera", { vendorId: 0x136e });
    watcher.watch("other-stage", { vendorId: 0x1a72, serialNumber: "999" });
    await watcher.start();
    expect(events.map((e) => e.label).sort()).toEqual(["camera", "other-stage"]);
  });

  it("says so when USB cannot be monitored", async () => {
    usb.failWith("no USB here");
    const reasons: string[] = [];
    const w = new UsbWatcher(new WebUsbBackend(usb), { onGone: () => {}, onUnavailable: (r) => void reasons.push(r) });
    expect(await w.start()).toEqual({ available: false, reason: "USB not available: no USB here" });
    expect(reasons).toEqual(["USB not available: no USB here"]);
  });
});

describe("NodeUsbBackend (the usb package, on this machine)", () => {
  it("list() and subscribe() resolve whatever the machine has, and nothing is left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const b = new NodeUsbBackend();
      const l = await b.list();
      if (l.available) expect(Array.isArray(l.devices)).toBe(true);
      else expect(l.reason).toMatch(/^USB not available: /);
      const sub = await b.subscribe({});
      if (!sub.available) expect(sub.reason).toMatch(/^USB not available: /);
      sub.unsubscribe();
      const polled = await new NodeUsbBackend({ mode: "poll", pollMs: 20 }).subscribe({});
      expect(polled.available).toBe(l.available);
      polled.unsubscribe();
      // let any stray native promise settle
      for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

/**
 * A fake of the W3C WebUSB `USB` interface for tests: an EventTarget with getDevices() and 'connect' /
 * 'disconnect' events carrying a USBDevice-shaped object. `plug`/`unplug` drive it; `failWith` makes it behave
 * like this project's CI machine (no /sys/bus/usb: getDevices rejects).
 */
import type { W3cUsbConnectionEventLike, W3cUsbDeviceLike, W3cUsbLike } from "./webusb.ts";

export class FakeUsbDevice implements W3cUsbDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber: string | null;
  readonly manufacturerName: string | null;
  readonly productName: string | null;
  readonly deviceClass = 0;
  readonly deviceSubclass = 0;
  readonly deviceProtocol = 0;
  readonly usbVersionMajor = 2;
  readonly usbVersionMinor = 0;
  readonly usbVersionSubminor = 0;
  readonly opened = false;

  constructor(d: { vendorId: number; productId: number; serialNumber?: string; manufacturerName?: string; productName?: string }) {
    this.vendorId = d.vendorId;
    this.productId = d.productId;
    this.serialNumber = d.serialNumber ?? null;
    this.manufacturerName = d.manufacturerName ?? null;
    this.productName = d.productName ?? null;
  }
}

/** W3C `USBConnectionEvent`. */
export class FakeUsbConnectionEvent extends Event implements W3cUsbConnectionEventLike {
  constructor(
    type: "connect" | "disconnect",
    readonly device: FakeUsbDevice,
  ) {
    super(type);
  }
}

export class FakeUsb implements W3cUsbLike {
  private readonly devices: FakeUsbDevice[] = [];
  private failure: string | undefined;
  /** Events go through a real EventTarget, as in a browser's navigator.usb. */
  private readonly target = new EventTarget();

  constructor(devices: FakeUsbDevice[] = []) {
    this.devices.push(...devices);
  }

  async getDevices(): Promise<FakeUsbDevice[]> {
    if (this.failure) throw new Error(this.failure);
    return [...this.devices];
  }

  addEventListener(type: "connect" | "disconnect", listener: (ev: FakeUsbConnectionEvent) => void): void {
    if (this.failure) throw new Error(this.failure);
    this.target.addEventListener(type, listener as unknown as EventListener);
  }

  removeEventListener(type: "connect" | "disconnect", listener: (ev: FakeUsbConnectionEvent) => void): void {
    this.target.removeEventListener(type, listener as unknown as EventListener);
  }

  /** Make every lookup fail with this message (null = work again). */
  failWith(message: string | null): void {
    this.failure = message ?? undefined;
  }

  plug(d: FakeUsbDevice): FakeUsbDevice {
    this.devices.push(d);
    this.target.dispatchEvent(new FakeUsbConnectionEvent("connect", d));
    return d;
  }

  unplug(d: FakeUsbDevice): void {
    const i = this.devices.indexOf(d);
    if (i >= 0) this.devices.splice(i, 1);
    this.target.dispatchEvent(new FakeUsbConnectionEvent("disconnect", d));
  }
}

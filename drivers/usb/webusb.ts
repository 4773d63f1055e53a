/**
 * UsbBackend over any object shaped like the W3C WebUSB `USB` interface (navigator.usb, the `usb` package's
 * WebUSB object, or FakeUsb in tests): getDevices() plus 'connect'/'disconnect' events whose `device` is a
 * USBDevice. Every call is guarded: a synchronous throw or a rejection becomes `available: false`.
 */
import { usbUnavailable, type UsbBackend, type UsbDeviceIdentity, type UsbListener, type UsbListResult, type UsbSubscription } from "./backend.ts";

/** The fields of W3C `USBDevice` this project reads. */
export interface W3cUsbDeviceLike {
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber?: string | null;
  readonly manufacturerName?: string | null;
  readonly productName?: string | null;
}

/** The W3C `USBConnectionEvent`: an Event carrying the device. */
export interface W3cUsbConnectionEventLike {
  readonly device: W3cUsbDeviceLike;
}

/** The W3C `USB` interface (the parts used). */
export interface W3cUsbLike {
  getDevices(): Promise<readonly W3cUsbDeviceLike[]>;
  addEventListener(type: "connect" | "disconnect", listener: (ev: W3cUsbConnectionEventLike) => void): void;
  removeEventListener(type: "connect" | "disconnect", listener: (ev: W3cUsbConnectionEventLike) => void): void;
}

function field<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Identity of a W3C device (getters that throw are treated as absent). */
export function identityOf(d: W3cUsbDeviceLike, location?: string): UsbDeviceIdentity {
  const id: UsbDeviceIdentity = { vendorId: d.vendorId, productId: d.productId };
  const serial = field(() => d.serialNumber);
  const man = field(() => d.manufacturerName);
  const prod = field(() => d.productName);
  if (serial) id.serialNumber = serial;
  if (man) id.manufacturer = man;
  if (prod) id.product = prod;
  if (location) id.location = location;
  return id;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class WebUsbBackend implements UsbBackend {
  constructor(
    private readonly usb: W3cUsbLike,
    readonly name = "WebUSB",
  ) {}

  async list(): Promise<UsbListResult> {
    try {
      const devices = await this.usb.getDevices();
      return { available: true, devices: devices.map((d) => identityOf(d)) };
    } catch (e) {
      return { available: false, reason: usbUnavailable(errorText(e)), devices: [] };
    }
  }

  async subscribe(listener: UsbListener): Promise<UsbSubscription> {
    const onConnect = (ev: W3cUsbConnectionEventLike) => {
      try {
        listener.onConnect?.(identityOf(ev.device));
      } catch {
        // a listener's exception must not escape into the USB event machinery
      }
    };
    const onDisconnect = (ev: W3cUsbConnectionEventLike) => {
      try {
        listener.onDisconnect?.(identityOf(ev.device));
      } catch {
        // idem
      }
    };
    try {
      this.usb.addEventListener("connect", onConnect);
      this.usb.addEventListener("disconnect", onDisconnect);
    } catch (e) {
      return { available: false, reason: usbUnavailable(errorText(e)), unsubscribe: () => {} };
    }
    let done = false;
    return {
      available: true,
      unsubscribe: () => {
        if (done) return;
        done = true;
        try {
          this.usb.removeEventListener("connect", onConnect);
          this.usb.removeEventListener("disconnect", onDisconnect);
        } catch {
          // nothing to do
        }
      },
    };
  }
}

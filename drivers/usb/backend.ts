/**
 * A small USB interface for discovery and hot-unplug, so nothing else touches the `usb` package (whose
 * WebUSB object has no mock and, on machines without /sys/bus/usb, rejects lookups and crashes the process
 * when a 'connect' listener is added). Every method resolves: failures become `{ available: false, reason }`.
 */

export interface UsbDeviceIdentity {
  vendorId: number;
  productId: number;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
  /** Bus/port location when the backend knows it (e.g. "1-1.4"). */
  location?: string;
}

export type UsbListResult = { available: true; devices: UsbDeviceIdentity[] } | { available: false; reason: string; devices: [] };

export interface UsbListener {
  onConnect?(device: UsbDeviceIdentity): void;
  onDisconnect?(device: UsbDeviceIdentity): void;
  /** Hot-plug monitoring failed after it started (the subscription is over). */
  onError?(reason: string): void;
}

export interface UsbSubscription {
  available: boolean;
  reason?: string;
  unsubscribe(): void;
}

export interface UsbBackend {
  readonly name: string;
  /** Devices present now. Never rejects. */
  list(): Promise<UsbListResult>;
  /** Hot-plug events. Never rejects; `available: false` with the reason when monitoring is impossible. */
  subscribe(listener: UsbListener): Promise<UsbSubscription>;
}

/** "USB not available: <reason>" for reports and errors. */
export function usbUnavailable(reason: string): string {
  return `USB not available: ${reason}`;
}

export function sameUsbDevice(a: UsbDeviceIdentity, b: Partial<UsbDeviceIdentity>): boolean {
  if (b.vendorId !== undefined && a.vendorId !== b.vendorId) return false;
  if (b.productId !== undefined && a.productId !== b.productId) return false;
  if (b.serialNumber !== undefined && a.serialNumber !== b.serialNumber) return false;
  if (b.location !== undefined && a.location !== b.location) return false;
  return true;
}

export function describeUsbDevice(d: UsbDeviceIdentity): string {
  const ids = `${d.vendorId.toString(16).padStart(4, "0")}:${d.productId.toString(16).padStart(4, "0")}`;
  const name = [d.manufacturer, d.product].filter(Boolean).join(" ");
  return `${ids}${name ? ` ${name}` : ""}${d.serialNumber ? ` (serial ${d.serialNumber})` : ""}${d.location ? ` at ${d.location}` : ""}`;
}

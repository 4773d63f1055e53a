/**
 * UsbWatcher: reports the hot-unplug (and return) of USB devices in use, so a player can say "device gone"
 * instead of timing out. Devices are matched by vendor/product id and, when given, serial number or location.
 */
import { DeviceError } from "../../runtime/devices/common.ts";
import { describeUsbDevice, sameUsbDevice, type UsbBackend, type UsbDeviceIdentity, type UsbSubscription } from "./backend.ts";

export interface UsbDeviceEvent {
  /** The name the device was watched under (e.g. the player's device name). */
  label: string;
  /** Identity reported by the backend (for an unplug: the one last seen). */
  device: UsbDeviceIdentity;
  kind: "gone" | "back";
}

export interface UsbWatcherHandlers {
  onGone(e: UsbDeviceEvent): void;
  onBack?(e: UsbDeviceEvent): void;
  /** Monitoring is not possible (at start) or stopped working. */
  onUnavailable?(reason: string): void;
}

interface Watched {
  label: string;
  match: Partial<UsbDeviceIdentity>;
  gone: boolean;
}

export class UsbWatcher {
  private readonly watched = new Set<Watched>();
  private sub: UsbSubscription | undefined;

  constructor(
    private readonly backend: UsbBackend,
    private readonly h: UsbWatcherHandlers,
  ) {}

  /** Watch a device; returns the function that stops watching it. */
  watch(label: string, match: Partial<UsbDeviceIdentity>): () => void {
    const w: Watched = { label, match, gone: false };
    this.watched.add(w);
    return () => void this.watched.delete(w);
  }

  /** Labels of the watched devices currently gone. */
  gone(): string[] {
    return [...this.watched].filter((w) => w.gone).map((w) => w.label);
  }

  /**
   * Start monitoring. With `checkNow` (default true) the watched devices are looked up first and those absent
   * are reported gone at once. Resolves `{ available: false, reason }` when the backend cannot monitor.
   */
  async start(o: { checkNow?: boolean } = {}): Promise<{ available: boolean; reason?: string }> {
    if (this.sub) return { available: this.sub.available, reason: this.sub.reason };
    const sub = await this.backend.subscribe({
      onConnect: (d) => this.onConnect(d),
      onDisconnect: (d) => this.onDisconnect(d),
      onError: (r) => this.h.onUnavailable?.(r),
    });
    this.sub = sub;
    if (!sub.available) {
      this.h.onUnavailable?.(sub.reason ?? "USB not available");
      return { available: false, reason: sub.reason };
    }
    if (o.checkNow ?? true) {
      const l = await this.backend.list();
      if (l.available) {
        for (const w of this.watched) {
          if (!w.gone && !l.devices.some((d) => sameUsbDevice(d, w.match))) {
            w.gone = true;
            this.h.onGone({ label: w.label, device: { vendorId: w.match.vendorId ?? 0, productId: w.match.productId ?? 0, ...w.match }, kind: "gone" });
          }
        }
      }
    }
    return { available: true };
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private onDisconnect(d: UsbDeviceIdentity): void {
    for (const w of this.watched) {
      if (!w.gone && sameUsbDevice(d, w.match)) {
        w.gone = true;
        this.h.onGone({ label: w.label, device: d, kind: "gone" });
      }
    }
  }

  private onConnect(d: UsbDeviceIdentity): void {
    for (const w of this.watched) {
      if (w.gone && sameUsbDevice(d, w.match)) {
        w.gone = false;
        this.h.onBack?.({ label: w.label, device: d, kind: "back" });
      }
    }
  }
}

/** The DeviceError a player raises for a device that was unplugged (code "USB_GONE"). */
export function usbGoneError(e: UsbDeviceEvent): DeviceError {
  return new DeviceError(`${e.label}: USB device gone (unplugged or powered off): ${describeUsbDevice(e.device)}`, e.label, "USB_GONE", "USB_GONE");
}

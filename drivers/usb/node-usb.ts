/**
 * UsbBackend over the `usb` npm package (3.x, a Rust rewrite with a WebUSB-only API).
 *
 * Pitfalls handled here:
 * - the package is required lazily: a machine where its native part cannot load gets "USB not available";
 * - `usb.getDevices()` rejects where /sys/bus/usb is missing: caught, reported;
 * - its WebUSB `addEventListener('connect')` starts a native-device lookup without a catch and rethrows
 *   emitter errors from a timer, which crashes the process: it is NEVER used. Hot-plug goes through the
 *   package's native `Emitter` (addAttach/addDetach, each promise caught) or, when that fails, through
 *   polling `getDevices()` and diffing (mode "poll").
 */
import { createRequire } from "node:module";
import { usbUnavailable, type UsbBackend, type UsbDeviceIdentity, type UsbListener, type UsbListResult, type UsbSubscription } from "./backend.ts";
import { errorText, identityOf, type W3cUsbDeviceLike } from "./webusb.ts";

interface NativeUsbDevice extends W3cUsbDeviceLike {
  readonly handle?: string;
  readonly bus?: string;
  readonly ports?: number[];
}

interface NativeEmitter {
  addAttach(cb: (d: NativeUsbDevice) => void): Promise<void>;
  removeAttach(): Promise<void>;
  addDetach(cb: (handle: string) => void): Promise<void>;
  removeDetach(): Promise<void>;
}

interface UsbModule {
  usb: { getDevices(): Promise<NativeUsbDevice[]> };
  Emitter?: new () => NativeEmitter;
}

export interface NodeUsbBackendOptions {
  /** "native" (default): the package's hot-plug emitter, falling back to polling; "poll": poll only. */
  mode?: "native" | "poll";
  /** Polling interval, real ms (default 1000). */
  pollMs?: number;
}

function locationOf(d: NativeUsbDevice): string | undefined {
  try {
    if (d.bus && d.ports?.length) return `${d.bus}-${d.ports.join(".")}`;
    return d.handle ?? undefined;
  } catch {
    return undefined;
  }
}

function keyOf(d: UsbDeviceIdentity): string {
  return `${d.vendorId}:${d.productId}:${d.serialNumber ?? ""}:${d.location ?? ""}`;
}

export class NodeUsbBackend implements UsbBackend {
  readonly name = "usb package (libusb via napi)";
  private mod: UsbModule | undefined;
  private loadError: string | undefined;
  private readonly byHandle = new Map<string, UsbDeviceIdentity>();

  constructor(private readonly o: NodeUsbBackendOptions = {}) {}

  private load(): UsbModule | undefined {
    if (this.mod || this.loadError) return this.mod;
    try {
      const req = createRequire(import.meta.url);
      const web = req("usb") as { usb: UsbModule["usb"] };
      let Emitter: UsbModule["Emitter"];
      try {
        Emitter = (req("usb/index.js") as { Emitter?: UsbModule["Emitter"] }).Emitter;
      } catch {
        Emitter = undefined;
      }
      this.mod = { usb: web.usb, Emitter };
    } catch (e) {
      this.loadError = `the usb package cannot load (${errorText(e).split("\n")[0]})`;
    }
    return this.mod;
  }

  private identity(d: NativeUsbDevice): UsbDeviceIdentity {
    const id = identityOf(d, locationOf(d));
    try {
      if (d.handle) this.byHandle.set(d.handle, id);
    } catch {
      // no handle
    }
    return id;
  }

  async list(): Promise<UsbListResult> {
    const m = this.load();
    if (!m) return { available: false, reason: usbUnavailable(this.loadError ?? "?"), devices: [] };
    try {
      const devices = await m.usb.getDevices();
      return { available: true, devices: devices.map((d) => this.identity(d)) };
    } catch (e) {
      return { available: false, reason: usbUnavailable(errorText(e)), devices: [] };
    }
  }

  async subscribe(listener: UsbListener): Promise<UsbSubscription> {
    const m = this.load();
    if (!m) return { available: false, reason: usbUnavailable(this.loadError ?? "?"), unsubscribe: () => {} };
    const safe = (f: () => void) => {
      try {
        f();
      } catch {
        // never let a listener's exception into the native callback
      }
    };
    if ((this.o.mode ?? "native") === "native" && m.Emitter) {
      let em: NativeEmitter | undefined;
      try {
        em = new m.Emitter();
        const e = em;
        await e.addAttach((d) => safe(() => listener.onConnect?.(this.identity(d))));
        await e.addDetach((handle) =>
          safe(() => {
            const known = this.byHandle.get(handle);
            this.byHandle.delete(handle);
            listener.onDisconnect?.(known ?? { vendorId: 0, productId: 0, location: handle });
          }),
        );
        // learn the handles of the devices already present (for detach identities); a machine where listing
        // fails (no /sys/bus/usb) will not report hot-plug either: say so instead of watching nothing
        const present = await this.list();
        if (!present.available) {
          e.removeAttach().catch(() => {});
          e.removeDetach().catch(() => {});
          return { available: false, reason: present.reason, unsubscribe: () => {} };
        }
        let done = false;
        return {
          available: true,
          unsubscribe: () => {
            if (done) return;
            done = true;
            e.removeAttach().catch(() => {});
            e.removeDetach().catch(() => {});
          },
        };
      } catch {
        em?.removeAttach().catch(() => {});
        em?.removeDetach().catch(() => {});
        // fall through to polling
      }
    }
    return this.poll(listener);
  }

  /** Hot-plug by polling getDevices() and diffing. */
  private async poll(listener: UsbListener): Promise<UsbSubscription> {
    const first = await this.list();
    if (!first.available) return { available: false, reason: first.reason, unsubscribe: () => {} };
    let known = new Map(first.devices.map((d) => [keyOf(d), d]));
    let busy = false;
    let done = false;
    const timer = setInterval(() => {
      if (busy || done) return;
      busy = true;
      this.list()
        .then((r) => {
          if (done) return;
          if (!r.available) {
            done = true;
            clearInterval(timer);
            listener.onError?.(r.reason);
            return;
          }
          const now = new Map(r.devices.map((d) => [keyOf(d), d]));
          for (const [k, d] of known) if (!now.has(k)) listener.onDisconnect?.(d);
          for (const [k, d] of now) if (!known.has(k)) listener.onConnect?.(d);
          known = now;
        })
        .catch(() => {})
        .finally(() => (busy = false));
    }, this.o.pollMs ?? 1000);
    timer.unref();
    return {
      available: true,
      unsubscribe: () => {
        done = true;
        clearInterval(timer);
      },
    };
  }
}

/**
 * "What is plugged in here?": serial ports, USB instruments (by the known-id table), and configured TCP
 * controllers (connect + `*IDN?`, GCS controllers listen on 50000). Every probe reports its own failure in the
 * report instead of throwing; `formatDeviceReport` says plainly when nothing was found and why.
 */
import { readdir } from "node:fs/promises";
import net from "node:net";
import { NodeUsbBackend } from "../usb/node-usb.ts";
import { describeUsbDevice, type UsbBackend, type UsbDeviceIdentity } from "../usb/backend.ts";
import { knownUsbInstruments, matchUsbInstrument, type KnownUsbInstrument } from "../usb/known.ts";

/** What serialport's SerialPort.list() returns (the fields used). */
export interface SerialPortListing {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  pnpId?: string;
  locationId?: string;
  vendorId?: string;
  productId?: string;
}

export interface DiscoverOptions {
  /** TCP controllers to probe with `*IDN?` (port default 50000, the GCS port). */
  tcpControllers?: Array<{ host: string; port?: number; label?: string }>;
  /** Per-probe timeout, real ms (default 1000). */
  timeoutMs?: number;
  /** USB backend (default NodeUsbBackend); null = skip USB. */
  usb?: UsbBackend | null;
  /** Site entries for the known-instrument table (e.g. the DANTE's ids once confirmed). */
  usbInstruments?: KnownUsbInstrument[];
  /** Serial port lister (default serialport's SerialPort.list, with a /dev scan when it fails); null = skip. */
  listSerialPorts?: (() => Promise<SerialPortListing[]>) | null;
  /** Directory scanned for USB-serial device nodes when listing fails (default /dev). */
  devDir?: string;
}

export interface SerialPortEntry extends SerialPortListing {
  instrument?: KnownUsbInstrument;
}

export interface UsbEntry extends UsbDeviceIdentity {
  instrument?: KnownUsbInstrument;
}

export interface TcpEntry {
  host: string;
  port: number;
  label?: string;
  ok: boolean;
  /** The `*IDN?` reply (trimmed). */
  idn?: string;
  error?: string;
}

export interface DeviceReport {
  /** ISO time of the scan. */
  at: string;
  serial: { available: boolean; reason?: string; via: "serialport" | "dev-scan" | "skipped"; ports: SerialPortEntry[] };
  usb: { available: boolean; reason?: string; backend?: string; devices: UsbEntry[] };
  tcp: TcpEntry[];
}

/** serialport's lister, loaded lazily (its native binding is only needed here). */
async function serialportList(): Promise<SerialPortListing[]> {
  const { SerialPort } = await import("serialport");
  return (await SerialPort.list()) as SerialPortListing[];
}

/** USB-serial device nodes (ttyUSB*, ttyACM*) in `dir`: the fallback when the lister fails (e.g. no udevadm). */
async function devScan(dir: string): Promise<SerialPortListing[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => /^tty(USB|ACM)\d+$/.test(n))
    .sort()
    .map((n) => ({ path: `${dir}/${n}` }));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function probeSerial(o: DiscoverOptions, table: KnownUsbInstrument[]): Promise<DeviceReport["serial"]> {
  if (o.listSerialPorts === null) return { available: false, reason: "serial ports not scanned", via: "skipped", ports: [] };
  const tag = (p: SerialPortListing): SerialPortEntry => {
    const vid = p.vendorId ? parseInt(p.vendorId, 16) : NaN;
    const pid = p.productId ? parseInt(p.productId, 16) : NaN;
    const instrument = Number.isFinite(vid) ? matchUsbInstrument(vid, Number.isFinite(pid) ? pid : -1, table) : undefined;
    return instrument ? { ...p, instrument } : { ...p };
  };
  try {
    const ports = await (o.listSerialPorts ?? serialportList)();
    return { available: true, via: "serialport", ports: ports.map(tag) };
  } catch (e) {
    const ports = await devScan(o.devDir ?? "/dev");
    return { available: ports.length > 0, reason: `serial port listing failed (${errorText(e)}); scanned ${o.devDir ?? "/dev"} for ttyUSB*/ttyACM* instead`, via: "dev-scan", ports: ports.map(tag) };
  }
}

async function probeUsb(o: DiscoverOptions, table: KnownUsbInstrument[]): Promise<DeviceReport["usb"]> {
  if (o.usb === null) return { available: false, reason: "USB not scanned", devices: [] };
  const backend = o.usb ?? new NodeUsbBackend();
  const l = await backend.list();
  if (!l.available) return { available: false, reason: l.reason, backend: backend.name, devices: [] };
  return {
    available: true,
    backend: backend.name,
    devices: l.devices.map((d) => {
      const instrument = matchUsbInstrument(d.vendorId, d.productId, table);
      return instrument ? { ...d, instrument } : { ...d };
    }),
  };
}

/**
 * Connect, send `*IDN?\n`, read one line. The socket is closed at once either way: a GCS controller serves a
 * single TCP client, so the probe must not keep it.
 */
export function probeIdn(host: string, port: number, timeoutMs: number): Promise<{ ok: true; idn: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    let buf = "";
    let settled = false;
    const s = net.connect({ host, port });
    const done = (r: { ok: true; idn: string } | { ok: false; error: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, error: buf ? `incomplete reply ${JSON.stringify(buf)} after ${timeoutMs} ms` : `no reply within ${timeoutMs} ms` }), timeoutMs);
    s.setNoDelay(true);
    s.on("connect", () => s.write("*IDN?\n"));
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const nl = buf.indexOf("\n");
      if (nl >= 0) done({ ok: true, idn: buf.slice(0, nl).trim() });
    });
    s.on("error", (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ? `${e.code} (${e.message})` : e.message }));
    s.on("close", () => done({ ok: false, error: buf ? `closed after ${JSON.stringify(buf)}` : "connection closed without a reply (another client connected?)" }));
  });
}

export async function discoverDevices(o: DiscoverOptions = {}): Promise<DeviceReport> {
  const timeoutMs = o.timeoutMs ?? 1000;
  const table = knownUsbInstruments(o.usbInstruments);
  // one probe per endpoint (a GCS controller refuses a second simultaneous client); endpoints in parallel
  const probes = new Map<string, ReturnType<typeof probeIdn>>();
  const probe = (host: string, port: number) => {
    const k = `${host}:${port}`;
    let p = probes.get(k);
    if (!p) probes.set(k, (p = probeIdn(host, port, timeoutMs)));
    return p;
  };
  const [serial, usb, tcp] = await Promise.all([
    probeSerial(o, table),
    probeUsb(o, table),
    Promise.all(
      (o.tcpControllers ?? []).map(async (c): Promise<TcpEntry> => {
        const port = c.port ?? 50000;
        const r = await probe(c.host, port);
        return { host: c.host, port, ...(c.label ? { label: c.label } : {}), ...(r.ok ? { ok: true, idn: r.idn } : { ok: false, error: r.error }) };
      }),
    ),
  ]);
  return { at: new Date().toISOString(), serial, usb, tcp };
}

/** A human-readable report; says plainly when a class of device is absent or could not be scanned. */
export function formatDeviceReport(r: DeviceReport): string {
  const out: string[] = [`Devices (scan at ${r.at})`];
  out.push("Serial ports:");
  if (r.serial.reason) out.push(`  ${r.serial.reason}`);
  if (r.serial.ports.length === 0) out.push("  no serial ports found");
  for (const p of r.serial.ports) {
    const ids = p.vendorId ? ` [${p.vendorId}:${p.productId ?? "?"}]` : "";
    const what = [p.manufacturer, p.serialNumber && `serial ${p.serialNumber}`].filter(Boolean).join(", ");
    out.push(`  ${p.path}${ids}${what ? ` ${what}` : ""}${p.instrument ? ` -> ${p.instrument.instrument}` : ""}`);
  }
  out.push("USB:");
  if (!r.usb.available) out.push(`  ${r.usb.reason ?? "USB not available"}`);
  else if (r.usb.devices.length === 0) out.push("  no USB devices found");
  else {
    const known = r.usb.devices.filter((d) => d.instrument);
    if (known.length === 0) out.push(`  no known instruments among ${r.usb.devices.length} USB device(s)`);
    for (const d of r.usb.devices) {
      out.push(`  ${describeUsbDevice(d)}${d.instrument ? ` -> ${d.instrument.instrument}${d.instrument.confirmed ? "" : " (ids not confirmed)"}` : ""}`);
    }
  }
  out.push("TCP controllers:");
  if (r.tcp.length === 0) out.push("  none configured");
  for (const t of r.tcp) {
    const name = `${t.label ? `${t.label} ` : ""}${t.host}:${t.port}`;
    out.push(t.ok ? `  ${name}: ${t.idn}` : `  ${name}: not reachable — ${t.error}`);
  }
  return out.join("\n");
}


/**
 * Known TWINMIC instruments by USB vendor/product id. Entries without a confirmed vendor id are placeholders:
 * they match nothing until the site configuration supplies the id (`knownUsbInstruments(extra)`).
 */

export interface KnownUsbInstrument {
  /** Short key, e.g. "pi-usb". */
  key: string;
  vendorName: string;
  /** What it probably is. */
  instrument: string;
  /** USB vendor id; undefined = not known yet (configure on site). */
  vendorId?: number;
  /** Product ids that match (undefined = any product of the vendor). */
  productIds?: number[];
  /** The donki driver that talks to it, if any. */
  driver?: string;
  /** True when the ids come from a source (datasheet, driver code); false = to be confirmed with lsusb on site. */
  confirmed: boolean;
  note?: string;
}

export const KNOWN_USB_INSTRUMENTS: readonly KnownUsbInstrument[] = [
  {
    key: "pi-usb",
    vendorName: "Physik Instrumente (PI)",
    instrument: "PI motion controller, native USB (GCS 2.0 over bulk endpoints)",
    vendorId: 0x1a72,
    driver: "pi-gcs",
    confirmed: true,
  },
  {
    key: "ftdi-serial",
    vendorName: "FTDI",
    instrument: "FTDI USB-serial adapter (used by some PI controllers for RS-232; check the serial port list)",
    vendorId: 0x0403,
    productIds: [0x6001, 0x6010, 0x6011, 0x6014, 0x6015],
    driver: "pi-gcs (serial transport)",
    confirmed: true,
    note: "generic chip: the device behind it is not known from the ids alone",
  },
  {
    key: "andor",
    vendorName: "Andor Technology",
    instrument: "Andor camera (USB models; the iXon DV860 itself uses a PCI controller card)",
    vendorId: 0x136e,
    driver: "andor (SDK2)",
    confirmed: true,
  },
  {
    key: "princeton-instruments",
    vendorName: "Teledyne Princeton Instruments",
    instrument: "Princeton Instruments CCD (PVCAM / PICam, USB 2.0 interface models)",
    confirmed: false,
    note: "vendor id not confirmed from a public source: set it from lsusb on site",
  },
  {
    key: "xglab-dante",
    vendorName: "XGLab / Bruker",
    instrument: "XGLab DANTE pulse processor (USB 2.0 link)",
    confirmed: false,
    note: "libXGL_DPP's error list mentions FTDI (FT_*) calls, so the USB link is probably FTDI-based (0x0403); product id to confirm on site",
  },
];

/** The table with site entries applied: an entry with the same key replaces the built-in one, others are added. */
export function knownUsbInstruments(extra: readonly KnownUsbInstrument[] = []): KnownUsbInstrument[] {
  const out = KNOWN_USB_INSTRUMENTS.map((k) => extra.find((e) => e.key === k.key) ?? k);
  for (const e of extra) if (!out.some((k) => k.key === e.key)) out.push(e);
  return out;
}

/** The first table entry matching vendor/product id (entries without a vendor id never match). */
export function matchUsbInstrument(vendorId: number, productId: number, table: readonly KnownUsbInstrument[] = KNOWN_USB_INSTRUMENTS): KnownUsbInstrument | undefined {
  // specific product matches first, then vendor-wide entries
  return (
    table.find((k) => k.vendorId === vendorId && k.productIds?.includes(productId)) ??
    table.find((k) => k.vendorId === vendorId && k.productIds === undefined)
  );
}

export function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, "0")}`;
}

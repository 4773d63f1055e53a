/**
 * The settings each device of the catalogue accepts, as zod schemas (strict: an unknown key is an error, with a
 * "did you mean"). The catalogue (drivers/registry.ts) attaches one to every entry; `checkDeviceSettings`
 * (settings-check.ts) runs it and then the cross-field checks (ROI inside the spectrum or the sensor ...).
 * docs/scenarios.md "Devices and their settings" lists the same keys for users.
 */
import { z } from "zod";

const seconds = z.number().positive();
/** Settings are all optional (the device's defaults apply) and strict (an unknown key is refused). */
const settings = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape).partial();
const int = z.number().int();

/** Any device: the HDF5 path of some streams, and the USB identity watched for hot-unplug. */
const common = {
  aliases: z.record(z.string(), z.string().min(1)),
  usb: z.strictObject({ vendorId: int.min(0).max(0xffff), productId: int.min(0).max(0xffff), serialNumber: z.string().min(1).optional() }),
  // the player's own `overlap` / `actOnChange` (scenario fields beside `settings`) reach the device in its settings
  // (schema.ts playerSettings; `donki player --settings`); which device may overlap is the catalogue's checkPlayer
  overlap: z.enum(["readout", "none"]),
  actOnChange: z.boolean(),
};
/** A vendor-SDK driver: the vendor library, or `sdk: twin` for the same driver over the SDK twin. */
const vendor = {
  library: z.string().min(1),
  sdk: z.literal("twin"),
};

const positioner = {
  /** trigger parameter -> controller axis id */
  axes: z.record(z.string(), z.string().min(1)),
  /** um/s per trigger parameter */
  velocity: z.record(z.string(), z.number().positive()),
  settleTimeout: seconds,
};

const camera = {
  exposure: seconds,
  binning: z.union([int.min(1), z.strictObject({ x: int.min(1), y: int.min(1) })]),
  roi: z.strictObject({ x: int.min(0).optional(), y: int.min(0).optional(), width: int.min(1).optional(), height: int.min(1).optional() }),
  readoutRateHz: z.number().positive(),
  gainIndex: int.min(0),
  emGain: z.number().min(0),
  frameTransfer: z.boolean(),
  shutter: z.enum(["auto", "open", "closed", "none"]),
  triggerMode: z.enum(["internal", "external", "external-exposure", "software"]),
  /** false: the sum only, no frame stream */
  frames: z.boolean(),
  cooling: z.strictObject({ setpointC: z.number(), waitS: z.number().min(0).optional() }),
};

const mca = {
  bins: z.union([z.literal(1024), z.literal(2048), z.literal(4096)], { error: "must be 1024, 2048 or 4096 (DANTE)" }),
  /** acquisition time per spectrum when the trigger has no dwell */
  time: seconds,
  peakingTimeUs: z.number().positive(),
  gainEvPerBin: z.number().positive(),
  offsetEv: z.number(),
  /** eV windows -> scalar streams roi_NAME */
  rois: z.record(z.string().regex(/^[A-Za-z0-9_]+$/, "ROI names are letters, digits or '_'"), z.tuple([z.number(), z.number()], { error: "must be [lowEv, highEv]" })),
};

export const SETTINGS = {
  "sim:pi-stage": settings({ ...common, ...positioner, latencyS: z.number().min(0) }),
  "pi-gcs": settings({
      ...common,
      ...positioner,
      transport: z.enum(["tcp", "serial"]),
      host: z.string().min(1),
      port: int.min(1).max(65535),
      path: z.string().min(1),
      baud: int.positive(),
    }).superRefine((s, ctx) => {
      const t = s.transport ?? "tcp";
      if (t === "tcp" && s.host === undefined) ctx.addIssue({ code: "custom", path: ["host"], message: "is required with transport tcp (the controller's address)" });
      if (t === "serial" && s.path === undefined) ctx.addIssue({ code: "custom", path: ["path"], message: "is required with transport serial (e.g. /dev/ttyUSB0)" });
    }),
  "sim:pi-ccd": settings({ ...common, ...camera, startCooled: z.boolean() }),
  "sim:andor-ixon": settings({ ...common, ...camera, startCooled: z.boolean() }),
  "pi-pvcam": settings({ ...common, ...camera, ...vendor }),
  "andor-ixon": settings({ ...common, ...camera, ...vendor }),
  "sim:dante": settings({ ...common, ...mca }),
  dante: settings({ ...common, ...mca, ...vendor, address: z.string().min(1) }),
  "sim:temperature": settings({
    ...common,
    rampPerMin: z.number().positive(),
    stableTimeout: seconds,
    /** the twin's controller model (simulators/temperature.ts TemperatureConfig) */
    config: z.strictObject({
      units: z.string().min(1),
      initial: z.number(),
      min: z.number(),
      max: z.number(),
      tauS: seconds,
      slewPerMin: z.number().positive(),
      tolerance: z.number().positive(),
      stableS: z.number().min(0),
      noise: z.number().min(0),
      pollS: seconds,
      latencyS: z.number().min(0),
    }).partial(),
  }),
  "sim:io": settings({
    ...common,
    gate: seconds,
    monitors: z.array(z.string().min(1)).min(1),
    emptyBeamRatio: z.number().positive(),
  }),
} satisfies Record<string, z.ZodType>;

export type DeviceWithSettings = keyof typeof SETTINGS;

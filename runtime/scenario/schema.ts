/**
 * The scenario file format (YAML), validated with zod. Documented in docs/scenarios.md.
 */
import { z } from "zod";

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, '_', '.' or '-'");
const seconds = z.number().positive();

export const AxisRange = z.strictObject({
  start: z.number(),
  stop: z.number(),
  points: z.number().int().min(1),
});

export const Raster = z.strictObject({
  x: AxisRange,
  y: AxisRange,
  /** Boustrophedon: every other row runs backwards (no fly-back move). */
  snake: z.boolean().default(false),
  /** The player whose x/y streams are the image axes (default: the first positioner). */
  positioner: name.optional(),
});

export const Line = z.strictObject({
  /** Trigger parameter to vary (e.g. x, y, energy). */
  axis: z.string().min(1),
  start: z.number(),
  stop: z.number(),
  points: z.number().int().min(1),
  /** Fixed values of other parameters (e.g. y for a line along x). */
  fixed: z.record(z.string(), z.number()).optional(),
});

export const TimeSeries = z.strictObject({
  /** Number of triggers; null = until stopped. */
  count: z.number().int().min(1).nullable(),
  /** Fixed parameters of every trigger (e.g. the x/y point to sit on). */
  fixed: z.record(z.string(), z.number()).optional(),
});

export const Repeat = z.strictObject({
  /** Parameter that changes between repetitions of the inner sequence (e.g. temperature). */
  param: z.string().min(1),
  values: z.array(z.number()).min(1),
});

export const Sequence = z
  .strictObject({
    raster: Raster.optional(),
    line: Line.optional(),
    points: z.array(z.record(z.string(), z.number())).min(1).optional(),
    time: TimeSeries.optional(),
    /** Outer loop: the inner sequence is run once per value. */
    repeat: Repeat.optional(),
    /** Dwell time per point (seconds): the detectors' exposure / acquisition / gate time. */
    dwell: seconds.optional(),
    /** Fixed extra parameters of every trigger, per priority level ("2": {...}) and per player name. */
    params: z
      .strictObject({
        levels: z.record(z.string().regex(/^\d+$/, "levels are keyed by level number"), z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]))).optional(),
        players: z.record(z.string(), z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]))).optional(),
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    const kinds = (["raster", "line", "points", "time"] as const).filter((k) => s[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({ code: "custom", message: kinds.length === 0 ? "needs one of raster, line, points or time" : `has ${kinds.join(" and ")}: give exactly one of raster, line, points or time` });
    if (s.time && s.time.count === null && s.repeat) ctx.addIssue({ code: "custom", path: ["repeat"], message: "cannot repeat an unbounded time series" });
  });

export const Policy = z.strictObject({
  /** What to do when a player times out, is lost or fails an action. */
  onFault: z.enum(["pause", "retry", "abort"]).default("pause"),
  /** With onFault retry: re-sends before pausing. */
  retries: z.number().int().min(0).default(2),
  /**
   * A fixed per-trigger action deadline, seconds, for every player. Absent: each action's deadline comes from its
   * device's timing model (docs/scenarios.md "Deadlines"); 30 s for a player without one.
   */
  actionTimeout: seconds.optional(),
});

const PartialPolicy = z.strictObject({
  onFault: z.enum(["pause", "retry", "abort"]).optional(),
  retries: z.number().int().min(0).optional(),
  actionTimeout: seconds.optional(),
});

export const Fault = z.strictObject({
  at: z.union([
    z.strictObject({ trigger: z.number().int().min(1), method: z.string().optional() }),
    z.strictObject({ call: z.number().int().min(1), method: z.string().optional() }),
    z.strictObject({ afterS: z.number().min(0), method: z.string().optional() }),
  ]),
  kind: z.enum(["timeout", "error", "disconnect", "overrange"]),
  code: z.union([z.number(), z.string()]).optional(),
  message: z.string().optional(),
  times: z.number().int().min(1).optional(),
  hangS: z.number().positive().optional(),
});

export const PlayerDef = z.strictObject({
  name,
  /**
   * Priority level: 0 acts first; -1 disables the player. A local player needs one; a remote player (host other
   * than local) may leave it out (the level its hello declares applies) or pin it for this scan (the pinned one
   * applies and a different declared level is reported).
   */
  level: z.number().int().min(-1).optional(),
  /** sim:pi-stage, sim:pi-ccd, sim:andor-ixon, sim:dante, sim:temperature, sim:io, pi-gcs, ..., script:path.ts,
   * python:path.py (a Python action script) or tango:domain/family/member (the generic Tango player) */
  device: z.string().min(1),
  /** Device settings (exposure, binning, rois, host, port ...). */
  settings: z.record(z.string(), z.unknown()).default({}),
  /** Interpreter of a python:/tango: player (default: DONKI_PYTHON, else the first python3 that has pyzmq). */
  python: z.string().min(1).optional(),
  /** "local": donki run starts this player; anything else: started elsewhere with `donki player`. */
  host: z.string().default("local"),
  join: z.enum(["next-trigger", "next-run"]).default("next-trigger"),
  policy: PartialPolicy.optional(),
  /** Fault injection for twins (tests, rehearsals). */
  faults: z.array(Fault).optional(),
  /**
   * "readout": acknowledge at the end of the exposure / dwell and read out while the next trigger's lower levels
   * act (overlap); "none": acknowledge after the read-out. Default: the device's (docs/scenarios.md "Overlap").
   */
  overlap: z.enum(["readout", "none"]).optional(),
  /** Set-point players: a trigger with the same set-point as the previous one acknowledges without device I/O (default true). */
  actOnChange: z.boolean().optional(),
}).superRefine((p, ctx) => {
  if (p.level === undefined && p.host === "local")
    ctx.addIssue({ code: "custom", path: ["level"], message: "a local player needs a level (only a remote player, host other than local, may leave it to its hello)" });
});

export const Output = z.strictObject({
  directory: z.string().default("out"),
  prefix: z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be letters, digits, '_', '.' or '-'").optional(),
  flushEveryTriggers: z.number().int().min(0).default(50),
  flushEverySeconds: z.number().min(0).default(2),
  rolloverTriggers: z.number().int().min(1).optional(),
  compression: z.enum(["none", "gzip"]).default("none"),
  /** A write error (disk full, I/O error): pause the scan with the reason (resume retries) or abort it. */
  onWriteError: z.enum(["pause", "abort"]).default("pause"),
  /** Free space kept on the output disk: the writer pauses the scan before HDF5 would hit "disk full". */
  reserveMB: z.number().min(0).default(8),
  /** Largest declared row (one trigger of one stream) a player may register, MiB. */
  maxRowMB: z.number().positive().default(64),
  /** Write-ahead journal beside the scan file (donki recover). */
  journal: z.boolean().default(true),
  /** fdatasync of the journal at most this many seconds apart (power loss bound); 0 = after every trigger. */
  journalSyncSeconds: z.number().min(0).default(1),
});

/** The beamline around the detectors, written as NXsource / NXmonochromator / NXsample (defaults: TWINMIC, Elettra). */
export const Instrument = z.strictObject({
  name: z.string().min(1).default("TWINMIC"),
  source: z
    .strictObject({
      name: z.string().min(1).default("Elettra"),
      type: z.string().min(1).default("Synchrotron X-ray Source"),
      probe: z.enum(["x-ray", "neutron", "electron", "muon", "ultraviolet", "visible light", "positron", "proton"]).default("x-ray"),
    })
    .default({ name: "Elettra", type: "Synchrotron X-ray Source", probe: "x-ray" }),
  monochromator: z
    .strictObject({
      /** Incident photon energy, eV, when the sequence does not vary `energy`: every trigger gets it as `energy`. */
      energy_eV: z.number().positive().default(2000),
    })
    .default({ energy_eV: 2000 }),
  sample: z
    .strictObject({
      /** NXsample rotation_angle, degrees. */
      rotation_angle: z.number().default(0),
    })
    .default({ rotation_angle: 0 }),
});

export const TimeMode = z.union([z.literal("virtual"), z.literal("real"), z.strictObject({ scale: z.number().positive() })], {
  error: (iss) =>
    `must be virtual, real or { scale: FACTOR } (scaled real time, e.g. \`time: { scale: 0.2 }\`; the command line's --time scale:0.2 is written so only there), got ${JSON.stringify(iss.input)}`,
});

export const Scenario = z
  .strictObject({
    title: z.string().min(1),
    description: z.string().optional(),
    /** Free-form metadata stored in the file: sample, proposal, user, ... */
    metadata: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    /** Source, monochromator energy, sample rotation (NeXus instrument description). */
    instrument: Instrument.default({
      name: "TWINMIC",
      source: { name: "Elettra", type: "Synchrotron X-ray Source", probe: "x-ray" },
      monochromator: { energy_eV: 2000 },
      sample: { rotation_angle: 0 },
    }),
    /** Seed of every simulated device's noise. */
    seed: z.number().int().default(1),
    /** Clock of the simulated devices: virtual (as fast as possible), real, or {scale: 0.1}. */
    time: TimeMode.default("virtual"),
    players: z.array(PlayerDef).min(1).optional(),
    /** A player list in the original DonkiOrchestra style (XML), relative to this file. */
    playersXml: z.string().optional(),
    sequence: Sequence,
    policy: Policy.default({ onFault: "pause", retries: 2 }),
    /** Allow priority changes between triggers (otherwise only between runs). */
    allowPriorityChange: z.boolean().default(false),
    output: Output.default({ directory: "out", flushEveryTriggers: 50, flushEverySeconds: 2, compression: "none", onWriteError: "pause", reserveMB: 8, maxRowMB: 64, journal: true, journalSyncSeconds: 1 }),
    /** Heartbeat timing, milliseconds. */
    heartbeat: z.strictObject({ interval: z.number().int().min(10).default(500), timeout: z.number().int().min(50).default(3000) }).optional(),
  })
  .superRefine((s, ctx) => {
    if (!s.players && !s.playersXml) ctx.addIssue({ code: "custom", path: ["players"], message: "give the players (a list) or playersXml (a file)" });
    if (s.players && s.playersXml) ctx.addIssue({ code: "custom", path: ["playersXml"], message: "give either players or playersXml, not both" });
    const seen = new Map<string, number>();
    s.players?.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: "custom", path: ["players", i, "name"], message: `player name '${p.name}' is used twice (also players[${seen.get(p.name)}])` });
      seen.set(p.name, i);
    });
  });

export type ScenarioDef = z.infer<typeof Scenario>;
export type PlayerDefT = z.infer<typeof PlayerDef>;
export type SequenceDef = z.infer<typeof Sequence>;

/**
 * A device player's settings as the catalogue gets them: the scenario's settings plus the player's `overlap` and
 * `actOnChange` choices (the catalogue applies its defaults where they are absent).
 */
export function playerSettings(p: Pick<PlayerDefT, "settings" | "overlap" | "actOnChange">): Record<string, unknown> {
  return { ...p.settings, ...(p.overlap !== undefined ? { overlap: p.overlap } : {}), ...(p.actOnChange !== undefined ? { actOnChange: p.actOnChange } : {}) };
}

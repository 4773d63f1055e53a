/**
 * The NeXus tree of a donki scan, as data: which group (NX class) holds which stream, which fields are constants or
 * run metadata, what is computed at close, which NXdata and which hard links. One description serves NXstxm and,
 * when an MCA is in the scan, NXfluo (one NXsubentry per definition, linking the same objects, no copies).
 *
 * The writer (nexus-writer.ts) walks this tree with layout-writer.ts and keeps only the mechanics (rows, masks,
 * flush, rollover, resume); reader.ts and quicklook.ts find datasets through the paths exported here.
 * Shape of the tree: docs/data-format.md. Definitions: docs/nexus/ (NXDL files, LGPL).
 */
import type { DeadTimeReport, InstrumentInfo, RunInfo, StreamSpec } from "./types.ts";
import { streamKey } from "./types.ts";

// ------------------------------------------------------------------ fixed paths (shared with reader, quicklook)

export const ENTRY = "/entry";
export const INSTRUMENT = "/entry/instrument";
export const MASKS = "/entry/masks";
export const TRIGGERS = "/entry/triggers";
/** The I0 monitor (NXmonitor under the entry, as NXfluo wants it). */
export const MONITOR = "/entry/monitor";
/** Where the instrument's time went, planned vs actual (NXcollection, written at close). */
export const DEAD_TIME = "/entry/dead_time";
/** The default plot (`/entry@default`): transmission map of a raster, per-point signal otherwise. */
export const DEFAULT_DATA = "/entry/data";
export const maskPath = (player: string, name: string): string => `${MASKS}/${player}/${name}`;
/** The streams of a raster's positioner that are its image axes, slow (y) then fast (x). */
export const rasterAxes = (positioner: string): [string, string] => [`${positioner}/y`, `${positioner}/x`];
/** Where a stream that the layout does not place goes (and where files of donki < 0.2 put every stream). */
export const fallbackStreamPath = (player: string, name: string): string => `${INSTRUMENT}/${player}/${name}`;

// ------------------------------------------------------------------ the tree's vocabulary

export type AttrValue = string | number | string[] | number[];

/** What is computed when the run closes, from the stored rows (layout-writer.ts evaluates these). */
export type Derivation =
  /** Planned incident energy of every trigger in the file, eV (constant unless the sequence varies it). */
  | { op: "energy" }
  /** The same as wavelength, nm. */
  | { op: "wavelength" }
  /** A scalar stream placed on the planned raster: [ny, nx] or [repeats, ny, nx]; NaN where nothing arrived. */
  | { op: "image"; stream: string }
  /** Ratio of two scalar streams on the raster (It / I0). */
  | { op: "ratio-image"; num: string; den: string }
  /** Per-trigger ratio of two scalar streams. */
  | { op: "ratio"; num: string; den: string }
  /** A scalar stream copied whole (rollover master: the rows of every part). */
  | { op: "copy"; stream: string }
  /** Sum of a spectrum stream over every trigger that arrived (int64). */
  | { op: "sum"; stream: string }
  /** Per trigger, the sum of a spectrum stream's row over its bins (NaN where missing). */
  | { op: "row-sum"; stream: string }
  /** A planned per-trigger parameter (x, y), NaN-free: the sequence's positions. */
  | { op: "planned"; param: "x" | "y" };

export type LayoutNode =
  | { type: "group"; path: string; nxClass: string; attrs?: Record<string, AttrValue> }
  /** A value known when the file opens: a constant of the layout or run metadata. */
  | { type: "field"; path: string; when: "open"; source: "constant" | "run"; value: string | number | number[]; units?: string; dtype?: string; attrs?: Record<string, AttrValue> }
  /** An external link (a resumed run's previous file). */
  | { type: "external"; path: string; file: string; target: string }
  /** A value computed when the run closes. */
  | { type: "field"; path: string; when: "close"; derive: Derivation; dtype?: string; units?: string; attrs?: Record<string, AttrValue> }
  /** One row per trigger from a player (the writer appends; `storeAs` converts, e.g. counts to integers). */
  | { type: "stream"; path: string; stream: string; units?: string; storeAs?: StreamSpec["dtype"]; axisPath?: string }
  /** A hard link (same object, second name). `when: close` for targets made at close. */
  | { type: "link"; path: string; target: string; when: "open" | "close" }
  /** An attribute set at close (e.g. /entry@default once the plot exists). */
  | { type: "attr"; path: string; name: string; value: AttrValue; when: "open" | "close" };

/** Which file of a run the tree is for: one file, a rollover part (raw rows only), a rollover master. */
export type FileRole = "single" | "part" | "master";

// ------------------------------------------------------------------ defaults and tables

/** TWINMIC at Elettra: the defaults of the scenario's `instrument:` section. */
export const TWINMIC: InstrumentInfo = {
  name: "TWINMIC",
  source: { name: "Elettra", type: "Synchrotron X-ray Source", probe: "x-ray" },
  energyEv: 2000,
  sample: { rotationAngleDeg: 0 },
  monitorPresetS: 0.1,
};

/** hc, eV nm: wavelength = HC_EV_NM / energy. */
export const HC_EV_NM = 1239.8419843320026;

/** Units as devices say them -> UDUNITS-2 spelling. */
const UNITS: Record<string, string> = { C: "degC", "°C": "degC", "": "1", "%": "percent", micron: "um", "µm": "um", cps: "counts/s" };
export const udunits = (u: string | undefined): string | undefined => (u === undefined ? undefined : (UNITS[u] ?? u));

/** Units of sequence parameters that become axes. */
const PARAM_UNITS: Record<string, string> = { temperature: "degC", energy: "eV", x: "um", y: "um", z: "um" };

/**
 * Where each kind of device goes under /entry/instrument: group name ("$player" = the player's name), NX class, and
 * which stream becomes the detector's `data` (renamed) with its calibrated axis (renamed too).
 */
interface DeviceRule {
  group: string;
  nxClass: string;
  /** stream name -> dataset name in the group. */
  rename?: Record<string, string>;
  /** Name of the calibrated axis of the renamed main stream (MCA bins -> energy). */
  axisName?: string;
  /** Role "monitor" streams of this kind are the run's I0: /entry/monitor/data (NXmonitor, counts as integers). */
  monitorToEntry?: boolean;
  /** NXsensor: what it measures. */
  measurement?: string;
}
export const DEVICE_RULES: Record<string, DeviceRule> = {
  // dead_time is a fraction (NXdetector/dead_time would be seconds)
  mca: { group: "fluorescence", nxClass: "NXdetector", rename: { spectrum: "data", dead_time: "dead_time_fraction" }, axisName: "energy" },
  "area-detector": { group: "$player", nxClass: "NXdetector", rename: { frame: "data" } },
  io: { group: "$player", nxClass: "NXdetector", monitorToEntry: true },
  setpoint: { group: "$player", nxClass: "NXsensor" },
  positioner: { group: "$player", nxClass: "NXpositioner" },
};
/** The raster positioner's streams are NXstxm's interferometer records: /entry/instrument/sample_x/data ... */
const SAMPLE_AXES: Record<string, string> = { x: "sample_x", y: "sample_y", z: "sample_z" };
/** NXsample fields linked to a setpoint player of that name (its read-back `value`). */
const SAMPLE_LINKS = new Set(["temperature", "magnetic_field", "electric_field", "pressure"]);

// ------------------------------------------------------------------ placement of streams

export interface Placement {
  path: string;
  units?: string;
  storeAs?: StreamSpec["dtype"];
  axisPath?: string;
}

export interface ScanContext {
  run: RunInfo;
  streams: StreamSpec[];
}

/** The file being written: what its run-metadata fields need beyond the run. */
export interface FileInfo {
  name: string;
  scanNumber: number;
  /** First trigger the file holds. */
  first: number;
  /** Rollover part number (parts only). */
  part?: number;
  /** A resumed run: the crashed file (base name) and the trigger this file starts at. */
  resumedFrom?: string;
  resumeTrigger?: number;
  /** ISO time of the file's creation. */
  now: string;
}

/** Run metadata common to single files, parts and masters: title, times, identifiers, scenario, user, metadata. */
export function runMetadata(run: RunInfo, file: FileInfo): LayoutNode[] {
  const n: LayoutNode[] = [];
  const attr = (path: string, name: string, value: AttrValue) => n.push({ type: "attr", path, name, value, when: "open" });
  const f = (path: string, value: string | number, dtype?: string, attrs?: Record<string, AttrValue>) =>
    n.push({ type: "field", path, when: "open", source: "run", value, ...(dtype ? { dtype } : {}), ...(attrs ? { attrs } : {}) });
  attr("/", "default", "entry");
  attr("/", "file_name", file.name);
  attr("/", "file_time", file.now);
  attr("/", "creator", `${run.program} ${run.version}`);
  n.push({ type: "group", path: ENTRY, nxClass: "NXentry" });
  attr(ENTRY, "first_trigger", file.first);
  attr(ENTRY, "run_id", run.runId);
  f(`${ENTRY}/title`, run.title);
  f(`${ENTRY}/start_time`, run.startTime.toISOString());
  f(`${ENTRY}/entry_identifier`, String(file.scanNumber));
  f(`${ENTRY}/run_id`, run.runId);
  f(`${ENTRY}/program_name`, run.program, undefined, { version: run.version });
  if (run.plannedTriggers !== null) f(`${ENTRY}/planned_triggers`, run.plannedTriggers, "<q");
  if (file.part) attr(ENTRY, "part", file.part);
  if (file.resumedFrom) {
    attr(ENTRY, "resumed_from", file.resumedFrom);
    attr(ENTRY, "resume_trigger", file.resumeTrigger ?? file.first);
    n.push({ type: "external", path: `${ENTRY}/previous`, file: file.resumedFrom, target: ENTRY });
  }
  if (run.scenarioText !== undefined || run.scenarioName || run.scenarioHash) {
    n.push({ type: "group", path: `${ENTRY}/scenario`, nxClass: "NXnote" });
    f(`${ENTRY}/scenario/type`, "text/yaml");
    if (run.scenarioName) f(`${ENTRY}/scenario/description`, run.scenarioName);
    if (run.scenarioText !== undefined) f(`${ENTRY}/scenario/data`, run.scenarioText);
    if (run.scenarioHash) f(`${ENTRY}/scenario/sha256`, run.scenarioHash);
  }
  const md = run.metadata;
  if (md.proposal) f(`${ENTRY}/experiment_identifier`, md.proposal);
  if (md.user) {
    n.push({ type: "group", path: `${ENTRY}/user`, nxClass: "NXuser" });
    f(`${ENTRY}/user/name`, md.user);
    if (md.email) f(`${ENTRY}/user/email`, md.email);
    if (md.affiliation) f(`${ENTRY}/user/affiliation`, md.affiliation);
  }
  const keys = Object.keys(md).filter((k) => /^[A-Za-z0-9_.-]+$/.test(k));
  if (keys.length) {
    n.push({ type: "group", path: `${ENTRY}/metadata`, nxClass: "NXcollection" });
    for (const k of keys) f(`${ENTRY}/metadata/${k}`, md[k]!);
  }
  return n;
}

/**
 * The dead-time report as a tree (written when the run closes): /entry/dead_time (NXcollection) with the run's
 * instrument and exposure time and efficiency, each `X` with `X_planned` (the timing model) beside it, and one
 * NXcollection per player with its level, its overlap and each phase's seconds (`wait` = busy with its previous
 * read-out, `readout` = after its acknowledgement when it overlaps). A value that is not known is NaN.
 */
export function deadTimeLayout(r: DeadTimeReport): LayoutNode[] {
  const n: LayoutNode[] = [];
  const num = (path: string, v: number | null, units: string, longName: string) =>
    n.push({ type: "field", path, when: "open", source: "run", value: v ?? NaN, units, attrs: { long_name: longName } });
  n.push({ type: "group", path: DEAD_TIME, nxClass: "NXcollection", attrs: { description: "where the instrument's time went: actual (measured in instrument time) and *_planned (timing model, donki estimate)" } });
  const both = (name: string, v: { planned: number | null; actual: number | null }, units: string, what: string) => {
    num(`${DEAD_TIME}/${name}`, v.actual, units, `${what} (actual)`);
    num(`${DEAD_TIME}/${name}_planned`, v.planned, units, `${what} (planned)`);
  };
  both("instrument_time", r.instrumentS, "s", "instrument time of the scan");
  both("exposure_time", r.exposureS, "s", "time spent exposing (longest exposure of each trigger)");
  both("efficiency", r.efficiency, "", "exposure time / instrument time");
  const dead = (e: number | null, i: number | null) => (e === null || i === null ? null : i - e);
  both("dead_time", { planned: dead(r.exposureS.planned, r.instrumentS.planned), actual: dead(r.exposureS.actual, r.instrumentS.actual) }, "s", "instrument time not spent exposing");
  for (const p of r.players) {
    if (!/^[A-Za-z0-9_.-]+$/.test(p.name)) continue;
    const g = `${DEAD_TIME}/${p.name}`;
    n.push({ type: "group", path: g, nxClass: "NXcollection" });
    n.push({ type: "field", path: `${g}/level`, when: "open", source: "run", value: p.level, dtype: "<q" });
    n.push({ type: "field", path: `${g}/overlap`, when: "open", source: "run", value: p.overlap ? "readout" : "none" });
    for (const [ph, v] of Object.entries(p.phases)) {
      if (!/^[A-Za-z0-9_]+$/.test(ph)) continue;
      num(`${g}/${ph}`, v.actual, "s", `${p.name} ${ph} (actual)`);
      num(`${g}/${ph}_planned`, v.planned, "s", `${p.name} ${ph} (planned)`);
    }
  }
  return n;
}

const kindOf = (run: RunInfo, player: string): string | undefined => run.devices?.[player];

/** The player whose x/y streams are the sample position (the raster's, else the first positioner by name). */
function samplePositioner(ctx: ScanContext): string | undefined {
  const r = ctx.run.raster;
  if (r) return r.axes[0].split("/")[0];
  return [...new Set(ctx.streams.filter((s) => kindOf(ctx.run, s.player) === "positioner").map((s) => s.player))].sort()[0];
}

/** The MCA player that is NXfluo's `fluorescence` (first by name); other MCAs keep their player name. */
function fluorescencePlayer(ctx: ScanContext): string | undefined {
  return [...new Set(ctx.streams.filter((s) => kindOf(ctx.run, s.player) === "mca" && s.name === "spectrum" && s.shape.length === 1).map((s) => s.player))].sort()[0];
}

/** The I0 stream: role monitor of an io device (first by key). */
function monitorStream(ctx: ScanContext): StreamSpec | undefined {
  return sorted(ctx.streams).find((s) => s.role === "monitor" && s.shape.length === 0 && kindOf(ctx.run, s.player) === "io");
}

const sorted = (streams: StreamSpec[]) => [...streams].sort((a, b) => (a.player < b.player ? -1 : a.player > b.player ? 1 : 0));

/** The dataset path of a stream `alias` (absolute under /entry, or relative to /entry); throws for other paths. */
export function aliasPath(alias: string, what: string): string {
  const a = alias.replace(/\/+$/, "");
  const path = a.startsWith("/") ? a : `${ENTRY}/${a}`;
  if (!path.startsWith(`${ENTRY}/`) || path.split("/").some((p, i) => i > 0 && (p === "" || p === "." || p === "..")))
    throw new Error(`${what}: alias must be a path under ${ENTRY}, got "${alias}"`);
  return path;
}

/** Where one stream's rows are stored. Independent of arrival order: a function of the scan's declarations. */
export function placeStream(ctx: ScanContext, spec: StreamSpec): Placement {
  const units = udunits(spec.units);
  if (spec.alias) return { path: aliasPath(spec.alias, `stream "${streamKey(spec)}"`), units };
  const kind = kindOf(ctx.run, spec.player);
  const r = ctx.run.raster;
  const key = streamKey(spec);
  if (r ? key === r.axes[1] || key === r.axes[0] : kind === "positioner" && spec.player === samplePositioner(ctx) && SAMPLE_AXES[spec.name]) {
    const axis = r ? (key === r.axes[1] ? "sample_x" : "sample_y") : SAMPLE_AXES[spec.name]!;
    return { path: `${INSTRUMENT}/${axis}/data`, units };
  }
  const rule = kind ? DEVICE_RULES[kind] : undefined;
  if (!rule) return { path: fallbackStreamPath(spec.player, spec.name), units };
  const mon = monitorStream(ctx);
  if (rule.monitorToEntry && mon && streamKey(mon) === key) return { path: `${MONITOR}/data`, units, storeAs: "uint32" };
  const group = `${INSTRUMENT}/${groupName(ctx, spec.player, kind!)}`;
  const renamed = rule.rename?.[spec.name];
  if (renamed) {
    const axisPath = spec.axis && rule.axisName ? `${group}/${rule.axisName}` : undefined;
    return { path: `${group}/${renamed}`, units, axisPath };
  }
  return { path: `${group}/${spec.name}`, units };
}

function groupName(ctx: ScanContext, player: string, kind: string): string {
  const rule = DEVICE_RULES[kind];
  if (!rule) return player;
  if (rule.group === "fluorescence") return player === fluorescencePlayer(ctx) ? "fluorescence" : player;
  return rule.group === "$player" ? player : rule.group;
}

/** NX class of an instrument group made for a player (also for players that join mid-run). */
export function groupClassFor(ctx: ScanContext, groupPath: string): string {
  if (groupPath === INSTRUMENT) return "NXinstrument";
  if (groupPath === MONITOR) return "NXmonitor";
  const leaf = groupPath.slice(groupPath.lastIndexOf("/") + 1);
  if (Object.values(SAMPLE_AXES).includes(leaf)) return "NXdetector";
  if (leaf === "fluorescence") return "NXdetector";
  const kind = kindOf(ctx.run, leaf);
  const rule = kind ? DEVICE_RULES[kind] : undefined;
  if (rule) return rule.nxClass;
  const roles = new Set(ctx.streams.filter((s) => s.player === leaf).map((s) => s.role));
  if (roles.has("signal")) return "NXdetector";
  if (roles.has("positioner")) return "NXpositioner";
  return "NXcollection";
}

// ------------------------------------------------------------------ the default plot's choices

/**
 * The transmission of the specimen: a scalar stream named `transmission` (It/I0 normalised by the empty beam, from
 * the io device) when one exists; else It/I0 computed at close; else the first scalar signal (players by name).
 */
export function transmissionSource(ctx: ScanContext): { stream: string } | { num: string; den: string } | null {
  const scal = sorted(ctx.streams).filter((s) => s.shape.length === 0);
  const t = scal.find((s) => s.name === "transmission");
  if (t) return { stream: streamKey(t) };
  const it = scal.find((s) => s.name === "It");
  const i0 = scal.find((s) => s.name === "I0" && (!it || s.player === it.player)) ?? scal.find((s) => s.name === "I0");
  if (it && i0) return { num: streamKey(it), den: streamKey(i0) };
  const sig = scal.find((s) => s.role === "signal" && !s.name.startsWith("roi_")) ?? scal.find((s) => s.role === "signal") ?? scal.find((s) => s.role === "monitor");
  return sig ? { stream: streamKey(sig) } : null;
}

/** Element maps (roi_* scalar streams), players by name, streams in declared order. */
export const elementMaps = (ctx: ScanContext): StreamSpec[] => sorted(ctx.streams).filter((s) => s.shape.length === 0 && /^roi_/.test(s.name));

/** Raster geometry: [repeats, ny, nx] and the trigger -> cell map (snake rows run backwards). */
export function rasterGeometry(run: RunInfo): { nrep: number; ny: number; nx: number; snake: boolean; cell(t: number): number } | null {
  const r = run.raster;
  if (!r) return null;
  const nx = r.x?.points ?? r.shape[1];
  const nrep = r.repeat?.values.length ?? 1;
  const ny = r.y?.points ?? Math.floor(r.shape[0] / nrep);
  if (!(nx > 0 && ny > 0)) return null;
  const snake = r.snake;
  return {
    nrep,
    ny,
    nx,
    snake,
    /** Flat index in [nrep, ny, nx] of trigger t (1-based); -1 outside the plan. */
    cell(t: number): number {
      const i = t - 1;
      if (i < 0 || i >= nrep * ny * nx) return -1;
      const rep = Math.floor(i / (ny * nx));
      const k = i % (ny * nx);
      const iy = Math.floor(k / nx);
      let ix = k % nx;
      if (snake && iy % 2 === 1) ix = nx - 1 - ix;
      return (rep * ny + iy) * nx + ix;
    },
  };
}

const linspace = (a: { start: number; stop: number; points: number }) =>
  Array.from({ length: a.points }, (_, i) => (a.points === 1 ? a.start : a.start + ((a.stop - a.start) * i) / (a.points - 1)));

// ------------------------------------------------------------------ the tree

/**
 * The tree of one file. Stream nodes come from `placeStream`; everything else from the run description, so two
 * runs of the same scenario get the same tree, attribute for attribute.
 */
export function buildLayout(ctx: ScanContext, role: FileRole, file?: FileInfo): LayoutNode[] {
  const run = ctx.run;
  const ins = run.instrument ?? TWINMIC;
  const md = run.metadata;
  const n: LayoutNode[] = file ? runMetadata(run, file) : [];
  const group = (path: string, nxClass: string, attrs?: Record<string, AttrValue>) => n.push({ type: "group", path, nxClass, ...(attrs ? { attrs } : {}) });
  const constant = (path: string, value: string | number | number[], units?: string, attrs?: Record<string, AttrValue>) =>
    n.push({ type: "field", path, when: "open", source: "constant", value, ...(units ? { units } : {}), ...(attrs ? { attrs } : {}) });
  const fromRun = (path: string, value: string | number) => n.push({ type: "field", path, when: "open", source: "run", value });
  const atClose = (path: string, derive: Derivation, units?: string, attrs?: Record<string, AttrValue>, dtype?: string) =>
    n.push({ type: "field", path, when: "close", derive, ...(units ? { units } : {}), ...(attrs ? { attrs } : {}), ...(dtype ? { dtype } : {}) });
  const link = (path: string, target: string, when: "open" | "close" = "open") => n.push({ type: "link", path, target, when });

  const streams = role === "master" ? ctx.streams.filter((s) => s.shape.length === 0) : ctx.streams;
  const placed = new Map(ctx.streams.map((s) => [streamKey(s), placeStream(ctx, s)] as const));
  const full = role !== "part";
  const fluo = fluorescencePlayer(ctx);
  const mon = monitorStream(ctx);
  const fluoSpec = fluo ? ctx.streams.find((s) => s.player === fluo && s.name === "spectrum") : undefined;
  const isFluo = full && !!fluoSpec && !!mon;

  // entry and run metadata
  group(ENTRY, "NXentry");
  if (full) constant(`${ENTRY}/definition`, "NXstxm", undefined, { URL: nxdlUrl("NXstxm") });
  // instrument
  group(INSTRUMENT, "NXinstrument");
  constant(`${INSTRUMENT}/name`, ins.name);
  group(`${INSTRUMENT}/source`, "NXsource");
  constant(`${INSTRUMENT}/source/name`, ins.source.name);
  constant(`${INSTRUMENT}/source/type`, ins.source.type);
  constant(`${INSTRUMENT}/source/probe`, ins.source.probe);
  group(`${INSTRUMENT}/monochromator`, "NXmonochromator");
  if (full) {
    atClose(`${INSTRUMENT}/monochromator/energy`, { op: "energy" }, "eV", { long_name: "incident photon energy of each point" });
    atClose(`${INSTRUMENT}/monochromator/wavelength`, { op: "wavelength" }, "nm", { long_name: "incident wavelength of each point" });
  }
  // I0 monitor
  if (mon) {
    group(MONITOR, "NXmonitor");
    constant(`${MONITOR}/mode`, "timer");
    constant(`${MONITOR}/preset`, ins.monitorPresetS, "s");
  }
  // one group per placed stream's parent, with the class of its device
  const parents = new Set<string>();
  for (const s of streams) {
    const p = placed.get(streamKey(s))!;
    const parent = p.path.slice(0, p.path.lastIndexOf("/"));
    if (!parents.has(parent) && parent.startsWith(`${INSTRUMENT}/`)) {
      parents.add(parent);
      group(parent, groupClassFor(ctx, parent));
      const kind = kindOf(run, s.player);
      if (kind === "setpoint") constant(`${parent}/measurement`, s.player);
    }
    if (role === "master") atClose(p.path, { op: "copy", stream: streamKey(s) }, p.units, streamAttrs(s), p.storeAs === "uint32" ? "<I" : undefined);
    else n.push({ type: "stream", path: p.path, stream: streamKey(s), ...(p.units ? { units: p.units } : {}), ...(p.storeAs ? { storeAs: p.storeAs } : {}), ...(p.axisPath ? { axisPath: p.axisPath } : {}) });
  }
  // every NXdetector has `data`: the renamed main stream, else a link to its first signal
  for (const parent of parents) {
    if (groupClassFor(ctx, parent) !== "NXdetector") continue;
    const inside = streams.filter((s) => placed.get(streamKey(s))!.path.startsWith(`${parent}/`));
    if (inside.some((s) => placed.get(streamKey(s))!.path === `${parent}/data`)) continue;
    if (role === "master" && fluoSpec && parent === `${INSTRUMENT}/fluorescence`) continue;
    const main = inside.find((s) => s.name === "transmission") ?? inside.find((s) => s.role === "signal") ?? inside[0];
    if (main) link(`${parent}/data`, placed.get(streamKey(main))!.path);
  }
  // master: the per-point spectra stay in the parts; NXstxm's detector record is the counts of each point
  if (role === "master" && fluoSpec) {
    group(`${INSTRUMENT}/fluorescence`, "NXdetector");
    atClose(`${INSTRUMENT}/fluorescence/data`, { op: "row-sum", stream: streamKey(fluoSpec) }, udunits(fluoSpec.units), { long_name: `${streamKey(fluoSpec)}: counts of each point over all bins (per-point spectra: the part files)` }, "<q");
  }
  // sample
  group(`${ENTRY}/sample`, "NXsample");
  fromRun(`${ENTRY}/sample/name`, md.sample ?? run.title);
  if (md.sample_description) fromRun(`${ENTRY}/sample/description`, md.sample_description);
  constant(`${ENTRY}/sample/rotation_angle`, ins.sample.rotationAngleDeg, "deg");
  for (const s of streams) {
    if (kindOf(run, s.player) === "setpoint" && SAMPLE_LINKS.has(s.player) && s.name === "value") link(`${ENTRY}/sample/${s.player}`, placed.get(streamKey(s))!.path, role === "master" ? "close" : "open");
  }
  if (!full) return n;

  // the default plot
  n.push(...plotNodes(ctx, placed));
  n.push({ type: "attr", path: ENTRY, name: "default", value: "data", when: "close" });

  // one NXsubentry per definition, linking the same objects
  group(`${ENTRY}/stxm`, "NXsubentry");
  constant(`${ENTRY}/stxm/definition`, "NXstxm", undefined, { URL: nxdlUrl("NXstxm") });
  for (const f of ["title", "start_time"]) link(`${ENTRY}/stxm/${f}`, `${ENTRY}/${f}`);
  link(`${ENTRY}/stxm/end_time`, `${ENTRY}/end_time`, "close");
  link(`${ENTRY}/stxm/instrument`, INSTRUMENT);
  link(`${ENTRY}/stxm/sample`, `${ENTRY}/sample`);
  link(`${ENTRY}/stxm/data`, DEFAULT_DATA, "close");
  n.push({ type: "attr", path: `${ENTRY}/stxm`, name: "default", value: "data", when: "close" });
  if (isFluo) {
    const F = `${ENTRY}/xrf`;
    group(F, "NXsubentry", { default: "spectrum" });
    constant(`${F}/definition`, "NXfluo", undefined, { URL: nxdlUrl("NXfluo") });
    for (const f of ["title", "start_time"]) link(`${F}/${f}`, `${ENTRY}/${f}`);
    link(`${F}/end_time`, `${ENTRY}/end_time`, "close");
    link(`${F}/sample`, `${ENTRY}/sample`);
    link(`${F}/monitor`, MONITOR);
    const perPoint = role === "single";
    let fl = `${INSTRUMENT}/fluorescence`;
    if (perPoint) link(`${F}/instrument`, INSTRUMENT);
    else {
      // a master's NXfluo instrument: the same source and monochromator, the spectrum summed over the run
      group(`${F}/instrument`, "NXinstrument");
      link(`${F}/instrument/source`, `${INSTRUMENT}/source`);
      link(`${F}/instrument/monochromator`, `${INSTRUMENT}/monochromator`);
      fl = `${F}/instrument/fluorescence`;
      group(fl, "NXdetector");
      atClose(`${fl}/data`, { op: "sum", stream: streamKey(fluoSpec!) }, udunits(fluoSpec!.units), { long_name: `${streamKey(fluoSpec!)} summed over every point (per-point spectra: the part files)` }, "<q");
      const a = fluoSpec!.axis;
      if (a) constant(`${fl}/energy`, Array.from({ length: fluoSpec!.shape[0]! }, (_, i) => a.offset + a.step * i), udunits(a.units));
    }
    group(`${F}/data`, "NXdata", { signal: "data", axes: perPoint ? [".", "energy"] : ["energy"], energy_indices: perPoint ? 1 : 0 });
    link(`${F}/data/data`, `${fl}/data`, perPoint ? "open" : "close");
    link(`${F}/data/energy`, `${fl}/energy`);
    group(`${F}/spectrum`, "NXdata", { signal: "data", axes: ["energy"], energy_indices: 0 });
    constant(`${F}/spectrum/title`, "XRF spectrum summed over the scan");
    if (perPoint) atClose(`${F}/spectrum/data`, { op: "sum", stream: streamKey(fluoSpec!) }, udunits(fluoSpec!.units), { long_name: `${streamKey(fluoSpec!)} summed over every point` }, "<q");
    else link(`${F}/spectrum/data`, `${fl}/data`, "close");
    link(`${F}/spectrum/energy`, `${fl}/energy`);
  }
  return n;
}

const nxdlUrl = (def: string) => `https://manual.nexusformat.org/classes/applications/${def}.html`;

const streamAttrs = (s: StreamSpec): Record<string, AttrValue> => ({ long_name: streamKey(s), donki_stream: streamKey(s), donki_role: s.role });

/** /entry/data: NXstxm's NXdata, the transmission with element maps; a map for rasters, per point otherwise. */
function plotNodes(ctx: ScanContext, placed: Map<string, Placement>): LayoutNode[] {
  const n: LayoutNode[] = [];
  const D = DEFAULT_DATA;
  const run = ctx.run;
  const geo = rasterGeometry(run);
  const tr = transmissionSource(ctx);
  const maps = elementMaps(ctx);
  const ins = run.instrument ?? TWINMIC;
  const energyVaries = !!run.energyPerTrigger && new Set(run.energyPerTrigger).size > 1;
  const trLabel = tr && "num" in tr ? `transmission ${tr.num} / ${tr.den}` : tr ? `${tr.stream}` : "no signal";
  const trUnits = tr && "num" in tr ? "1" : udunits(ctx.streams.find((s) => tr && "stream" in tr && streamKey(s) === tr.stream)?.units);
  const names = new Set(["data", "energy", "sample_x", "sample_y", "stxm_scan_type"]);
  const auxNames = maps.map((s) => {
    let nm = s.name;
    if (names.has(nm)) nm = `${s.player}_${s.name}`;
    names.add(nm);
    return nm;
  });
  if (geo && run.raster) {
    const r = run.raster;
    // the planned axes; a raster described only by its shape gets index axes
    const rx = r.x ?? { start: 0, stop: geo.nx - 1, points: geo.nx };
    const ry = r.y ?? { start: 0, stop: geo.ny - 1, points: geo.ny };
    const rep = r.repeat;
    const repAxis = rep ? (rep.param === "energy" ? "energy" : rep.param) : null;
    const axes = [...(repAxis ? [repAxis] : []), "sample_y", "sample_x"];
    const scanType = !rep ? "sample image" : rep.param === "energy" ? "sample image stack" : "generic scan";
    const attrs: Record<string, AttrValue> = { signal: "data", axes, sample_y_indices: axes.indexOf("sample_y"), sample_x_indices: axes.indexOf("sample_x"), snake: r.snake ? 1 : 0 };
    if (auxNames.length) attrs.auxiliary_signals = auxNames;
    if (repAxis) attrs[`${repAxis}_indices`] = 0;
    n.push({ type: "group", path: D, nxClass: "NXdata", attrs });
    n.push({ type: "field", path: `${D}/title`, when: "open", source: "run", value: `${trLabel} (${geo.ny} x ${geo.nx}${rep ? ` x ${rep.values.length} ${rep.param}` : ""})` });
    n.push({ type: "field", path: `${D}/stxm_scan_type`, when: "open", source: "constant", value: scanType });
    if (tr) n.push({ type: "field", path: `${D}/data`, when: "close", derive: "num" in tr ? { op: "ratio-image", num: tr.num, den: tr.den } : { op: "image", stream: tr.stream }, ...(trUnits ? { units: trUnits } : {}), attrs: { long_name: `${trLabel} (NaN = missing)` } });
    maps.forEach((s, i) => n.push({ type: "field", path: `${D}/${auxNames[i]}`, when: "close", derive: { op: "image", stream: streamKey(s) }, units: udunits(s.units), attrs: { long_name: `${streamKey(s)} (NaN = missing)` } }));
    const posUnits = udunits(ctx.streams.find((s) => streamKey(s) === r.axes[1])?.units) ?? "um";
    n.push({ type: "field", path: `${D}/sample_x`, when: "open", source: "run", value: linspace(rx), units: posUnits, attrs: { long_name: "sample x (planned raster)" } });
    n.push({ type: "field", path: `${D}/sample_y`, when: "open", source: "run", value: linspace(ry), units: posUnits, attrs: { long_name: "sample y (planned raster)" } });
    for (const [nm, key] of [["sample_x_measured", r.axes[1]], ["sample_y_measured", r.axes[0]]] as const) {
      if (ctx.streams.some((s) => streamKey(s) === key)) n.push({ type: "field", path: `${D}/${nm}`, when: "close", derive: { op: "image", stream: key }, units: posUnits, attrs: { long_name: `${key} measured at each point (NaN = missing)` } });
    }
    if (rep && rep.param === "energy") n.push({ type: "field", path: `${D}/energy`, when: "open", source: "run", value: rep.values, units: "eV" });
    else {
      n.push({ type: "field", path: `${D}/energy`, when: "open", source: "run", value: [energyVaries ? NaN : (run.energyPerTrigger?.[0] ?? ins.energyEv)], units: "eV", attrs: { long_name: "incident photon energy" } });
      if (rep) n.push({ type: "field", path: `${D}/${rep.param}`, when: "open", source: "run", value: rep.values, ...(PARAM_UNITS[rep.param] ? { units: PARAM_UNITS[rep.param] } : {}), attrs: { long_name: `${rep.param} (planned, one per repetition)` } });
    }
    return n;
  }
  // not a raster: one value per point against the trigger number, positions as further axes of the same dimension
  const attrs: Record<string, AttrValue> = { signal: "data", axes: ["trigger"], trigger_indices: 0, sample_x_indices: 0, sample_y_indices: 0, energy_indices: 0 };
  if (auxNames.length) attrs.auxiliary_signals = auxNames;
  n.push({ type: "group", path: D, nxClass: "NXdata", attrs });
  n.push({ type: "field", path: `${D}/title`, when: "open", source: "run", value: `${trLabel} per point` });
  n.push({ type: "field", path: `${D}/stxm_scan_type`, when: "open", source: "constant", value: "generic scan" });
  n.push({ type: "link", path: `${D}/trigger`, target: TRIGGERS, when: "close" });
  if (tr) {
    if ("num" in tr) n.push({ type: "field", path: `${D}/data`, when: "close", derive: { op: "ratio", num: tr.num, den: tr.den }, units: "1", attrs: { long_name: trLabel } });
    else n.push({ type: "link", path: `${D}/data`, target: placed.get(tr.stream)!.path, when: "close" });
  }
  maps.forEach((s, i) => n.push({ type: "link", path: `${D}/${auxNames[i]}`, target: placed.get(streamKey(s))!.path, when: "close" }));
  n.push({ type: "link", path: `${D}/energy`, target: `${INSTRUMENT}/monochromator/energy`, when: "close" });
  const pos = samplePositioner(ctx);
  for (const [ax, nm] of [["x", "sample_x"], ["y", "sample_y"]] as const) {
    const planned = ax === "x" ? run.plannedX : run.plannedY;
    if (!planned && pos && ctx.streams.some((s) => s.player === pos && s.name === ax)) n.push({ type: "link", path: `${D}/${nm}`, target: `${INSTRUMENT}/${SAMPLE_AXES[ax]}/data`, when: "close" });
    else n.push({ type: "field", path: `${D}/${nm}`, when: "close", derive: { op: "planned", param: ax }, units: "um", attrs: { long_name: planned ? `sample ${ax} (planned)` : `sample ${ax}: not in this scan (NaN)` } });
  }
  return n;
}

/**
 * A NeXus validator (test suite, `donki validate`): reads the NXDL files of docs/nexus/ (the NIAC's definitions, LGPL) and
 * checks an HDF5 file against the application definition each NXentry / NXsubentry declares in `definition`.
 *
 * Checked (NXDL 3.1 rules, docs/nexus/README.md): required fields, groups and links (an item is required unless
 * minOccurs="0", optional="true" or recommended="true"; in base classes everything is optional); named groups by
 * name, unnamed ones by NX_class (each unnamed group of that class must satisfy the spec, at least minOccurs of
 * them); NeXus types; enumerations; units categories (the `units` attribute must be a unit of that category);
 * ranks and dimension symbols (nP, nE ... equal wherever they appear; a field may carry one extra, leading scan
 * dimension unless its dimensions already name nP). Fields and groups of the base classes present in the file are
 * checked for type, enumeration and units category. Every `units` attribute in the file must parse as UDUNITS.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { XMLParser } from "fast-xml-parser";
import { type Dataset, type Group, attrValue, h5ready, h5wasm, isHdf5 } from "./h5util.ts";

export const NXDL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs/nexus");

interface FieldSpec {
  name: string;
  type?: string;
  units?: string;
  required: boolean;
  enumeration?: string[];
  rank?: string;
  dims?: Array<{ index: number; value: string }>;
}
interface GroupSpec {
  name?: string;
  type: string;
  required: boolean;
  minOccurs: number;
  fields: FieldSpec[];
  groups: GroupSpec[];
  links: Array<{ name: string; target: string; required: boolean }>;
}

const ARRAYS = new Set(["group", "field", "link", "item", "dim", "attribute", "symbol"]);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", isArray: (name) => ARRAYS.has(name) });

type X = Record<string, unknown>;
const arr = (x: unknown): X[] => (Array.isArray(x) ? (x as X[]) : []);

function required(x: X, base: boolean): boolean {
  if (base) return false;
  if (x["@_optional"] === "true" || x["@_recommended"] === "true") return false;
  return x["@_minOccurs"] === undefined ? true : Number(x["@_minOccurs"]) > 0;
}

function parseGroup(x: X, base: boolean): GroupSpec {
  return {
    name: x["@_name"] as string | undefined,
    type: String(x["@_type"]),
    required: required(x, base),
    minOccurs: base ? 0 : x["@_minOccurs"] === undefined ? 1 : Number(x["@_minOccurs"]),
    fields: arr(x.field).map((f) => ({
      name: String(f["@_name"]),
      type: f["@_type"] as string | undefined,
      units: f["@_units"] as string | undefined,
      required: required(f, base),
      enumeration: f.enumeration ? arr((f.enumeration as X).item).map((i) => String(i["@_value"])) : undefined,
      rank: f.dimensions ? String((f.dimensions as X)["@_rank"]) : undefined,
      dims: f.dimensions ? arr((f.dimensions as X).dim).map((d) => ({ index: Number(d["@_index"]), value: String(d["@_value"]) })) : undefined,
    })),
    groups: arr(x.group).map((g) => parseGroup(g, base)),
    links: arr(x.link).map((l) => ({ name: String(l["@_name"]), target: String(l["@_target"]), required: required(l, base) })),
  };
}

const cache = new Map<string, { def: GroupSpec; category: string } | null>();
/** An NXDL file of docs/nexus as a group spec (application definitions: their NXentry group). */
export function loadNxdl(name: string, dir = NXDL_DIR): { def: GroupSpec; category: string } | null {
  const key = `${dir}:${name}`;
  if (cache.has(key)) return cache.get(key)!;
  const file = path.join(dir, `${name}.nxdl.xml`);
  if (!fs.existsSync(file)) {
    cache.set(key, null);
    return null;
  }
  const doc = parser.parse(fs.readFileSync(file, "utf8")) as X;
  const d = doc.definition as X;
  const category = String(d["@_category"]);
  const base = category === "base";
  const root = parseGroup({ ...d, "@_type": name }, base);
  const def = base ? root : root.groups.find((g) => g.type === "NXentry")!;
  const out = { def, category };
  cache.set(key, out);
  return out;
}

// ------------------------------------------------------------------ units

const PREFIX = "(?:Y|Z|E|P|T|G|M|k|h|da|d|c|m|u|µ|n|p|f|a|z|y)?";
const BASE_UNITS = [
  "m", "meter", "metre", "s", "second", "g", "gram", "K", "kelvin", "degC", "celsius", "A", "ampere", "mol", "cd", "rad", "radian", "sr",
  "Hz", "N", "Pa", "J", "W", "C", "V", "F", "ohm", "S", "Wb", "T", "H", "eV", "electronvolt", "bar", "barn", "angstrom", "Angstrom",
  "deg", "degree", "degrees", "arc_degree", "count", "counts", "percent", "1", "min", "h", "hour", "day", "L", "l", "torr", "mbar",
];
const UNIT_TOKEN = new RegExp(`^${PREFIX}(?:${BASE_UNITS.map((u) => u.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(?:\\^?-?\\d+)?$`);
/** A UDUNITS-2 unit string (products, quotients, powers of prefixed units), as far as donki's files go. */
export function isUdunits(u: string): boolean {
  const s = u.trim();
  if (s === "") return false;
  return s.split(/\s*[/*.]\s*|\s+/).every((t) => UNIT_TOKEN.test(t) || /^\d+(\.\d+)?$/.test(t));
}

/** Units accepted for each NeXus units category (the ones donki's files meet; others: any UDUNITS unit). */
const CATEGORY: Record<string, RegExp> = {
  NX_ENERGY: new RegExp(`^${PREFIX}(eV|J)$`),
  NX_WAVELENGTH: new RegExp(`^(${PREFIX}m|angstrom|Angstrom)$`),
  NX_LENGTH: new RegExp(`^(${PREFIX}m|angstrom|Angstrom)$`),
  NX_ANGLE: /^(deg|degree|degrees|rad|mrad|urad)$/,
  NX_TIME: new RegExp(`^(${PREFIX}s|min|h)$`),
  NX_PERIOD: new RegExp(`^(${PREFIX}s)$`),
  NX_TEMPERATURE: /^(K|mK|degC|celsius)$/,
  NX_CURRENT: new RegExp(`^${PREFIX}A$`),
  NX_VOLTAGE: new RegExp(`^${PREFIX}V$`),
  NX_FREQUENCY: new RegExp(`^${PREFIX}Hz$`),
  NX_DIMENSIONLESS: /^(1|percent|)$/,
  NX_UNITLESS: /^$/,
};

// ------------------------------------------------------------------ HDF5 side

/** A child, or undefined for an external link (h5wasm aborts on some paths through them; rollover parts). */
function child(g: Group, name: string): unknown {
  const p = `${g.path === "/" ? "" : g.path}/${name}`;
  if (!g.keys().includes(name)) return undefined;
  try {
    if ((g.get_external_link(p) as { filename?: string }).filename) return undefined;
  } catch {
    return undefined;
  }
  return g.get(name);
}

const isDataset = (o: unknown): o is Dataset => o instanceof h5wasm.Dataset;
const isGroup = (o: unknown): o is Group => o instanceof h5wasm.Group;
const nxClass = (g: Group) => attrValue(g, "NX_class") as string | undefined;

function typeOk(ds: Dataset, t: string | undefined): string | null {
  if (!t || t === "NX_CHAR_OR_NUMBER") return null;
  const m = ds.metadata as { type: number; size: number; signed: boolean };
  // h5wasm type classes: 0 integer, 1 float, 3 string
  const isInt = m.type === 0;
  const isFloat = m.type === 1;
  const isStr = m.type === 3;
  const ok: Record<string, boolean> = {
    NX_CHAR: isStr,
    NX_DATE_TIME: isStr && !Number.isNaN(Date.parse(String(ds.value))),
    NX_FLOAT: isFloat,
    NX_INT: isInt,
    NX_UINT: isInt && !m.signed,
    NX_POSINT: isInt,
    NX_NUMBER: isInt || isFloat,
    NX_BOOLEAN: isInt || m.type === 8,
    NX_BINARY: isInt,
  };
  if (!(t in ok)) return null;
  return ok[t] ? null : `type ${t} expected, found ${isStr ? "string" : isFloat ? `float${m.size * 8}` : isInt ? `${m.signed ? "int" : "uint"}${m.size * 8}` : `HDF5 class ${m.type}`}`;
}

export interface ValidationReport {
  file: string;
  /** Which definition was checked where: "/entry: NXstxm". */
  checked: string[];
  errors: string[];
}

class Checker {
  errors: string[] = [];
  constructor(private readonly f: InstanceType<typeof h5wasm.File>) {}

  err(where: string, msg: string): void {
    this.errors.push(`${where}: ${msg}`);
  }

  /** `entryPath` stands for /entry in link targets. */
  group(g: Group, where: string, spec: GroupSpec, symbols: Map<string, number>, entryPath: string): void {
    const children = g.keys();
    // fields
    for (const fs_ of spec.fields) {
      const o = child(g, fs_.name);
      if (!isDataset(o)) {
        if (fs_.required) this.err(where, `required field '${fs_.name}' missing`);
        continue;
      }
      this.field(o, `${where}/${fs_.name}`, fs_, symbols);
    }
    // links
    for (const l of spec.links) {
      const o = child(g, l.name);
      if (o === null || o === undefined) {
        if (l.required) this.err(where, `required link '${l.name}' (-> ${l.target}) missing`);
        continue;
      }
      const target = l.target.replace(/^\/entry(?=\/|$)/, entryPath);
      if (!this.f.get(target)) this.err(`${where}/${l.name}`, `link target ${target} missing`);
    }
    // groups: named first, then unnamed by class
    const claimed = new Set<string>();
    for (const gs of spec.groups.filter((x) => x.name)) {
      const o = child(g, gs.name!);
      if (!isGroup(o)) {
        if (gs.required) this.err(where, `required group '${gs.name}' (${gs.type}) missing`);
        continue;
      }
      claimed.add(gs.name!);
      if (nxClass(o) !== gs.type) this.err(`${where}/${gs.name}`, `NX_class ${gs.type} expected, found ${nxClass(o) ?? "none"}`);
      this.group(o, `${where}/${gs.name}`, gs, symbols, entryPath);
      this.base(o, `${where}/${gs.name}`);
    }
    for (const gs of spec.groups.filter((x) => !x.name)) {
      const matches = children.filter((k) => !claimed.has(k)).map((k) => [k, child(g, k)] as const).filter(([, o]) => isGroup(o) && nxClass(o as Group) === gs.type);
      if (matches.length < gs.minOccurs) this.err(where, `needs ${gs.minOccurs > 1 ? `${gs.minOccurs} groups` : "a group"} of class ${gs.type}, found ${matches.length}`);
      for (const [k, o] of matches) {
        this.group(o as Group, `${where}/${k}`, gs, symbols, entryPath);
        this.base(o as Group, `${where}/${k}`);
      }
    }
  }

  field(ds: Dataset, where: string, spec: FieldSpec, symbols: Map<string, number>): void {
    const t = typeOk(ds, spec.type);
    if (t) this.err(where, t);
    if (spec.enumeration?.length) {
      const v = ds.value;
      const s = typeof v === "string" ? v : String(v);
      if (!spec.enumeration.includes(s)) this.err(where, `value "${s}" not one of ${spec.enumeration.map((e) => `"${e}"`).join(", ")}`);
    }
    if (spec.units) {
      const u = attrValue(ds, "units");
      const re = CATEGORY[spec.units];
      if (typeof u !== "string") {
        if (spec.units !== "NX_UNITLESS" && spec.units !== "NX_ANY" && spec.units !== "NX_DIMENSIONLESS") this.err(where, `units (${spec.units}) missing`);
      } else if (re && !re.test(u)) this.err(where, `units "${u}" are not ${spec.units}`);
    }
    if (spec.rank !== undefined) {
      const shape = ds.shape ?? [];
      const rank = shape.length;
      const names = (spec.dims ?? []).map((d) => d.value);
      if (/^\d+$/.test(spec.rank)) {
        const r = Number(spec.rank);
        const scanDim = !names.includes("nP") && rank === r + 1 ? 1 : 0;
        if (rank !== r && !scanDim) this.err(where, `rank ${r} expected${names.includes("nP") ? "" : ` (or ${r + 1} with a leading scan dimension)`}, found ${rank} [${shape}]`);
        else for (const d of spec.dims ?? []) this.dim(where, d.value, shape[d.index - 1 + scanDim], symbols);
      } else {
        // "1+detectorRank": at least the scan dimension
        if (rank < 1) this.err(where, `rank ${spec.rank} expected, found ${rank}`);
        else for (const d of spec.dims ?? []) this.dim(where, d.value, shape[d.index - 1], symbols);
      }
    }
  }

  dim(where: string, sym: string, size: number | undefined, symbols: Map<string, number>): void {
    if (size === undefined) return;
    if (/^\d+$/.test(sym)) {
      if (Number(sym) !== size) this.err(where, `dimension ${sym} expected, found ${size}`);
      return;
    }
    const had = symbols.get(sym);
    if (had === undefined) symbols.set(sym, size);
    else if (had !== size) this.err(where, `dimension ${sym} = ${size}, but ${had} elsewhere`);
  }

  /** Fields present in a group, against its base class: type, enumeration, units category. */
  base(g: Group, where: string): void {
    const cls = nxClass(g);
    const b = cls ? loadNxdl(cls) : null;
    if (!b) return;
    for (const fs_ of b.def.fields) {
      const o = child(g, fs_.name);
      if (isDataset(o)) this.field(o, `${where}/${fs_.name}`, { ...fs_, rank: undefined, required: false }, new Map());
    }
  }

  /** Every `units` attribute in the file parses as UDUNITS. */
  units(g: Group, where: string, seen: Set<string>): void {
    for (const k of g.keys()) {
      const p = `${where === "/" ? "" : where}/${k}`;
      const o = child(g, k);
      if (isDataset(o)) {
        const u = attrValue(o, "units");
        if (u !== undefined && (typeof u !== "string" || !isUdunits(u))) this.err(p, `units "${String(u)}" are not UDUNITS`);
      } else if (isGroup(o)) {
        if (seen.has(p)) continue;
        seen.add(p);
        this.units(o, p, seen);
      }
    }
  }
}


/** Validate every NXentry / NXsubentry that names a definition (files without any are an error). */
export async function validateNexus(file: string, opts: { dir?: string } = {}): Promise<ValidationReport> {
  if (!isHdf5(file)) throw new Error("not an HDF5 file");
  await h5ready();
  const f = new h5wasm.File(path.resolve(file), "r");
  try {
    const c = new Checker(f);
    const checked: string[] = [];
    const visit = (g: Group, p: string) => {
      for (const k of g.keys()) {
        const o = child(g, k);
        if (!isGroup(o)) continue;
        const cls = nxClass(o);
        if (cls !== "NXentry" && cls !== "NXsubentry") continue;
        const where = `${p}/${k}`;
        const def = child(o, "definition");
        if (cls === "NXentry") visit(o, where);
        if (!isDataset(def)) {
          if (cls === "NXentry") c.err(where, "no 'definition': the entry declares no application definition");
          continue;
        }
        const name = String(def.value);
        const nx = loadNxdl(name, opts.dir ?? NXDL_DIR);
        if (!nx || nx.category !== "application") {
          c.err(`${where}/definition`, `unknown application definition "${name}"`);
          continue;
        }
        checked.push(`${where}: ${name}`);
        c.group(o, where, nx.def, new Map(), where);
        c.base(o, where);
      }
    };
    visit(f, "");
    c.units(f, "/", new Set());
    if (!checked.length) c.err(file, "no entry declares a definition");
    return { file, checked, errors: c.errors };
  } finally {
    f.close();
  }
}

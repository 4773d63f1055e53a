/**
 * A synthetic specimen with known maps, for twins and for tests/benchmarks that compare reconstructed maps
 * with the truth. Coordinates are stage micrometres; the default field of view is 0..100 um (a 100 um piezo
 * stage). Outside the field of view the specimen is empty (thickness 0, transmission 1).
 *
 * Content (positions and sizes drawn from the seed):
 * - an organic film whose thickness grows linearly along x (a gradient),
 * - a cell: an elliptical dome with a denser nucleus (Ca-rich), Mg spread in its cytoplasm,
 * - mineral particles (discs): aluminosilicate (Al+Si+O), Mg-rich (Mg+O) and iron oxide (Fe+O),
 * - a diatom-like ring of silica (Si+O) and a few small iron hot spots.
 * Thickness is the organic matrix in um; concentrations are areal densities in ug/cm^2 (oxygen includes the
 * oxygen bound in the organic matrix, 30 % by mass). The specimen lies on a support membrane (default 100 nm
 * Si3N4) that covers the whole stage range. Transmission follows Beer-Lambert through the membrane, the
 * organic matrix and the elements' photo-absorption (see xray-data.ts).
 */
import { rngFor } from "./rng.ts";
import { ELEMENTS, SI3N4, elementData, materialArealDensity, materialAttenuationPerUm, matrixAttenuationPerUm, photoAbsorption, type Material } from "./xray-data.ts";

export interface Fov {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** What the twins need from a specimen. `Specimen` and `uniformSpecimen` implement it. */
export interface SpecimenModel {
  fov(): Fov;
  /** Element symbols present (keys of xray-data ELEMENTS). */
  elements(): string[];
  /** Organic matrix thickness, um. */
  thickness(x: number, y: number): number;
  /** Areal density of an element, ug/cm^2 (0 for an absent element). */
  concentration(element: string, x: number, y: number): number;
  /** Fraction of photons of `energyEv` transmitted at (x, y) (membrane included). */
  transmission(x: number, y: number, energyEv: number): number;
  /** Transmission of the bare support membrane (1 without one): what a flat field / empty area sees. */
  membraneTransmission?(energyEv: number): number;
  /** Areal densities (ug/cm^2) of the membrane's elements (they fluoresce too). */
  membraneComposition?(): Record<string, number>;
}

/** The support membrane: a uniform layer under the whole specimen. */
export interface MembraneOptions {
  material?: Material;
  thicknessUm?: number;
}

/** Raster points x_i = x0 + i*dx (i < nx), y_j = y0 + j*dy (j < ny); maps are row-major (index j*nx + i). */
export interface Grid {
  x0: number;
  dx: number;
  nx: number;
  y0: number;
  dy: number;
  ny: number;
}

/** Quantity for `sampleMap`: a map name or an element symbol. */
export type MapQuantity = "thickness" | "transmission" | "absorption" | (string & {});

export interface SpecimenOptions {
  seed?: number | string;
  fov?: Fov;
  /** Number of mineral particles (default 7). */
  particles?: number;
  /** Number of iron hot spots (default 4). */
  hotSpots?: number;
  /** Matrix linear attenuation at 1 keV, 1/um (default 0.45, protein-like). */
  matrixMuAt1keV?: number;
  /** Support membrane (default 100 nm Si3N4); null = free-standing specimen. */
  membrane?: MembraneOptions | null;
}

/** Oxygen bound in the organic matrix, ug/cm^2 per um (1.35 g/cm^3, 30 % O by mass). */
const ORGANIC_O_PER_UM = 0.3 * 1.35 * 100;

interface Disc {
  x: number;
  y: number;
  r: number;
  conc: Partial<Record<string, number>>;
}

interface Ellipse {
  x: number;
  y: number;
  a: number;
  b: number;
  cos: number;
  sin: number;
}

const SPECIMEN_ELEMENTS = ["O", "Mg", "Al", "Si", "Ca", "Fe"] as const;
const EL_INDEX: Record<string, number> = Object.fromEntries(SPECIMEN_ELEMENTS.map((e, i) => [e, i]));
const N_EL = SPECIMEN_ELEMENTS.length;
const I_O = EL_INDEX.O,
  I_MG = EL_INDEX.Mg,
  I_AL = EL_INDEX.Al,
  I_SI = EL_INDEX.Si,
  I_CA = EL_INDEX.Ca,
  I_FE = EL_INDEX.Fe;

/** Soft-edged disc: 1 inside, 0 outside, linear over `edge` um around the radius. */
function discProfile(d: number, r: number, edge = 0.5): number {
  const v = (r - d) / edge + 0.5;
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}

/** Dome sqrt(1 - rho^2) of an ellipse at normalised radius rho, with a soft rim. */
function dome(rho: number): number {
  if (rho >= 1) return 0;
  return Math.sqrt(1 - rho * rho);
}

function ellipseRho(e: Ellipse, x: number, y: number): number {
  const dx = x - e.x,
    dy = y - e.y;
  const u = dx * e.cos + dy * e.sin;
  const v = -dx * e.sin + dy * e.cos;
  return Math.sqrt((u * u) / (e.a * e.a) + (v * v) / (e.b * e.b));
}

export class Specimen implements SpecimenModel {
  readonly seed: number | string;
  private readonly box: Fov;
  private readonly cell: Ellipse;
  private readonly nucleus: Ellipse;
  private readonly discs: Disc[] = [];
  private readonly ring: { x: number; y: number; r: number; w: number };
  private readonly spots: Disc[] = [];
  private readonly muAt1keV: number;
  private readonly tmp = new Float64Array(1 + N_EL);
  private tauCacheE = NaN;
  private readonly tauCache = new Float64Array(N_EL);
  private memT = 1;
  private readonly membrane: { material: Material; thicknessUm: number } | undefined;

  constructor(opts: SpecimenOptions = {}) {
    this.seed = opts.seed ?? 1;
    this.box = opts.fov ?? { x0: 0, x1: 100, y0: 0, y1: 100 };
    this.muAt1keV = opts.matrixMuAt1keV ?? 0.45;
    this.membrane = opts.membrane === null ? undefined : { material: opts.membrane?.material ?? SI3N4, thicknessUm: opts.membrane?.thicknessUm ?? 0.1 };
    const rng = rngFor(this.seed, "specimen");
    const W = this.box.x1 - this.box.x0,
      H = this.box.y1 - this.box.y0;
    const X = (f: number) => this.box.x0 + f * W;
    const Y = (f: number) => this.box.y0 + f * H;
    const s = Math.min(W, H) / 100; // feature scale relative to a 100 um field
    const th = rng.range(0, Math.PI);
    this.cell = { x: X(rng.range(0.42, 0.58)), y: Y(rng.range(0.42, 0.58)), a: 30 * s * rng.range(0.9, 1.1), b: 20 * s * rng.range(0.9, 1.1), cos: Math.cos(th), sin: Math.sin(th) };
    const nth = rng.range(0, Math.PI);
    const off = rng.range(0, 2 * Math.PI);
    this.nucleus = {
      x: this.cell.x + 8 * s * Math.cos(off),
      y: this.cell.y + 5 * s * Math.sin(off),
      a: 9 * s,
      b: 6.5 * s,
      cos: Math.cos(nth),
      sin: Math.sin(nth),
    };
    // the ring (diatom-like) away from the cell centre
    this.ring = { x: X(rng.range(0.12, 0.25)), y: Y(rng.range(0.72, 0.88)), r: 8 * s, w: 1.6 * s };
    const kinds: Array<Partial<Record<string, number>>> = [
      { Al: 15, Si: 25, O: 35 },
      { Mg: 20, O: 25 },
      { Fe: 25, O: 12 },
    ];
    const nParticles = opts.particles ?? 7;
    for (let i = 0, tries = 0; i < nParticles && tries < 1000; tries++) {
      const r = rng.range(2.5, 6) * s;
      const x = X(rng.range(0.08, 0.92)),
        y = Y(rng.range(0.08, 0.92));
      const clash = this.discs.some((d) => Math.hypot(d.x - x, d.y - y) < d.r + r + 2 * s) || Math.hypot(this.ring.x - x, this.ring.y - y) < this.ring.r + r + 2 * s;
      if (clash) continue;
      const base = kinds[i % kinds.length];
      const scale = rng.range(0.7, 1.3);
      const conc: Partial<Record<string, number>> = {};
      for (const [k, v] of Object.entries(base)) conc[k] = (v ?? 0) * scale;
      this.discs.push({ x, y, r, conc });
      i++;
    }
    const nSpots = opts.hotSpots ?? 4;
    for (let i = 0; i < nSpots; i++) {
      const ang = rng.range(0, 2 * Math.PI),
        rr = rng.range(0.2, 0.8);
      this.spots.push({
        x: this.cell.x + rr * this.cell.a * Math.cos(ang) * 0.8,
        y: this.cell.y + rr * this.cell.b * Math.sin(ang) * 0.8,
        r: 1.2 * s,
        conc: { Fe: rng.range(20, 40) },
      });
    }
  }

  fov(): Fov {
    return { ...this.box };
  }

  elements(): string[] {
    return [...SPECIMEN_ELEMENTS];
  }

  /** Fill out[0] = thickness (um), out[1 + k] = concentration of SPECIMEN_ELEMENTS[k] (ug/cm^2). */
  private evalAt(x: number, y: number, out: Float64Array): void {
    out.fill(0);
    const b = this.box;
    if (!(x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1)) return;
    // organic film with a thickness gradient along x
    let t = 0.1 + 0.3 * ((x - b.x0) / (b.x1 - b.x0));
    // cell dome + nucleus
    const rc = ellipseRho(this.cell, x, y);
    const cellDome = dome(rc);
    t += 1.5 * cellDome;
    const nDome = dome(ellipseRho(this.nucleus, x, y));
    t += 0.8 * nDome;
    out[0] = t;
    const c = out.subarray(1);
    c[I_O] += ORGANIC_O_PER_UM * t;
    c[I_MG] += 4 * cellDome;
    c[I_CA] += 30 * nDome + 2 * cellDome;
    c[I_FE] += 1.5 * cellDome;
    // ring of silica
    const dr = Math.abs(Math.hypot(x - this.ring.x, y - this.ring.y) - this.ring.r);
    const ring = discProfile(dr, this.ring.w / 2, 0.4);
    c[I_SI] += 20 * ring;
    c[I_O] += 22 * ring;
    for (const d of this.discs) {
      const p = discProfile(Math.hypot(x - d.x, y - d.y), d.r);
      if (p === 0) continue;
      for (const k in d.conc) c[EL_INDEX[k]] += (d.conc[k] ?? 0) * p;
    }
    for (const d of this.spots) {
      const p = discProfile(Math.hypot(x - d.x, y - d.y), d.r, 0.4);
      if (p === 0) continue;
      c[I_FE] += (d.conc.Fe ?? 0) * p;
    }
  }

  thickness(x: number, y: number): number {
    this.evalAt(x, y, this.tmp);
    return this.tmp[0];
  }

  concentration(element: string, x: number, y: number): number {
    const k = EL_INDEX[element];
    if (k === undefined) return 0;
    this.evalAt(x, y, this.tmp);
    return this.tmp[1 + k];
  }

  /** All concentrations at a point, ug/cm^2. */
  composition(x: number, y: number): Record<string, number> {
    this.evalAt(x, y, this.tmp);
    const r: Record<string, number> = {};
    SPECIMEN_ELEMENTS.forEach((e, k) => (r[e] = this.tmp[1 + k]));
    return r;
  }

  membraneTransmission(energyEv: number): number {
    const m = this.membrane;
    return m ? Math.exp(-materialAttenuationPerUm(m.material, energyEv) * m.thicknessUm) : 1;
  }

  membraneComposition(): Record<string, number> {
    return this.membrane ? materialArealDensity(this.membrane.material, this.membrane.thicknessUm) : {};
  }

  transmission(x: number, y: number, energyEv: number): number {
    if (energyEv !== this.tauCacheE) {
      SPECIMEN_ELEMENTS.forEach((e, k) => (this.tauCache[k] = photoAbsorption(ELEMENTS[e], energyEv)));
      this.memT = this.membraneTransmission(energyEv);
      this.tauCacheE = energyEv;
    }
    this.evalAt(x, y, this.tmp);
    const t = this.tmp[0];
    let mu = matrixAttenuationPerUm(energyEv, this.muAt1keV) * t;
    for (let k = 0; k < N_EL; k++) {
      let ck = this.tmp[1 + k];
      if (k === I_O) ck -= ORGANIC_O_PER_UM * t; // already in the matrix attenuation
      mu += ck * 1e-6 * this.tauCache[k];
    }
    return Math.exp(-mu) * this.memT;
  }
}

/** A homogeneous specimen (for unit tests): the same thickness and composition everywhere. */
export function uniformSpecimen(opts: { thicknessUm?: number; concentrations?: Record<string, number>; fov?: Fov; matrixMuAt1keV?: number } = {}): SpecimenModel {
  const t = opts.thicknessUm ?? 0;
  const conc = { ...(opts.concentrations ?? {}) };
  for (const e of Object.keys(conc)) elementData(e); // validate symbols
  const box = opts.fov ?? { x0: -Infinity, x1: Infinity, y0: -Infinity, y1: Infinity };
  const mu1 = opts.matrixMuAt1keV ?? 0.45;
  const inside = (x: number, y: number) => x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1;
  return {
    fov: () => ({ ...box }),
    elements: () => Object.keys(conc),
    thickness: (x, y) => (inside(x, y) ? t : 0),
    concentration: (el, x, y) => (inside(x, y) ? (conc[el] ?? 0) : 0),
    transmission: (x, y, e) => {
      if (!inside(x, y)) return 1;
      let mu = matrixAttenuationPerUm(e, mu1) * t;
      for (const [el, c] of Object.entries(conc)) mu += c * 1e-6 * photoAbsorption(elementData(el), e);
      return Math.exp(-mu);
    },
  };
}

/** Points of a grid (x fastest). */
export function gridPoints(g: Grid): Array<{ x: number; y: number; i: number; j: number }> {
  const pts = [];
  for (let j = 0; j < g.ny; j++) for (let i = 0; i < g.nx; i++) pts.push({ x: g.x0 + i * g.dx, y: g.y0 + j * g.dy, i, j });
  return pts;
}

/** A grid covering a field of view with nx x ny pixel centres. */
export function gridOver(fov: Fov, nx: number, ny = nx): Grid {
  const dx = (fov.x1 - fov.x0) / nx,
    dy = (fov.y1 - fov.y0) / ny;
  return { x0: fov.x0 + dx / 2, dx, nx, y0: fov.y0 + dy / 2, dy, ny };
}

/**
 * Sample a known map on a grid (row-major Float64Array, index j*nx + i). `absorption` is -ln(transmission);
 * `transmission`/`absorption` need `energyEv`.
 */
export function sampleMap(s: SpecimenModel, quantity: MapQuantity, g: Grid, energyEv?: number): Float64Array {
  const out = new Float64Array(g.nx * g.ny);
  let f: (x: number, y: number) => number;
  if (quantity === "thickness") f = (x, y) => s.thickness(x, y);
  else if (quantity === "transmission" || quantity === "absorption") {
    if (energyEv === undefined) throw new Error(`sampleMap(${quantity}) needs energyEv`);
    f = quantity === "transmission" ? (x, y) => s.transmission(x, y, energyEv) : (x, y) => -Math.log(s.transmission(x, y, energyEv));
  } else f = (x, y) => s.concentration(quantity, x, y);
  for (let j = 0; j < g.ny; j++) for (let i = 0; i < g.nx; i++) out[j * g.nx + i] = f(g.x0 + i * g.dx, g.y0 + j * g.dy);
  return out;
}

/** Pearson correlation of two equally long arrays (NaN if either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error("pearson: length mismatch");
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma,
      db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

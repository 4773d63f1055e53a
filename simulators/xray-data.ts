/**
 * Soft X-ray data the twins need (incident 0.4-2.2 keV at TWINMIC). Plain data, so a site can replace it.
 * Sources (docs/simulators.md, "Physics"):
 * - line energies: X-ray Data Booklet (Thompson et al., LBNL), table 1-2, rounded to 1 eV (as listed in
 *   /work/shared/reference/instruments.md section 4);
 * - absorption edges: X-ray Data Booklet table 1-1 (electron binding energies), rounded to 1 eV;
 * - K-shell fluorescence yields: Krause, J. Phys. Chem. Ref. Data 8, 307 (1979), rounded; L3 yields of the
 *   transition metals are order-of-magnitude ESTIMATES (the L3 yields of Krause 1979 for Ca..Zn span ~1e-4 to
 *   1e-2; the values below were not re-checked against the table);
 * - photo-absorption: a power law with one edge jump (ESTIMATE fitted by eye to the shape of the Henke et al.
 *   1993 tables, At. Data Nucl. Data Tables 54, 181; expect 20-30 % deviations from CXRO's values).
 */

export interface XrfLine {
  /** Siegbahn-ish name, e.g. "Ka", "La", "Lb". */
  name: string;
  energyEv: number;
  /** Relative weight among this element's lines (sums to 1). */
  weight: number;
}

export interface ElementData {
  symbol: string;
  /** Lines excited when the incident energy exceeds `edgeEv`. */
  lines: XrfLine[];
  /** Absorption edge that feeds the lines (K for light elements, L3 for transition metals), eV. */
  edgeEv: number;
  /** Fluorescence yield of that shell (typ.). */
  yield: number;
  /** Photo-absorption mass coefficient just above the edge, cm^2/g (typ.). */
  tauEdge: number;
  /** Edge jump ratio: below the edge tau = tauEdge/jump * (edge/E)^2.7. */
  jump: number;
}

export const ELEMENTS: Record<string, ElementData> = {
  C: { symbol: "C", lines: [{ name: "Ka", energyEv: 277, weight: 1 }], edgeEv: 284, yield: 0.0028, tauEdge: 4.5e4, jump: 20 },
  N: { symbol: "N", lines: [{ name: "Ka", energyEv: 392, weight: 1 }], edgeEv: 410, yield: 0.0052, tauEdge: 3.5e4, jump: 18 },
  O: { symbol: "O", lines: [{ name: "Ka", energyEv: 525, weight: 1 }], edgeEv: 543, yield: 0.0083, tauEdge: 2.0e4, jump: 17 },
  F: { symbol: "F", lines: [{ name: "Ka", energyEv: 677, weight: 1 }], edgeEv: 697, yield: 0.013, tauEdge: 1.5e4, jump: 16 },
  Na: { symbol: "Na", lines: [{ name: "Ka", energyEv: 1041, weight: 1 }], edgeEv: 1072, yield: 0.023, tauEdge: 6.5e3, jump: 14 },
  Mg: { symbol: "Mg", lines: [{ name: "Ka", energyEv: 1254, weight: 1 }], edgeEv: 1305, yield: 0.03, tauEdge: 4.9e3, jump: 13 },
  Al: { symbol: "Al", lines: [{ name: "Ka", energyEv: 1487, weight: 1 }], edgeEv: 1560, yield: 0.039, tauEdge: 3.9e3, jump: 12 },
  Si: { symbol: "Si", lines: [{ name: "Ka", energyEv: 1740, weight: 1 }], edgeEv: 1839, yield: 0.05, tauEdge: 3.2e3, jump: 11 },
  P: { symbol: "P", lines: [{ name: "Ka", energyEv: 2013, weight: 1 }], edgeEv: 2145, yield: 0.063, tauEdge: 2.6e3, jump: 10 },
  Ca: { symbol: "Ca", lines: [{ name: "La", energyEv: 341, weight: 1 }], edgeEv: 346, yield: 0.002, tauEdge: 3.0e4, jump: 3 },
  Ti: { symbol: "Ti", lines: [{ name: "La", energyEv: 452, weight: 1 }], edgeEv: 454, yield: 0.0025, tauEdge: 3.5e4, jump: 3 },
  Cr: { symbol: "Cr", lines: [{ name: "La", energyEv: 573, weight: 1 }], edgeEv: 574, yield: 0.003, tauEdge: 4.0e4, jump: 3 },
  Mn: { symbol: "Mn", lines: [{ name: "La", energyEv: 637, weight: 1 }], edgeEv: 639, yield: 0.0035, tauEdge: 4.3e4, jump: 3 },
  Fe: {
    symbol: "Fe",
    lines: [
      { name: "La", energyEv: 705, weight: 0.85 },
      { name: "Lb", energyEv: 719, weight: 0.15 },
    ],
    edgeEv: 707,
    yield: 0.005,
    tauEdge: 5.0e4,
    jump: 3,
  },
  Co: { symbol: "Co", lines: [{ name: "La", energyEv: 776, weight: 1 }], edgeEv: 778, yield: 0.006, tauEdge: 5.0e4, jump: 3 },
  Ni: {
    symbol: "Ni",
    lines: [
      { name: "La", energyEv: 852, weight: 0.85 },
      { name: "Lb", energyEv: 869, weight: 0.15 },
    ],
    edgeEv: 853,
    yield: 0.007,
    tauEdge: 5.0e4,
    jump: 3,
  },
  Cu: {
    symbol: "Cu",
    lines: [
      { name: "La", energyEv: 930, weight: 0.85 },
      { name: "Lb", energyEv: 950, weight: 0.15 },
    ],
    edgeEv: 933,
    yield: 0.008,
    tauEdge: 4.5e4,
    jump: 3,
  },
  Zn: { symbol: "Zn", lines: [{ name: "La", energyEv: 1012, weight: 1 }], edgeEv: 1022, yield: 0.009, tauEdge: 4.0e4, jump: 3 },
};

/** Photo-absorption mass coefficient of an element (cm^2/g) at `energyEv`: power law with one edge jump. */
export function photoAbsorption(el: ElementData, energyEv: number): number {
  const f = Math.pow(el.edgeEv / energyEv, 2.7);
  return energyEv >= el.edgeEv ? el.tauEdge * f : (el.tauEdge / el.jump) * f;
}

/** Absorption that ionises the fluorescing shell (cm^2/g): zero below the edge. */
export function shellAbsorption(el: ElementData, energyEv: number): number {
  if (energyEv < el.edgeEv) return 0;
  return el.tauEdge * (1 - 1 / el.jump) * Math.pow(el.edgeEv / energyEv, 2.7);
}

/** Linear attenuation of the organic matrix (protein-like, 1.35 g/cm^3), per micrometre (typ.). */
export function matrixAttenuationPerUm(energyEv: number, muAt1keV = 0.45): number {
  return muAt1keV * Math.pow(1000 / energyEv, 2.8);
}

export function elementData(symbol: string): ElementData {
  const e = ELEMENTS[symbol];
  if (!e) throw new Error(`unknown element "${symbol}" (known: ${Object.keys(ELEMENTS).join(", ")})`);
  return e;
}

/** Si K-edge energy: escape peaks (E - 1740 eV) only for photons above it. */
export const SI_K_EDGE_EV = 1839;
export const SI_KA_EV = 1740;

/** Energy per electron-hole pair in silicon, eV (the commonly used value; the E / 3.65 eV). */
export const SI_PAIR_ENERGY_EV = 3.65;
/** Fano factor of silicon (literature values 0.11-0.12; 0.115 used here). */
export const SI_FANO = 0.115;
export const SI_DENSITY = 2.33;

/** A compound: mass fractions of its elements and its density (g/cm^3). */
export interface Material {
  name: string;
  density: number;
  massFractions: Record<string, number>;
}

/** Stoichiometric Si3N4 (LPCVD membranes are often Si-rich; a site can pass its own). */
export const SI3N4: Material = { name: "Si3N4", density: 3.44, massFractions: { Si: 0.6006, N: 0.3994 } };

/** Linear photo-absorption coefficient of a material, 1/um, from the elements' mass coefficients. */
export function materialAttenuationPerUm(m: Material, energyEv: number): number {
  let mu = 0;
  for (const [el, w] of Object.entries(m.massFractions)) mu += w * photoAbsorption(elementData(el), energyEv);
  return mu * m.density * 1e-4;
}

/** Areal density (ug/cm^2) of each element in a layer of `thicknessUm` of material `m`. */
export function materialArealDensity(m: Material, thicknessUm: number): Record<string, number> {
  const g = m.density * thicknessUm * 1e-4 * 1e6; // ug/cm^2
  return Object.fromEntries(Object.entries(m.massFractions).map(([el, w]) => [el, g * w]));
}

/**
 * Quantum efficiency of a back-illuminated silicon sensor: transmission of the entrance dead layer times the
 * absorption in the depleted layer, QE = exp(-mu * dead) * (1 - exp(-mu * depleted)) (mu of Si at E).
 */
export function siliconQe(energyEv: number, deadLayerUm: number, depletedUm: number): number {
  const mu = photoAbsorption(elementData("Si"), energyEv) * SI_DENSITY * 1e-4; // 1/um
  return Math.exp(-mu * deadLayerUm) * (1 - Math.exp(-mu * depletedUm));
}

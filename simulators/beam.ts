/**
 * The simulated beam: where it hits the specimen, its energy and flux, and the trigger being acquired.
 * A plain settable object: in one process the stage twin (or a test) moves it; in a multi-process setup each
 * player process owns one and sets it from the trigger's parameters (`applyTrigger`). Detector twins read it
 * at the start of each exposure / spectrum / gate.
 */
import { Specimen, type SpecimenModel, type SpecimenOptions } from "./specimen.ts";

/**
 * Photon flux on the specimen under TWINMIC-like conditions (scanning mode, zone-plate microprobe after the
 * order-sorting aperture), photons/s, by incident energy. An ESTIMATE, not a measured TWINMIC figure: soft
 * X-ray zone-plate microprobes on undulator beamlines deliver of the order of 1e7-1e9 ph/s in focus; the
 * table takes ~1e8 at 2 keV, higher in the middle of the range and falling towards both ends (grating and
 * zone-plate efficiency). Log-log interpolation, clamped at the ends. A site replaces it with its own
 * measured flux curve (`SimBeam.fluxModel`) or passes `flux`/`fluxPhS` per trigger.
 */
export const TWINMIC_FLUX_TABLE: ReadonlyArray<readonly [number, number]> = [
  [400, 1.0e8],
  [700, 2.5e8],
  [1000, 2.5e8],
  [1500, 1.7e8],
  [2000, 1.0e8],
  [2200, 8.0e7],
];

export function twinmicFlux(energyEv: number, table: ReadonlyArray<readonly [number, number]> = TWINMIC_FLUX_TABLE): number {
  if (!(energyEv > 0)) return 0;
  if (energyEv <= table[0][0]) return table[0][1];
  for (let i = 1; i < table.length; i++) {
    const [e1, f1] = table[i];
    if (energyEv <= e1) {
      const [e0, f0] = table[i - 1];
      const u = Math.log(energyEv / e0) / Math.log(e1 / e0);
      return Math.exp(Math.log(f0) + u * Math.log(f1 / f0));
    }
  }
  return table[table.length - 1][1];
}

export interface BeamState {
  /** Beam position on the specimen, stage micrometres. */
  x: number;
  y: number;
  /** Incident photon energy, eV (TWINMIC: 400-2200). */
  energyEv: number;
  /** Incident photon flux on the specimen, photons/s. */
  fluxPhS: number;
  /** False = beam off / photon shutter closed: detectors see no photons. */
  on: boolean;
  /** False = the beam goes through a blank area of the support membrane, no specimen (flat fields). */
  specimenIn?: boolean;
  /** The trigger being acquired, if known: keys the twins' noise streams (see docs/simulators.md). */
  trigger?: number;
}

export class SimBeam implements BeamState {
  x = 50;
  y = 50;
  energyEv = 2000;
  on = true;
  specimenIn = true;
  trigger?: number;
  /** Flux by energy when no flux is pinned (default: the TWINMIC estimate). */
  fluxModel: (energyEv: number) => number = (e) => twinmicFlux(e);
  private pinnedFlux: number | undefined;
  /** What a trigger without beam parameters gets (the constructor's values). */
  private readonly defaults: { energyEv: number; fluxPhS: number | undefined; on: boolean; specimenIn: boolean };

  constructor(init: Partial<BeamState> = {}) {
    this.set(init);
    this.defaults = { energyEv: this.energyEv, fluxPhS: this.pinnedFlux, on: this.on, specimenIn: this.specimenIn };
  }

  /** Flux on the specimen: the pinned value if one was set, else `fluxModel(energyEv)`. */
  get fluxPhS(): number {
    return this.pinnedFlux ?? this.fluxModel(this.energyEv);
  }
  set fluxPhS(v: number) {
    this.pinnedFlux = v;
  }

  set(p: Partial<BeamState>): this {
    if (p.x !== undefined) this.x = p.x;
    if (p.y !== undefined) this.y = p.y;
    if (p.energyEv !== undefined) this.energyEv = p.energyEv;
    if (p.fluxPhS !== undefined) this.pinnedFlux = p.fluxPhS;
    if (p.on !== undefined) this.on = p.on;
    if (p.specimenIn !== undefined) this.specimenIn = p.specimenIn;
    if ("trigger" in p) this.trigger = p.trigger;
    return this;
  }

  moveTo(x: number, y: number): this {
    this.x = x;
    this.y = y;
    return this;
  }

  /**
   * Player helper: set the trigger number and the beam from the trigger's parameters (numbers): `x`, `y` (um)
   * stay where they are when absent (the stage does not move); `energyEv`/`energy` (eV), `fluxPhS`/`flux`,
   * `shutter` (0 = photon shutter closed: a dark) and `specimen` (0 = beam on a blank area of the membrane: a
   * flat) describe this trigger only: when absent they return to the beam's defaults (energy and flux of the
   * constructor, or the flux model at the energy; shutter open; specimen in).
   */
  applyTrigger(trigger: number, params: Record<string, unknown> = {}): this {
    this.trigger = trigger;
    const num = (k: string) => (typeof params[k] === "number" && Number.isFinite(params[k]) ? (params[k] as number) : undefined);
    const x = num("x"),
      y = num("y"),
      e = num("energyEv") ?? num("energy"),
      f = num("fluxPhS") ?? num("flux"),
      shutter = num("shutter"),
      specimen = num("specimen");
    if (x !== undefined) this.x = x;
    if (y !== undefined) this.y = y;
    this.energyEv = e ?? this.defaults.energyEv;
    this.pinnedFlux = f ?? this.defaults.fluxPhS;
    this.on = shutter !== undefined ? shutter !== 0 : this.defaults.on;
    this.specimenIn = specimen !== undefined ? specimen !== 0 : this.defaults.specimenIn;
    return this;
  }

  snapshot(): BeamState {
    return { x: this.x, y: this.y, energyEv: this.energyEv, fluxPhS: this.fluxPhS, on: this.on, specimenIn: this.specimenIn, trigger: this.trigger };
  }
}

/** Fraction of the incident photons transmitted at the beam: the specimen, or only its support membrane. */
export function transmissionAt(specimen: SpecimenModel, beam: BeamState): number {
  if (beam.specimenIn === false) return specimen.membraneTransmission?.(beam.energyEv) ?? 1;
  return specimen.transmission(beam.x, beam.y, beam.energyEv);
}

/** What the twins share: one beam and one specimen. */
export interface SimEnvironment {
  beam: SimBeam;
  specimen: SpecimenModel;
}

export interface SimEnvironmentOptions {
  /** Specimen seed when `specimen` is not a model (default 1). */
  seed?: number | string;
  specimen?: SpecimenModel | SpecimenOptions;
  beam?: Partial<BeamState>;
}

function isModel(s: SpecimenModel | SpecimenOptions): s is SpecimenModel {
  return typeof (s as SpecimenModel).transmission === "function";
}

export function createSimEnvironment(opts: SimEnvironmentOptions = {}): SimEnvironment {
  const s = opts.specimen;
  const specimen = s && isModel(s) ? s : new Specimen({ seed: opts.seed ?? 1, ...(s ?? {}) });
  return { beam: new SimBeam(opts.beam), specimen };
}

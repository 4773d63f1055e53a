/**
 * The simulated beam: where it hits the specimen, its energy and flux, and the trigger being acquired.
 * A plain settable object: in one process the stage twin (or a test) moves it; in a multi-process setup each
 * player process owns one and sets it from the trigger's parameters (`applyTrigger`). Detector twins read it
 * at the start of each exposure / spectrum / gate.
 */
import { Specimen, type SpecimenModel, type SpecimenOptions } from "./specimen.ts";

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
  /** The trigger being acquired, if known: keys the twins' noise streams (see docs/simulators.md). */
  trigger?: number;
}

export class SimBeam implements BeamState {
  x = 50;
  y = 50;
  energyEv = 2000;
  fluxPhS = 1e9;
  on = true;
  trigger?: number;

  constructor(init: Partial<BeamState> = {}) {
    this.set(init);
  }

  set(p: Partial<BeamState>): this {
    if (p.x !== undefined) this.x = p.x;
    if (p.y !== undefined) this.y = p.y;
    if (p.energyEv !== undefined) this.energyEv = p.energyEv;
    if (p.fluxPhS !== undefined) this.fluxPhS = p.fluxPhS;
    if (p.on !== undefined) this.on = p.on;
    if ("trigger" in p) this.trigger = p.trigger;
    return this;
  }

  moveTo(x: number, y: number): this {
    this.x = x;
    this.y = y;
    return this;
  }

  /**
   * Player helper: set the trigger number and take `x`, `y` (um), `energyEv` (or `energy`), `fluxPhS` from the
   * trigger's parameters when they are numbers.
   */
  applyTrigger(trigger: number, params: Record<string, unknown> = {}): this {
    this.trigger = trigger;
    const num = (k: string) => (typeof params[k] === "number" && Number.isFinite(params[k]) ? (params[k] as number) : undefined);
    const x = num("x"),
      y = num("y"),
      e = num("energyEv") ?? num("energy"),
      f = num("fluxPhS") ?? num("flux");
    if (x !== undefined) this.x = x;
    if (y !== undefined) this.y = y;
    if (e !== undefined) this.energyEv = e;
    if (f !== undefined) this.fluxPhS = f;
    return this;
  }

  snapshot(): BeamState {
    return { x: this.x, y: this.y, energyEv: this.energyEv, fluxPhS: this.fluxPhS, on: this.on, trigger: this.trigger };
  }
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

/**
 * Simulated twins of the TWINMIC endstation: seeded, clock-driven, with fault injection.
 * See docs/simulators.md.
 */
import type { Device } from "../runtime/devices/common.ts";
import { AndorIxonTwin, type AndorIxonTwinOptions } from "./andor-ixon.ts";
import { XglabDanteTwin, type DanteTwinOptions } from "./dante.ts";
import { IoCounterTwin, type IoCounterTwinOptions } from "./io-counter.ts";
import { PrincetonCcdTwin, type PiCcdTwinOptions } from "./pi-ccd.ts";
import { TemperatureTwin, type TemperatureTwinOptions } from "./temperature.ts";
import type { TwinOptions } from "./twin-base.ts";

export * from "./rng.ts";
export * from "./xray-data.ts";
export * from "./specimen.ts";
export * from "./beam.ts";
export * from "./faults.ts";
export * from "./thermal.ts";
export * from "./twin-base.ts";
export * from "./camera.ts";
export * from "./pi-ccd.ts";
export * from "./andor-ixon.ts";
export * from "./dante.ts";
export * from "./temperature.ts";
export * from "./io-counter.ts";

/** Options of `createTwin`: the common TwinOptions plus whatever the kind's constructor takes. */
export type CreateTwinOptions = TwinOptions & Record<string, unknown>;

export type TwinFactory = (options: TwinOptions) => Device;

const factories = new Map<string, TwinFactory>([
  ["sim:pi-ccd", (o) => new PrincetonCcdTwin(o as PiCcdTwinOptions)],
  ["sim:andor-ixon", (o) => new AndorIxonTwin(o as AndorIxonTwinOptions)],
  ["sim:dante", (o) => new XglabDanteTwin(o as DanteTwinOptions)],
  ["sim:temperature", (o) => new TemperatureTwin(o as TemperatureTwinOptions)],
  ["sim:io", (o) => new IoCounterTwin(o as IoCounterTwinOptions)],
]);

/**
 * HOOK for twins that live elsewhere. The PI piezo stage twin (`sim:pi-stage`, simulators/pi-stage/, another
 * owner) is deliberately NOT imported here; its module (or the wiring code) registers it:
 *
 *   registerTwin("sim:pi-stage", (o) => new PiStageTwin(o));
 *
 * so that createTwin("sim:pi-stage", ...) works. It should take the same TwinOptions and move
 * `options.env.beam` (SimBeam.moveTo) so the detector twins see the stage position.
 */
export function registerTwin(kind: string, factory: TwinFactory): void {
  if (!kind.startsWith("sim:")) throw new Error(`twin kind must start with "sim:", got "${kind}"`);
  factories.set(kind, factory);
}

export function twinKinds(): string[] {
  return [...factories.keys(), ...(factories.has("sim:pi-stage") ? [] : ["sim:pi-stage (not registered)"])];
}

/** Create a twin by device name: sim:pi-ccd, sim:andor-ixon, sim:dante, sim:temperature, sim:io (+ registered). */
export function createTwin(kind: "sim:pi-ccd", options: PiCcdTwinOptions): PrincetonCcdTwin;
export function createTwin(kind: "sim:andor-ixon", options: AndorIxonTwinOptions): AndorIxonTwin;
export function createTwin(kind: "sim:dante", options: DanteTwinOptions): XglabDanteTwin;
export function createTwin(kind: "sim:temperature", options: TemperatureTwinOptions): TemperatureTwin;
export function createTwin(kind: "sim:io", options: IoCounterTwinOptions): IoCounterTwin;
export function createTwin(kind: string, options: CreateTwinOptions): Device;
export function createTwin(kind: string, options: TwinOptions): Device {
  const f = factories.get(kind);
  if (!f) {
    if (kind === "sim:pi-stage") throw new Error(`twin "sim:pi-stage" is provided by simulators/pi-stage/: call registerTwin("sim:pi-stage", ...) first`);
    throw new Error(`unknown twin "${kind}" (known: ${[...factories.keys()].join(", ")})`);
  }
  return f(options);
}

/**
 * The physics shared by the twins: flux model, per-trigger beam parameters (dark / flat), Beer-Lambert through
 * specimen and membrane, detector QE, CCD saturation flagging, and the I0/It transmission.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import { transmissionOf } from "../runtime/players/io-player.ts";
import { SimBeam, createSimEnvironment, transmissionAt, twinmicFlux } from "./beam.ts";
import { IoCounterTwin } from "./io-counter.ts";
import { PrincetonCcdTwin } from "./pi-ccd.ts";
import { Specimen, uniformSpecimen } from "./specimen.ts";
import { SI3N4, materialAttenuationPerUm, siliconQe } from "./xray-data.ts";

describe("beam", () => {
  it("flux follows the TWINMIC model at the energy unless pinned", () => {
    expect(twinmicFlux(2000)).toBeCloseTo(1e8, -3);
    expect(twinmicFlux(1000)).toBeGreaterThan(twinmicFlux(2000));
    const b = new SimBeam();
    expect(b.fluxPhS).toBeCloseTo(1e8, -3);
    b.energyEv = 1000;
    expect(b.fluxPhS).toBeCloseTo(twinmicFlux(1000), 0);
    b.fluxPhS = 5e9;
    expect(b.fluxPhS).toBe(5e9);
  });

  it("shutter / specimen / flux / energy describe one trigger; x, y persist", () => {
    const b = new SimBeam({ energyEv: 1500 });
    b.applyTrigger(1, { x: 10, y: 20, shutter: 0, energy: 900, flux: 3e7 });
    expect(b.snapshot()).toMatchObject({ x: 10, y: 20, on: false, energyEv: 900, fluxPhS: 3e7, specimenIn: true });
    b.applyTrigger(2, { specimen: 0 });
    expect(b.snapshot()).toMatchObject({ x: 10, y: 20, on: true, energyEv: 1500, specimenIn: false });
    expect(b.fluxPhS).toBeCloseTo(twinmicFlux(1500), 0);
    b.applyTrigger(3, {});
    expect(b.snapshot()).toMatchObject({ on: true, specimenIn: true });
  });
});

describe("Beer-Lambert through the specimen and its membrane", () => {
  it("a blank area reads the membrane's exp(-mu t) < 1; the specimen only takes more", () => {
    const s = new Specimen({ seed: 3 });
    const e = 2000;
    const m = Math.exp(-materialAttenuationPerUm(SI3N4, e) * 0.1);
    expect(s.membraneTransmission(e)).toBeCloseTo(m, 12);
    expect(m).toBeGreaterThan(0.9);
    expect(m).toBeLessThan(0.97);
    const b = new SimBeam({ x: 50, y: 50, energyEv: e });
    expect(transmissionAt(s, b)).toBeLessThan(m);
    b.applyTrigger(1, { specimen: 0 });
    expect(transmissionAt(s, b)).toBeCloseTo(m, 12);
  });

  it("silicon QE: high above the Si K edge, a dip just below it", () => {
    expect(siliconQe(2000, 0.05, 15)).toBeGreaterThan(0.95);
    expect(siliconQe(1800, 0.05, 15)).toBeLessThan(siliconQe(1900, 0.05, 15));
  });
});

describe("PI CCD: saturation only where the physics says so, and flagged", () => {
  it("counts clipped pixels per frame; none at the scenarios' flux", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 2000 } });
    const ccd = new PrincetonCcdTwin({ clock, env, seed: 1, cooling: { startCooled: true }, settings: { exposureS: 0.1, binning: { x: 4, y: 4 }, gainIndex: 0 } });
    await ccd.connect();
    const ok = await ccd.acquire();
    expect(ok.saturated).toBe(0);
    env.beam.fluxPhS = 1e10; // 100x: the bright-field cone overfills the output node
    const sat = await ccd.acquire();
    let atCap = 0;
    const capAdu = Math.floor(600.5 + ccd.capacityE() / 4);
    for (const v of sat.data) if (v >= capAdu) atCap++;
    expect(sat.saturated).toBeGreaterThan(0);
    expect(sat.saturated).toBe(atCap);
    expect(Math.max(...sat.data)).toBeLessThan(65535); // the 250 ke node clips before the 16-bit ADC at 4 e/ADU
  });
});

describe("transmission from I0/It", () => {
  it("dark-subtracted ratio over the empty-beam ratio; NaN without beam", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 2000 } });
    const io = new IoCounterTwin({ clock, env, seed: 1 });
    await io.connect();
    const opts = { emptyBeamRatio: io.emptyBeamRatio(), darkCps: io.cfg.darkCps };
    const r = await io.count(0.1);
    const t = transmissionOf(r.values[0], r.values[1], 0.1, opts, "I0", "It");
    expect(t).toBeGreaterThan(0.99); // empty specimen, no membrane: 1 within Poisson noise (I0 ~ 1e5)
    expect(t).toBeLessThan(1.01);
    env.beam.on = false;
    const d = await io.count(0.1);
    expect(transmissionOf(d.values[0], d.values[1], 0.1, opts, "I0", "It")).toBeNaN();
  });
});

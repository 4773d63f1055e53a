import { describe, expect, it } from "vitest";
import { SimBeam, createSimEnvironment } from "./beam.ts";
import { Specimen, gridOver, pearson, sampleMap, uniformSpecimen } from "./specimen.ts";

describe("Specimen", () => {
  it("is deterministic from its seed and different across seeds", () => {
    const g = gridOver({ x0: 0, x1: 100, y0: 0, y1: 100 }, 32);
    const a = sampleMap(new Specimen({ seed: 1 }), "Fe", g);
    expect(sampleMap(new Specimen({ seed: 1 }), "Fe", g)).toEqual(a);
    expect(sampleMap(new Specimen({ seed: 2 }), "Fe", g)).not.toEqual(a);
  });

  it("has the six elements with distinct maps, and structure in every map", () => {
    const s = new Specimen({ seed: 1 });
    expect(s.elements()).toEqual(["O", "Mg", "Al", "Si", "Ca", "Fe"]);
    const g = gridOver(s.fov(), 50);
    const maps = s.elements().map((e) => sampleMap(s, e, g));
    for (const m of maps) {
      expect(Math.max(...m)).toBeGreaterThan(10); // ug/cm^2
      expect(Math.min(...m)).toBeGreaterThanOrEqual(0);
    }
    // Mg and Fe come from different features
    expect(pearson(maps[1], maps[5])).toBeLessThan(0.5);
  });

  it("transmission: Beer-Lambert, the bare membrane outside the field, decreasing with thickness, higher at higher energy", () => {
    const s = new Specimen({ seed: 1 });
    // outside the field only the 100 nm Si3N4 support membrane: exp(-mu t) < 1; free-standing: 1
    const m = s.membraneTransmission(1000);
    expect(s.transmission(-5, 50, 1000)).toBe(m);
    expect(m).toBeGreaterThan(0.85);
    expect(m).toBeLessThan(0.98);
    expect(new Specimen({ seed: 1, membrane: null }).transmission(-5, 50, 1000)).toBe(1);
    // inside the field the specimen only removes photons: T <= the membrane's everywhere
    const g = gridOver(s.fov(), 40);
    const t1 = sampleMap(s, "transmission", g, 1000);
    const t2 = sampleMap(s, "transmission", g, 2000);
    for (let i = 0; i < t1.length; i++) {
      expect(t1[i]).toBeGreaterThan(0);
      expect(t1[i]).toBeLessThanOrEqual(m);
      expect(t2[i]).toBeGreaterThanOrEqual(t1[i]);
    }
    const th = sampleMap(s, "thickness", g);
    const ab = sampleMap(s, "absorption", g, 1000);
    expect(pearson(th, ab)).toBeGreaterThan(0.8);
    expect(Math.max(...ab)).toBeGreaterThan(1); // enough contrast at 1 keV
  });

  it("uniform specimen", () => {
    const u = uniformSpecimen({ thicknessUm: 1, concentrations: { Fe: 10 } });
    expect(u.transmission(3, 4, 1000)).toBeLessThan(Math.exp(-0.45));
    expect(u.concentration("Fe", 1, 2)).toBe(10);
    expect(u.concentration("O", 1, 2)).toBe(0);
    expect(() => uniformSpecimen({ concentrations: { Xx: 1 } })).toThrow(/unknown element/);
  });
});

describe("SimBeam", () => {
  it("is a settable object a player updates from trigger parameters", () => {
    const b = new SimBeam();
    b.applyTrigger(12, { x: 10.5, y: 20, energy: 1500, other: "ignored" });
    expect(b.snapshot()).toMatchObject({ x: 10.5, y: 20, energyEv: 1500, trigger: 12, on: true });
    b.moveTo(1, 2).set({ on: false });
    expect(b.snapshot()).toMatchObject({ x: 1, y: 2, on: false });
    const env = createSimEnvironment({ seed: 3 });
    expect(env.specimen.elements().length).toBe(6);
  });
});

import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import { DeviceError } from "../runtime/devices/common.ts";
import { createSimEnvironment } from "./beam.ts";
import { PI_CCD_DEFAULTS, PrincetonCcdTwin, piCcdPhases } from "./pi-ccd.ts";
import { uniformSpecimen } from "./specimen.ts";
import { hashOf, stats } from "./test-util.ts";

async function make(opts: Partial<ConstructorParameters<typeof PrincetonCcdTwin>[0]> = {}) {
  const clock = new VirtualClock();
  const env = opts.env ?? createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 1000 } });
  const ccd = new PrincetonCcdTwin({ clock, env, seed: 11, cooling: { startCooled: true }, ...opts });
  await ccd.connect();
  return { clock, env, ccd };
}

const full = { x: 0, y: 0, width: 1340, height: 1300 };

describe("PrincetonCcdTwin timing (PI datasheet figures, instruments.md section 3)", () => {
  const base = { exposureS: 0, roi: full, binning: { x: 1, y: 1 }, readoutRateHz: 1e5, gainIndex: 0, emGain: 0, triggerMode: "internal" as const, shutter: "none" as const, frameTransfer: false };
  it.each([
    [1e5, 1, 17.4, 0.02],
    [1e6, 1, 1.8, 0.03],
    [2e6, 1, 0.9, 0.03],
    [1e5, 2, 4.4, 0.02],
  ])("read-out at %d Hz with %dx binning ~ %d s", (rate, bin, expected, relTol) => {
    const p = piCcdPhases(PI_CCD_DEFAULTS, { ...base, readoutRateHz: rate, binning: { x: bin, y: bin } });
    expect(Math.abs(p.readoutS - expected) / expected).toBeLessThan(relTol);
  });

  it("row shifts add H * t_v and a smaller ROI reads faster", () => {
    const a = piCcdPhases(PI_CCD_DEFAULTS, base);
    const b = piCcdPhases({ ...PI_CCD_DEFAULTS, rowShiftS: 20e-6 }, base);
    expect(b.readoutS - a.readoutS).toBeCloseTo(1300 * 5e-6, 9);
    const roi = piCcdPhases(PI_CCD_DEFAULTS, { ...base, roi: { x: 100, y: 100, width: 200, height: 100 } });
    expect(roi.readoutS).toBeLessThan(0.3);
    expect(roi.readoutS).toBeGreaterThan(1300 * 15e-6);
  });

  it("cycle = clear + shutter open + exposure + shutter close + read-out, and acquire takes exactly that on the clock", async () => {
    const { ccd, clock } = await make();
    await ccd.configure({ exposureS: 0.5, readoutRateHz: 2e6, shutter: "auto" });
    const p = ccd.phases();
    const clear = 2 * 1300 * 15e-6;
    expect(p.cycleS).toBeCloseTo(clear + 0.008 + 0.5 + 0.02 + p.readoutS, 12);
    expect(ccd.timing().cycleS).toBe(p.cycleS);
    const t0 = clock.now();
    const f = await ccd.acquire();
    expect(clock.now() - t0).toBeCloseTo(ccd.cycleTime(), 9);
    expect(f.timestamp).toBeCloseTo(t0 + clear + 0.008, 9);
    expect(f.exposureS).toBe(0.5);
    const t1 = clock.now();
    const frames: number[] = [];
    await ccd.acquireSequence(3, (fr) => void frames.push(fr.number));
    expect(frames).toEqual([2, 3, 4]);
    expect(clock.now() - t1).toBeCloseTo(ccd.sequenceTime(3), 9);
    expect(ccd.sequenceTime(3)).toBeCloseTo(3 * p.cycleS, 9); // no overlap on a full-frame sensor
  });
});

describe("PrincetonCcdTwin data model", () => {
  it("dark frame: mean = bias, std = read noise / sensitivity (ADC-rate dependent)", async () => {
    const { ccd, env } = await make();
    env.beam.on = false;
    for (const [rate, rn] of [
      [1e5, 3.5],
      [2e6, 13],
    ]) {
      await ccd.configure({ readoutRateHz: rate, gainIndex: 2, exposureS: 0.01, roi: { x: 0, y: 0, width: 400, height: 400 } }); // 1 e/ADU
      const f = await ccd.acquire();
      const s = stats(f.data);
      expect(s.mean).toBeCloseTo(600, 0);
      expect(Math.sqrt(s.variance)).toBeGreaterThan(rn * 0.97);
      expect(Math.sqrt(s.variance)).toBeLessThan(rn * 1.03);
    }
  });

  it("dark current grows with sensor temperature", async () => {
    const cold = await make();
    const warm = await make({ cooling: { startCooled: false } }); // +20 C
    for (const t of [cold, warm]) {
      t.env.beam.on = false;
      await t.ccd.configure({ exposureS: 10, gainIndex: 2, readoutRateHz: 2e6, roi: { x: 0, y: 0, width: 300, height: 300 } });
    }
    const c = stats((await cold.ccd.acquire()).data).mean - 600;
    const w = stats((await warm.ccd.acquire()).data).mean - 600;
    expect(Math.abs(c)).toBeLessThan(0.5); // 0.01 e/s * 10 s
    const expected = 0.01 * 2 ** (60 / 6) * 10; // doubling every 6 C from -40 to +20
    expect(w).toBeGreaterThan(expected * 0.95);
    expect(w).toBeLessThan(expected * 1.05);
  });

  it.each([2, 300, 5000])("bright flat field: photon counts are Poisson (mean %d photons/pixel)", async (mPh) => {
    // efficiency pinned at 0.8 (the QE model would give ~0 at 36.5 eV): this checks the statistics only
    const { ccd, env } = await make({ illumination: { shape: "uniform" }, efficiency: 0.8 });
    const roi = { x: 0, y: 0, width: 300, height: 300 };
    await ccd.configure({ exposureS: 0.01, gainIndex: 2, readoutRateHz: 1e5, roi });
    // photons per pixel = flux * t * efficiency / (W*H)
    env.beam.fluxPhS = (mPh * 1340 * 1300) / (0.01 * 0.8);
    env.beam.energyEv = 36.5; // 10 e per photon: keeps 5000 photons below the 100 ke full well
    const f = await ccd.acquire();
    const s = stats(f.data);
    const epp = 10;
    const meanPh = (s.mean - 600) / epp;
    const varPh = (s.variance - 3.5 ** 2 - 1 / 12) / (epp * epp);
    expect(meanPh / mPh).toBeGreaterThan(0.99);
    expect(meanPh / mPh).toBeLessThan(1.01);
    expect(varPh / mPh).toBeGreaterThan(0.96); // 90000 pixels: sd of the variance ratio ~ 0.5 %
    expect(varPh / mPh).toBeLessThan(1.04);
  });

  it("saturates at 16 bits", async () => {
    const { ccd, env } = await make();
    env.beam.fluxPhS = 1e14;
    await ccd.configure({ gainIndex: 2, binning: { x: 4, y: 4 } });
    const f = await ccd.acquire();
    expect(Math.max(...f.data)).toBe(65535);
  });

  it("the frame follows the transmission at the beam position", async () => {
    const env = createSimEnvironment({ specimen: uniformSpecimen({ thicknessUm: 2, fov: { x0: 0, x1: 10, y0: 0, y1: 10 } }), beam: { energyEv: 1000, fluxPhS: 1e8 } });
    const { ccd } = await make({ env });
    await ccd.configure({ binning: { x: 10, y: 10 } });
    env.beam.moveTo(5, 5);
    const inside = stats((await ccd.acquire()).data).mean - 600;
    env.beam.moveTo(50, 50);
    const outside = stats((await ccd.acquire()).data).mean - 600;
    expect(inside / outside).toBeCloseTo(Math.exp(-0.45 * 2), 2);
  });

  it("same seed and calls -> identical frames; another seed -> different", async () => {
    const h = async (seed: number) => {
      const { ccd } = await make({ seed });
      await ccd.configure({ exposureS: 0.01 });
      return [hashOf((await ccd.acquire()).data), hashOf((await ccd.acquire()).data)];
    };
    const a = await h(1);
    expect(await h(1)).toEqual(a);
    expect(a[0]).not.toBe(a[1]);
    expect((await h(2))[0]).not.toBe(a[0]);
  });
});

describe("PrincetonCcdTwin settings and cooling", () => {
  it("rejects bad settings with DeviceError", async () => {
    const { ccd } = await make();
    await expect(ccd.configure({ readoutRateHz: 5e6 })).rejects.toBeInstanceOf(DeviceError);
    await expect(ccd.configure({ roi: { x: 1000, y: 0, width: 400, height: 10 } })).rejects.toThrow(/ROI/);
    await expect(ccd.configure({ emGain: 10 })).rejects.toThrow(/EM gain/);
    await expect(ccd.configure({ frameTransfer: true })).rejects.toThrow(/frame-transfer/);
    await expect(ccd.configure({ exposureS: -1 })).rejects.toMatchObject({ code: "INVALID_PARAMETER" });
    await expect(ccd.setCooling(true, -90)).rejects.toBeInstanceOf(DeviceError);
  });

  it("requires connect()", async () => {
    const ccd = new PrincetonCcdTwin({ clock: new VirtualClock() });
    await expect(ccd.acquire()).rejects.toMatchObject({ name: "DeviceError", code: "NOT_CONNECTED" });
  });

  it("cools with a slow exponential (tau 300 s) and reports the states", async () => {
    const { ccd, clock } = await make({ cooling: { startCooled: false, slewCPerMin: Infinity } });
    expect((await ccd.cooling()).state).toBe("off");
    expect((await ccd.cooling()).temperatureC).toBe(20);
    await ccd.setCooling(true, -40);
    expect((await ccd.cooling()).state).toBe("not-reached");
    const t0 = clock.now();
    await clock.sleep(300);
    // T(tau) = set + (T0 - set)/e
    expect((await ccd.cooling()).temperatureC).toBeCloseTo(-40 + 60 / Math.E, 1);
    await ccd.waitCooled(3600);
    const took = clock.now() - t0;
    // inside +-0.5 C after tau*ln(60/0.5) = 1436 s, stable 60 s later
    expect(took).toBeGreaterThan(1436 + 59);
    expect(took).toBeLessThan(1436 + 63);
    expect((await ccd.cooling()).state).toBe("stabilized");
  });

  it("waitCooled times out with a DeviceError", async () => {
    const { ccd } = await make({ cooling: { startCooled: false } });
    await ccd.setCooling(true, -60);
    await expect(ccd.waitCooled(100)).rejects.toMatchObject({ code: 32 });
  });
});

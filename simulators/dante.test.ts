import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import type { Spectrum } from "../runtime/devices/mca.ts";
import { createSimEnvironment } from "./beam.ts";
import { DANTE_DEFAULTS, XglabDanteTwin, danteTauE, fwhmAt, paralyzableOcr } from "./dante.ts";
import { uniformSpecimen } from "./specimen.ts";
import { hashOf } from "./test-util.ts";

async function make(conc: Record<string, number>, opts: Partial<ConstructorParameters<typeof XglabDanteTwin>[0]> = {}, beam = {}) {
  const clock = new VirtualClock();
  const env = createSimEnvironment({ specimen: uniformSpecimen({ concentrations: conc }), beam: { energyEv: 2000, ...beam } });
  const mca = new XglabDanteTwin({ clock, env, seed: 9, ...opts });
  await mca.connect();
  return { clock, env, mca };
}

/** Centroid and FWHM (from the second moment) of a peak within +-w eV of e0, after a linear background. */
function peak(sp: Spectrum, energies: Float64Array, e0: number, w: number) {
  let s = 0,
    s1 = 0,
    s2 = 0;
  for (let b = 0; b < energies.length; b++) {
    const e = energies[b];
    if (Math.abs(e - e0) > w) continue;
    s += sp.data[b];
    s1 += sp.data[b] * e;
  }
  const c = s1 / s;
  for (let b = 0; b < energies.length; b++) if (Math.abs(energies[b] - e0) <= w) s2 += sp.data[b] * (energies[b] - c) ** 2;
  return { centroid: c, fwhm: 2.3548 * Math.sqrt(s2 / s), counts: s };
}

describe("XglabDanteTwin line shape", () => {
  it("FWHM(E) = sqrt(FWHM_el^2 + 2.355^2 F w E): ~61 eV at O Ka, ~127 eV at Mn Ka", () => {
    expect(fwhmAt(525)).toBeCloseTo(61.0, 0);
    expect(fwhmAt(5899)).toBeCloseTo(127.4, 0);
  });

  it.each([
    ["O", 525, 600],
    ["Mg", 1254, 60],
    ["Si", 1740, 20],
  ])("%s line at %d eV: position and width", async (el, e0, conc) => {
    const { mca } = await make({ [el]: conc as number }, { config: { tailFraction: 0, escapeFraction: 0, pileup: false } }, { fluxPhS: 1e9 });
    await mca.configure({ acquisitionTimeS: 2, bins: 4096, gainEvPerBin: 1 });
    const sp = await mca.acquire();
    const p = peak(sp, mca.energies(), e0, 4 * (fwhmAt(e0) / 2.355));
    expect(p.counts).toBeGreaterThan(20_000);
    expect(Math.abs(p.centroid - e0)).toBeLessThan(1.5);
    // second moment inside +-4 sigma slightly underestimates a Gaussian's width (by 0.1 %); plus a little elastic/background
    expect(p.fwhm / fwhmAt(e0)).toBeGreaterThan(0.97);
    expect(p.fwhm / fwhmAt(e0)).toBeLessThan(1.03);
  });

  it("elastic peak at the incident energy, escape peak 1740 eV below it, nothing below the threshold", async () => {
    const { mca } = await make({}, { config: { escapeFraction: 0.01 } }, { fluxPhS: 5e10, energyEv: 2000 });
    await mca.configure({ acquisitionTimeS: 1 });
    const sp = await mca.acquire();
    const e = mca.energies();
    expect(Math.abs(peak(sp, e, 2000, 80).centroid - 2000)).toBeLessThan(2);
    const esc = peak(sp, e, 260, 30);
    expect(esc.counts).toBeGreaterThan(100);
    expect(Math.abs(esc.centroid - 260)).toBeLessThan(5);
    for (let b = 0; b < e.length && e[b] < DANTE_DEFAULTS.thresholdEv - 1; b++) expect(sp.data[b]).toBe(0);
  });

  it("an element is not excited below its edge", async () => {
    const { mca, env } = await make({ Si: 50 }, {}, { energyEv: 1800 });
    expect(mca.expected().perElement.Si).toBeUndefined();
    env.beam.energyEv = 1900;
    expect(mca.expected().perElement.Si).toBeGreaterThan(0);
  });
});

describe("XglabDanteTwin dead time", () => {
  it("tau_e = 2 t_peak + t_flat (2.2 us at 1 us) and OCR = n exp(-n tau_e), max 1/(e tau_e) ~ 167 kcps", async () => {
    expect(danteTauE(1)).toBeCloseTo(2.2e-6, 12);
    const { mca, env } = await make({ Si: 50 }, { config: { pileup: false } });
    await mca.configure({ acquisitionTimeS: 0.2 });
    const tau = mca.tauE(); // 1 us is quantised to 0.992 us (32 ns units): 2.184 us
    let best = 0;
    env.beam.fluxPhS = 1e9;
    const perFlux = mca.expected().inputRate / 1e9;
    for (const x of [0.05, 0.3, 0.7, 1, 1.5, 3]) {
      env.beam.fluxPhS = x / tau / perFlux; // n tau = x
      expect(mca.expected().inputRate * tau).toBeCloseTo(x, 9);
      const n = mca.expected().inputRate;
      const sp = await mca.acquire();
      const ocr = paralyzableOcr(n, tau);
      // Poisson: 5 sigma of the counts
      expect(Math.abs(sp.stats.ocr - ocr)).toBeLessThan(5 * Math.sqrt(ocr * 0.2) / 0.2 + 1);
      expect(sp.stats.liveTimeS).toBeCloseTo(0.2 * Math.exp(-n * tau), 9);
      expect(sp.stats.deadTime).toBeCloseTo(1 - Math.exp(-n * tau), 9);
      expect(sp.stats.counts).toBe(sp.data.reduce((a, b) => a + b, 0));
      // fast channel: ICR ~ n exp(-n tau_f) > OCR
      expect(sp.stats.icr).toBeGreaterThan(sp.stats.ocr);
      best = Math.max(best, sp.stats.ocr);
    }
    const max = 1 / (Math.E * tau);
    expect(max).toBeGreaterThan(160e3);
    expect(max).toBeLessThan(170e3);
    expect(best).toBeGreaterThan(0.99 * max);
    expect(best).toBeLessThan(1.01 * max);
  });

  it("longer peaking time -> longer dead time", async () => {
    const { mca } = await make({ Si: 50 });
    await mca.configure({ peakingTimeUs: 4 });
    expect(mca.tauE()).toBeCloseTo(8.2e-6, 12);
    await mca.configure({ peakingTimeUs: 0.1 }); // quantised to 32 ns units
    expect(mca.settings().peakingTimeUs).toBeCloseTo(0.096, 9);
  });
});

describe("XglabDanteTwin modes and errors", () => {
  it("mapping mode: >= 1 ms per spectrum, no dead time between spectra, on the clock", async () => {
    const { mca, clock } = await make({ Fe: 30 });
    await expect(mca.acquireMap(10, 0.0005, () => {})).rejects.toMatchObject({ code: 60 });
    const t0 = clock.now();
    const stamps: number[] = [];
    await mca.acquireMap(100, 0.002, (i, s) => void stamps.push(s.timestamp - t0));
    expect(clock.now() - t0).toBeCloseTo(100 * 0.002, 9);
    expect(mca.mapTime(100, 0.002)).toBeCloseTo(0.2, 12);
    stamps.forEach((t, i) => expect(t).toBeCloseTo(i * 0.002, 9));
  });

  it("single spectrum takes the preset time plus the transfer overhead", async () => {
    const { mca, clock } = await make({});
    await mca.configure({ acquisitionTimeS: 0.5 });
    const t0 = clock.now();
    await mca.acquire();
    expect(clock.now() - t0).toBeCloseTo(mca.cycleTime(), 9);
    expect(mca.cycleTime()).toBeCloseTo(0.502, 9);
  });

  it("rejects unsupported settings with code 60", async () => {
    const { mca } = await make({});
    await expect(mca.configure({ bins: 8192 as never })).rejects.toMatchObject({ code: 60, name: "DeviceError" });
    await expect(mca.configure({ acquisitionTimeS: 0 })).rejects.toMatchObject({ code: 60 });
    await expect(mca.configure({ peakingTimeUs: 100 })).rejects.toMatchObject({ code: 60 });
    expect(mca.energies().length).toBe(2048);
    await mca.configure({ bins: 1024, gainEvPerBin: 2.5, offsetEv: -10 });
    const e = mca.energies();
    expect(e.length).toBe(1024);
    expect(e[0]).toBe(-10);
    expect(e[4]).toBe(0);
  });

  it("stop() ends a running map with a DeviceError", async () => {
    const { mca, clock } = await make({});
    const p = mca.acquireMap(1000, 0.01, () => {});
    await clock.sleep(0.05);
    await mca.stop();
    await expect(p).rejects.toMatchObject({ code: "STOPPED" });
  });

  it("same seed -> identical spectra (single and map); another seed -> different", async () => {
    const run = async (seed: number) => {
      const { mca } = await make({ Fe: 20, O: 50 }, { seed });
      const single = hashOf((await mca.acquire()).data);
      const map: string[] = [];
      await mca.acquireMap(5, 0.01, (_i, s) => void map.push(hashOf(s.data)));
      return [single, ...map];
    };
    const a = await run(1);
    expect(await run(1)).toEqual(a);
    expect(new Set(a).size).toBe(a.length);
    expect((await run(2))[0]).not.toBe(a[0]);
  });
});

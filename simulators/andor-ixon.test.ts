import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import { ANDOR_DEFAULTS, AndorIxonTwin, andorPhases } from "./andor-ixon.ts";
import { createSimEnvironment } from "./beam.ts";
import { uniformSpecimen } from "./specimen.ts";
import { hashOf, stats } from "./test-util.ts";

async function make(opts: Partial<ConstructorParameters<typeof AndorIxonTwin>[0]> = {}) {
  const clock = new VirtualClock();
  const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 1000 } });
  const cam = new AndorIxonTwin({ clock, env, seed: 3, cooling: { startCooled: true }, ...opts });
  await cam.connect();
  return { clock, env, cam };
}

const base = { exposureS: 0, roi: { x: 0, y: 0, width: 128, height: 128 }, binning: { x: 1, y: 1 }, readoutRateHz: 10e6, gainIndex: 0, emGain: 0, triggerMode: "internal" as const, shutter: "none" as const, frameTransfer: true };

describe("AndorIxonTwin timing", () => {
  it("full frame at 10 MHz reads in ~2 ms (~500 fps, DV860 datasheet)", () => {
    const p = andorPhases(ANDOR_DEFAULTS, base);
    expect(p.readoutS).toBeGreaterThan(1.9e-3);
    expect(p.readoutS).toBeLessThan(2.1e-3);
    // slower rates scale with 1/f_hs
    const p1 = andorPhases(ANDOR_DEFAULTS, { ...base, readoutRateHz: 1e6 });
    expect(p1.readoutS).toBeCloseTo(128 * (0.5e-6 + 148 / 1e6), 9);
  });

  it("frame transfer: cycle = max(t_exp + t_ft, t_read); the exposure is stretched to the read-out", () => {
    const ft = 128 * 0.5e-6;
    const short = andorPhases(ANDOR_DEFAULTS, { ...base, exposureS: 1e-4 });
    expect(short.cycleS).toBeCloseTo(Math.max(1e-4 + ft, short.readoutS), 12);
    expect(short.exposureS).toBeCloseTo(short.readoutS - ft, 12);
    const long = andorPhases(ANDOR_DEFAULTS, { ...base, exposureS: 0.05 });
    expect(long.cycleS).toBeCloseTo(0.05 + ft, 12);
  });

  it("normal mode: cycle = keep-clean + exposure + frame transfer + read-out (+ shutter)", () => {
    const ft = 128 * 0.5e-6;
    const p = andorPhases(ANDOR_DEFAULTS, { ...base, frameTransfer: false, exposureS: 0.01 });
    expect(p.cycleS).toBeCloseTo(2 * ft + 0.01 + ft + p.readoutS, 12);
    const s = andorPhases(ANDOR_DEFAULTS, { ...base, frameTransfer: false, exposureS: 0.01, shutter: "auto" });
    expect(s.cycleS - p.cycleS).toBeCloseTo(0.02, 12);
  });

  it("frame transfer with overlap: the next exposure runs while the storage area reads out; the same frames", async () => {
    const run = async (frameTransfer: boolean) => {
      const { clock, cam } = await make();
      await cam.configure({ readoutRateHz: 1e6, frameTransfer, exposureS: 0.05 });
      const ph = cam.phases();
      const frames: Array<{ ts: number; hash: string; at: number }> = [];
      const ends: boolean[] = [];
      let pending: Promise<void> = Promise.resolve();
      for (let i = 0; i < 3; i++) {
        // the next acquire is called as soon as the image area is free (or once the previous one returned)
        const free = new Promise<void>((res) => {
          pending = cam
            .acquire(undefined, { continuous: true, onExposureEnd: (e) => (ends.push(e.imageAreaFree), e.imageAreaFree && res()) })
            .then((f) => void frames.push({ ts: f.timestamp, hash: hashOf(f.data), at: clock.now() }))
            .then(() => res());
        });
        await free;
        if (!frameTransfer) await pending;
      }
      await pending;
      return { frames, ends, ph };
    };
    const ft = await run(true);
    const seq = await run(false);
    expect(ft.ends).toEqual([true, true, true]);
    expect(seq.ends).toEqual([false, false, false]);
    // frame transfer: exposures start one exposure + shift apart, the read-out (19 ms) hidden behind the next one
    expect(ft.ph.readoutS).toBeGreaterThan(0.019);
    expect(ft.frames[1].ts - ft.frames[0].ts).toBeCloseTo(0.05 + ft.ph.releaseS!, 9);
    expect(seq.frames[1].ts - seq.frames[0].ts).toBeGreaterThan(0.05 + seq.ph.readoutS);
    expect(ft.frames.map((f) => f.hash)).toEqual(seq.frames.map((f) => f.hash));
  });

  it("frame transfer: one acquisition at a time while the image area exposes; a full-frame read-out holds it", async () => {
    const { cam } = await make();
    await cam.configure({ exposureS: 0.01, frameTransfer: false });
    const a = cam.acquire(undefined, { continuous: true, onExposureEnd: () => {} });
    await expect(cam.acquire()).rejects.toThrow(/already in progress/);
    await a;
    await cam.configure({ frameTransfer: true });
    let second: Promise<unknown> | undefined;
    const b = cam.acquire(undefined, { continuous: true, onExposureEnd: () => void (second = cam.acquire()) });
    await expect(cam.acquire()).rejects.toThrow(/already in progress/);
    await b;
    await second;
    await expect(cam.configure({ exposureS: 0.02 })).resolves.toMatchObject({ exposureS: 0.02 });
  });

  it("binning and ROI shorten the read-out", () => {
    const full = andorPhases(ANDOR_DEFAULTS, base);
    const b4 = andorPhases(ANDOR_DEFAULTS, { ...base, binning: { x: 4, y: 4 } });
    const roi = andorPhases(ANDOR_DEFAULTS, { ...base, roi: { x: 0, y: 32, width: 128, height: 64 } });
    expect(b4.readoutS).toBeLessThan(full.readoutS / 3);
    expect(roi.readoutS).toBeLessThan(full.readoutS * 0.55);
  });

  it("a kinetic series in frame-transfer mode runs at the cycle time on the clock", async () => {
    const { cam, clock } = await make();
    await cam.configure({ exposureS: 0.01 });
    const t0 = clock.now();
    const times: number[] = [];
    const stamps: number[] = [];
    await cam.acquireSequence(5, (f) => {
      times.push(clock.now() - t0);
      stamps.push(f.timestamp - t0);
    });
    const p = cam.phases();
    for (let i = 0; i < 5; i++) {
      expect(stamps[i]).toBeCloseTo(i * p.cycleS, 9);
      expect(times[i]).toBeCloseTo(i * p.cycleS + p.exposureS + p.postS, 9);
    }
    expect(clock.now() - t0).toBeCloseTo(cam.sequenceTime(5), 9);
  });
});

describe("AndorIxonTwin data model", () => {
  async function flat(emGain: number, amplifier: "em" | "conventional", muE: number) {
    const { cam, env } = await make({ illumination: { shape: "uniform" }, amplifier, config: { cicE: 0 } });
    await cam.configure({ emGain, readoutRateHz: amplifier === "em" ? 10e6 : 1e6, exposureS: 0.01, gainIndex: 2 });
    env.beam.fluxPhS = (muE * 128 * 128) / (0.01 * 0.8 * cam.electronsPerPhoton(env.beam.energyEv));
    const f = await cam.acquire();
    const s = stats(f.data);
    // in frame-transfer mode the exposure is stretched to the read-out time at slow rates
    const mu = (muE * f.exposureS) / 0.01;
    return { cam, sens: 3.5, s, rn: cam.readNoiseE(), mu, m: cam.electronsPerPhoton(env.beam.energyEv) };
  }

  it("EM gain multiplies the signal and the excess noise factor is sqrt(2)", async () => {
    const G = 100;
    const { s, sens, rn, mu, m } = await flat(G, "em", 10);
    const meanE = (s.mean - 100) * sens;
    const varE = s.variance * sens * sens - rn * rn;
    expect(meanE / (G * mu)).toBeGreaterThan(0.98);
    expect(meanE / (G * mu)).toBeLessThan(1.02);
    // the register's output variance is G^2 (var_in + mean_in) with var_in = mu (1 + m) (phosphor conversion):
    // the excess noise factor on a Poisson input, F^2 = 1 + mean_in / var_in, is 2
    const F2 = varE / (G * meanE) - m; // = varE / (G^2 mu) - m
    expect(Math.sqrt(F2)).toBeGreaterThan(Math.SQRT2 * 0.97);
    expect(Math.sqrt(F2)).toBeLessThan(Math.SQRT2 * 1.03);
  });

  it("without EM gain the noise is the phosphor's: var = mean x (1 + m) (excess factor 1)", async () => {
    const { s, sens, rn, mu, m } = await flat(0, "conventional", 400);
    expect(m).toBe(1.5); // 1.5 e/keV at 1 keV
    expect(mu).toBeGreaterThan(700); // 1 MHz: 19 ms read-out > 10 ms exposure
    const meanE = (s.mean - 100) * sens;
    const varE = s.variance * sens * sens - rn * rn - (sens * sens) / 12;
    expect(meanE / mu).toBeGreaterThan(0.99);
    expect(meanE / mu).toBeLessThan(1.01);
    expect(varE / meanE / (1 + m)).toBeGreaterThan(0.95);
    expect(varE / meanE / (1 + m)).toBeLessThan(1.05);
  });

  it("read noise depends on amplifier and rate; 14-bit saturation", async () => {
    const { cam, env } = await make();
    env.beam.on = false;
    await cam.configure({ gainIndex: 2 });
    const d = stats((await cam.acquire()).data);
    expect(Math.sqrt(d.variance) * 3.5).toBeGreaterThan(62 * 0.97);
    expect(Math.sqrt(d.variance) * 3.5).toBeLessThan(62 * 1.03);
    env.beam.on = true;
    env.beam.fluxPhS = 1e12;
    await cam.configure({ emGain: 500 });
    const f = await cam.acquire();
    expect(Math.max(...f.data)).toBe(16383);
    expect(f.saturated).toBeGreaterThan(0);
  });

  it("clips charge at the pixel well before the ADC at 16 e/ADU, and counts the clipped pixels", async () => {
    const { cam, env } = await make({ illumination: { shape: "uniform" } });
    await cam.configure({ gainIndex: 0, emGain: 0, exposureS: 0.01 });
    env.beam.fluxPhS = 1e12; // ~5e5 photo-electrons per pixel, 3x the 160 ke well
    const f = await cam.acquire();
    const well = ANDOR_DEFAULTS.biasAdu + ANDOR_DEFAULTS.fullWellE / ANDOR_DEFAULTS.sensitivityE[0];
    expect(Math.max(...f.data)).toBeLessThan(16383);
    expect(Math.max(...f.data)).toBeGreaterThan(well - 30);
    expect(Math.max(...f.data)).toBeLessThan(well + 30); // read noise 62 e = 3.9 ADU rms;
    expect(f.saturated).toBe(128 * 128);
    env.beam.fluxPhS = 1e8;
    expect((await cam.acquire()).saturated).toBe(0);
  });

  it("rejects EM gain on the conventional amplifier and bad binning with the SDK codes", async () => {
    const { cam } = await make({ amplifier: "conventional" });
    expect(cam.readoutRates()).toEqual([3e6, 1e6]);
    await expect(cam.configure({ emGain: 50 })).rejects.toMatchObject({ code: 20078 });
    await expect(cam.configure({ binning: { x: 3, y: 3 } })).rejects.toMatchObject({ code: 20099 });
    await expect(cam.configure({ readoutRateHz: 10e6 })).rejects.toMatchObject({ code: 20066 });
    await cam.setAmplifier("em");
    expect(cam.readoutRates()).toEqual([10e6, 5e6, 3e6, 1e6]);
    expect(cam.settings().readoutRateHz).toBe(3e6); // still valid on the EM amplifier
    await cam.configure({ emGain: 50, readoutRateHz: 10e6 });
  });

  it("is deterministic per seed", async () => {
    const h = async (seed: number) => {
      const { cam } = await make({ seed });
      await cam.configure({ emGain: 50 });
      return hashOf((await cam.acquire()).data);
    };
    expect(await h(5)).toBe(await h(5));
    expect(await h(5)).not.toBe(await h(6));
  });
});

describe("AndorIxonTwin cooling", () => {
  it("goes OFF -> NOT_REACHED -> NOT_STABILIZED -> STABILIZED", async () => {
    const { cam, clock } = await make({ cooling: { startCooled: false } });
    const seen: string[] = [(await cam.cooling()).state];
    await cam.setCooling(true, -70);
    for (let t = 0; t < 1200; t += 5) {
      const st = (await cam.cooling()).state;
      if (seen[seen.length - 1] !== st) seen.push(st);
      await clock.sleep(5);
    }
    expect(seen).toEqual(["off", "not-reached", "not-stabilized", "stabilized"]);
    // slew limit 10 C/min: 90 C cannot be covered in less than 9 minutes
    const { cam: c2, clock: k2 } = await make({ cooling: { startCooled: false } });
    await c2.setCooling(true, -70);
    await k2.sleep(60);
    expect((await c2.cooling()).temperatureC).toBeCloseTo(10, 1);
  });

  it("re-sending the same set-point does not reset the stabilised state", async () => {
    const { cam, clock } = await make();
    expect((await cam.cooling()).state).toBe("stabilized");
    await cam.setCooling(true, -70); // same set-point: no reset
    await clock.sleep(10);
    expect((await cam.cooling()).state).toBe("stabilized");
  });
});

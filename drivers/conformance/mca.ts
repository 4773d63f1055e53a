/**
 * Shared Mca behaviour checks (vitest), run against the in-process twin and against real drivers over
 * simulated SDKs. Expects a fresh, NOT yet connected device per test that sees a count rate of at least
 * ~20 kcps (so OCR <= ICR is not hidden by Poisson noise), accepts 1024/2048/4096 bins, peaking times of
 * 0.5..4 us, and mapping dwells of >= 1 ms. All waits go through the fixture's clock (use a VirtualClock);
 * nothing here measures wall-clock time.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../runtime/clock.ts";
import { deviceError } from "./device-error.ts";
import type { Mca, Spectrum } from "../../runtime/devices/mca.ts";

export interface McaFixture {
  device: Mca;
  clock: Clock;
  cleanup?: () => Promise<void>;
}


/** Invariants every spectrum must satisfy. */
export function checkSpectrum(sp: Spectrum, bins: number, presetS: number): void {
  expect(sp.data).toBeInstanceOf(Uint32Array);
  expect(sp.data.length).toBe(bins);
  let sum = 0;
  for (let i = 0; i < sp.data.length; i++) sum += sp.data[i];
  const s = sp.stats;
  expect(s.counts).toBe(sum);
  expect(s.counts).toBeGreaterThan(0);
  expect(s.realTimeS).toBeGreaterThan(0);
  expect(Math.abs(s.realTimeS - presetS)).toBeLessThanOrEqual(presetS * 0.01 + 1e-6);
  expect(s.liveTimeS).toBeGreaterThan(0);
  expect(s.liveTimeS).toBeLessThanOrEqual(s.realTimeS + 1e-9);
  expect(s.ocr).toBeGreaterThan(0);
  expect(s.ocr).toBeLessThanOrEqual(s.icr);
  expect(s.deadTime).toBeGreaterThanOrEqual(0);
  expect(s.deadTime).toBeLessThan(1);
  expect(s.deadTime).toBeCloseTo(1 - s.liveTimeS / s.realTimeS, 6);
  expect(Number.isFinite(sp.timestamp)).toBe(true);
}

export function mcaConformance(name: string, makeFixture: () => Promise<McaFixture>): void {
  describe(`Mca conformance: ${name}`, () => {
    let fx: McaFixture;
    let dev: Mca;

    beforeEach(async () => {
      fx = await makeFixture();
      dev = fx.device;
      await dev.connect();
    });

    afterEach(async () => {
      await dev.close();
      await dev.close(); // idempotent
      await fx.cleanup?.();
    });

    it("identifies itself; connect is idempotent; energies follow the settings", async () => {
      expect(dev.info().kind).toBe("mca");
      expect(typeof dev.info().model).toBe("string");
      await dev.connect();
      const s = dev.settings();
      expect([1024, 2048, 4096]).toContain(s.bins);
      const e = dev.energies();
      expect(e.length).toBe(s.bins);
      expect(e[1] - e[0]).toBeCloseTo(s.gainEvPerBin, 9);
      expect(e[0]).toBeCloseTo(s.offsetEv, 9);
    });

    it("configure validates: bad values are DeviceErrors and change nothing", async () => {
      const before = dev.settings();
      for (const bad of [{ bins: 8192 as never }, { bins: 1000 as never }, { acquisitionTimeS: 0 }, { acquisitionTimeS: -1 }, { gainEvPerBin: 0 }, { offsetEv: Number.NaN }, { gate: "sometimes" as never }, { peakingTimeUs: 1000 }]) {
        await deviceError(dev.configure(bad));
      }
      expect(dev.settings()).toEqual(before);
    });

    it("configure applies and returns the settings (peaking time quantised to 32 ns)", async () => {
      const s = await dev.configure({ bins: 1024, acquisitionTimeS: 0.05, gainEvPerBin: 2.5, offsetEv: -10, peakingTimeUs: 1.0, gate: "free-running" });
      expect(s).toMatchObject({ bins: 1024, acquisitionTimeS: 0.05, gainEvPerBin: 2.5, offsetEv: -10, gate: "free-running" });
      expect(Math.abs(s.peakingTimeUs - 1.0)).toBeLessThanOrEqual(0.016 + 1e-9);
      expect(Math.abs(s.peakingTimeUs / 0.032 - Math.round(s.peakingTimeUs / 0.032))).toBeLessThan(1e-6);
      expect(dev.settings()).toEqual(s);
      expect(dev.energies().length).toBe(1024);
      expect(dev.energies()[4]).toBeCloseTo(0, 9);
    });

    it.each([1024, 2048, 4096] as const)("acquires one spectrum of %d bins with consistent statistics", async (bins) => {
      await dev.configure({ bins, acquisitionTimeS: 0.1 });
      const t0 = fx.clock.now();
      const sp = await dev.acquire();
      checkSpectrum(sp, bins, 0.1);
      expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(0.1 - 1e-9);
      expect(sp.timestamp).toBeGreaterThanOrEqual(t0 - 1e-9);
    });

    it("longer peaking time -> more dead time at the same rate", async () => {
      await dev.configure({ acquisitionTimeS: 0.2, peakingTimeUs: 0.5 });
      const short = await dev.acquire();
      await dev.configure({ peakingTimeUs: 4 });
      const long = await dev.acquire();
      expect(long.stats.deadTime).toBeGreaterThan(short.stats.deadTime);
    });

    it("maps N points in order, one spectrum per dwell", async () => {
      await dev.configure({ bins: 2048 });
      const got: Array<[number, Spectrum]> = [];
      const t0 = fx.clock.now();
      await dev.acquireMap(25, 0.01, (i, s) => void got.push([i, s]));
      expect(got.map(([i]) => i)).toEqual([...Array(25).keys()]);
      for (const [, s] of got) checkSpectrum(s, 2048, 0.01);
      for (let k = 1; k < got.length; k++) expect(got[k][1].timestamp).toBeGreaterThanOrEqual(got[k - 1][1].timestamp);
      expect(fx.clock.now() - t0).toBeGreaterThanOrEqual(25 * 0.01 - 1e-9);
    });

    it("mapping waits for an async onSpectrum and rejects bad arguments with a DeviceError", async () => {
      const seen: number[] = [];
      await dev.acquireMap(5, 0.002, async (i) => {
        await fx.clock.sleep(0.001);
        seen.push(i);
      });
      expect(seen).toEqual([0, 1, 2, 3, 4]);
      await deviceError(dev.acquireMap(0, 0.01, () => {}));
      await deviceError(dev.acquireMap(2.5, 0.01, () => {}));
      await deviceError(dev.acquireMap(3, 0.0001, () => {}));
    });

    it("stop() ends a running map with a DeviceError; the device works afterwards", async () => {
      let n = 0;
      const p = dev.acquireMap(10_000, 0.01, () => void n++);
      const caught = deviceError(p);
      await fx.clock.sleep(0.1);
      await dev.stop();
      const e = await caught;
      expect(e.code).toBe("STOPPED");
      expect(n).toBeLessThan(10_000);
      await dev.configure({ acquisitionTimeS: 0.05 });
      checkSpectrum(await dev.acquire(), dev.settings().bins, 0.05);
    });

    it("stop() ends a single acquisition; stop() when idle is a no-op", async () => {
      await dev.stop();
      await dev.configure({ acquisitionTimeS: 100 });
      const caught = deviceError(dev.acquire());
      await fx.clock.sleep(0.5);
      await dev.stop();
      expect((await caught).code).toBe("STOPPED");
      await dev.configure({ acquisitionTimeS: 0.05 });
      checkSpectrum(await dev.acquire(), dev.settings().bins, 0.05);
    });

    it("an AbortSignal ends an acquisition; the device works afterwards", async () => {
      await dev.configure({ acquisitionTimeS: 50 });
      const ac = new AbortController();
      const p = dev.acquire(ac.signal);
      const caught = p.then(
        () => undefined,
        (e: unknown) => e,
      );
      await fx.clock.sleep(0.2);
      ac.abort(new Error("caller gave up"));
      expect(await caught).toBeInstanceOf(Error);
      await dev.configure({ acquisitionTimeS: 0.05 });
      checkSpectrum(await dev.acquire(), dev.settings().bins, 0.05);
    });

    it("a second acquisition while one runs is a DeviceError; so is configure", async () => {
      await dev.configure({ acquisitionTimeS: 0.5 });
      const p = dev.acquire();
      await fx.clock.sleep(0.05);
      await deviceError(dev.acquire());
      await deviceError(dev.acquireMap(2, 0.01, () => {}));
      await deviceError(dev.configure({ bins: 1024 }));
      checkSpectrum(await p, dev.settings().bins, 0.5);
    });

    it("after close() calls fail with a DeviceError; connect() again works", async () => {
      await dev.close();
      await deviceError(dev.acquire());
      await dev.connect();
      await dev.configure({ acquisitionTimeS: 0.05 });
      checkSpectrum(await dev.acquire(), dev.settings().bins, 0.05);
    });
  });
}

/**
 * Shared AreaDetector behaviour checks (vitest), run against the camera twins themselves and against the
 * SDK drivers over their SDK twins (drivers/conformance/area-detector.test.ts). Expects a fresh, not yet
 * connected device per test whose sensor is at least 64x32 pixels with more than one read-out rate, a
 * cooler that can reach `cooling.setpointC`, and a clock (use a VirtualClock: every wait here is clock
 * time, nothing is asserted against the wall clock).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../runtime/clock.ts";
import type { AreaDetector, AreaDetectorSettings, Frame } from "../../runtime/devices/area-detector.ts";
import { deviceError } from "./device-error.ts";

export interface AreaDetectorFixture {
  device: AreaDetector;
  clock: Clock;
  /** Settings applied after connect() in every test (keep frames small: the suite reads many). */
  base?: Partial<AreaDetectorSettings>;
  /** Clock time a driver may add to the modelled timing (its poll interval), seconds (default 0). */
  slackS?: number;
  /** A set-point the cooler reaches and a clock deadline long enough to stabilise there. */
  cooling: { setpointC: number; timeoutS: number };
  cleanup?: () => Promise<void>;
}


/** Relative + absolute tolerance for float32-quantised SDK timings. */
function near(a: number, b: number, abs = 1e-6): boolean {
  return Math.abs(a - b) <= abs + 1e-6 * Math.max(Math.abs(a), Math.abs(b));
}

export function areaDetectorConformance(name: string, make: () => Promise<AreaDetectorFixture>): void {
  describe(`AreaDetector conformance: ${name}`, () => {
    let fx: AreaDetectorFixture;
    let dev: AreaDetector;
    let clock: Clock;
    let slack: number;

    beforeEach(async () => {
      fx = await make();
      dev = fx.device;
      clock = fx.clock;
      slack = fx.slackS ?? 0;
      await dev.connect();
      if (fx.base) await dev.configure(fx.base);
    });

    afterEach(async () => {
      await dev.close();
      await dev.close(); // idempotent
      await fx.cleanup?.();
    });

    it("identifies itself and its sensor; connect() is idempotent", async () => {
      const info = dev.info();
      expect(info.kind).toBe("area-detector");
      expect(typeof info.model).toBe("string");
      const s = dev.sensor();
      expect(s.width).toBeGreaterThanOrEqual(64);
      expect(s.height).toBeGreaterThanOrEqual(32);
      expect(s.pixelSizeUm).toBeGreaterThan(0);
      expect(s.bitDepth).toBeGreaterThanOrEqual(8);
      expect(s.bitDepth).toBeLessThanOrEqual(16);
      const rates = dev.readoutRates();
      expect(rates.length).toBeGreaterThan(1);
      for (const r of rates) expect(r).toBeGreaterThan(0);
      await dev.connect();
      expect(dev.sensor()).toEqual(s);
      const st = dev.settings();
      expect(st.roi.x + st.roi.width).toBeLessThanOrEqual(s.width);
      expect(st.roi.y + st.roi.height).toBeLessThanOrEqual(s.height);
    });

    it("configure() applies settings and settings() reports them", async () => {
      const rates = dev.readoutRates();
      const rate = rates[rates.length - 1];
      const got = await dev.configure({ exposureS: 0.0123, roi: { x: 2, y: 4, width: 16, height: 8 }, binning: { x: 2, y: 2 }, readoutRateHz: rate });
      const s = dev.settings();
      expect(got).toEqual(s);
      expect(s.roi).toEqual({ x: 2, y: 4, width: 16, height: 8 });
      expect(s.binning).toEqual({ x: 2, y: 2 });
      expect(s.readoutRateHz).toBe(rate);
      expect(s.exposureS).toBeCloseTo(0.0123, 6);
      // a partial update keeps the rest
      await dev.configure({ exposureS: 0.02 });
      expect(dev.settings().roi).toEqual({ x: 2, y: 4, width: 16, height: 8 });
      expect(dev.settings().readoutRateHz).toBe(rate);
    });

    it("configure() rejects invalid values with a DeviceError and keeps the previous settings", async () => {
      const before = dev.settings();
      const { width: W, height: H } = dev.sensor();
      const bad: Array<Partial<AreaDetectorSettings>> = [
        { roi: { x: W - 4, y: 0, width: 8, height: 8 } },
        { roi: { x: 0, y: 0, width: 0, height: 8 } },
        { roi: { x: 0, y: H, width: 8, height: 8 } },
        { binning: { x: 0, y: 1 } },
        { exposureS: -1 },
        { exposureS: Number.NaN },
        { readoutRateHz: 12345 },
        { gainIndex: 99 },
      ];
      for (const b of bad) {
        await deviceError(dev.configure(b));
        expect(dev.settings()).toEqual(before);
      }
      // still works afterwards
      await dev.configure({ exposureS: 0.005 });
      expect(dev.settings().exposureS).toBeCloseTo(0.005, 6);
    });

    it("timing() is consistent with the settings (exposure, read-out, cycle)", async () => {
      await dev.configure({ exposureS: 0.05 });
      const t1 = dev.timing();
      expect(t1.exposureS).toBeGreaterThanOrEqual(0.05 * (1 - 1e-6));
      expect(t1.readoutS).toBeGreaterThan(0);
      expect(t1.cycleS).toBeGreaterThanOrEqual(t1.exposureS * (1 - 1e-6));
      expect(t1.cycleS).toBeGreaterThanOrEqual(t1.readoutS * (1 - 1e-6));
      await dev.configure({ exposureS: 0.15 });
      const t2 = dev.timing();
      expect(near(t2.exposureS - t1.exposureS, 0.1, 1e-5)).toBe(true);
      expect(near(t2.cycleS - t1.cycleS, 0.1, 1e-5)).toBe(true);
      expect(near(t2.readoutS, t1.readoutS, 1e-7)).toBe(true);
      // slower read-out rate -> longer read-out; binning -> shorter
      const rates = [...dev.readoutRates()].sort((a, b) => a - b);
      await dev.configure({ readoutRateHz: rates[0] });
      const slow = dev.timing().readoutS;
      await dev.configure({ readoutRateHz: rates[rates.length - 1] });
      const fast = dev.timing().readoutS;
      expect(slow).toBeGreaterThan(fast);
      await dev.configure({ binning: { x: 2, y: 2 } });
      expect(dev.timing().readoutS).toBeLessThan(fast);
    });

    it("acquires one frame of the ROI size with plausible data, on the clock", async () => {
      await dev.configure({ exposureS: 0.01 });
      const s = dev.settings();
      const t = dev.timing();
      const t0 = clock.now();
      const f = await dev.acquire();
      const elapsed = clock.now() - t0;
      expect(f.width).toBe(Math.floor(s.roi.width / s.binning.x));
      expect(f.height).toBe(Math.floor(s.roi.height / s.binning.y));
      expect(f.data).toBeInstanceOf(Uint16Array);
      expect(f.data.length).toBe(f.width * f.height);
      expect(f.number).toBeGreaterThanOrEqual(1);
      expect(near(f.exposureS, t.exposureS)).toBe(true);
      expect(f.timestamp).toBeGreaterThanOrEqual(t0 - 1e-9);
      expect(f.timestamp).toBeLessThanOrEqual(t0 + elapsed);
      expect(elapsed).toBeGreaterThanOrEqual((t.exposureS + t.readoutS) * (1 - 1e-6));
      expect(elapsed).toBeLessThanOrEqual(t.cycleS + t.readoutS + slack + 1e-6);
      const max = (1 << dev.sensor().bitDepth) - 1;
      let lo = Infinity,
        hi = -Infinity,
        sum = 0;
      for (const v of f.data) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        sum += v;
      }
      expect(hi).toBeLessThanOrEqual(max);
      expect(hi).toBeGreaterThan(lo); // noise: not a constant image
      expect(sum / f.data.length).toBeGreaterThan(0);
      const g = await dev.acquire();
      expect(g.number).toBe(f.number + 1);
      expect(g.timestamp).toBeGreaterThan(f.timestamp);
    });

    it("acquires a sequence: consecutive frames at the cycle time, handed out as they are read", async () => {
      await dev.configure({ exposureS: 0.02 });
      const t = dev.timing();
      let t0 = clock.now();
      await dev.acquire();
      const single = clock.now() - t0;
      const frames: Frame[] = [];
      const at: number[] = [];
      t0 = clock.now();
      await dev.acquireSequence(4, (f) => {
        frames.push(f);
        at.push(clock.now() - t0);
      });
      const total = clock.now() - t0;
      expect(frames.length).toBe(4);
      for (let i = 1; i < 4; i++) {
        expect(frames[i].number).toBe(frames[0].number + i);
        expect(near(frames[i].timestamp - frames[i - 1].timestamp, t.cycleS, 1e-6)).toBe(true);
        expect(at[i]).toBeGreaterThanOrEqual(at[i - 1]);
        expect(frames[i].width).toBe(frames[0].width);
      }
      // the first frame comes before the sequence is over (frames are not held back)
      expect(at[0]).toBeLessThan(total - 2 * t.cycleS + slack + 1e-6);
      expect(Math.abs(total - (single + 3 * t.cycleS))).toBeLessThanOrEqual(2 * slack + 1e-5);
      await deviceError(dev.acquireSequence(0, () => {}));
    });

    it("abort() stops a running acquisition with a DeviceError; the device stays usable", async () => {
      await dev.configure({ exposureS: 1 });
      const t = dev.timing();
      const t0 = clock.now();
      const got: Frame[] = [];
      const p = dev.acquireSequence(5, (f) => void got.push(f));
      await clock.sleep(1.5);
      await dev.abort();
      await deviceError(p);
      expect(clock.now() - t0).toBeLessThan(5 * t.cycleS);
      expect(got.length).toBeLessThan(5);
      await dev.configure({ exposureS: 0.01 });
      const f = await dev.acquire();
      expect(f.data.length).toBe(f.width * f.height);
    });

    it("an AbortSignal cancels an acquisition", async () => {
      await dev.configure({ exposureS: 1 });
      const ac = new AbortController();
      const p = dev.acquire(ac.signal);
      await clock.sleep(0.3);
      ac.abort(new Error("stop"));
      await expect(p).rejects.toThrow();
      await dev.configure({ exposureS: 0.01 });
      await dev.acquire();
    });

    it("is busy while acquiring: configure() and a second acquisition are refused", async () => {
      await dev.configure({ exposureS: 0.2 });
      const p = dev.acquireSequence(2, () => {});
      await deviceError(dev.configure({ exposureS: 0.1 }));
      await deviceError(dev.acquire());
      await p;
      expect(dev.settings().exposureS).toBeCloseTo(0.2, 6);
    });

    it("cools to a set-point within a clock deadline, and switches the cooler off", async () => {
      const { setpointC, timeoutS } = fx.cooling;
      await dev.setCooling(true, setpointC);
      const t0 = clock.now();
      await dev.waitCooled(timeoutS);
      expect(clock.now() - t0).toBeLessThanOrEqual(timeoutS);
      const c = await dev.cooling();
      expect(c.state).toBe("stabilized");
      expect(c.coolerOn).toBe(true);
      expect(c.setpointC).toBe(setpointC);
      expect(Math.abs(c.temperatureC - setpointC)).toBeLessThanOrEqual(1);
      await dev.setCooling(false);
      const off = await dev.cooling();
      expect(off.coolerOn).toBe(false);
      expect(off.state).toBe("off");
    });

    it("cooling errors: set-point out of range, waitCooled deadline, cooler off", async () => {
      await deviceError(dev.setCooling(true, 1000));
      await deviceError(dev.setCooling(true, -1000));
      await dev.setCooling(false);
      await deviceError(dev.waitCooled(10));
      await dev.setCooling(true, fx.cooling.setpointC);
      const t0 = clock.now();
      await deviceError(dev.waitCooled(2));
      const waited = clock.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(2 - 1e-9);
      expect(waited).toBeLessThanOrEqual(2 + 1 + slack);
    });

    it("refuses to work when closed; close() is idempotent; connect() again works", async () => {
      await dev.close();
      await dev.close();
      await deviceError(dev.acquire());
      await deviceError(dev.configure({ exposureS: 0.01 }));
      await dev.connect();
      if (fx.base) await dev.configure(fx.base);
      const f = await dev.acquire();
      expect(f.data.length).toBe(f.width * f.height);
    });
  });
}

import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import { TemperatureTwin } from "./temperature.ts";

async function make(config = {}) {
  const clock = new VirtualClock();
  const t = new TemperatureTwin({ clock, seed: 2, config: { slewPerMin: Infinity, ...config } });
  await t.connect();
  return { clock, t };
}

describe("TemperatureTwin", () => {
  it("step response is first order: error = D/e after tau", async () => {
    const { clock, t } = await make({ tauS: 60, initial: 20 });
    await t.setSetpoint(-10);
    const t0 = clock.now();
    await clock.sleep(60 - (clock.now() - t0));
    expect(t.value()).toBeCloseTo(-10 + 30 / Math.E, 2);
    await clock.sleep(120);
    expect(t.value()).toBeCloseTo(-10 + 30 * Math.exp(-3), 2);
  });

  it("ramps the set-point at the configured rate", async () => {
    const { clock, t } = await make({ tauS: 5, initial: 0 });
    await t.setRamp(6); // 6 C/min = 0.1 C/s
    await t.setSetpoint(10);
    await clock.sleep(50);
    // following a ramp r with lag tau: value ~ S(t) - r*tau = 5 - 0.5
    expect(t.value()).toBeCloseTo(4.5, 1);
    expect(await t.stable()).toBe(false);
    await t.waitStable(600);
    expect(t.value()).toBeCloseTo(10, 1);
  });

  it("stable only after staying in the window for the stability time, and settleTime predicts it", async () => {
    const { clock, t } = await make({ tauS: 30, tolerance: 0.1, stableS: 30, initial: 20 });
    const predicted = t.settleTime(20, 30);
    await t.setSetpoint(30);
    const t0 = clock.now();
    await t.waitStable(3600);
    const took = clock.now() - t0;
    // tau ln(10 / 0.1) + 30 = 168 s; polled every second
    expect(took).toBeGreaterThan(predicted - 1);
    expect(took).toBeLessThan(predicted + 1.5);
  });

  it("slew limit caps the rate of change", async () => {
    const { clock, t } = await make({ tauS: 10, slewPerMin: 6, initial: 0 });
    await t.setSetpoint(100);
    await clock.sleep(60);
    expect(t.value()).toBeCloseTo(6, 1);
  });

  it("errors: out of range, timeout, not connected", async () => {
    const { t } = await make({ min: -50, max: 50 });
    await expect(t.setSetpoint(80)).rejects.toMatchObject({ name: "DeviceError", code: "RANGE" });
    await expect(t.setRamp(-1)).rejects.toMatchObject({ code: "RANGE" });
    await t.setSetpoint(40);
    await expect(t.waitStable(10)).rejects.toMatchObject({ code: "TIMEOUT" });
    await t.close();
    await expect(t.read()).rejects.toMatchObject({ code: "NOT_CONNECTED" });
  });

  it("readings carry seeded sensor noise, reproducible per seed", async () => {
    const a = await make({ noise: 0.01 });
    const b = await make({ noise: 0.01 });
    const ra = [await a.t.read(), await a.t.read(), await a.t.read()];
    const rb = [await b.t.read(), await b.t.read(), await b.t.read()];
    expect(ra).toEqual(rb);
    expect(new Set(ra).size).toBe(3);
    for (const r of ra) expect(Math.abs(r - 22)).toBeLessThan(0.06);
  });
});

import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import { createSimEnvironment } from "./beam.ts";
import { IoCounterTwin } from "./io-counter.ts";
import { uniformSpecimen } from "./specimen.ts";
import { stats } from "./test-util.ts";

async function make() {
  const clock = new VirtualClock();
  const env = createSimEnvironment({ specimen: uniformSpecimen({ thicknessUm: 1 }), beam: { energyEv: 1000, fluxPhS: 1e6 } });
  const io = new IoCounterTwin({ clock, env, seed: 4 });
  await io.connect();
  return { clock, env, io };
}

describe("IoCounterTwin", () => {
  it("counts I0 and It = flux * T * gate * efficiency with Poisson noise", async () => {
    const { io } = await make();
    expect(io.channels()).toEqual(["I0", "It"]);
    expect(io.units()).toBe("counts");
    const T = Math.exp(-0.45);
    const i0: number[] = [],
      it_: number[] = [];
    for (let k = 0; k < 2000; k++) {
      const r = await io.count(0.01);
      i0.push(r.values[0]);
      it_.push(r.values[1]);
    }
    const e0 = 1e6 * 0.01 * 0.01 + 0.5,
      et = 1e6 * T * 0.01 * 0.8 + 0.5;
    const s0 = stats(i0),
      st = stats(it_);
    expect(Math.abs(s0.mean - e0)).toBeLessThan(5 * Math.sqrt(e0 / 2000));
    expect(Math.abs(st.mean - et)).toBeLessThan(5 * Math.sqrt(et / 2000));
    expect(st.variance / et).toBeGreaterThan(0.9);
    expect(st.variance / et).toBeLessThan(1.1);
  });

  it("takes gate + overhead on the clock and timestamps the gate start", async () => {
    const { io, clock } = await make();
    const t0 = clock.now();
    const r = await io.count(0.25);
    expect(clock.now() - t0).toBeCloseTo(io.cycleTime(0.25), 12);
    expect(r.timestamp).toBe(t0);
    expect(r.gateS).toBe(0.25);
  });

  it("beam off -> dark counts only; bad gate -> DeviceError", async () => {
    const { io, env } = await make();
    env.beam.on = false;
    const r = await io.count(1);
    expect(r.values[1]).toBeLessThan(100);
    await expect(io.count(0)).rejects.toMatchObject({ name: "DeviceError", code: "RANGE" });
  });
});

import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { MotionError, MotionModel, SRG_BITS } from "./motion.ts";

function mk(extra: Partial<ConstructorParameters<typeof MotionModel>[0]> = {}) {
  const clock = new VirtualClock(0);
  const m = new MotionModel({ clock, noise: 0, ...extra });
  return { clock, m };
}

function codeOf(f: () => void): number | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MotionError);
    return (e as MotionError).code;
  }
  return undefined;
}

describe("MotionModel", () => {
  it("defaults: 3 axes 1..3, 0..100 um, at mid travel, servo on, referenced, on target", () => {
    const { m } = mk();
    expect(m.axes()).toEqual(["1", "2", "3"]);
    expect(m.limits("1")).toEqual({ min: 0, max: 100 });
    expect(m.position("1")).toBe(50);
    expect(m.servo("1")).toBe(true);
    expect(m.referenced("1")).toBe(true);
    expect(m.onTarget("1")).toBe(true);
  });

  it("a move of D um at v um/s: linear trajectory, arrives at D/v, on target at (D - window)/v + settling", () => {
    const { clock, m } = mk({ axes: [{ id: "1", velocity: 1000, onTargetWindow: 0.01, settlingTime: 0.005 }] });
    m.move({ "1": 60 }); // D = 10 um
    expect(m.moving("1")).toBe(true);
    expect(m.exactPosition("1", 0.005)).toBeCloseTo(55, 9);
    expect(m.moving("1", 0.00999)).toBe(true);
    expect(m.moving("1", 0.01)).toBe(false);
    expect(m.exactPosition("1", 0.01)).toBe(60);
    const tOnt = (10 - 0.01) / 1000 + 0.005;
    expect(m.onTargetTime("1")).toBeCloseTo(tOnt, 12);
    expect(m.onTarget("1", tOnt - 1e-6)).toBe(false);
    expect(m.onTarget("1", tOnt + 1e-9)).toBe(true);
    clock.advanceTo(0.02);
    expect(m.onTarget("1")).toBe(true);
    expect(m.position("1")).toBe(60);
  });

  it("the on-target window sets when settling starts; settling time sets how long it must stay", () => {
    const { m } = mk({ axes: [{ id: "1", velocity: 100 }] });
    m.setOnTargetWindow("1", 1);
    m.setSettlingTime("1", 0.02);
    m.move({ "1": 70 }); // D = 20 um at 100 um/s: enters the 1 um window at 0.19 s
    expect(m.onTarget("1", 0.2)).toBe(false); // arrived, but settling
    expect(m.onTarget("1", 0.19 + 0.02 - 1e-6)).toBe(false);
    expect(m.onTarget("1", 0.19 + 0.02 + 1e-9)).toBe(true);
    expect(codeOf(() => m.setOnTargetWindow("1", 0))).toBe(17);
    expect(codeOf(() => m.setSettlingTime("1", -1))).toBe(17);
  });

  it("a small move inside the window of a resting axis stays on target", () => {
    const { clock, m } = mk();
    clock.advanceTo(1);
    m.move({ "1": 50.005 });
    expect(m.onTarget("1")).toBe(true);
  });

  it("soft limits: a target outside TMN..TMX is error 7 and changes nothing", () => {
    const { m } = mk();
    expect(codeOf(() => m.move({ "1": 100.5 }))).toBe(7);
    expect(codeOf(() => m.move({ "1": -0.5 }))).toBe(7);
    expect(codeOf(() => m.move({ "2": 10, "1": 101 }))).toBe(7); // all-or-nothing
    expect(m.target("2")).toBe(50);
    expect(codeOf(() => m.moveRelative({ "1": 60 }))).toBe(7);
    m.move({ "1": 100 });
    m.move({ "1": 0 });
    expect(codeOf(() => m.move({ "7": 0 }))).toBe(15);
  });

  it("servo: closed-loop moves need servo on (5); switching off stops the axis", () => {
    const { clock, m } = mk({ axes: [{ id: "1", velocity: 100 }] });
    m.move({ "1": 60 });
    clock.advanceTo(0.05);
    m.setServo({ "1": false });
    expect(m.moving("1")).toBe(false);
    expect(m.exactPosition("1")).toBeCloseTo(55, 9);
    expect(m.onTarget("1", 10)).toBe(false);
    expect(codeOf(() => m.move({ "1": 40 }))).toBe(5);
    expect(codeOf(() => m.openLoop({ "1": 40 }))).toBeUndefined();
    m.setServo({ "1": true });
    expect(m.target("1")).toBe(40);
    expect(codeOf(() => m.openLoop({ "1": 40 }))).toBe(79);
  });

  it("stop freezes the axis where it is; MVR is relative to the last target", () => {
    const { clock, m } = mk({ axes: [{ id: "1", velocity: 100 }] });
    m.move({ "1": 90 });
    clock.advanceTo(0.1);
    m.stop();
    expect(m.target("1")).toBeCloseTo(60, 9);
    clock.advanceTo(1);
    expect(m.exactPosition("1")).toBeCloseTo(60, 9);
    m.moveRelative({ "1": -5 });
    expect(m.target("1")).toBeCloseTo(55, 9);
  });

  it("a velocity change re-plans a running move; velocity out of range is error 8", () => {
    const { clock, m } = mk({ axes: [{ id: "1", velocity: 100, maxVelocity: 1000 }] });
    m.move({ "1": 70 });
    clock.advanceTo(0.1); // at 60
    m.setVelocity({ "1": 1000 });
    expect(m.arrivalTime("1")).toBeCloseTo(0.11, 9);
    expect(codeOf(() => m.setVelocity({ "1": 0 }))).toBe(8);
    expect(codeOf(() => m.setVelocity({ "1": 1001 }))).toBe(8);
  });

  it("overflow: stops the axis, never on target until the servo is switched on again", () => {
    const { clock, m } = mk();
    m.setOverflow("2");
    expect(m.overflow("2")).toBe(true);
    clock.advanceTo(1);
    expect(m.onTarget("2")).toBe(false);
    m.setServo({ "2": true });
    expect(m.overflow("2")).toBe(false);
    clock.advanceTo(2);
    expect(m.onTarget("2")).toBe(true);
  });

  it("referencing: an axis with a reference starts unreferenced (moves -> 5), FRF takes referenceTime", () => {
    const { clock, m } = mk({ axes: [{ id: "1", hasReference: true, referenceTime: 0.3 }, { id: "2" }] });
    expect(m.referenced("1")).toBe(false);
    expect(m.referenced("2")).toBe(true);
    expect(codeOf(() => m.move({ "1": 10 }))).toBe(5);
    m.reference(["1"]);
    expect(m.referencing("1")).toBe(true);
    expect(m.busy()).toBe(true);
    expect(m.statusRegister("1") & SRG_BITS.referencing).toBeTruthy();
    clock.advanceTo(0.3);
    expect(m.referenced("1")).toBe(true);
    expect(m.busy()).toBe(false);
    m.move({ "1": 10 });
  });

  it("motion mask and status register", () => {
    const { m } = mk();
    expect(m.motionMask()).toBe(0);
    m.move({ "1": 60, "3": 40 });
    expect(m.motionMask()).toBe(0b101);
    expect(m.statusRegister("1")).toBe(SRG_BITS.servo | SRG_BITS.moving);
    expect(m.statusRegister("2")).toBe(SRG_BITS.servo | SRG_BITS.onTarget);
  });

  it("position noise is seeded, reproducible and bounded by its amplitude", () => {
    const a = mk({ seed: 42, noise: 0.002 }).m;
    const b = mk({ seed: 42, noise: 0.002 }).m;
    const c = mk({ seed: 43, noise: 0.002 }).m;
    const sa = Array.from({ length: 100 }, () => a.position("1"));
    const sb = Array.from({ length: 100 }, () => b.position("1"));
    const sc = Array.from({ length: 100 }, () => c.position("1"));
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    for (const p of sa) expect(Math.abs(p - 50)).toBeLessThanOrEqual(0.002);
    expect(new Set(sa).size).toBeGreaterThan(50);
  });
});

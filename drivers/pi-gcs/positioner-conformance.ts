/**
 * Shared Positioner behaviour checks (vitest), run against the in-process twin and the real driver over the
 * emulator. Expects a fresh device per test: >= 1 axis with soft limits of >= 100 um travel, the first axis at
 * rest well inside its travel with servo on, referenced, and a velocity that can be set to 10..1000 um/s.
 * All waits go through the fixture's clock (use a VirtualClock for speed).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Clock } from "../../runtime/clock.ts";
import { DeviceError } from "../../runtime/devices/common.ts";
import type { Positioner } from "../../runtime/devices/positioner.ts";

export interface PositionerFixture {
  device: Positioner;
  clock: Clock;
  cleanup?: () => Promise<void>;
}

async function code(p: Promise<unknown>): Promise<number | string | undefined> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return (e as DeviceError).code;
  }
  throw new Error("expected a DeviceError, the call succeeded");
}

export function positionerConformance(name: string, make: () => Promise<PositionerFixture>): void {
  describe(`Positioner conformance: ${name}`, () => {
    let fx: PositionerFixture;
    let dev: Positioner;
    let ax: string;
    let mid: number;

    beforeEach(async () => {
      fx = await make();
      dev = fx.device;
      await dev.connect();
      ax = (await dev.axes())[0];
      const lim = (await dev.limits([ax]))[ax];
      mid = Math.round((lim.min + lim.max) / 2);
      await dev.setVelocity({ [ax]: 1000 });
      await dev.moveAbsolute({ [ax]: mid });
      await dev.waitOnTarget([ax], 5);
    });

    afterEach(async () => {
      await dev.close();
      await dev.close(); // idempotent
      await fx.cleanup?.();
    });

    it("identifies itself and lists its axes", async () => {
      const info = dev.info();
      expect(info.kind).toBe("positioner");
      expect(typeof info.model).toBe("string");
      const axes = await dev.axes();
      expect(axes.length).toBeGreaterThan(0);
      expect(new Set(axes).size).toBe(axes.length);
      expect(dev.units()).toBe("um");
      await dev.connect(); // idempotent
      expect(await dev.axes()).toEqual(axes);
    });

    it("reports limits with min < max and positions inside them", async () => {
      const axes = await dev.axes();
      const lim = await dev.limits();
      const pos = await dev.position();
      for (const a of axes) {
        expect(lim[a].max).toBeGreaterThan(lim[a].min);
        expect(pos[a]).toBeGreaterThanOrEqual(lim[a].min - 0.01);
        expect(pos[a]).toBeLessThanOrEqual(lim[a].max + 0.01);
      }
    });

    it("moves absolutely: accepted at once, on target after the move and settling", async () => {
      await dev.setVelocity({ [ax]: 100 });
      await dev.moveAbsolute({ [ax]: mid + 20 }); // 0.2 s of motion
      expect((await dev.onTarget([ax]))[ax]).toBe(false);
      await dev.waitOnTarget([ax], 2);
      expect((await dev.onTarget([ax]))[ax]).toBe(true);
      expect((await dev.position([ax]))[ax]).toBeCloseTo(mid + 20, 2);
      const st = await dev.status(ax);
      expect(st.moving).toBe(false);
      expect(st.onTarget).toBe(true);
      expect(st.servo).toBe(true);
    });

    it("moves relatively to the last target", async () => {
      await dev.moveRelative({ [ax]: -7.5 });
      await dev.waitOnTarget([ax], 1);
      expect((await dev.position([ax]))[ax]).toBeCloseTo(mid - 7.5, 2);
      await dev.moveRelative({ [ax]: 2.5 });
      await dev.waitOnTarget([ax], 1);
      expect((await dev.position([ax]))[ax]).toBeCloseTo(mid - 5, 2);
    });

    it("moves several axes in one command", async () => {
      const axes = (await dev.axes()).slice(0, 2);
      const lim = await dev.limits(axes);
      const t = Object.fromEntries(axes.map((a, i) => [a, lim[a].min + 10 + i]));
      await dev.setServo(Object.fromEntries(axes.map((a) => [a, true])));
      await dev.moveAbsolute(t);
      await dev.waitOnTarget(axes, 1);
      const p = await dev.position(axes);
      for (const a of axes) expect(p[a]).toBeCloseTo(t[a], 2);
    });

    it("rejects a target outside the soft limits with code 7 and does not move", async () => {
      const lim = (await dev.limits([ax]))[ax];
      expect(await code(dev.moveAbsolute({ [ax]: lim.max + 1 }))).toBe(7);
      expect(await code(dev.moveRelative({ [ax]: lim.min - lim.max - 1 }))).toBe(7);
      expect((await dev.onTarget([ax]))[ax]).toBe(true);
      expect((await dev.position([ax]))[ax]).toBeCloseTo(mid, 2);
    });

    it("needs the servo on for closed-loop moves (code 5)", async () => {
      await dev.setServo({ [ax]: false });
      expect((await dev.servo([ax]))[ax]).toBe(false);
      expect(await code(dev.moveAbsolute({ [ax]: mid + 1 }))).toBe(5);
      await dev.setServo({ [ax]: true });
      expect((await dev.servo([ax]))[ax]).toBe(true);
      await dev.moveAbsolute({ [ax]: mid + 1 });
      await dev.waitOnTarget([ax], 1);
      expect((await dev.position([ax]))[ax]).toBeCloseTo(mid + 1, 2);
    });

    it("rejects an unknown axis with code 15", async () => {
      expect(await code(dev.moveAbsolute({ Z9: 1 }))).toBe(15);
      expect(await code(dev.position(["Z9"]))).toBe(15);
      expect(await code(dev.status("Z9"))).toBe(15);
    });

    it("sets and reads the velocity; rejects an invalid one with code 8", async () => {
      await dev.setVelocity({ [ax]: 123.5 });
      expect((await dev.velocity([ax]))[ax]).toBeCloseTo(123.5, 6);
      expect(await code(dev.setVelocity({ [ax]: 0 }))).toBe(8);
      expect(await code(dev.setVelocity({ [ax]: -5 }))).toBe(8);
      expect((await dev.velocity([ax]))[ax]).toBeCloseTo(123.5, 6);
    });

    it("waitOnTarget rejects with a timeout (code -7) on a move that takes too long", async () => {
      await dev.setVelocity({ [ax]: 10 });
      await dev.moveAbsolute({ [ax]: mid + 40 }); // 4 s
      expect(await code(dev.waitOnTarget([ax], 0.05))).toBe(-7);
      await dev.stop();
    });

    it("stop() halts a running move where it is, and the stop leaves no error behind", async () => {
      await dev.setVelocity({ [ax]: 100 });
      await dev.moveAbsolute({ [ax]: mid + 40 }); // 0.4 s
      await fx.clock.sleep(0.1);
      await dev.stop();
      const st = await dev.status(ax);
      expect(st.moving).toBe(false);
      expect(st.position).toBeGreaterThan(mid + 0.5);
      expect(st.position).toBeLessThan(mid + 39.5);
      const p1 = (await dev.position([ax]))[ax];
      await fx.clock.sleep(0.1);
      expect((await dev.position([ax]))[ax]).toBeCloseTo(p1, 2);
      await dev.setVelocity({ [ax]: 1000 }); // a set command right after: no stale error 10
      await dev.moveAbsolute({ [ax]: mid });
      await dev.waitOnTarget([ax], 1);
    });

    it("aborting waitOnTarget stops the motion", async () => {
      await dev.setVelocity({ [ax]: 100 });
      await dev.moveAbsolute({ [ax]: mid + 40 });
      const ac = new AbortController();
      const w = dev.waitOnTarget([ax], 10, ac.signal);
      await fx.clock.sleep(0.05);
      ac.abort(new Error("user abort"));
      await expect(w).rejects.toThrow("user abort");
      const st = await dev.status(ax);
      expect(st.moving).toBe(false);
      expect(st.position).toBeLessThan(mid + 39.5);
      await dev.moveAbsolute({ [ax]: mid });
    });

    it("reports status and referencing (absolute sensors: nothing to do)", async () => {
      const st = await dev.status(ax);
      expect(st).toMatchObject({ onTarget: true, moving: false, servo: true, referenced: true });
      expect(st.position).toBeCloseTo(mid, 2);
      expect(await dev.needsReferencing(ax)).toBe(false);
      await dev.reference([ax], 1);
    });
  });
}

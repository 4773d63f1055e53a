import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { DeviceError } from "../../runtime/devices/common.ts";
import { positionerConformance } from "../../drivers/pi-gcs/positioner-conformance.ts";
import { PiStageTwin, type PiStageFault } from "./twin.ts";

positionerConformance("PiStageTwin (in-process)", async () => {
  const clock = new VirtualClock(0);
  return { device: new PiStageTwin({ clock, seed: 7 }), clock };
});

async function codeOf(p: Promise<unknown>): Promise<number | string | undefined> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DeviceError);
    return (e as DeviceError).code;
  }
  return undefined;
}

function mk(faults: PiStageFault[], extra: Partial<ConstructorParameters<typeof PiStageTwin>[0]> = {}) {
  const clock = new VirtualClock(0);
  const twin = new PiStageTwin({ clock, faults, ...extra });
  return { clock, twin };
}

describe("PiStageTwin specifics", () => {
  it("rejects calls before connect with -4", async () => {
    const { twin } = mk([]);
    expect(await codeOf(twin.position())).toBe(-4);
    await twin.connect();
    expect(await codeOf(twin.position())).toBeUndefined();
    expect(twin.info()).toMatchObject({ kind: "positioner", simulated: true });
  });

  it("fault at call n: error with the given code, named", async () => {
    const { twin } = mk([{ at: { call: 2 }, kind: "error", code: 604 }]);
    await twin.connect();
    await twin.position();
    const e = await twin.moveAbsolute({ "1": 10 }).catch((x: DeviceError) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).code).toBe(604);
    expect((e as DeviceError).codeName).toBe("POSITION_ERROR_TOO_HIGH");
    expect((e as DeviceError).device).toBe("sim:pi-stage");
    await twin.moveAbsolute({ "1": 10 }); // fires once
  });

  it("fault at trigger n: fires on the first call during that trigger (setTrigger or env.beam.trigger)", async () => {
    const env = { beam: { trigger: undefined as number | undefined } };
    const e = mk([{ at: { trigger: 4 }, kind: "error", code: 216 }], { env });
    await e.twin.connect();
    await e.twin.position();
    env.beam.trigger = 4;
    expect(await codeOf(e.twin.position())).toBe(216);
    const { twin } = mk([{ at: { trigger: 3 }, kind: "error" }]);
    await twin.connect();
    twin.setTrigger(2);
    await twin.position();
    twin.setTrigger(3);
    expect(await codeOf(twin.position())).toBe(1024);
    expect(await codeOf(twin.position())).toBeUndefined();
  });

  it("timeout fault: hangs timeoutS clock seconds, then -7; with a signal, until it aborts", async () => {
    const { clock, twin } = mk([{ at: { call: 1 }, kind: "timeout" }, { at: { call: 2 }, kind: "timeout" }], { timeoutS: 2 });
    await twin.connect();
    expect(await codeOf(twin.position())).toBe(-7);
    expect(clock.now()).toBeCloseTo(2, 9);
    const ac = new AbortController();
    const w = twin.waitOnTarget(["1"], 100, ac.signal);
    await clock.sleep(1);
    ac.abort(new Error("stop it"));
    await expect(w).rejects.toThrow("stop it");
  });

  it("disconnect fault: -1, then -4 until connect() (or a transparent reconnect with autoReconnect)", async () => {
    const a = mk([{ at: { call: 1 }, kind: "disconnect" }], { autoReconnect: true });
    await a.twin.connect();
    expect(await codeOf(a.twin.position())).toBe(-1);
    expect(await codeOf(a.twin.position())).toBeUndefined();
    const b = mk([{ at: { call: 1 }, kind: "disconnect" }]);
    await b.twin.connect();
    expect(await codeOf(b.twin.position())).toBe(-1);
    expect(await codeOf(b.twin.position())).toBe(-4);
    await b.twin.connect();
    expect(await codeOf(b.twin.position())).toBeUndefined();
  });

  it("overrange fault: the axis never settles (waitOnTarget -7 naming the overflow) until servo on again", async () => {
    const { twin } = mk([{ at: { call: 1 }, kind: "overrange" }], { overrangeAxis: "2" });
    await twin.connect();
    await twin.moveAbsolute({ "2": 60 }).catch(() => {});
    const e = await twin.waitOnTarget(["2"], 0.5).catch((x: DeviceError) => x);
    expect((e as DeviceError).code).toBe(-7);
    expect((e as DeviceError).message).toMatch(/overflow on axis 2/);
    await twin.setServo({ "2": true });
    await twin.moveAbsolute({ "2": 60 });
    await twin.waitOnTarget(["2"], 0.5);
  });

  it("referencing an axis with a reference switch", async () => {
    const { clock, twin } = mk([], { axes: [{ id: "1", hasReference: true, referenceTime: 0.25 }] });
    await twin.connect();
    expect(await twin.needsReferencing("1")).toBe(true);
    expect(await codeOf(twin.moveAbsolute({ "1": 10 }))).toBe(5);
    await twin.reference(["1"], 1);
    expect(clock.now()).toBeGreaterThanOrEqual(0.25);
    expect(await twin.needsReferencing("1")).toBe(false);
    await twin.moveAbsolute({ "1": 10 });
  });

  it("a raster of 1000 points runs fast in virtual time", async () => {
    const { clock, twin } = mk([], { noise: 0 });
    await twin.connect();
    for (let i = 0; i < 1000; i++) {
      await twin.moveAbsolute({ "1": 10 + (i % 50), "2": 10 + Math.floor(i / 50) });
      await twin.waitOnTarget(["1", "2"], 1);
    }
    expect(clock.now()).toBeGreaterThan(1000 * 0.005);
    expect((await twin.position(["2"]))["2"]).toBe(29);
  });
});

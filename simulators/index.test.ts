import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import type { AreaDetector, IoCounter, Mca, SetpointController } from "../runtime/devices/index.ts";
import { AndorIxonTwin, IoCounterTwin, PrincetonCcdTwin, TemperatureTwin, XglabDanteTwin, createSimEnvironment, createTwin, registerTwin, twinKinds } from "./index.ts";

describe("createTwin", () => {
  it("builds every twin by device name, sharing one environment", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ seed: 4 });
    const o = { clock, env, seed: 4 };
    const ccd: AreaDetector = createTwin("sim:pi-ccd", o);
    const andor: AreaDetector = createTwin("sim:andor-ixon", o);
    const mca: Mca = createTwin("sim:dante", o);
    const temp: SetpointController = createTwin("sim:temperature", o);
    const io: IoCounter = createTwin("sim:io", o);
    expect(ccd).toBeInstanceOf(PrincetonCcdTwin);
    expect(andor).toBeInstanceOf(AndorIxonTwin);
    expect(mca).toBeInstanceOf(XglabDanteTwin);
    expect(temp).toBeInstanceOf(TemperatureTwin);
    expect(io).toBeInstanceOf(IoCounterTwin);
    for (const d of [ccd, andor, mca, temp, io]) {
      await d.connect();
      expect(d.info().simulated).toBe(true);
    }
    expect(ccd.info()).toMatchObject({ kind: "area-detector", serial: "sim:pi-ccd" });
    expect(ccd.sensor()).toEqual({ width: 1340, height: 1300, pixelSizeUm: 20, bitDepth: 16 });
    expect(andor.sensor()).toEqual({ width: 128, height: 128, pixelSizeUm: 24, bitDepth: 14 });
  });

  it("sim:pi-stage is a hook for simulators/pi-stage/ (registered, never imported here)", () => {
    expect(() => createTwin("sim:pi-stage", { clock: new VirtualClock() })).toThrow(/registerTwin/);
    expect(() => createTwin("sim:nope", { clock: new VirtualClock() })).toThrow(/unknown twin/);
    expect(twinKinds()).toContain("sim:pi-stage (not registered)");
    registerTwin("sim:pi-stage", (o) => new IoCounterTwin(o)); // stand-in
    expect(createTwin("sim:pi-stage", { clock: new VirtualClock() })).toBeInstanceOf(IoCounterTwin);
  });
});

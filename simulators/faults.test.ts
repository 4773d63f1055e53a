import { describe, expect, it } from "vitest";
import { VirtualClock } from "../runtime/clock.ts";
import { DeviceError } from "../runtime/devices/common.ts";
import { AndorIxonTwin } from "./andor-ixon.ts";
import { createSimEnvironment } from "./beam.ts";
import { XglabDanteTwin } from "./dante.ts";
import { FaultPlan } from "./faults.ts";
import { IoCounterTwin } from "./io-counter.ts";
import { PrincetonCcdTwin } from "./pi-ccd.ts";
import { TemperatureTwin } from "./temperature.ts";

describe("FaultPlan", () => {
  it("matches by call number, method, trigger and time; fires `times` times", () => {
    const p = new FaultPlan([
      { at: { call: 3 }, kind: "error" },
      { at: { call: 2, method: "count" }, kind: "overrange", times: 2 },
      { at: { trigger: 7 }, kind: "timeout" },
      { at: { afterS: 100 }, kind: "disconnect" },
    ]);
    const fire = (method: string, trigger?: number, now = 0) => p.next({ method, trigger, now })?.kind;
    expect(fire("acquire")).toBeUndefined(); // call 1
    expect(fire("count")).toBeUndefined(); // call 2, count 1
    expect(fire("count")).toBe("error"); // call 3 (first match wins)
    expect(fire("count")).toBe("overrange"); // count 3 >= 2
    expect(fire("count")).toBe("overrange");
    expect(fire("count")).toBeUndefined();
    expect(fire("acquire", 7)).toBe("timeout");
    expect(fire("acquire", 7)).toBeUndefined();
    expect(fire("acquire", 8, 99)).toBeUndefined();
    expect(fire("acquire", 8, 100)).toBe("disconnect");
    expect(p.fired.map((f) => f.spec.kind)).toEqual(["error", "overrange", "overrange", "timeout", "disconnect"]);
    expect(p.calls()).toBe(10);
    expect(p.calls("count")).toBe(5);
  });

  it("validates specs", () => {
    expect(() => new FaultPlan([{ at: { call: 0 }, kind: "error" }])).toThrow(/call/);
    expect(() => new FaultPlan([{ at: {} as never, kind: "error" }])).toThrow(/at/);
    expect(() => new FaultPlan([{ at: { call: 1 }, kind: "explode" as never }])).toThrow(/kind/);
  });
});

describe("fault injection in the twins", () => {
  it("error: DeviceError with the given or the device's code", async () => {
    const clock = new VirtualClock();
    const cam = new AndorIxonTwin({ clock, faults: [{ at: { call: 1, method: "acquire" }, kind: "error" }, { at: { call: 2, method: "acquire" }, kind: "error", code: 20019 }] });
    await cam.connect();
    await expect(cam.acquire()).rejects.toMatchObject({ name: "DeviceError", code: 20013, codeName: "DRV_ERROR_ACK" });
    await expect(cam.acquire()).rejects.toMatchObject({ code: 20019 });
    await expect(cam.acquire()).resolves.toMatchObject({ width: 128 });
  });

  it("timeout without a signal: hangs hangS clock seconds then fails with the timeout code", async () => {
    const clock = new VirtualClock();
    const mca = new XglabDanteTwin({ clock, faults: [{ at: { call: 1 }, kind: "timeout" }] });
    await mca.connect();
    const t0 = clock.now();
    await expect(mca.acquire()).rejects.toMatchObject({ code: 64 });
    expect(clock.now() - t0).toBeCloseTo(30, 9);
  });

  it("timeout with a signal: hangs until aborted, rejects with the signal's reason", async () => {
    const clock = new VirtualClock();
    const io = new IoCounterTwin({ clock, faults: [{ at: { call: 1 }, kind: "timeout" }] });
    await io.connect();
    const ac = new AbortController();
    const p = io.count(0.1, ac.signal);
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    await clock.sleep(1000);
    expect(settled).toBe(false);
    ac.abort(new Error("player timeout"));
    await expect(p).rejects.toThrow("player timeout");
    // the next call works
    await expect(io.count(0.1)).resolves.toBeTruthy();
  });

  it("timeout on a camera ends with abort()", async () => {
    const clock = new VirtualClock();
    const ccd = new PrincetonCcdTwin({ clock, faults: [{ at: { call: 1, method: "acquire" }, kind: "timeout", hangS: Infinity }] });
    await ccd.connect();
    const p = ccd.acquire();
    await clock.sleep(1);
    await ccd.abort();
    await expect(p).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("trigger: fires on the call made during that trigger", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment();
    const io = new IoCounterTwin({ clock, env, faults: [{ at: { trigger: 5 }, kind: "error", code: "E5" }] });
    await io.connect();
    for (let t = 1; t <= 6; t++) {
      env.beam.applyTrigger(t, { x: t, y: t });
      if (t === 5) await expect(io.count(0.001)).rejects.toMatchObject({ code: "E5" });
      else await expect(io.count(0.001)).resolves.toBeTruthy();
    }
  });

  it("disconnect: fails, then 'not connected' until connect()", async () => {
    const clock = new VirtualClock();
    const t = new TemperatureTwin({ clock, faults: [{ at: { call: 2 }, kind: "disconnect" }] });
    await t.connect();
    await t.read();
    await expect(t.read()).rejects.toMatchObject({ code: "COMM" });
    await expect(t.read()).rejects.toMatchObject({ code: "NOT_CONNECTED" });
    await t.connect();
    await expect(t.read()).resolves.toBeTypeOf("number");
  });

  it("overrange: saturated data", async () => {
    const clock = new VirtualClock();
    const faults = [{ at: { call: 1, method: "acquire" }, kind: "overrange" as const }];
    const ccd = new PrincetonCcdTwin({ clock, faults, settings: { binning: { x: 10, y: 10 } } });
    const io = new IoCounterTwin({ clock, faults: [{ at: { call: 1 }, kind: "overrange" }] });
    const mca = new XglabDanteTwin({ clock, faults });
    const temp = new TemperatureTwin({ clock, faults: [{ at: { call: 1 }, kind: "overrange" }] });
    for (const d of [ccd, io, mca, temp]) await d.connect();
    expect((await ccd.acquire()).data.every((v) => v === 65535)).toBe(true);
    expect(Array.from((await io.count(0.01)).values)).toEqual([4294967295, 4294967295]);
    const sp = await mca.acquire();
    expect(sp.stats.deadTime).toBeGreaterThan(0.99);
    expect(sp.stats.counts).toBe(0);
    expect(await temp.read()).toBe(9999);
    expect(ccd.faults.fired.length).toBe(1);
  });

  it("errors are DeviceErrors naming the device", async () => {
    const ccd = new PrincetonCcdTwin({ clock: new VirtualClock(), name: "ccd-left" });
    const e = await ccd.acquire().catch((x) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect(e.device).toBe("ccd-left");
  });
});

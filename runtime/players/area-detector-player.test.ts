/**
 * The area-detector player with a frame-transfer camera (the iXon twin) and overlap: it releases with `next` at the
 * shift into the storage area, and the next trigger's action (started at once, as the Player does) runs while the
 * previous frame still reads out. Driven directly (no sockets) so that the two actions really overlap: the next
 * action starts inside the release, before the previous read-out's sleep has ended.
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../clock.ts";
import type { ActionContext } from "../player/player.ts";
import { silentLogger } from "../log.ts";
import { AndorIxonTwin } from "../../simulators/andor-ixon.ts";
import { PrincetonCcdTwin } from "../../simulators/pi-ccd.ts";
import { createSimEnvironment } from "../../simulators/beam.ts";
import { uniformSpecimen } from "../../simulators/specimen.ts";
import { areaDetectorPlayer } from "./area-detector-player.ts";

type Log = string[];

/** Run triggers 1..n the way the Player does: the next action starts when the previous returned or released with next. */
async function drive(action: ReturnType<typeof areaDetectorPlayer>["action"], n: number, dwell: number, log: Log): Promise<void> {
  const done: Array<Promise<unknown>> = [];
  const start = (trig: number): Promise<void> =>
    new Promise<void>((nextMayStart) => {
      const ctx: ActionContext = {
        run: "r",
        trig,
        level: 2,
        t: 0,
        signal: new AbortController().signal,
        push: (stream) => void log.push(`push ${stream} ${trig}`),
        pushAt: () => {},
        release: (_info, opts) => {
          log.push(`release ${trig}${opts?.next ? " next" : ""}`);
          if (opts?.next) nextMayStart();
        },
        log: silentLogger,
      };
      log.push(`start ${trig}`);
      const p = Promise.resolve(action(trig, { dwell }, ctx)).then(() => void log.push(`end ${trig}`));
      done.push(p);
      p.then(() => nextMayStart(), () => nextMayStart());
    });
  for (let t = 1; t <= n; t++) await start(t);
  await Promise.all(done);
}

describe("area-detector player, overlap with frame transfer", () => {
  it("iXon in frame transfer: the next action starts at the shift and exposes while the previous frame reads out", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 1000 } });
    const device = new AndorIxonTwin({ clock, env, seed: 1, cooling: { startCooled: true }, settings: { readoutRateHz: 1e6, frameTransfer: true } });
    await device.connect();
    const b = areaDetectorPlayer({ device, clock, overlap: "readout", frames: false });
    const log: Log = [];
    // 0.1 s is quantised by the camera (0.09999999999999999 s): the player must not configure it again at every
    // trigger, which would be refused while the previous frame reads out
    await drive(b.action, 4, 0.1, log);
    for (let t = 1; t < 4; t++) {
      expect(log).toContain(`release ${t} next`);
      expect(log.indexOf(`start ${t + 1}`)).toBeLessThan(log.indexOf(`end ${t}`));
    }
    for (let t = 1; t <= 4; t++) expect(log.indexOf(`push sum ${t}`)).toBeLessThan(log.indexOf(`end ${t}`));
  });

  it("a dwell that changes between points while the previous frame reads out is applied", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 1000 } });
    const device = new AndorIxonTwin({ clock, env, seed: 1, cooling: { startCooled: true }, settings: { readoutRateHz: 1e6, frameTransfer: true } });
    await device.connect();
    const b = areaDetectorPlayer({ device, clock, overlap: "readout", frames: false });
    const log: Log = [];
    await drive(b.action, 2, 0.05, log);
    await drive(b.action, 2, 0.07, log);
    expect(device.settings().exposureS).toBeCloseTo(0.07, 9);
    expect(log.filter((l) => l.startsWith("end"))).toHaveLength(4);
  });

  it("a full-frame CCD releases without next: the next action waits for the read-out", async () => {
    const clock = new VirtualClock();
    const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 1000 } });
    const device = new PrincetonCcdTwin({ clock, env, seed: 1, cooling: { startCooled: true }, settings: { roi: { x: 0, y: 0, width: 134, height: 130 }, binning: { x: 2, y: 2 } } });
    await device.connect();
    const b = areaDetectorPlayer({ device, clock, overlap: "readout", frames: false });
    const log: Log = [];
    await drive(b.action, 3, 0.1, log);
    expect(log).toContain("release 1");
    for (let t = 1; t < 3; t++) expect(log.indexOf(`end ${t}`)).toBeLessThan(log.indexOf(`start ${t + 1}`));
  });
});

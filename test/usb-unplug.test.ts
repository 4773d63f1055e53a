/** USB hot-unplug of a device in use: the player reports the device gone and the Director's fault policy applies. */
import { afterEach, describe, expect, it } from "vitest";
import { Director } from "../runtime/director/director.ts";
import { Player } from "../runtime/player/player.ts";
import { createDevicePlayer } from "../drivers/registry.ts";
import { FakeUsb, FakeUsbDevice, WebUsbBackend } from "../drivers/usb/index.ts";
import { until } from "./helpers/procs.ts";

let director: Director | undefined;
let player: Player | undefined;
afterEach(async () => {
  await player?.close();
  await director?.close();
});

describe("USB hot-unplug", () => {
  it("unplugging the camera mid-scan pauses the run with 'device gone'; plugged back and resumed, the scan completes", async () => {
    const cam = new FakeUsbDevice({ vendorId: 0x136e, productId: 0x0014, serialNumber: "X-1234", productName: "iXon (fake)" });
    const usb = new FakeUsb([cam]);
    const behaviour = await createDevicePlayer({
      device: "andor-ixon",
      name: "emccd",
      settings: { sdk: "twin", exposure: 0.01, usb: { vendorId: 0x136e, productId: 0x0014, serialNumber: "X-1234" } },
      seed: 1,
      time: { mode: "virtual" },
      usbBackend: new WebUsbBackend(usb),
    });
    director = new Director();
    const ep = await director.start();
    player = new Player({ name: "emccd", level: 0, director: ep.player, behaviour });
    await player.start();
    let done = 0;
    const run = director.run({ triggers: 20, require: ["emccd"], onTrigger: (t) => (done = t) });
    await until(() => done >= 5, 10_000, "5 triggers");
    usb.unplug(cam);
    await until(() => director!.status().state === "paused", 10_000, "the run to pause");
    const st = director.status();
    expect(st.pausedBecause).toContain("emccd");
    const stuckAt = st.trig!;
    await new Promise((r) => setTimeout(r, 200));
    expect(director.status().trig).toBe(stuckAt); // nothing moves while the camera is gone
    usb.plug(cam);
    await new Promise((r) => setTimeout(r, 50));
    director.resume();
    const r = await run;
    expect(r.status).toBe("completed");
    expect(r.triggers).toBe(20);
    // the camera overlaps its read-out (it acknowledges at the end of the exposure): an unplug during a read-out
    // fails that trigger's data after its ack (a gap on it, never silent); the next action finds the device gone and
    // pauses the run. Where the unplug lands (exposure or read-out) depends on the machine's timing.
    const mine = r.faults.filter((x) => x.player === "emccd");
    for (const f of mine) {
      expect(f.kind).toBe("error");
      expect(f.message).toMatch(/device gone \(USB 136e:0014 serial X-1234 unplugged\)/);
      expect(["pause", "gap"]).toContain(f.action);
    }
    expect(mine.filter((f) => f.action === "pause").length).toBe(1);
  });
});

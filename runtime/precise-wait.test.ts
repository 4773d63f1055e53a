import { describe, expect, it } from "vitest";
import { AndorIxonTwin } from "../simulators/andor-ixon.ts";
import { createSimEnvironment } from "../simulators/beam.ts";
import { uniformSpecimen } from "../simulators/specimen.ts";
import { ScaledClock, VirtualClock } from "./clock.ts";
import { waitUntil, type TimerSource } from "./precise-wait.ts";

/**
 * A host whose time moves only when the test drives it: a timer fires `late(ms)` after its due time (negative:
 * early, as Node's do when the loop's cached time is stale), each event-loop turn of a setImmediate costs
 * `turnMs`. Nothing here depends on the real machine's speed or load.
 */
class FakeHost implements TimerSource {
  t = 1000;
  private n = 0;
  private timers: Array<{ id: number; at: number; fn: () => void }> = [];
  private immediates: Array<{ id: number; fn: () => void }> = [];
  timersArmed = 0;
  turns = 0;
  blocked = 0;
  /** With `blockOvershootMs`, the host can block the thread (Atomics.wait) and wakes that much late, as a kernel does. */
  block?: (ms: number) => void;
  constructor(
    private readonly late: (ms: number) => number,
    private readonly turnMs = 0.01,
    blockOvershootMs?: number,
  ) {
    if (blockOvershootMs !== undefined)
      this.block = (ms) => {
        this.blocked++;
        this.t += ms + blockOvershootMs;
      };
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.n;
    this.timersArmed++;
    // Node: a delay below 1 ms is 1 ms
    this.timers.push({ id, at: Math.max(this.t, this.t + Math.max(1, ms) + this.late(ms)), fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  setImmediate(fn: () => void): unknown {
    const id = ++this.n;
    this.immediates.push({ id, fn });
    return id;
  }
  clearImmediate(h: unknown): void {
    this.immediates = this.immediates.filter((x) => x.id !== h);
  }
  /** One turn of the loop: the immediates queued so far, else the earliest timer (time jumps to it). */
  step(): boolean {
    if (this.immediates.length) {
      const batch = this.immediates;
      this.immediates = [];
      this.turns++;
      this.t += this.turnMs;
      for (const x of batch) x.fn();
      return true;
    }
    if (!this.timers.length) return false;
    this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const x = this.timers.shift()!;
    if (x.at > this.t) this.t = x.at;
    x.fn();
    return true;
  }
  /** Drive the fake loop until `p` settles (the real event loop runs the promise continuations in between). */
  async drive<T>(p: Promise<T>): Promise<T> {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 1_000_000; i++) {
      await new Promise((r) => setImmediate(r));
      if (settled) return p;
      if (!this.step()) await new Promise((r) => setImmediate(r));
    }
    throw new Error("FakeHost.drive: the promise never settled");
  }
}

describe("precise waits (scaled real time)", () => {
  it("waitUntil ends at the absolute target within one loop turn, whether the timer fires late or early", async () => {
    // early: by up to 1.7 ms (the loop's cached time was stale), never more than half the delay
    for (const late of [() => 1.0, (ms: number) => -Math.min(1.7, ms / 2), () => 0]) {
      // a host that can only poll, and one that blocks in short steps and wakes 65 us late
      for (const overshoot of [undefined, 0.065]) {
        const host = new FakeHost(late, 0.01, overshoot);
        const target = host.now() + 50.25;
        await host.drive(waitUntil(host, target));
        expect(host.now()).toBeGreaterThanOrEqual(target);
        expect(host.now() - target).toBeLessThanOrEqual(0.01 + 1e-9);
        if (overshoot !== undefined) expect(host.blocked).toBeGreaterThan(0);
      }
    }
  });

  it("a chain of waits towards instants planned from one start does not accumulate the timers' lateness", async () => {
    // every timer fires 1 ms late (the host's tick); scale 0.5: 1 ms of host time is 2 ms of instrument time
    const host = new FakeHost(() => 1.0, 0.01, 0.065);
    const clock = new ScaledClock(0.5, 0, { source: host });
    const start = clock.now();
    const ends: number[] = [];
    for (let k = 1; k <= 20; k++) {
      await host.drive(clock.sleepUntil(start + k * 0.1));
      ends.push(clock.now() - (start + k * 0.1));
    }
    // each wait ends within one loop turn (0.01 ms of host time = 0.02 ms of instrument time) after its instant
    for (const e of ends) {
      expect(e).toBeGreaterThanOrEqual(0);
      expect(e).toBeLessThanOrEqual(0.02e-3 + 1e-12);
    }
    // relative sleeps end precisely too: 20 x 0.1 s is 2 s, not 2 s + 20 ticks
    const t1 = clock.now();
    for (let k = 0; k < 20; k++) await host.drive(clock.sleep(0.1));
    expect(clock.now() - t1 - 2).toBeLessThanOrEqual(20 * 0.02e-3 + 1e-9);
    // the last stretch is bounded: at most SPIN_MS / 0.5 ms blocking steps + 0.25 ms of polls (0.01 ms a turn) per
    // wait, never the whole wait
    expect(host.blocked).toBeGreaterThan(0);
    expect(host.turns / 40).toBeLessThanOrEqual(1.5 / 0.5 + 0.25 / 0.01 + 2);
  });

  it("the plain timer (timers: coarse, the behaviour before) carries every tick of lateness into the next wait", async () => {
    const host = new FakeHost(() => 1.3, 0.01);
    const clock = new ScaledClock(0.5, 0, { source: host, timers: "coarse" });
    const t0 = clock.now();
    for (let k = 0; k < 20; k++) await host.drive(clock.sleep(0.1));
    // 20 x 1.3 ms of host time late = 52 ms of instrument time
    expect(clock.now() - t0 - 2).toBeCloseTo(20 * 1.3e-3 * 2, 9);
  });

  it("an abort during the polled stretch rejects with its reason and leaves nothing scheduled", async () => {
    const host = new FakeHost(() => 0, 0.01);
    const ac = new AbortController();
    const p = waitUntil(host, host.now() + 10, ac.signal);
    host.step(); // the timer: it fires 1.5 ms before the target, the wait polls from here
    host.step(); // one poll turn
    expect(host.turns).toBe(1);
    ac.abort(new Error("stop now"));
    await expect(p).rejects.toThrow("stop now");
    expect(host.step()).toBe(false);
  });

  it("virtual time: sleepUntil(t) is sleep(t - now()) bit for bit", async () => {
    const a = new VirtualClock(0.1);
    const b = new VirtualClock(0.1);
    await a.sleepUntil(0.7);
    await b.sleep(0.7 - 0.1);
    expect(a.now()).toBe(b.now());
    await a.sleepUntil(0.1); // in the past: at once
    expect(a.now()).toBe(b.now());
  });

  it("a frame-transfer camera twin in scaled time ends each exposure at its instant although every host timer fires late", async () => {
    const host = new FakeHost(() => 1.1, 0.01);
    const clock = new ScaledClock(0.5, 0, { source: host });
    const env = createSimEnvironment({ specimen: uniformSpecimen(), beam: { energyEv: 1000 } });
    const cam = new AndorIxonTwin({ clock, env, seed: 3, cooling: { startCooled: true }, connectS: 0.01 });
    await host.drive(cam.connect());
    await host.drive(cam.configure({ exposureS: 0.1, readoutRateHz: 1e6, frameTransfer: true, shutter: "none" }));
    const exp = cam.settings().exposureS;
    // one acquisition per trigger, as the player runs them: the exposure ends `exposure` after the start (the
    // frame-transfer shift included in the release point)
    for (let i = 0; i < 5; i++) {
      const t0 = clock.now();
      let ended = NaN;
      await host.drive(cam.acquire(undefined, { continuous: true, onExposureEnd: () => void (ended = clock.now()) }));
      expect(ended - t0).toBeGreaterThanOrEqual(exp);
      // within the model's release point (the 64 us shift) plus one loop turn (0.02 ms of instrument time)
      expect(ended - t0 - exp).toBeLessThanOrEqual(64e-6 + 0.02e-3 + 1e-9);
    }
  });
});

import type { Clock } from "../clock.ts";
import type { ActionContext } from "../player/player.ts";

/** Hooks a device player calls around each action (used by simulated endstations: beam position, virtual time). */
export interface DevicePlayerHooks {
  /** Called first in every action with the trigger and its parameters. */
  beforeAction?(trig: number, params: Record<string, unknown>, ctx: ActionContext): void;
}

export interface DevicePlayerBase {
  clock: Clock;
  hooks?: DevicePlayerHooks;
}

/**
 * The simulated duration of an action and its phases. Calling it gives `dt`, the simulated seconds from the start
 * of the level (`ctx.t`) until now (undefined on hardware, whose players report no dt).
 */
export interface ActionTiming {
  (): number | undefined;
  /** Close the phase `name` at the current time (phases add up to dt; none on hardware). */
  mark(name: string): void;
  /** The phases so far (seconds), or undefined on hardware. */
  phases(): Record<string, number> | undefined;
  /** Start a new set of phases (after an early ack: what follows is reported in `complete`). */
  restart(): void;
  /**
   * The device can begin the next action now although this one goes on (a frame-transfer camera after the shift
   * into its storage area): the next action's `wait` counts from here, not from this action's end.
   */
  readyNow(): void;
}

/** When each device's last action ended (its read-out included), in the Director's simulated time. */
const readyAt = new WeakMap<Clock, number>();
/** The level start of each device's last action (a smaller one is a new run: its readiness is forgotten). */
const lastStart = new WeakMap<Clock, number>();

/**
 * Follow the Director's simulated time (virtual clocks only) and measure the action's simulated duration. With
 * overlap the device may still be busy at the level's start (the previous trigger's read-out): that time is this
 * action's phase `wait`, and dt counts from the level's start. Waits are counted in the Director's time, so a device
 * clock that runs ahead for another reason (the setup's connect) does not count as busy.
 */
export function startTiming(clock: Clock, t: number, receivedAt?: number): ActionTiming {
  const c = clock as Clock & { advanceTo?: (t: number) => void; scale?: number };
  const virtual = clock.kind === "virtual";
  if (virtual && c.advanceTo) c.advanceTo(t);
  const t0 = clock.now();
  const scaled = clock.kind === "scaled";
  const timeline = virtual || scaled;
  if (timeline && t < (lastStart.get(clock) ?? -Infinity)) readyAt.delete(clock);
  lastStart.set(clock, t);
  // scaled real time: the trigger waited in the Player (for the previous read-out) from its arrival, in real time
  const queued = scaled && receivedAt !== undefined && c.scale ? (performance.now() - receivedAt) / 1000 / c.scale : 0;
  // The wait for the previous read-out counts on the Director's timeline, as the timing model does: from the level's
  // start to when the device was ready. In scaled time that timeline (the sum of the levels' durations) leaves out the
  // messaging between levels, during which a read-out goes on in real time, so the real queueing alone would count
  // less wait than the read-out took (the PI demo measured 11.1 s of CCD wait against 15.4 s planned); at least the
  // real queueing, which includes anything else that held the Player.
  const model = timeline ? Math.max(0, (readyAt.get(clock) ?? -Infinity) - t) : 0;
  const wait = virtual ? model : Math.max(queued, model);
  let last = t0;
  let ph: Record<string, number> = wait > 0 ? { wait } : {};
  let pinned = false;
  const f = (() => {
    if (clock.kind === "real") return undefined;
    const dt = wait + (clock.now() - t0);
    if (timeline && !pinned) readyAt.set(clock, t + dt);
    return dt;
  }) as ActionTiming;
  f.readyNow = () => {
    if (timeline) readyAt.set(clock, t + wait + (clock.now() - t0));
    pinned = true;
  };
  f.mark = (name) => {
    if (clock.kind === "real") return;
    const now = clock.now();
    if (now > last) ph[name] = (ph[name] ?? 0) + (now - last);
    last = now;
  };
  f.phases = () => (clock.kind === "real" ? undefined : ph);
  f.restart = () => {
    ph = {};
    last = clock.now();
  };
  return f;
}

export function num(params: Record<string, unknown>, key: string): number | undefined {
  const v = params[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function numSetting(settings: Record<string, unknown>, key: string, where: string): number | undefined {
  const v = settings[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${where}: setting '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Device settings to apply at the pre-operation. `donki run|director` send the player's scenario section
 * (`{name, level, device, settings, ...}`, docs/protocol.md); a device player was created with those settings
 * (`donki player --settings`), so a section changes nothing here. A plain map (library use: RunPlan.config) is
 * applied as device settings.
 */
export function setupSettings(config: Record<string, unknown>): Record<string, unknown> {
  return "device" in config && "settings" in config ? {} : config;
}

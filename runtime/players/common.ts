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

/** Follow the Director's simulated time (virtual clocks only) and measure the action's simulated duration. */
export function startTiming(clock: Clock, t: number): () => number | undefined {
  const c = clock as Clock & { advanceTo?: (t: number) => void };
  if (clock.kind === "virtual" && c.advanceTo) c.advanceTo(t);
  const t0 = clock.now();
  return () => (clock.kind === "real" ? undefined : clock.now() - t0);
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

import type { SetpointController } from "../devices/setpoint.ts";
import type { PlayerBehaviour } from "../player/player.ts";
import { num, startTiming, type DevicePlayerBase } from "./common.ts";

export interface SetpointPlayerOptions extends DevicePlayerBase {
  device: SetpointController;
  /** Trigger parameter holding the set-point, default "temperature". */
  param?: string;
  /** How long to wait for stability after a set-point change (clock seconds), default 1800. */
  stableTimeoutS?: number;
  /** Ramp rate (units/min) applied at setup; 0 = step. */
  rampPerMin?: number;
  /**
   * Act only on change (default true): a trigger whose set-point equals the previous trigger's acknowledges at
   * once, without device I/O, and pushes the values read at the last change. false: every trigger reads back.
   */
  actOnChange?: boolean;
}

/** Level-1 player: applies the trigger's set-point when it changes, waits until stable, reports the read-back. */
export function setpointPlayer(o: SetpointPlayerOptions): PlayerBehaviour {
  const param = o.param ?? "temperature";
  const onChange = o.actOnChange ?? true;
  let last: { run: string; target: number | undefined; value: number; setpoint: number } | null = null;
  return {
    streams: [
      { name: "value", dtype: "float64", shape: [], units: o.device.units(), role: "monitor" },
      { name: "setpoint", dtype: "float64", shape: [], units: o.device.units(), role: "metadata" },
    ],
    device: { kind: "setpoint", model: o.device.info().model, simulated: o.device.info().simulated },
    async setup() {
      await o.device.connect();
      if (o.rampPerMin !== undefined) await o.device.setRamp(o.rampPerMin);
    },
    async action(trig, params, ctx) {
      o.hooks?.beforeAction?.(trig, params, ctx);
      const timing = startTiming(o.clock, ctx.t, ctx.receivedAt);
      const target = num(params, param);
      if (onChange && last && last.run === ctx.run && target === last.target) {
        // the same set-point as the previous trigger: nothing to do on the device
        ctx.push("value", last.value);
        ctx.push("setpoint", last.setpoint);
        return { dt: timing(), phases: {} };
      }
      if (target !== undefined && target !== (await o.device.setpoint())) {
        await o.device.setSetpoint(target);
        await o.device.waitStable(o.stableTimeoutS ?? 1800, ctx.signal);
      }
      timing.mark("wait");
      const value = await o.device.read();
      const setpoint = await o.device.setpoint();
      timing.mark("overhead");
      last = { run: ctx.run, target, value, setpoint };
      ctx.push("value", value);
      ctx.push("setpoint", setpoint);
      return { dt: timing(), phases: timing.phases() };
    },
    async close() {
      await o.device.close();
    },
  };
}

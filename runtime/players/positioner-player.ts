import type { Positioner } from "../devices/positioner.ts";
import type { PlayerBehaviour } from "../player/player.ts";
import type { StreamDecl } from "../protocol/messages.ts";
import { num, startTiming, type DevicePlayerBase } from "./common.ts";

export interface PositionerPlayerOptions extends DevicePlayerBase {
  device: Positioner;
  /** Trigger parameter name -> controller axis id, e.g. { x: "1", y: "2" }. */
  axes: Record<string, string>;
  /** How long a move may take to reach the on-target window (clock seconds). */
  settleTimeoutS?: number;
  /** Velocity per parameter name, applied at setup. */
  velocity?: Record<string, number>;
}

/** Level-0 player: moves the stage to the trigger's point and reports the measured position. */
export function positionerPlayer(o: PositionerPlayerOptions): PlayerBehaviour {
  const names = Object.keys(o.axes);
  if (names.length === 0) throw new Error("positioner player: 'axes' must map at least one parameter to an axis");
  const streams: StreamDecl[] = names.map((n) => ({ name: n, dtype: "float64", shape: [], units: o.device.units(), role: "positioner" }));
  const axisIds = names.map((n) => o.axes[n]);
  return {
    streams,
    device: { kind: "positioner", model: o.device.info().model, simulated: o.device.info().simulated },
    async setup() {
      await o.device.connect();
      const servo: Record<string, boolean> = {};
      for (const a of axisIds) servo[a] = true;
      await o.device.setServo(servo);
      for (const a of axisIds) if (await o.device.needsReferencing(a)) await o.device.reference([a], 60);
      if (o.velocity) {
        const v: Record<string, number> = {};
        for (const [n, val] of Object.entries(o.velocity)) if (o.axes[n]) v[o.axes[n]] = val;
        if (Object.keys(v).length) await o.device.setVelocity(v);
      }
    },
    async action(trig, params, ctx) {
      o.hooks?.beforeAction?.(trig, params, ctx);
      const timing = startTiming(o.clock, ctx.t, ctx.receivedAt);
      const targets: Record<string, number> = {};
      for (const n of names) {
        const v = num(params, n);
        if (v !== undefined) targets[o.axes[n]] = v;
      }
      const moving = Object.keys(targets);
      if (moving.length) {
        await o.device.moveAbsolute(targets);
        await o.device.waitOnTarget(moving, o.settleTimeoutS ?? 5, ctx.signal);
      }
      timing.mark("move");
      const pos = await o.device.position(axisIds);
      for (const n of names) ctx.push(n, pos[o.axes[n]]);
      timing.mark("overhead");
      return { dt: timing(), phases: timing.phases() };
    },
    async close() {
      await o.device.close();
    },
  };
}

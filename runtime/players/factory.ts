import type { PlayerBehaviour } from "../player/player.ts";

/** Build a device player from a device spec such as `sim:pi-ccd` or `pi-gcs`. Filled in by the device adapters. */
export async function createDevicePlayer(spec: string, _options: Record<string, string>): Promise<PlayerBehaviour> {
  throw new Error(`unknown device '${spec}'`);
}

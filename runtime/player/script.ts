/**
 * Loading a user's player script: a module that exports either
 *   createPlayer(options) => PlayerBehaviour (or a Promise of one), or
 *   action (+ optional setup, teardown, streams, device).
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import type { PlayerBehaviour } from "./player.ts";

export async function loadPlayerScript(path: string, options: Record<string, string>): Promise<PlayerBehaviour> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new Error(`player script not found: ${abs}`);
  const mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  if (typeof mod.createPlayer === "function") {
    const b = (await (mod.createPlayer as (o: Record<string, string>) => PlayerBehaviour | Promise<PlayerBehaviour>)(options)) as PlayerBehaviour;
    if (!b || typeof b.action !== "function") throw new Error(`${abs}: createPlayer() must return an object with an action(trig, params, ctx) function`);
    return b;
  }
  if (typeof mod.action === "function") {
    return {
      action: mod.action as PlayerBehaviour["action"],
      setup: mod.setup as PlayerBehaviour["setup"],
      teardown: mod.teardown as PlayerBehaviour["teardown"],
      streams: (mod.streams as PlayerBehaviour["streams"]) ?? [],
      device: mod.device as PlayerBehaviour["device"],
    };
  }
  throw new Error(`${abs}: a player script must export createPlayer(options) or action(trig, params, ctx)`);
}

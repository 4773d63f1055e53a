/**
 * `donki player`: run one player process. Exit codes: 0 clean stop, 2 bad input / rejected, 1 other failure.
 */
import { Player } from "./player.ts";
import { loadPlayerScript } from "./script.ts";
import type { PlayerBehaviour } from "./player.ts";
import { createLogger } from "../log.ts";
import type { CurveClientConfig } from "../transport/curve.ts";

export interface PlayerProcessOptions {
  name: string;
  level: number;
  director: string;
  script?: string;
  behaviour?: PlayerBehaviour;
  options: Record<string, string>;
  join?: "next-trigger" | "next-run";
  curve?: CurveClientConfig;
  hbIntervalMs?: number;
  hbTimeoutMs?: number;
  /** The run's credential (from --token-file or DONKI_RUN_TOKEN). */
  token?: string;
  /** Forward log records to the Director (a player not started by `donki run`, whose stderr nobody else shows). */
  forwardLogs?: boolean;
}

export async function runPlayerProcess(o: PlayerProcessOptions): Promise<number> {
  let player: Player | null = null;
  // the records also go to the Director when it asks (the player's terminal keeps its own copy)
  const log = createLogger(`player:${o.name}`, undefined, o.forwardLogs ? { tap: (rec) => player?.forwardLog(rec) } : {});
  let behaviour: PlayerBehaviour;
  try {
    behaviour = o.behaviour ?? (await loadPlayerScript(o.script!, { name: o.name, ...o.options }));
  } catch (e) {
    log.error((e as Error).message);
    process.stderr.write(`donki player: ${(e as Error).message}\n`);
    return 2;
  }
  player = new Player({ name: o.name, level: o.level, director: o.director, behaviour, join: o.join, curve: o.curve, log, hbIntervalMs: o.hbIntervalMs, hbTimeoutMs: o.hbTimeoutMs, token: o.token, forwardLogs: o.forwardLogs });
  let exitCode = 0;
  const done = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals > 1) process.exit(130);
      void player.stop("signal").then(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    player.onShutdown = (reason) => {
      process.stderr.write(`donki player '${o.name}': the Director at ${o.director} has shut down (${reason}); exiting\n`);
      void player.close().then(resolve);
    };
    player.onFatal = (e) => {
      process.stderr.write(`donki player: ${e.message}\n`);
      exitCode = 2;
      void player.close().then(resolve);
    };
  });
  try {
    await player.start();
  } catch (e) {
    process.stderr.write(`donki player: ${(e as Error).message}\n`);
    return 2;
  }
  process.stdout.write(`player ${o.name} registered (level ${player.appliedLevel}) with ${o.director}\n`);
  if (player.notice) process.stderr.write(`donki player '${o.name}': ${player.notice}\n`);
  await done;
  return exitCode;
}

/**
 * `donki player --scenario FILE --name NAME`: a player's device, settings, level, seed, time, join and faults taken
 * from its section of the scenario the Director runs (validated the same way), so a player on another host needs
 * only the file, its name and the Director's endpoint. Flags given on the command line override the scenario's
 * values (`--settings` is merged key by key over the scenario's settings).
 */
import { dirname, resolve } from "node:path";
import { loadScenario, ScenarioError } from "../scenario/load.ts";
import { playerSettings } from "../scenario/schema.ts";
import { didYouMean } from "../scenario/suggest.ts";
import { isPythonDevice } from "./python.ts";
import { timeModeOf } from "./run.ts";
import type { DeviceCatalogue } from "./run.ts";

export interface ScenarioPlayer {
  level?: number;
  /** A catalogue device, or undefined for a script player (then `script` is set). */
  device?: string;
  script?: string;
  /** A script player's options (its settings as KEY=VALUE strings). */
  options: Record<string, string>;
  settings: Record<string, unknown>;
  seed: number;
  /** virtual | real | scale:F */
  time: string;
  join: "next-trigger" | "next-run";
  faults?: unknown[];
}

/** A bad --scenario / --name: the lines to print (exit 2). */
export class PlayerScenarioError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join("\n"));
  }
}

export function playerFromScenario(file: string, name: string, catalogue: Pick<DeviceCatalogue, "deviceNames" | "checkSettings" | "checkPlayer">): { player: ScenarioPlayer; warnings: string[] } {
  let sc;
  try {
    sc = loadScenario(file, { knownDevices: catalogue.deviceNames(), checkSettings: catalogue.checkSettings, checkPlayer: catalogue.checkPlayer });
  } catch (e) {
    if (e instanceof ScenarioError) throw new PlayerScenarioError(["invalid scenario", ...e.problems.map((p) => `  ${p}`)]);
    throw e;
  }
  const names = sc.def.players.map((p) => p.name);
  const p = sc.def.players.find((x) => x.name === name);
  if (!p) throw new PlayerScenarioError([`${file} has no player '${name}'${didYouMean(name, names)} (its players: ${names.join(", ")})`]);
  if (isPythonDevice(p.device))
    throw new PlayerScenarioError([`player '${name}' is a Python player (${p.device}): start it with python3 -m donki_player (docs/python.md), not donki player`]);
  const t = timeModeOf(sc.def.time);
  const base = {
    level: p.level,
    settings: playerSettings(p),
    seed: sc.def.seed,
    time: t.mode === "scaled" ? `scale:${t.scale}` : t.mode,
    join: p.join,
    faults: p.faults,
    options: {} as Record<string, string>,
  };
  if (p.device.startsWith("script:")) {
    for (const [k, v] of Object.entries(p.settings)) base.options[k] = typeof v === "string" ? v : JSON.stringify(v);
    return { player: { ...base, script: resolve(dirname(sc.path), p.device.slice("script:".length)) }, warnings: sc.warnings };
  }
  return { player: { ...base, device: p.device }, warnings: sc.warnings };
}

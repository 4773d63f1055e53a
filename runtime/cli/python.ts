/**
 * Python players (docs/python.md): `device: python:FILE` (an action script) and `device: tango:DEVICE` (the generic
 * Tango player) run as `python3 -m donki_player` processes from clients/python/, on the same protocol and with
 * the same environment as the TypeScript players `donki run` starts (Director endpoint, CURVE keys, time mode,
 * seed, settings).
 */
import { TOKEN_ENV } from "../director/admission.ts";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import type { PlayerDefT } from "../scenario/schema.ts";
import type { CurveKeyPair } from "../transport/curve.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The directory that holds the donki_player package (added to PYTHONPATH). */
export const PYTHON_CLIENT_DIR = resolve(HERE, "../../clients/python");

/** Debian packages of the Python modules the players use. */
export const APT_PACKAGE: Record<string, string> = { zmq: "python3-zmq", msgpack: "python3-msgpack", numpy: "python3-numpy", tango: "python3-tango" };

export function isPythonDevice(device: string): boolean {
  return device.startsWith("python:") || device.startsWith("tango:");
}

/** Modules a player's interpreter must import. */
export function requiredModules(device: string): string[] {
  return device.startsWith("tango:") ? ["zmq", "msgpack", "tango"] : ["zmq", "msgpack"];
}

export function pythonEnv(): Record<string, string> {
  const pp = process.env.PYTHONPATH;
  return { PYTHONPATH: pp ? `${PYTHON_CLIENT_DIR}:${pp}` : PYTHON_CLIENT_DIR, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" };
}

/** No interpreter can run a Python player (bad input: exit code 2). */
export class PythonUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PythonUnavailable";
  }
}

/** The modules of `modules` that `python` cannot import; null when `python` cannot be run at all. */
export function missingModules(python: string, modules: string[]): string[] | null {
  const r = spawnSync(python, ["-c", "import sys, importlib.util as u; print(','.join(m for m in sys.argv[1:] if u.find_spec(m) is None))", ...modules], { encoding: "utf8", timeout: 20_000 });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim().split(",").filter(Boolean);
}

/**
 * The interpreter of each Python player: the player's `python:` field, else `--python`, else DONKI_PYTHON, else the
 * first of /usr/bin/python3, python3 that imports what the player needs. Throws naming the player, the
 * interpreter, the missing modules and the Debian packages that provide them.
 */
export function resolvePython(players: PlayerDefT[], cli?: string): Map<string, string> {
  const out = new Map<string, string>();
  const cache = new Map<string, string[] | null>();
  const missing = (py: string, mods: string[]) => {
    const k = `${py}\0${mods.join(",")}`;
    if (!cache.has(k)) cache.set(k, missingModules(py, mods));
    return cache.get(k)!;
  };
  for (const p of players) {
    const mods = requiredModules(p.device);
    const explicit = p.python ?? cli ?? process.env.DONKI_PYTHON;
    const how = p.python ? "its python: field" : cli ? "--python" : "DONKI_PYTHON";
    const candidates = explicit ? [explicit] : ["/usr/bin/python3", "python3"];
    let chosen: string | undefined;
    let firstProblem: string | undefined;
    for (const py of candidates) {
      const m = missing(py, mods);
      if (m && m.length === 0) {
        chosen = py;
        break;
      }
      firstProblem ??= m === null ? `${py} cannot be run` : `${py} cannot import ${m.map((x) => `'${x}'`).join(", ")} (apt install ${m.map((x) => APT_PACKAGE[x] ?? x).join(" ")})`;
    }
    if (!chosen)
      throw new PythonUnavailable(
        `player '${p.name}' (${p.device}) needs a Python 3 with ${mods.join(", ")}: ${firstProblem}` +
          (explicit ? ` [interpreter from ${how}]` : "; set DONKI_PYTHON, donki run --python or the player's python: field to an interpreter that has them"),
      );
    out.set(p.name, chosen);
  }
  return out;
}

export interface PythonCommandOptions {
  python: string;
  endpoint: string;
  seed: number;
  /** virtual | real | scale:F */
  time: string;
  scenarioDir: string;
  curve?: { serverKey: string; keys: CurveKeyPair };
  parentPid?: number;
  /** The run's admission token (without CURVE): handed over in DONKI_RUN_TOKEN like to TypeScript players. */
  token?: string;
}

/** The command line and environment of one Python player process. */
export function pythonPlayerCommand(p: PlayerDefT, o: PythonCommandOptions): { command: string; args: string[]; env: Record<string, string> } {
  const args = ["-m", "donki_player", "--name", p.name, "--level", String(p.level), "--director", o.endpoint, "--join", p.join, "--seed", String(o.seed), "--time", o.time];
  if (o.parentPid !== undefined) args.push("--parent-pid", String(o.parentPid));
  if (p.device.startsWith("python:")) args.push("--script", resolve(o.scenarioDir, p.device.slice("python:".length)));
  else args.push("--module", "donki_player.tango", "-o", `device=${JSON.stringify(p.device.slice("tango:".length))}`);
  args.push("--settings", JSON.stringify(p.settings));
  const env = pythonEnv();
  if (o.curve) {
    // the = form: a Z85 key may begin with "-"
    args.push(`--curve-server-key=${o.curve.serverKey}`, `--curve-public-key=${o.curve.keys.publicKey}`);
    env.DONKI_CURVE_SECRET_KEY = o.curve.keys.secretKey;
  }
  if (o.token) env[TOKEN_ENV] = o.token;
  return { command: o.python, args, env };
}

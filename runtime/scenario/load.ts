/**
 * Reading a scenario file: YAML -> validated model, with every error naming file, line, column and field.
 */
import { readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, resolve, basename, extname, relative } from "node:path";
import { parseDocument, LineCounter, isNode, isMap, isScalar, type Document } from "yaml";
import type { z } from "zod";
import { Scenario, PlayerDef, type ScenarioDef, type PlayerDefT } from "./schema.ts";
import { parsePlayersXml } from "./xml.ts";
import { issueProblem } from "./zod-problems.ts";
import { yamlSyntaxProblem } from "./yaml-errors.ts";
import { scenarioWarnings } from "./lint.ts";

import { ScenarioError } from "./errors.ts";
export { ScenarioError };

export interface LoadedScenario {
  def: ScenarioDef & { players: PlayerDefT[] };
  /** Absolute path of the file. */
  path: string;
  /** File name without extension (default output prefix). */
  name: string;
  text: string;
  /** sha256 of the text. */
  hash: string;
  /** Suspicious but legal forms (a gap between levels, a binning that drops pixels ...), located like errors. */
  warnings: string[];
}

function describePath(path: PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || "(top level)";
}

function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code === "unrecognized_keys") return `unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `'${k}'`).join(", ")}`;
  if (i.code === "invalid_type") {
    const msg = i.message;
    return msg.includes("received undefined") ? `is required (${msg.replace(/^Invalid input: /, "")})` : msg.replace(/^Invalid input: /, "");
  }
  if (i.code === "invalid_union") return i.message === "Invalid input" ? "none of the allowed forms matches" : i.message;
  return i.message;
}

/** Locate a path in the YAML document; falls back to the nearest existing parent. `key`: the map key, not its value. */
function locate(doc: Document, lc: LineCounter, path: PropertyKey[], key = false): { line: number; col: number } {
  if (key && path.length) {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as Array<string | number>, true);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === String(path[path.length - 1]));
      if (pair && isNode(pair.key) && pair.key.range) {
        const p = lc.linePos(pair.key.range[0]);
        return { line: p.line, col: p.col };
      }
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as Array<string | number>, true);
    if (isNode(node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return { line: p.line, col: p.col };
    }
  }
  return { line: 1, col: 1 };
}

export interface LoadOptions {
  /** Device names the catalogue knows: other names (except script:...) are reported with their location. */
  knownDevices?: string[];
  /**
   * The catalogue's static check of a player's settings against its device's range (ROIs, sensor size ...):
   * each problem is reported at its place in the file (`path` is inside the player's `settings`).
   */
  checkSettings?: (device: string, settings: Record<string, unknown>) => Array<{ path: Array<string | number>; message: string; severity?: "error" | "warning"; key?: boolean }>;
  /** The catalogue's check of a player's own fields (overlap, actOnChange); `path` is inside the player's section. */
  checkPlayer?: (p: PlayerDefT) => Array<{ path: Array<string | number>; message: string; severity?: "error" | "warning" }>;
}

export function loadScenario(file: string, lo: LoadOptions = {}): LoadedScenario {
  const path = resolve(file);
  if (!existsSync(path)) throw new ScenarioError(`${file}: scenario file not found`, [`${file}: not found`]);
  const text = readFileSync(path, "utf8");
  return parseScenario(text, path, lo);
}

export function parseScenario(text: string, path: string, lo: LoadOptions = {}): LoadedScenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const rel = relative(process.cwd(), path);
  const shown = rel && !rel.startsWith("..") ? rel : path;
  if (doc.errors.length) {
    // the first error with its snippet; the ones after it usually follow from it
    const problems = [yamlSyntaxProblem(shown, doc.errors[0], doc.errors.length - 1)];
    throw new ScenarioError(problems.join("\n"), problems);
  }
  const raw = doc.toJS();
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const m = `${shown}:1:1: a scenario is a YAML mapping (title:, players:, sequence: ...)`;
    throw new ScenarioError(m, [m]);
  }
  const r = Scenario.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      const at = i.code === "unrecognized_keys" ? [...i.path, i.keys[0]] : i.path;
      const { line, col } = locate(doc, lc, at, i.code === "unrecognized_keys");
      const message = i.code === "unrecognized_keys" ? issueProblem(Scenario, i, raw, "field").message : issueMessage(i);
      return `${shown}:${line}:${col}: ${describePath(i.path)}: ${message}`;
    });
    throw new ScenarioError(problems.join("\n"), problems);
  }
  const def = r.data;
  let players = def.players;
  if (def.playersXml) {
    const xmlPath = resolve(dirname(path), def.playersXml);
    const { line, col } = locate(doc, lc, ["playersXml"]);
    if (!existsSync(xmlPath)) {
      const m = `${shown}:${line}:${col}: playersXml: file not found: ${xmlPath}`;
      throw new ScenarioError(m, [m]);
    }
    const fromXml = parsePlayersXml(readFileSync(xmlPath, "utf8"), xmlPath);
    const problems: string[] = [];
    players = [];
    fromXml.forEach((p, i) => {
      const pr = PlayerDef.safeParse(p.player);
      if (pr.success) players!.push(pr.data);
      else for (const is of pr.error.issues) problems.push(`${xmlPath}:${p.line}: player #${i + 1} ('${String(p.player.name)}'): ${describePath(is.path)}: ${issueMessage(is)}`);
    });
    const names = new Set<string>();
    for (const p of players) {
      if (names.has(p.name)) problems.push(`${xmlPath}: player name '${p.name}' is used twice`);
      names.add(p.name);
    }
    if (problems.length) throw new ScenarioError(problems.join("\n"), problems);
  }
  if (lo.knownDevices) {
    const known = new Set(lo.knownDevices);
    const problems: string[] = [];
    players!.forEach((p, i) => {
      if (p.device.startsWith("script:") || p.device.startsWith("python:") || p.device.startsWith("tango:") || known.has(p.device)) return;
      const where = def.playersXml ? `${resolve(dirname(path), def.playersXml)}: player '${p.name}'` : (() => {
        const { line, col } = locate(doc, lc, ["players", i, "device"]);
        return `${shown}:${line}:${col}: players[${i}].device`;
      })();
      problems.push(`${where}: unknown device '${p.device}' (known: ${lo.knownDevices!.join(", ")}, or script:FILE, python:FILE, tango:DEVICE)`);
    });
    if (problems.length) throw new ScenarioError(problems.join("\n"), problems);
  }
  const warnings: string[] = [];
  const xml = def.playersXml ? resolve(dirname(path), def.playersXml) : undefined;
  /** Where a player's field is: file:line:col in this file, or the player in the XML list. */
  const wherePlayer = (i: number, p: PlayerDefT, field: Array<string | number>, key = false) => {
    if (xml) return `${xml}: player '${p.name}' (${p.device}): ${describePath(field)}`;
    const { line, col } = locate(doc, lc, ["players", i, ...field], key);
    return `${shown}:${line}:${col}: players[${i}].${describePath(field)} (${p.name}, ${p.device})`;
  };
  if (lo.checkPlayer) {
    const problems: string[] = [];
    players!.forEach((p, i) => {
      for (const pr of lo.checkPlayer!(p)) (pr.severity === "warning" ? warnings : problems).push(`${wherePlayer(i, p, pr.path)}: ${pr.message}`);
    });
    if (problems.length) throw new ScenarioError(problems.join("\n"), problems);
  }
  if (lo.checkSettings) {
    const problems: string[] = [];
    players!.forEach((p, i) => {
      for (const pr of lo.checkSettings!(p.device, p.settings ?? {})) (pr.severity === "warning" ? warnings : problems).push(`${wherePlayer(i, p, ["settings", ...pr.path], pr.key)}: ${pr.message}`);
    });
    if (problems.length) throw new ScenarioError(problems.join("\n"), problems);
  }
  for (const w of scenarioWarnings(players!)) warnings.push(`${wherePlayer(w.player, players![w.player], w.field)}: ${w.message}`);
  const name = basename(path, extname(path));
  return { def: { ...def, players: players! }, path, name, text, hash: createHash("sha256").update(text).digest("hex"), warnings };
}

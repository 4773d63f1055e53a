/**
 * Reading a scenario file: YAML -> validated model, with every error naming file, line, column and field.
 */
import { readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, resolve, basename, extname, relative } from "node:path";
import { parseDocument, LineCounter, isNode, type Document } from "yaml";
import type { z } from "zod";
import { Scenario, PlayerDef, type ScenarioDef, type PlayerDefT } from "./schema.ts";
import { parsePlayersXml } from "./xml.ts";

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
  if (i.code === "invalid_union") return `${i.message}: none of the allowed forms matches`;
  return i.message;
}

/** Locate a path in the YAML document; falls back to the nearest existing parent. */
function locate(doc: Document, lc: LineCounter, path: PropertyKey[]): { line: number; col: number } {
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
  checkSettings?: (device: string, settings: Record<string, unknown>) => Array<{ path: Array<string | number>; message: string }>;
  /** The catalogue's check of a player's own fields (overlap, actOnChange); `path` is inside the player's section. */
  checkPlayer?: (p: PlayerDefT) => Array<{ path: Array<string | number>; message: string }>;
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
    const problems = doc.errors.map((e) => {
      const p = e.linePos?.[0];
      return `${shown}:${p?.line ?? 1}:${p?.col ?? 1}: YAML syntax: ${e.message.split("\n")[0]}`;
    });
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
      const { line, col } = locate(doc, lc, at);
      return `${shown}:${line}:${col}: ${describePath(i.path)}: ${issueMessage(i)}`;
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
  if (lo.checkPlayer) {
    const problems: string[] = [];
    const xml = def.playersXml ? resolve(dirname(path), def.playersXml) : undefined;
    players!.forEach((p, i) => {
      for (const pr of lo.checkPlayer!(p)) {
        const field = describePath(pr.path);
        if (xml) problems.push(`${xml}: player '${p.name}' (${p.device}): ${field}: ${pr.message}`);
        else {
          const { line, col } = locate(doc, lc, ["players", i, ...pr.path]);
          problems.push(`${shown}:${line}:${col}: players[${i}].${field} (${p.name}): ${pr.message}`);
        }
      }
    });
    if (problems.length) throw new ScenarioError(problems.join("\n"), problems);
  }
  if (lo.checkSettings) {
    const problems: string[] = [];
    const xml = def.playersXml ? resolve(dirname(path), def.playersXml) : undefined;
    players!.forEach((p, i) => {
      for (const pr of lo.checkSettings!(p.device, p.settings ?? {})) {
        const field = describePath(["settings", ...pr.path]);
        if (xml) problems.push(`${xml}: player '${p.name}' (${p.device}): ${field}: ${pr.message}`);
        else {
          const { line, col } = locate(doc, lc, ["players", i, "settings", ...pr.path]);
          problems.push(`${shown}:${line}:${col}: players[${i}].${field} (${p.name}, ${p.device}): ${pr.message}`);
        }
      }
    });
    if (problems.length) throw new ScenarioError(problems.join("\n"), problems);
  }
  const name = basename(path, extname(path));
  return { def: { ...def, players: players! }, path, name, text, hash: createHash("sha256").update(text).digest("hex") };
}

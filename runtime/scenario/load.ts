/**
 * Reading a scenario file: YAML -> validated model, with every error naming file, line, column and field.
 */
import { readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, resolve, basename, extname } from "node:path";
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

export function loadScenario(file: string): LoadedScenario {
  const path = resolve(file);
  if (!existsSync(path)) throw new ScenarioError(`${file}: scenario file not found`, [`${file}: not found`]);
  const text = readFileSync(path, "utf8");
  return parseScenario(text, path);
}

export function parseScenario(text: string, path: string): LoadedScenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const shown = path;
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
      const { line, col } = locate(doc, lc, i.path);
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
  const name = basename(path, extname(path));
  return { def: { ...def, players: players! }, path, name, text, hash: createHash("sha256").update(text).digest("hex") };
}

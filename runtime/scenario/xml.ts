/**
 * The original DonkiOrchestra defined its players in XML. donki accepts a small XML form of the player list and
 * translates it to the same model as the YAML `players:` list (docs/scenarios.md):
 *
 *   <players>
 *     <player name="stage" priority="0" device="sim:pi-stage">
 *       <setting name="velocity" value='{"x": 1000, "y": 1000}'/>
 *     </player>
 *     <player name="ccd" priority="2" device="sim:pi-ccd" host="local">
 *       <setting name="exposure" value="0.1"/>
 *       <setting name="binning" value="4"/>
 *     </player>
 *   </players>
 *
 * `priority` (the original's word) or `level`; setting values are numbers, true/false, JSON ({...} or [...]) or
 * strings.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { ScenarioError } from "./errors.ts";

export interface XmlPlayer {
  player: Record<string, unknown>;
  /** Line of the <player> element (for messages). */
  line: number;
}

function value(v: string): unknown {
  const t = v.trim();
  if (t === "true") return true;
  if (t === "false") return false;
  if (t !== "" && !Number.isNaN(Number(t))) return Number(t);
  if (t.startsWith("{") || t.startsWith("[")) {
    try {
      return JSON.parse(t);
    } catch {
      return t;
    }
  }
  return t;
}

export function parsePlayersXml(text: string, file: string): XmlPlayer[] {
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const m = `${file}:${valid.err.line}:${valid.err.col}: XML: ${valid.err.msg}`;
    throw new ScenarioError(m, [m]);
  }
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => n === "player" || n === "setting" || n === "fault", parseAttributeValue: false });
  const doc = parser.parse(text) as Record<string, unknown>;
  const root = doc.players as Record<string, unknown> | undefined;
  if (!root || typeof root !== "object") {
    const m = `${file}:1: XML: the root element must be <players>`;
    throw new ScenarioError(m, [m]);
  }
  // line numbers of each <player ...> start tag, in document order
  const lines: number[] = [];
  text.split("\n").forEach((l, i) => {
    for (const _ of l.matchAll(/<player[\s>/]/g)) lines.push(i + 1);
  });
  const list = (root.player as Array<Record<string, unknown>>) ?? [];
  return list.map((p, i) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p)) {
      if (k === "setting" || k === "fault" || k === "#text") continue;
      if (k === "priority" || k === "level") out.level = value(String(v));
      else out[k] = String(v);
    }
    const settings: Record<string, unknown> = {};
    for (const s of (p.setting as Array<Record<string, unknown>>) ?? []) {
      const n = s.name;
      if (typeof n !== "string") {
        const m = `${file}:${lines[i] ?? 1}: player #${i + 1}: every <setting> needs a name attribute`;
        throw new ScenarioError(m, [m]);
      }
      settings[n] = value(String(s.value ?? s["#text"] ?? ""));
    }
    if (Object.keys(settings).length) out.settings = settings;
    return { player: out, line: lines[i] ?? 1 };
  });
}

/**
 * `donki ctl status` for a human: the Director's state (with why it is paused), the run's trigger and level, and
 * one row per player. `--json` prints the DirectorStatus itself (docs/protocol.md) for scripts.
 */
import type { DirectorStatus } from "../../protocol/messages.ts";
import { fmtSeconds } from "./progress.ts";

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n");
}

function ago(ms: number): string {
  return ms < 1000 ? `${ms} ms ago` : `${fmtSeconds(ms / 1000)} ago`;
}

export function formatDirectorStatus(st: DirectorStatus): string {
  const lines: string[] = [];
  lines.push(`state:     ${st.state.toUpperCase()}${st.pausedBecause ? ` (${st.pausedBecause})` : ""}`);
  if (st.run) {
    const trig = st.trig !== undefined ? `trigger ${st.trig}${st.triggers != null ? ` of ${st.triggers}` : ""}${st.lvl !== undefined ? `, level ${st.lvl}` : ""}` : "no trigger yet";
    lines.push(`run:       ${st.run}  ${trig}`);
    const levels = st.levelSimS?.length ? `  (levels ${st.levelSimS.map((s, i) => `${i}: ${fmtSeconds(s)}`).join(", ")})` : "";
    lines.push(`time:      ${fmtSeconds(st.simTime)} of instrument time${levels}`);
  }
  if (st.insecure) lines.push("security:  INSECURE: bound to a non-loopback address without CURVE");
  const players = [...st.players].sort((a, b) => a.level - b.level || a.name.localeCompare(b.name));
  if (players.length) {
    lines.push(`players:   ${players.filter((p) => p.alive).length} alive of ${players.length}${st.playersNotListed ? ` (+${st.playersNotListed} dead not listed)` : ""}`);
    const rows = [["  name", "level", "state", "last heard", "host", "pid"]];
    for (const p of players) rows.push([`  ${p.name}`, String(p.level), !p.alive ? "LOST" : !p.enabled ? "disabled" : "ok", ago(p.lastSeenMs), p.host, String(p.pid)]);
    lines.push(table(rows));
  } else lines.push("players:   none registered");
  const counters = Object.entries(st.counters).filter(([, v]) => v > 0);
  if (counters.length) lines.push(`counters:  ${counters.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  if (st.memory) lines.push(`memory:    ${st.memory.rssMB} MiB resident, ${st.memory.heapUsedMB} MiB heap`);
  return lines.join("\n");
}

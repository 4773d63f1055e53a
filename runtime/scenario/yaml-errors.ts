/**
 * A YAML syntax error as the operator needs it: file:line:col, the reason, the lines around it with a caret, and a
 * hint when it is the usual indentation slip.
 */
import type { YAMLError } from "yaml";

const INDENTATION = new Set(["BAD_INDENT", "BLOCK_AS_IMPLICIT_KEY", "MULTILINE_IMPLICIT_KEY", "MISSING_CHAR", "UNEXPECTED_TOKEN", "TAB_AS_INDENT"]);

export function yamlSyntaxProblem(file: string, e: YAMLError, more: number): string {
  const p = e.linePos?.[0];
  // yaml's message: "REASON at line L, column C:\n\nSNIPPET\n   ^\n"
  const [head, ...rest] = e.message.split("\n");
  const reason = head.replace(/ at line \d+, column \d+:?$/, "");
  const snippet = rest.filter((l, i) => l.trim() !== "" || (i > 0 && i < rest.length - 1 && rest.slice(i).some((x) => x.trim())));
  const hint = INDENTATION.has(e.code) ? " (check the indentation: items of one list, or keys of one map, start in the same column; use spaces, not tabs)" : "";
  const lines = [`${file}:${p?.line ?? 1}:${p?.col ?? 1}: YAML syntax: ${reason}${hint}`];
  for (const l of snippet) lines.push(`    | ${l}`);
  if (more > 0) lines.push(`  (${more} more YAML error${more > 1 ? "s" : ""} after this one, most likely caused by it: fix this one first)`);
  return lines.join("\n");
}

/**
 * zod issues as located problems a user can act on: a path and one message, with "did you mean" for unknown keys
 * (the known keys are read from the schema at that path) and the allowed forms for a union that did not match.
 */
import type { z } from "zod";
import { didYouMean } from "./suggest.ts";

export interface Problem {
  /** Where, inside the validated value (for an unknown key: the key itself). */
  path: Array<string | number>;
  message: string;
  /** The problem is the key itself (an unknown key): locate the key, not its value. */
  key?: boolean;
}

type AnySchema = z.core.$ZodType;
const defOf = (s: AnySchema) => (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;

/** The schemas a path may reach (several through unions). */
function schemasAt(schema: AnySchema, path: ReadonlyArray<PropertyKey>): AnySchema[] {
  let cur: AnySchema[] = [schema];
  const unwrap = (s: AnySchema): AnySchema[] => {
    const d = defOf(s);
    switch (d.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
      case "nonoptional":
        return unwrap(d.innerType as AnySchema);
      case "pipe":
        return unwrap(d.in as AnySchema);
      case "union":
        return (d.options as AnySchema[]).flatMap(unwrap);
      default:
        return [s];
    }
  };
  cur = cur.flatMap(unwrap);
  for (const key of path) {
    const next: AnySchema[] = [];
    for (const s of cur) {
      const d = defOf(s);
      if (d.type === "object") {
        const child = (d.shape as Record<string, AnySchema>)[String(key)];
        if (child) next.push(child);
      } else if (d.type === "record") next.push(d.valueType as AnySchema);
      else if (d.type === "array") next.push(d.element as AnySchema);
      else if (d.type === "tuple" && typeof key === "number") {
        const it = (d.items as AnySchema[])[key];
        if (it) next.push(it);
      }
    }
    cur = next.flatMap(unwrap);
  }
  return cur;
}

/** The keys an object at `path` may have (empty when the schema there is not an object). */
export function knownKeys(schema: AnySchema, path: ReadonlyArray<PropertyKey>): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(schema, path)) {
    const d = defOf(s);
    if (d.type === "object") for (const k of Object.keys(d.shape as object)) keys.add(k);
  }
  return [...keys];
}

const show = (v: unknown) => (typeof v === "string" ? `'${v}'` : JSON.stringify(v));

/** One issue as a problem; `value` is the validated input (to show what was given). */
export function issueProblem(schema: AnySchema, i: z.core.$ZodIssue, value: unknown, noun = "setting"): Problem {
  const path = i.path.map((p) => (typeof p === "symbol" ? String(p) : p)) as Array<string | number>;
  if (i.code === "unrecognized_keys") {
    const known = knownKeys(schema, path);
    const key = i.keys[0];
    const more = i.keys.length > 1 ? ` (also ${i.keys.slice(1).map((k) => `'${k}'`).join(", ")})` : "";
    const hint = didYouMean(key, known);
    return { path: [...path, key], key: true, message: `unknown ${noun} '${key}'${hint}${more}${hint ? "" : known.length ? `; known: ${known.join(", ")}` : ""}` };
  }
  let given: unknown = value;
  for (const p of path) given = given !== null && typeof given === "object" ? (given as Record<string | number, unknown>)[p] : undefined;
  if (i.code === "invalid_type") {
    if (given === undefined) return { path, message: `is required (${i.message.replace(/^Invalid input: /, "")})` };
    return { path, message: `${i.message.replace(/^Invalid input: /, "").replace(/, received \w+$/, "")}, got ${show(given)}` };
  }
  if (i.code === "invalid_value") return { path, message: `must be ${i.values.map((v) => show(v)).join(", ").replace(/, ([^,]*)$/, " or $1")}, got ${show(given)}` };
  if (i.code === "invalid_union") return { path, message: `${i.message === "Invalid input" ? "none of the allowed forms matches" : i.message}, got ${show(given)}` };
  if (i.code === "too_small" || i.code === "too_big" || i.code === "not_multiple_of" || i.code === "invalid_format")
    return { path, message: `${i.message.replace(/^Too (small|big): expected number to be /, "must be ").replace(/^Invalid input: /, "")}, got ${show(given)}` };
  return { path, message: i.message };
}

/** Validate `value` against `schema`: [] when it passes. */
export function schemaProblems(schema: z.ZodType, value: unknown, noun = "setting"): Problem[] {
  const r = schema.safeParse(value);
  if (r.success) return [];
  return r.error.issues.map((i) => issueProblem(schema, i, value, noun));
}

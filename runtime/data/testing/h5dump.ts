/** Test helpers: run Debian's h5dump and pick values out of its text output. */
import { spawnSync } from "node:child_process";

export function h5dump(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync("h5dump", args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** `h5dump -A -d PATH FILE`: numbers of the DATA block of the dataset (strings are returned quoted). */
export function dumpData(file: string, dsPath: string): string[] {
  const r = h5dump(["-d", dsPath, file]);
  if (r.code !== 0) throw new Error(`h5dump -d ${dsPath} ${file} failed (${r.code}): ${r.err}`);
  const start = r.out.indexOf("DATA {");
  const end = r.out.indexOf("}", start);
  const body = r.out.slice(start + 6, end);
  return body
    .split("\n")
    .map((l) => l.replace(/^\s*\([\d,]+\):\s*/, "").trim())
    .join(" ")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Value of an attribute as h5dump prints it (`h5dump -a PATH@attr` style, via -A on the object). */
export function dumpAttr(file: string, objPath: string, attr: string): string {
  const r = h5dump(["-a", `${objPath}/${attr}`, file]);
  if (r.code !== 0) throw new Error(`h5dump -a ${objPath}/${attr} ${file} failed (${r.code}): ${r.err}`);
  const m = /DATA \{\s*\(0\): ([^\n]*)/.exec(r.out);
  if (!m) throw new Error(`no DATA in h5dump output: ${r.out}`);
  return m[1]!.trim();
}

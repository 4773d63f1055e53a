/**
 * Cost of the run documents (runtime/events/) at the trigger rate: the same Director and player processes, runs
 * interleaved with a plain sink and with the document tap in front of it (documents published on the event
 * stream, a subscriber connected). Prints triggers/s of both (medians of interleaved rounds) and their ratio.
 *   node --import tsx bench/documents.ts [--triggers N] [--rounds N]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Director } from "../runtime/director/director.ts";
import type { DataSink } from "../runtime/director/sink.ts";
import { DocumentSink } from "../runtime/events/documents.ts";
import { EventFollower } from "../runtime/events/follow.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

function nullSink(): DataSink {
  return { open: async () => {}, addStream() {}, accept() {}, noteTrigger() {}, hasCapacity: () => true, whenCapacity: async () => {}, missing: () => 0, close: async () => ({}) };
}

export async function benchDocuments(o: { triggers: number; rounds: number; players?: number }): Promise<{ plainPerS: number; documentsPerS: number; ratio: number; pages: number; docsPerS: number }> {
  const d = new Director();
  const ep = await d.start();
  const n = o.players ?? 3;
  const procs: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    procs.push(spawn(process.execPath, [join(ROOT, "bin/donki.mjs"), "player", "--name", `p${i}`, "--level", "0", "--director", ep.player, "--script", join(HERE, "spectrum-player.ts")], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DONKI_LOG: "warn" } }));
  }
  await d.waitForPlayers(procs.map((_, i) => `p${i}`), 30_000);
  let docs = 0;
  let pages = 0;
  const sub = new EventFollower(ep.events, (m) => {
    if (m.topic !== "doc") return;
    docs++;
    if (m.body.name === "event_page") pages++;
  });
  const once = async (withDocs: boolean): Promise<number> => {
    const inner = nullSink();
    const sink = withDocs ? new DocumentSink(inner, { publish: (name, doc) => d.publish("doc", { name, doc }), director: d, describeRun: () => ({ scan: 1, scenario: "bench", title: "bench", file: null }) }) : inner;
    const warm = Math.floor(o.triggers / 5);
    let tWarm = 0;
    let tEnd = 0;
    const r = await d.run({ triggers: o.triggers, require: procs.map((_, i) => `p${i}`), sink, onTrigger: (t) => {
      if (t === warm) tWarm = performance.now();
      if (t === o.triggers) tEnd = performance.now();
    } });
    if (r.status !== "completed") throw new Error(`bench run: ${r.status} ${r.message ?? ""}`);
    return (o.triggers - warm) / ((tEnd - tWarm) / 1000);
  };
  const plain: number[] = [];
  const withDocs: number[] = [];
  let wallDocs = 0;
  await once(false); // warm-up
  for (let i = 0; i < o.rounds; i++) {
    // alternate which goes first so drift on a shared machine hits both
    if (i % 2 === 0) plain.push(await once(false));
    const t0 = performance.now();
    withDocs.push(await once(true));
    wallDocs += performance.now() - t0;
    if (i % 2 === 1) plain.push(await once(false));
  }
  sub.close();
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => new Promise((res) => (p.exitCode !== null ? res(null) : p.on("exit", res)))));
  await d.close();
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const plainPerS = med(plain);
  const documentsPerS = med(withDocs);
  return { plainPerS, documentsPerS, ratio: documentsPerS / plainPerS, pages, docsPerS: docs / (wallDocs / 1000) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (k: string, dflt: number) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await benchDocuments({ triggers: arg("--triggers", 5000), rounds: arg("--rounds", 5) });
  console.log(`3 players x (4 scalars + 2048-bin spectrum) per trigger, level 0: plain sink ${r.plainPerS.toFixed(0)} triggers/s, with run documents ${r.documentsPerS.toFixed(0)} triggers/s: ratio ${r.ratio.toFixed(3)} (${r.docsPerS.toFixed(1)} documents/s on the stream)`);
}

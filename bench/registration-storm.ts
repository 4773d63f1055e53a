/**
 * A storm of registrations against an idle `donki director` (names not in its scenario, with and without the run
 * token, over 500 connections, from the pyzmq peer test/fixtures/rogue.py): the Director's resident set, JavaScript
 * heap and status reply before and after, and the status round trip after the storm relative to before (same run).
 *   node --import tsx bench/registration-storm.ts [registrations]
 */
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ControlClient } from "../runtime/control/client.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

async function statusLatency(c: ControlClient, n = 200): Promise<{ medianMs: number; bytes: number }> {
  const t: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await c.request("status");
    t.push(performance.now() - t0);
    bytes = JSON.stringify(r).length;
  }
  t.sort((a, b) => a - b);
  return { medianMs: t[Math.floor(n / 2)], bytes };
}

export async function benchRegistrationStorm(o: { registrations: number }) {
  const out = mkdtempSync(join(tmpdir(), "donki-bench-storm-"));
  const d = spawn(process.execPath, [join(ROOT, "bin/donki.mjs"), "director", "test/fixtures/scenarios/slow-scan.yaml", "--port", "0", "--control-port", "0", "--event-port", "0", "--out", out, "--no-progress", "--wait", "600"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  d.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  try {
    for (let i = 0; i < 600 && !/players -> /.test(err); i++) await new Promise((r) => setTimeout(r, 50));
    const m = /players -> (\S+)\s+control -> (\S+)/.exec(err);
    if (!m) throw new Error(`the Director did not start: ${err}`);
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.pid}/status`, "utf8"))![1]) / 1024;
    const c = new ControlClient(m[2]);
    const before = await statusLatency(c);
    const heap0 = (await c.status()).memory!.heapUsedMB;
    const rss0 = rss();
    const t0 = performance.now();
    const { stdout } = await promisify(execFile)("/usr/bin/python3", [join(ROOT, "test/fixtures/rogue.py"), m[1], "storm", String(o.registrations), "500", "{}"], { timeout: 300_000 });
    const stormS = (performance.now() - t0) / 1000;
    const rss1 = rss();
    const after = await statusLatency(c);
    const st = await c.status();
    c.close();
    const r = {
      registrations: o.registrations,
      replies: JSON.parse(stdout),
      stormS,
      rssMB: [rss0, rss1],
      heapUsedMB: [heap0, st.memory!.heapUsedMB],
      statusBytes: [before.bytes, after.bytes],
      statusMs: [before.medianMs, after.medianMs],
      statusLatencyRatio: after.medianMs / before.medianMs,
      counters: st.counters,
    };
    console.log(
      `${o.registrations} registrations over 500 connections in ${stormS.toFixed(1)} s: RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MB, JS heap ${heap0} -> ${st.memory!.heapUsedMB} MB, ` +
        `status reply ${before.bytes} -> ${after.bytes} bytes, status round trip ${before.medianMs.toFixed(2)} -> ${after.medianMs.toFixed(2)} ms (after/before ${r.statusLatencyRatio.toFixed(2)})`,
    );
    return r;
  } finally {
    d.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRegistrationStorm({ registrations: Number(process.argv[2] ?? 20_000) });

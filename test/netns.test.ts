/**
 * Separate hosts with Linux network namespaces: the Director on one "host", its players on another, joined by a
 * veth link. The link is cut mid-scan for longer than the heartbeat timeout: the Director pauses (players lost),
 * and when the link comes back the same player processes are recognised and the scan completes, nothing skipped.
 * Needs root and iproute2 (CI runs as root); skipped with the reason printed otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readRunSummary } from "../runtime/data/reader.ts";
import { DONKI, ROOT, tempDir, until } from "./helpers/procs.ts";

const tag = String(process.pid % 10000);
const H1 = `donki-h1-${tag}`;
const H2 = `donki-h2-${tag}`;
const VA = `dka${tag}`;
const VB = `dkb${tag}`;
const NET = `10.213.${(process.pid % 250) + 1}`;
const A = `${NET}.1`;
const B = `${NET}.2`;

function ip(...args: string[]) {
  execFileSync("ip", args, { stdio: "pipe" });
}

let reason: string | null = null;
beforeAll(() => {
  try {
    ip("netns", "add", H1);
    ip("netns", "add", H2);
    ip("link", "add", VA, "type", "veth", "peer", "name", VB);
    ip("link", "set", VA, "netns", H1);
    ip("link", "set", VB, "netns", H2);
    ip("-n", H1, "addr", "add", `${A}/30`, "dev", VA);
    ip("-n", H2, "addr", "add", `${B}/30`, "dev", VB);
    for (const [ns, dev] of [[H1, VA], [H2, VB]]) {
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "link", "set", dev, "up");
    }
  } catch (e) {
    reason = `network namespaces not available here (${(e as Error).message.split("\n")[0]})`;
    process.stderr.write(`netns test skipped: ${reason}\n`);
  }
});

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  spawnSync("ip", ["netns", "del", H1]);
  spawnSync("ip", ["netns", "del", H2]);
});

function inNs(ns: string, args: string[]): ChildProcess & { out: string[]; err: string[] } {
  const c = spawn("ip", ["netns", "exec", ns, process.execPath, DONKI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DONKI_LOG: "warn" } }) as ChildProcess & { out: string[]; err: string[] };
  c.out = [];
  c.err = [];
  c.stdout!.on("data", (b: Buffer) => c.out.push(b.toString()));
  c.stderr!.on("data", (b: Buffer) => c.err.push(b.toString()));
  children.push(c);
  return c;
}

describe("players on another host (network namespaces)", () => {
  it("a network cut longer than the heartbeat timeout pauses the scan; when the link is back the same players resume it", async (ctx) => {
    if (reason) ctx.skip();
    const out = tempDir();
    const sc = join(out, "remote.yaml");
    writeFileSync(
      sc,
      `title: remote players across a veth link
heartbeat: { interval: 200, timeout: 1000 }
players:
  - { name: stage, level: 0, device: sim:pi-stage, host: ${H2} }
  - { name: io, level: 1, device: sim:io, host: ${H2} }
sequence:
  raster: { x: { start: 10, stop: 90, points: 20 }, y: { start: 10, stop: 90, points: 15 } }
  dwell: 0.1
output: { directory: out, prefix: remote, flushEveryTriggers: 20 }
`,
    );
    // a non-loopback address without CURVE: refused (exit 2) unless --insecure, which warns
    const refused = inNs(H1, ["director", sc, "--bind", A, "--port", "5570", "--control-port", "5571", "--event-port", "5572", "--out", out, "--no-progress"]);
    expect(await new Promise((res) => refused.on("exit", res))).toBe(2);
    expect(refused.err.join("")).toMatch(/needs CURVE/);
    const d = inNs(H1, ["director", sc, "--bind", A, "--insecure", "--port", "5570", "--control-port", "5571", "--event-port", "5572", "--out", out, "--no-progress", "--json", "--wait", "60"]);
    const exited = new Promise<number | null>((res) => d.on("exit", res));
    const tokenFile = join(out, "donki-run.token"); // the hosts share this file system: the token file is the credential
    await until(() => existsSync(tokenFile), 30_000, "the run token file");
    for (const [name, level, device] of [["stage", "0", "sim:pi-stage"], ["io", "1", "sim:io"]])
      inNs(H2, ["player", "--name", name, "--level", level, "--director", `tcp://${A}:5570`, "--device", device, "--time", "scale:0.2", "--hb-interval", "200", "--hb-timeout", "1000", "--token-file", tokenFile]);
    await until(() => readdirSync(out).some((f) => f.endsWith(".nxs")), 60_000, "the scan to start");
    await new Promise((r) => setTimeout(r, 1000));
    ip("-n", H2, "link", "set", VB, "down"); // cut the network between the hosts
    await new Promise((r) => setTimeout(r, 2500));
    ip("-n", H2, "link", "set", VB, "up");
    expect(await exited).toBe(0);
    const rep = JSON.parse(d.out.join(""));
    expect(d.err.join("")).toMatch(/player lost \(heartbeat timeout\)/); // the Director's log saw the cut
    expect(d.err.join("")).toMatch(/WARNING: INSECURE/);
    expect(rep.result.status).toBe("completed");
    expect(rep.result.triggers).toBe(300);
    expect(rep.result.faults.some((f: { kind: string; action: string }) => f.kind === "lost" && f.action === "pause")).toBe(true);
    const s = await readRunSummary(rep.file);
    expect(s.perStream.every((p) => p.complete)).toBe(true);
  });
});

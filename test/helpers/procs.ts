/** Start real donki processes for integration tests and clean them up. */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";

export const ROOT = resolve(import.meta.dirname, "../..");
export const DONKI = join(ROOT, "bin/donki.mjs");
export const FIXTURES = join(ROOT, "test/fixtures");

export interface Proc {
  child: ChildProcess;
  out: string[];
  err: string[];
  exited: Promise<number | null>;
  /** Resolves when stdout has printed a line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(sig?: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();

export function startProcess(args: string[], env: Record<string, string> = {}): Proc {
  return startExecutable(process.execPath, [DONKI, ...args], env);
}

/** Any program (e.g. a Python player), with the same bookkeeping and clean-up as startProcess. */
export function startExecutable(command: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, DONKI_LOG: process.env.DONKI_TEST_LOG ?? "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const out: string[] = [];
  const err: string[] = [];
  let waiters: Array<() => void> = [];
  const feed = (arr: string[]) => (b: Buffer) => {
    arr.push(...b.toString().split("\n").filter(Boolean));
    for (const w of waiters) w();
  };
  child.stdout!.on("data", feed(out));
  child.stderr!.on("data", feed(err));
  const exited = new Promise<number | null>((res) =>
    child.on("exit", (code) => {
      live.delete(child);
      for (const w of waiters) w();
      res(code);
    }),
  );
  return {
    child,
    out,
    err,
    exited,
    kill: (sig = "SIGTERM") => {
      child.kill(sig);
    },
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((res, rej) => {
        const check = () => {
          const hit = out.find((l) => re.test(l));
          if (hit) {
            waiters = waiters.filter((w) => w !== check);
            clearTimeout(t);
            res(hit);
          } else if (child.exitCode !== null) {
            waiters = waiters.filter((w) => w !== check);
            clearTimeout(t);
            rej(new Error(`process exited (${child.exitCode}) before printing ${re}: ${err.join("\n")}`));
          }
        };
        const t = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          rej(new Error(`timeout waiting for ${re}; stdout: ${out.join("\n")}; stderr: ${err.join("\n")}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}

export interface PlayerSpec {
  name: string;
  level: number;
  director: string;
  opts?: Record<string, string | number>;
  extra?: string[];
  script?: string;
}

/** A recording test player as a separate process; resolves once it is registered. */
export async function startPlayer(p: PlayerSpec): Promise<Proc> {
  const args = ["player", "--name", p.name, "--level", String(p.level), "--director", p.director, "--script", p.script ?? join(FIXTURES, "recording-player.ts")];
  for (const [k, v] of Object.entries(p.opts ?? {})) args.push("-o", `${k}=${v}`);
  args.push(...(p.extra ?? []));
  const proc = startProcess(args);
  await proc.waitFor(/registered/);
  return proc;
}

export function killAll(): void {
  for (const c of live) c.kill("SIGKILL");
  live.clear();
}

/** Kill every process still running and wait (bounded) until each has exited. */
export async function killAllAndWait(timeoutMs = 5000): Promise<void> {
  const running = [...live].filter((c) => c.exitCode === null && c.signalCode === null);
  const gone = running.map((c) => new Promise<void>((res) => (c.exitCode !== null || c.signalCode !== null ? res() : c.once("exit", () => res()))));
  killAll();
  await Promise.race([Promise.all(gone), sleep(timeoutMs)]);
}

const tempDirs = new Set<string>();

/** A fresh directory under the OS temp dir, removed after the test file (test/helpers/setup.ts). */
export function tempDir(prefix = "donki-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Remove every directory `tempDir` created in this test file. */
export function removeTempDirs(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  tempDirs.clear();
}

export interface LogLine {
  player: string;
  event: string;
  trig: number;
  lvl: number;
  rest: string;
}

/** Parse the recording players' shared log. */
export function readLog(path: string): LogLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [player, event, a, b, ...rest] = l.split(" ");
      return { player, event, trig: Number(a), lvl: Number(b), rest: rest.join(" ") };
    });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `cond` until true or timeout (a bounded wait with a reason). */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/**
 * The endpoints a `donki run` started with DONKI_SHOW_ENDPOINTS=1 reports on stderr (ports it chose itself, so no
 * race with other tests for a port picked in advance). Rejects if the process exits first.
 */
export async function reportedEndpoints(p: Proc, timeoutMs = 60_000): Promise<{ player: string; control: string; events: string }> {
  const re = /players -> (\S+)\s+control -> (\S+)\s+events -> (\S+)/;
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = p.err.map((l) => re.exec(l)).find(Boolean);
    if (hit) return { player: hit[1], control: hit[2], events: hit[3] };
    if (p.child.exitCode !== null) throw new Error(`donki exited (${p.child.exitCode}) before reporting its endpoints: ${p.err.join("\n")}`);
    if (Date.now() > end) throw new Error(`no endpoints reported within ${timeoutMs} ms: ${p.err.join("\n")}`);
    await sleep(20);
  }
}

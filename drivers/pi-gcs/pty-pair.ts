/** Test helper: a real pseudo-terminal pair made by socat (`socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`). */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function hasSocat(): boolean {
  return spawnSync("socat", ["-V"], { stdio: "ignore" }).status === 0;
}

export interface PtyPair {
  a: string;
  b: string;
  proc: ChildProcess;
  close(): Promise<void>;
}

export async function makePtyPair(timeoutMs = 5000): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), "donki-pty-"));
  const a = join(dir, "A");
  const b = join(dir, "B");
  const proc = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`socat did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    proc.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes("starting data transfer loop") && existsSync(a) && existsSync(b)) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (c) => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${c}): ${stderr}`));
    });
  });
  proc.stderr!.resume();
  return {
    a,
    b,
    proc,
    close: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise<void>((r) => proc.once("exit", () => r()));
        proc.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Frames through the whole data path: a player process pushes 1300x1340 uint16 frames (3.5 MB) over ZeroMQ to the
 * Director, which writes them to a NeXus/HDF5 file (writer worker, back-pressure). In the same run, the same bytes
 * are written with plain sequential fs.writeSync to the same directory. Prints MB/s of both, the ratio, and the
 * Director process's RSS over the run (it must not grow with the number of frames).
 *   node --import tsx bench/frames.ts [--frames 500]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { join, dirname } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Director } from "../runtime/director/director.ts";
import { NexusSink } from "../runtime/data/nexus-sink.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const MB = 1e6;

export interface FramesBenchResult {
  frames: number;
  frameMB: number;
  pipeline: { seconds: number; mbPerS: number; framesPerS: number };
  writeSync: { seconds: number; mbPerS: number };
  ratio: number;
  rssMB: { start: number; quarter: number; half: number; end: number; peak: number };
}

function writeSyncRate(dir: string, frames: number, bytes: number): { seconds: number; mbPerS: number } {
  const p = join(dir, "raw.bin");
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 255;
  const fd = fs.openSync(p, "w");
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) {
    buf[0] = i & 255;
    fs.writeSync(fd, buf, 0, buf.length);
  }
  fs.closeSync(fd);
  const s = (performance.now() - t0) / 1000;
  fs.rmSync(p);
  return { seconds: s, mbPerS: (frames * bytes) / MB / s };
}

export async function benchFrames(opts: { frames?: number; log?: (s: string) => void } = {}): Promise<FramesBenchResult> {
  const N = opts.frames ?? 500;
  const log = opts.log ?? console.log;
  const dir = fs.mkdtempSync(join(os.tmpdir(), "donki-bench-frames-"));
  const frameBytes = 1300 * 1340 * 2;
  const d = new Director();
  const ep = await d.start();
  const child = spawn(process.execPath, [join(HERE, "../bin/donki.mjs"), "player", "--name", "ccd", "--level", "0", "--director", ep.player, "--script", join(HERE, "frame-player.ts")], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DONKI_LOG: "warn" } });
  try {
    await d.waitForPlayers(["ccd"], 30_000);
    const rss = () => process.memoryUsage().rss / MB;
    const marks = { start: rss(), quarter: 0, half: 0, end: 0, peak: 0 };
    const sampler = setInterval(() => (marks.peak = Math.max(marks.peak, rss())), 50);
    const sink = new NexusSink({ dir, prefix: "frames", run: { title: "frame benchmark", program: "donki", version: "bench", metadata: {} }, flushEveryTriggers: 100, queue: { maxBytes: 64 * 1024 * 1024 } });
    let t0 = 0;
    const r = await d.run({
      triggers: N,
      require: ["ccd"],
      sink,
      onTrigger: (t) => {
        if (t === 1) t0 = performance.now();
        if (t === Math.floor(N / 4)) marks.quarter = rss();
        if (t === Math.floor(N / 2)) marks.half = rss();
      },
    });
    const seconds = (performance.now() - t0) / 1000; // includes draining the queue and closing the file
    marks.end = rss();
    clearInterval(sampler);
    if (r.status !== "completed") throw new Error(`frames benchmark run: ${r.status} ${r.message ?? ""}`);
    const bytes = (N - 1) * frameBytes;
    const pipeline = { seconds, mbPerS: bytes / MB / seconds, framesPerS: (N - 1) / seconds };
    // the reference, after the player and the Director are gone (writeSync blocks this process for seconds)
    child.kill("SIGTERM");
    await d.close();
    const raw = writeSyncRate(dir, N, frameBytes);
    const res: FramesBenchResult = { frames: N, frameMB: frameBytes / MB, pipeline, writeSync: raw, ratio: pipeline.mbPerS / raw.mbPerS, rssMB: marks };
    log(
      `${N} frames of 1300x1340 uint16 (${res.frameMB.toFixed(2)} MB), player process -> ZeroMQ -> Director -> HDF5: ${pipeline.mbPerS.toFixed(0)} MB/s (${pipeline.framesPerS.toFixed(0)} frames/s); ` +
        `fs.writeSync same bytes, same disk: ${raw.mbPerS.toFixed(0)} MB/s; ratio ${res.ratio.toFixed(2)}; ` +
        `Director RSS MB start ${marks.start.toFixed(0)} / 25% ${marks.quarter.toFixed(0)} / 50% ${marks.half.toFixed(0)} / end ${marks.end.toFixed(0)} / peak ${marks.peak.toFixed(0)}`,
    );
    return res;
  } finally {
    child.kill("SIGTERM");
    await d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf("--frames");
  await benchFrames({ frames: i > 0 ? Number(process.argv[i + 1]) : undefined });
}

/**
 * HDF5 frame-writing benchmark: N 1300x1340 uint16 frames through WriterQueue -> NexusWriter (h5wasm), and
 * the same bytes with plain sequential fs.writeSync to the same disk, in the same run.
 *
 *   node --import tsx bench/hdf5-write.ts [--frames N] [--mode worker|inline] [--dir DIR]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { WriterQueue } from "../runtime/data/writer-queue.ts";

export interface BenchHdf5WriteOptions {
  frames?: number;
  height?: number;
  width?: number;
  mode?: "worker" | "inline";
  /** Directory on the disk to measure (default: a fresh temp dir, removed afterwards). */
  dir?: string;
  /** Queue soft limit in bytes (default 64 MiB). */
  maxBytes?: number;
}

export interface BenchHdf5WriteResult {
  frames: number;
  frameBytes: number;
  mode: "worker" | "inline";
  hdf5: { seconds: number; mbPerS: number; fileBytes: number };
  writeSync: { seconds: number; mbPerS: number };
  /** hdf5 MB/s divided by writeSync MB/s. */
  ratio: number;
  peakRssMB: number;
  peakBacklogMB: number;
  /** Longest time the event loop was blocked while writing (ms): what the Director would feel. */
  maxEventLoopBlockMs: number;
}

const MB = 1e6;

export async function benchHdf5Write(opts: BenchHdf5WriteOptions = {}): Promise<BenchHdf5WriteResult> {
  const frames = opts.frames ?? 200;
  const H = opts.height ?? 1300;
  const W = opts.width ?? 1340;
  const mode = opts.mode ?? "worker";
  const own = !opts.dir;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "donki-bench-h5-"));
  fs.mkdirSync(dir, { recursive: true });
  const frameBytes = H * W * 2;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  // event-loop blocking probe
  let maxBlock = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxBlock = Math.max(maxBlock, now - last - 5);
    last = now;
  }, 5);

  const makeFrame = (i: number) => {
    const f = new Uint16Array(H * W);
    f.fill(i & 0xffff);
    f[0] = i;
    return new Uint8Array(f.buffer);
  };

  try {
    // --- h5wasm through the queue
    const q = await WriterQueue.open(
      {
        dir,
        prefix: "bench",
        run: {
          runId: `bench-${Date.now()}`,
          title: "hdf5 write benchmark",
          program: "donki-bench",
          version: "0",
          startTime: new Date(),
          plannedTriggers: frames,
          metadata: {},
        },
        streams: [{ player: "ccd", name: "frame", dtype: "uint16", shape: [H, W], role: "signal" }],
        flushEveryTriggers: 50,
      },
      { mode, maxBytes: opts.maxBytes ?? 64 * 2 ** 20 },
    );
    last = performance.now();
    maxBlock = 0;
    const t0 = performance.now();
    for (let i = 1; i <= frames; i++) {
      q.noteTrigger(i);
      if (!q.push("ccd/frame", i, makeFrame(i))) await q.whenBelow();
      // frames arrive as I/O events (ZeroMQ): give the event loop a turn between them
      await new Promise<void>((r) => setImmediate(r));
    }
    const res = await q.close({ status: "completed", lastTrigger: frames });
    const h5s = (performance.now() - t0) / 1000;
    const fileBytes = fs.statSync(res.path).size;
    const blockH5 = maxBlock;

    // --- plain fs.writeSync, same bytes, same disk
    const raw = path.join(dir, "bench_raw.bin");
    const t1 = performance.now();
    const fd = fs.openSync(raw, "w");
    for (let i = 1; i <= frames; i++) fs.writeSync(fd, makeFrame(i));
    fs.closeSync(fd);
    const rawS = (performance.now() - t1) / 1000;
    fs.rmSync(raw);
    if (own) fs.rmSync(res.path);

    const total = frames * frameBytes;
    const h5 = total / MB / h5s;
    const ws = total / MB / rawS;
    return {
      frames,
      frameBytes,
      mode,
      hdf5: { seconds: h5s, mbPerS: h5, fileBytes },
      writeSync: { seconds: rawS, mbPerS: ws },
      ratio: h5 / ws,
      peakRssMB: Math.max(peakRss, process.memoryUsage().rss) / MB,
      peakBacklogMB: q.peakBacklogBytes / MB,
      maxEventLoopBlockMs: blockH5,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(probe);
    if (own) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const r = await benchHdf5Write({
    frames: arg("frames") ? Number(arg("frames")) : undefined,
    mode: (arg("mode") as "worker" | "inline" | undefined) ?? "worker",
    dir: arg("dir"),
  });
  console.log(`hdf5-write: ${r.frames} frames of ${(r.frameBytes / MB).toFixed(2)} MB, writer in ${r.mode} mode`);
  console.log(`  NexusWriter via WriterQueue  ${r.hdf5.mbPerS.toFixed(0).padStart(6)} MB/s  (${r.hdf5.seconds.toFixed(2)} s)`);
  console.log(`  fs.writeSync                 ${r.writeSync.mbPerS.toFixed(0).padStart(6)} MB/s  (${r.writeSync.seconds.toFixed(2)} s)`);
  console.log(`  ratio hdf5/writeSync         ${r.ratio.toFixed(2)}`);
  console.log(`  peak RSS ${r.peakRssMB.toFixed(0)} MB, peak queue ${r.peakBacklogMB.toFixed(0)} MB, max event-loop block ${r.maxEventLoopBlockMs.toFixed(1)} ms`);
}

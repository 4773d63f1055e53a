/**
 * h5wasm's HDF5 prints its error stacks ("HDF5-DIAG: Error detected in HDF5 ... #000: ...") straight to file
 * descriptor 2, in pieces, through Node's fs.writeSync. A failure below the writer is reported once, as a run
 * error with the reason (write-guard.ts); the stack is kept off stderr. HDF5 prints a whole stack within one
 * synchronous call, so everything written to fd 2 from "HDF5-DIAG" until the end of the current turn of the event
 * loop is the stack. The writer worker installs the same filter in its bootstrap (writer-queue.ts), since each
 * thread has its own fs module. `DONKI_HDF5_DIAG=1` shows the stacks. The last 200 suppressed pieces are kept:
 * `hdf5Diagnostics()`.
 */
import fs from "node:fs";

const KEEP = 200;

export function installHdf5Quiet(): void {
  const g = globalThis as { __donkiHdf5Quiet?: { lines: string[] } };
  if (g.__donkiHdf5Quiet || process.env.DONKI_HDF5_DIAG === "1") return;
  const state = { lines: [] as string[], inStack: false };
  g.__donkiHdf5Quiet = state;
  const f = fs as unknown as { writeSync: (...a: unknown[]) => number };
  const orig = f.writeSync;
  f.writeSync = function (fd: unknown, buf: unknown, ...rest: unknown[]): number {
    if (fd === 2 && (ArrayBuffer.isView(buf) || typeof buf === "string")) {
      // (fd, buffer, offset, length, position): Emscripten passes its whole heap with an offset and a length
      const off = typeof rest[0] === "number" ? rest[0] : 0;
      const len = typeof rest[1] === "number" ? rest[1] : typeof buf === "string" ? 0 : buf.byteLength - off;
      const text = typeof buf === "string" ? buf : Buffer.from(buf.buffer, buf.byteOffset + off, Math.min(len, 64)).toString("utf8");
      if (state.inStack || text.startsWith("HDF5-DIAG")) {
        if (!state.inStack) {
          state.inStack = true;
          setImmediate(() => (state.inStack = false));
        }
        state.lines.push(text);
        if (state.lines.length > KEEP) state.lines.splice(0, state.lines.length - KEEP);
        // report the bytes as written (the caller must not retry)
        return typeof buf === "string" ? Buffer.byteLength(buf) : len;
      }
    }
    return orig.call(this, fd, buf, ...rest);
  };
}

export function hdf5Diagnostics(): string[] {
  return [...((globalThis as { __donkiHdf5Quiet?: { lines: string[] } }).__donkiHdf5Quiet?.lines ?? [])];
}

installHdf5Quiet();

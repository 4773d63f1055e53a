/**
 * h5wasm's HDF5 prints its error stacks ("HDF5-DIAG: Error detected in HDF5 ... #000: ...") through the
 * console.error it captured when it loaded. A failure below the writer is reported once, as a run error with the
 * reason (write-guard.ts); the stack is kept out of stderr. This filter must be installed before h5wasm loads
 * (h5util.ts imports it first; the writer worker installs the same filter in its bootstrap, writer-queue.ts).
 * The suppressed lines are kept (the last 200) for diagnostics: `hdf5Diagnostics()`.
 */

const KEEP = 200;

/** Is `line` part of an HDF5 error stack? `inStack`: the previous line was. */
export function isHdf5DiagLine(line: string, inStack: boolean): boolean {
  if (line.startsWith("HDF5-DIAG")) return true;
  return inStack && (/^\s/.test(line) || line.startsWith(","));
}

export function installHdf5Quiet(): void {
  const g = globalThis as { __donkiHdf5Quiet?: { lines: string[] } };
  if (g.__donkiHdf5Quiet || process.env.DONKI_HDF5_DIAG === "1") return;
  const state = { lines: [] as string[], inStack: false };
  g.__donkiHdf5Quiet = state;
  const orig = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === "string") {
      const line = args[0];
      if (isHdf5DiagLine(line, state.inStack)) {
        state.inStack = true;
        state.lines.push(line);
        if (state.lines.length > KEEP) state.lines.splice(0, state.lines.length - KEEP);
        return;
      }
    }
    state.inStack = false;
    orig(...args);
  };
}

export function hdf5Diagnostics(): string[] {
  return [...((globalThis as { __donkiHdf5Quiet?: { lines: string[] } }).__donkiHdf5Quiet?.lines ?? [])];
}

installHdf5Quiet();

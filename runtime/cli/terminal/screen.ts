/**
 * The operator's screen during `donki run` / `donki director` (stderr; stdout keeps the summary and --json).
 *
 * - tty: a status area redrawn in place at the bottom (log-update); every log line is printed above it, never
 *   through it; close() clears it, so the summary comes after a clean screen.
 * - plain (no terminal: a pipe, a log file, CI): no bar and no cursor movement; one status line every few
 *   seconds while it changes (once a minute while it does not); a state change (PAUSED, STOPPING ...) is told
 *   at once in its own line.
 * - off (--no-progress, --json, -q): log lines only.
 */
import { createLogUpdate } from "log-update";
import type { RunProgress } from "./progress.ts";

export type ScreenMode = "tty" | "plain" | "off";

export interface ScreenOptions {
  mode: ScreenMode;
  progress: RunProgress;
  stream?: NodeJS.WriteStream;
  /** plain: a status line this often, ms (default 5000). */
  plainEveryMs?: number;
  /** tty: redraw this often, ms (default 200). */
  redrawMs?: number;
  /** Called before each redraw / plain line (e.g. to read the Director's status). */
  poll?: () => void;
}

export class OperatorScreen {
  readonly mode: ScreenMode;
  private readonly stream: NodeJS.WriteStream;
  private readonly area: ReturnType<typeof createLogUpdate> | null;
  private timer: NodeJS.Timeout | null = null;
  private lastPlain = "";
  private samePeriods = 0;
  private closed = false;
  private started = false;

  constructor(private readonly o: ScreenOptions) {
    this.mode = o.mode;
    this.stream = o.stream ?? process.stderr;
    this.area = o.mode === "tty" ? createLogUpdate(this.stream) : null;
  }

  /** Start redrawing (tty) or the periodic status line (plain). */
  start(): void {
    if (this.mode === "off" || this.timer || this.closed) return;
    this.started = true;
    const every = this.mode === "tty" ? (this.o.redrawMs ?? 200) : (this.o.plainEveryMs ?? 5000);
    this.timer = setInterval(() => (this.mode === "tty" ? this.redraw() : this.plainLine()), every);
    this.timer.unref();
    if (this.mode === "tty") this.redraw();
  }

  /** A log line, printed above the status area. */
  log(line: string): void {
    if (this.area && this.started && !this.closed) {
      this.area.persist(line.endsWith("\n") ? line : line + "\n");
      this.draw();
    } else this.stream.write(line.endsWith("\n") ? line : line + "\n");
  }

  /** The state changed (pause, resume, stop): the status area shows it at once. */
  changed(): void {
    if (this.closed) return;
    // plain: the change is told by its own log line (Operator.event); the status line follows on its period
    if (this.mode === "tty") this.redraw();
  }

  /** Clear the status area (the summary follows on a clean screen). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.area) {
      this.area.clear();
      this.area.done();
    }
  }

  private redraw(): void {
    if (this.closed) return;
    this.o.poll?.();
    this.draw();
  }

  private draw(): void {
    if (!this.area || !this.started || this.closed) return;
    this.area(this.o.progress.lines(this.stream.columns ?? 80).join("\n"));
  }

  private plainLine(): void {
    this.o.poll?.();
    const line = this.o.progress.line();
    // a line identical to the last one is repeated only every 12th period (a long pause: about once a minute)
    if (line === this.lastPlain && ++this.samePeriods % 12 !== 0) return;
    if (line !== this.lastPlain) this.samePeriods = 0;
    this.lastPlain = line;
    this.stream.write(line + "\n");
  }
}

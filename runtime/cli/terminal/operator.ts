/**
 * The operator's side of `donki run` / `donki director`: one place where the Director's logs, the local players'
 * logs and the CLI's own messages meet the status area. Everything goes through the screen (printed above the
 * status area, never through it), in the chosen format (pretty: local time and one human line; json: pino's lines
 * for scripts), at the chosen level (-q errors only, default warnings, -v info, -vv debug; DONKI_LOG when neither),
 * and, with --log-file, also as JSON lines into that file.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { createLogger, type Logger } from "../../log.ts";
import { LEVEL_VALUES, parseRecord, prettyRecord, type LogFormat } from "../../log-format.ts";
import type { DirectorStatus } from "../../protocol/messages.ts";
import { RunProgress, type ProgressPlan } from "./progress.ts";
import { OperatorScreen, type ScreenMode } from "./screen.ts";

export interface OperatorOptions {
  logFormat?: LogFormat;
  quiet?: boolean;
  /** -v once: info; twice: debug. */
  verbose?: number;
  logFile?: string;
  /** false: no status area (--no-progress). */
  progress?: boolean;
  /** --json report on stdout: no status area. */
  json?: boolean;
  /** Where the screen writes (default stderr) and whether it is a terminal (default: its isTTY). */
  stream?: NodeJS.WriteStream;
  tty?: boolean;
  /** plain mode: a status line this often, ms. */
  plainEveryMs?: number;
  /** The keys p / r / s / a work (stdin is a terminal): the pause says which to press, else which ctl command. */
  keys?: boolean;
}

/** The log level the options ask for: -q error, -v info, -vv debug, else DONKI_LOG, else warn. */
export function logLevelOf(o: Pick<OperatorOptions, "quiet" | "verbose">): string {
  if (o.quiet) return "error";
  if (o.verbose && o.verbose >= 2) return "debug";
  if (o.verbose === 1) return "info";
  return process.env.DONKI_LOG ?? "warn";
}

export class Operator {
  readonly log: Logger;
  readonly level: string;
  /** What the logger and the local players log: the screen's level, or info when a log file keeps more. */
  readonly recordLevel: string;
  readonly format: LogFormat;
  readonly progress = new RunProgress();
  readonly screen: OperatorScreen;
  private fd: number | null;
  private statusOf: (() => DirectorStatus) | null = null;

  constructor(private readonly o: OperatorOptions) {
    this.level = logLevelOf(o);
    if (!(this.level in LEVEL_VALUES)) throw new Error(`DONKI_LOG must be one of ${Object.keys(LEVEL_VALUES).join(", ")}, got '${this.level}'`);
    this.format = o.logFormat ?? "pretty";
    const stream = o.stream ?? process.stderr;
    // a terminal of no size (a pty nobody sized) gets the plain lines: the status area needs a width
    const tty = o.tty ?? Boolean(stream.isTTY && stream.columns > 0);
    const mode: ScreenMode = o.progress === false || o.json || o.quiet ? "off" : tty ? "tty" : "plain";
    try {
      this.fd = o.logFile ? openSync(o.logFile, "a") : null;
    } catch (e) {
      throw new Error(`--log-file ${o.logFile}: cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    this.progress.keys = o.keys ?? false;
    this.screen = new OperatorScreen({ mode, progress: this.progress, stream, plainEveryMs: o.plainEveryMs, poll: () => this.poll() });
    this.recordLevel = this.fd !== null && LEVEL_VALUES[this.level]! > LEVEL_VALUES.info! ? "info" : this.level;
    this.log = createLogger("donki", this.recordLevel, { format: "json", write: (line) => this.record(line) });
  }

  /** A message of the CLI to the operator ("donki: ..."), above the status area; kept in the log file too. */
  say(msg: string, level: "info" | "warn" | "error" = "warn"): void {
    if (this.fd !== null) this.toFile(JSON.stringify({ level: LEVEL_VALUES[level], time: Date.now(), name: "donki", msg }));
    if (this.o.quiet && level !== "error") return;
    this.screen.log(`donki: ${msg}`);
  }

  /** One line a local player wrote on its stderr (pino JSON, or plain text such as a Python traceback). */
  playerLine(name: string, line: string): void {
    const rec = parseRecord(line);
    if (rec) return this.record(line, name, rec);
    if (this.fd !== null) this.toFile(JSON.stringify({ level: 40, time: Date.now(), name: `player:${name}`, msg: line }));
    this.screen.log(`[${name}] ${line}`);
  }

  /** The Director is up and waits for its players: the status area says so until the run is planned. */
  waiting(): void {
    this.progress.setState("starting", "waiting for the players to register");
    this.screen.start();
  }

  /** The run is planned: what the status area counts against. */
  plan(p: ProgressPlan, statusOf?: () => DirectorStatus): void {
    this.progress.start(p);
    this.statusOf = statusOf ?? null;
    this.screen.start();
  }

  /** An event of the Director (onEvent): state changes and faults show at once. */
  event(topic: string, body: Record<string, unknown>): void {
    if (topic === "fault" && typeof body.player === "string") this.progress.onFault(body.player, `${String(body.kind)}: ${String(body.message)}`);
    // idle: the run has ended; the status area keeps its last state until the summary replaces it
    if (topic !== "state" || typeof body.state !== "string" || body.state === "idle") return;
    const before = this.progress.state;
    const reason = typeof body.reason === "string" ? body.reason : undefined;
    this.progress.setState(body.state, reason);
    if (body.state === "paused") this.say(`PAUSED: ${this.progress.reasonText() ?? "paused"} (${this.o.keys ? "r resumes, s stops" : "donki ctl resume | stop"})`);
    else if (body.state === "running" && before === "paused") this.say("resumed", "info");
    else if (body.state === "stopping") this.say(`STOPPING: ${reason ?? "stop requested"} (finishing the current trigger)`, "info");
    this.screen.changed();
  }

  /** A trigger completed every level. */
  trigger(trig: number, simTime: number): void {
    this.progress.onTrigger(trig, simTime);
  }

  /** A line beside the state in the status area (e.g. "Ctrl-C again aborts"); undefined removes it. */
  hint(text: string | undefined): void {
    this.progress.hint = text;
    this.screen.changed();
  }

  /** Clear the status area (before the summary) and close the log file. */
  close(): void {
    this.screen.close();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private poll(): void {
    if (!this.statusOf) return;
    try {
      this.progress.onStatus(this.statusOf());
    } catch {
      // the Director closed meanwhile
    }
  }

  private record(line: string, player?: string, rec = parseRecord(line)): void {
    if (this.fd !== null) this.toFile(line);
    if (rec && typeof rec.level === "number" && rec.level < (LEVEL_VALUES[this.level] ?? 40)) return;
    this.screen.log(this.format === "pretty" && rec ? prettyRecord(rec, player ? { source: player } : {}) : line);
  }

  private toFile(line: string): void {
    try {
      writeSync(this.fd!, line + "\n");
    } catch {
      // a full disk must not stop the run over its log
    }
  }
}

/** Implementations of the CLI commands (kept out of main.ts so `donki --help` stays fast). */
import { loadScenario, ScenarioError, type LoadedScenario } from "../scenario/load.ts";
import { runScenario, formatReport, parseTimeArg, timeModeOf, type DeviceCatalogue, type ScenarioRunReport } from "./run.ts";
import { RunInterrupted, type Director } from "../director/director.ts";
import { EXIT_CODE_OF } from "../protocol/run-status.ts";
import { PreflightError } from "./preflight.ts";
import { ControlClient } from "../control/client.ts";
import { PythonUnavailable } from "./python.ts";
import type { ControlCmd } from "../protocol/messages.ts";
import { dirname, relative, resolve } from "node:path";
import { RollCall } from "./roll-call.ts";
import { scanFileProblem } from "./files.ts";
import { Operator } from "./terminal/operator.ts";
import type { LogFormat } from "../log-format.ts";

const EXIT = { ok: 0, failed: 1, badInput: 2, stopped: 3, gaps: 4 } as const;

/** Load a scenario; on a validation error print every located problem and return null. */
function loadOrReport(file: string, catalogue: DeviceCatalogue): LoadedScenario | null {
  try {
    const sc = loadScenario(file, { knownDevices: catalogue.deviceNames(), checkSettings: catalogue.checkSettings, checkPlayer: catalogue.checkPlayer });
    for (const w of sc.warnings) process.stderr.write(`donki: warning: ${w}\n`);
    return sc;
  } catch (e) {
    if (e instanceof ScenarioError) {
      process.stderr.write(`donki: invalid scenario\n${e.problems.map((p) => `  ${p}`).join("\n")}\n`);
      return null;
    }
    throw e;
  }
}

export interface RunCommandOptions {
  out?: string;
  inProcess?: boolean;
  time?: string;
  seed?: number;
  triggers?: number;
  resume?: string;
  curve?: string;
  authorized?: string;
  progress?: boolean;
  json?: boolean;
  host?: string;
  playerPort?: number;
  controlPort?: number;
  eventPort?: number;
  waitS?: number;
  python?: string;
  force?: boolean;
  insecure?: boolean;
  tokenFile?: string;
  maxRowMb?: number;
  /** Serve the live monitor page on this port (0 = any free port). */
  monitor?: number;
  /** The operator's logs: format, -q, -v (count), a file that keeps them as JSON lines. */
  logFormat?: LogFormat;
  quiet?: boolean;
  verbose?: number;
  logFile?: string;
}

/** True for an address only this host can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export async function runCommand(file: string, o: RunCommandOptions, catalogue: DeviceCatalogue, directorOnly: boolean): Promise<number> {
  const sc = loadOrReport(file, catalogue);
  if (!sc) return EXIT.badInput;
  if (o.resume !== undefined) {
    const problem = await scanFileProblem(o.resume);
    if (problem) {
      process.stderr.write(`donki: --resume ${problem}\n`);
      return EXIT.badInput;
    }
  }
  let time;
  try {
    time = o.time ? parseTimeArg(o.time) : timeModeOf(sc.def.time);
  } catch (e) {
    process.stderr.write(`donki: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  let curve;
  try {
    curve = await curveServer(o.curve, o.authorized);
  } catch (e) {
    process.stderr.write(`donki: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  // remote mode is authenticated: a socket reachable from other hosts needs CURVE, or an explicit --insecure
  const host = o.host ?? "127.0.0.1";
  if (!isLoopback(host) && !curve) {
    if (!o.insecure) {
      process.stderr.write(
        `donki: --bind ${host} makes the Director reachable from other hosts: that needs CURVE (--curve KEYFILE --authorized FILE; see README "Remote players and CURVE"), or --insecure to accept the risk\n`,
      );
      return EXIT.badInput;
    }
    process.stderr.write(`donki: WARNING: INSECURE: bound to ${host} without CURVE: anyone who can reach this host can read the status and drive the scan\n`);
  }
  if (o.maxRowMb !== undefined && !(o.maxRowMb > 0)) {
    process.stderr.write(`donki: --max-row-mb must be a positive number, got ${o.maxRowMb}\n`);
    return EXIT.badInput;
  }
  if (o.monitor !== undefined && curve) {
    process.stderr.write("donki: --monitor with --curve is not supported: run `donki monitor --events ... --control ... --curve-server-key ... --curve-key-file ...` with an authorised client key\n");
    return EXIT.badInput;
  }
  // the operator's screen: a status area with the logs above it (runtime/cli/terminal/)
  let op: Operator;
  let opWaiting = false;
  try {
    op = new Operator({ logFormat: o.logFormat, quiet: o.quiet, verbose: o.verbose, logFile: o.logFile, progress: o.progress, json: o.json, keys: Boolean(process.stdin.isTTY) && !o.json });
  } catch (e) {
    process.stderr.write(`donki: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  const log = op.log;
  if (o.logFile) op.say(`logs also in ${resolve(o.logFile)} (JSON lines)`, "info");
  let director: Director | null = null;
  let interrupts = 0;
  // SIGINT (Ctrl-C), SIGTERM and SIGHUP end a run like a stop in every phase (file closed, status "stopped");
  // a second signal aborts, a third quits at once
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    const name = sig === "SIGINT" ? "Ctrl-C" : sig;
    if (!director) process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGHUP" ? 1 : 15));
    if (interrupts === 1) {
      op.say(`${name}: stopping after the current trigger (${name} again aborts)`);
      op.hint(`${name} again aborts`);
      director.stop(`stopped by ${name}`);
    } else if (interrupts === 2) {
      op.say(`${name}: aborting (closing the file; ${name} again quits at once)`);
      op.hint(`${name} again quits at once`);
      director.abort(`interrupted (${name} twice)`);
    } else process.exit(130);
  };
  const onSigint = () => onSignal("SIGINT");
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  // keys on a terminal: p pause, r resume, s stop, a abort (Ctrl-C as above)
  const keys = process.stdin.isTTY && !o.json ? process.stdin : null;
  const onKey = (b: Buffer) => {
    const k = b.toString();
    const d = director as Director | null;
    if (k === "\u0003") return onSigint();
    if (!d) return;
    // the state change shows at once in the status area and as a line above it (Operator.event)
    if (k === "p") d.pause();
    else if (k === "r") d.resume();
    else if (k === "s") d.stop("stopped by the operator (key s)");
    else if (k === "a") d.abort("aborted by the user (key a)");
  };
  if (keys) {
    keys.setRawMode(true);
    keys.on("data", onKey);
    keys.resume();
    process.stderr.write("donki: keys: p pause, r resume, s stop, a abort, Ctrl-C stop\n");
  }
  let report: ScenarioRunReport;
  let roll: RollCall | null = null;
  // --monitor: the live page, following this Director's event stream (runtime/monitor/)
  let monitor: Promise<import("../monitor/server.ts").Monitor> | null = null;
  const monitorOut = (l: string) => (o.json ? process.stderr : process.stdout).write(l + "\n");
  try {
    report = await runScenario(sc, {
      catalogue,
      log,
      outDir: o.out,
      inProcess: o.inProcess,
      noLocalPlayers: directorOnly,
      host: o.host,
      playerPort: o.playerPort,
      controlPort: o.controlPort,
      eventPort: o.eventPort,
      waitForPlayersMs: o.waitS !== undefined ? o.waitS * 1000 : undefined,
      time,
      seed: o.seed,
      maxTriggers: o.triggers,
      force: o.force,
      onRecover: (r) => op.say(`recovered ${o.resume}: ${r.replayed} rows from the journal; triggers ${r.recoveredThrough >= 1 ? `up to ${r.recoveredThrough}` : "none"} complete`, "info"),
      onPreflight: (r) => op.say(`${r.ok ? "" : "warning: --force: "}${r.text}`, r.ok ? "info" : "warn"),
      playerLog: (name, line) => op.playerLine(name, line),
      playerLogLevel: op.recordLevel,
      onPlan: (p, d) => op.plan({ ...p, time }, () => d.status()),
      resume: o.resume,
      python: o.python,
      curve,
      insecure: !isLoopback(host) && !curve,
      tokenFile: o.tokenFile,
      maxRowBytes: o.maxRowMb !== undefined ? Math.round(o.maxRowMb * 1024 * 1024) : undefined,
      onReady: async (ep, d, tokenFile) => {
        director = d;
        if (o.monitor !== undefined) monitor = startRunMonitor(ep, o.monitor, o.host, resolve(o.out ?? resolve(dirname(sc.path), "..", sc.def.output.directory)), monitorOut);
        // the endpoints, always: players on other hosts, donki ctl, donki events and donki monitor need them
        process.stderr.write(`donki director: players -> ${ep.player}  control -> ${ep.control}  events -> ${ep.events}\n`);
        if (tokenFile) process.stderr.write(`donki: run token for remote players in ${tokenFile} (donki player --token-file ${tokenFile})\n`);
        const expected = sc.def.players.filter((p) => p.level === undefined || p.level >= 0);
        if (directorOnly || expected.some((p) => p.host !== "local")) {
          const shown = relative(process.cwd(), sc.path);
          roll = new RollCall(directorOnly ? expected.map((p) => ({ ...p, host: p.host === "local" ? "any host" : p.host })) : expected, {
            endpoints: ep,
            scenarioFile: shown && !shown.startsWith("..") ? shown : sc.path,
            waitS: o.waitS ?? 60,
            waitOption: "--wait",
            tokenFile,
            curveServerKey: curve?.publicKey,
            // after op.waiting() the status area owns stderr: the roll call's later lines are printed above it
            say: (line) => (opWaiting ? op.say(line, "info") : process.stderr.write(line + "\n")),
          });
          roll.begin();
        }
        if (monitor) await monitor; // serving (and following the events) before the run starts
        op.waiting(); // the status area from here on: nothing else writes to stderr directly
        opWaiting = true;
      },
      onEvent: (topic, body) => {
        roll?.onEvent(topic, body);
        op.event(topic, body);
        // a write error is told once, in one line (HDF5's own error stack is kept off stderr)
        if (topic === "fault" && body.kind === "write") {
          const what = body.action === "abort" ? "aborting the scan" : "scan paused; make room, then resume (key r or donki ctl resume), or stop/abort";
          op.say(`write error: ${String(body.message)} -- ${what}`, "error");
        }
      },
      onProgress: (t, _total, sim) => op.trigger(t, sim),
    });
  } catch (e) {
    op.close();
    if (e instanceof PreflightError) {
      process.stderr.write(`donki: ${e.message}\n`);
      return EXIT.badInput;
    }
    if (e instanceof RunInterrupted) {
      // stopped before the run started (e.g. SIGTERM while waiting for a remote player): nothing was acquired
      process.stderr.write(`donki: ${e.message} before the first trigger; no file written\n`);
      if (o.json) process.stdout.write(JSON.stringify({ status: "stopped", reason: e.message, done: 0 }, null, 2) + "\n");
      return EXIT.stopped;
    }
    process.stderr.write(`donki: ${(e as Error).message}\n`);
    const missing = (roll as RollCall | null)?.missing() ?? [];
    if (missing.length && /not registered/.test((e as Error).message))
      process.stderr.write(`donki: start the missing player${missing.length > 1 ? "s" : ""} with donki player --scenario ${file} --name NAME, or wait longer with --wait SECONDS\n`);
    if (monitor) await (await (monitor as Promise<import("../monitor/server.ts").Monitor>).catch(() => null))?.close();
    return e instanceof PythonUnavailable ? EXIT.badInput : EXIT.failed;
  } finally {
    (roll as RollCall | null)?.stopReminding();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    if (keys) {
      keys.off("data", onKey);
      keys.setRawMode(false);
      keys.pause();
    }
  }
  op.close();
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else process.stdout.write(formatReport(report, time) + "\n");
  if (monitor) {
    // the page stays up with the finished scan (replayed to every new browser) until Ctrl-C / SIGTERM
    const m = await (monitor as Promise<import("../monitor/server.ts").Monitor>).catch(() => null);
    if (m) {
      monitorOut(`donki monitor: the scan has ended; ${m.url} stays up until Ctrl-C`);
      await new Promise<void>((res) => {
        process.once("SIGINT", res);
        process.once("SIGTERM", res);
      });
      await m.close();
    }
  }
  return EXIT_CODE_OF[report.result.end.status];
}

const CMDS = ["status", "pause", "resume", "stop", "abort", "disable", "enable", "priority", "admit"];

export async function ctlCommand(cmd: string, o: { control?: string; events?: string; player?: string; level?: number; curveServerKey?: string; curveKeyFile?: string; timeout?: number; json?: boolean }): Promise<number> {
  // status: a table for a human, the DirectorStatus as JSON for scripts (--json)
  const showStatus = async (st: unknown) => {
    const { formatDirectorStatus } = await import("./terminal/status-table.ts");
    process.stdout.write((o.json ? JSON.stringify(st, null, 2) : formatDirectorStatus(st as import("../protocol/messages.ts").DirectorStatus)) + "\n");
  };
  if (!CMDS.includes(cmd)) {
    process.stderr.write(`donki ctl: unknown command '${cmd}' (one of ${CMDS.join(", ")})\n`);
    return EXIT.badInput;
  }
  if (cmd === "admit" && !o.player) {
    process.stderr.write("donki ctl: 'admit' needs the player's name: donki ctl admit NAME --control ENDPOINT\n");
    return EXIT.badInput;
  }
  if ((cmd === "disable" || cmd === "enable" || cmd === "priority") && !o.player) {
    process.stderr.write(`donki ctl: '${cmd}' needs --player\n`);
    return EXIT.badInput;
  }
  if (cmd === "priority" && o.level === undefined) {
    process.stderr.write("donki ctl: 'priority' needs --level\n");
    return EXIT.badInput;
  }
  let curve;
  try {
    curve = await curveClient(o.curveServerKey, o.curveKeyFile);
  } catch (e) {
    process.stderr.write(`donki ctl: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
  if (o.events && cmd === "status") {
    // observers: the Director publishes its status once a second on the event stream
    const { EventStream } = await import("../control/client.ts");
    const ev = new EventStream(o.events, ["status"], curve);
    try {
      const e = await ev.next((x) => x.topic === "status", o.timeout ?? 5000);
      await showStatus(e.body.status);
      return EXIT.ok;
    } catch (e) {
      process.stderr.write(`donki ctl: no status event from ${o.events}: ${(e as Error).message}\n`);
      return EXIT.failed;
    } finally {
      ev.close();
    }
  }
  if (!o.control) {
    process.stderr.write(`donki ctl: give --control ENDPOINT${cmd === "status" ? " (or --events ENDPOINT)" : ""}\n`);
    return EXIT.badInput;
  }
  const c = new ControlClient(o.control, curve);
  try {
    const r = await c.request(cmd as ControlCmd, { player: o.player, level: o.level }, o.timeout ?? 5000);
    if (!r.ok) {
      process.stderr.write(`donki ctl: the Director refused '${cmd}': ${r.error}\n`);
      return EXIT.failed;
    }
    if (cmd === "status") await showStatus(r.status);
    else process.stdout.write(`${cmd}: ok\n`);
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`donki ctl: ${(e as Error).message}\n`);
    return EXIT.failed;
  } finally {
    c.close();
  }
}

/**
 * `donki inspect FILE`: the full summary of one scan. Several files or a directory (its *.nxs scans, rollover part
 * files left out): one line per scan (number, status, issued/planned triggers, size with parts, title, file). A bad
 * file is one line on stderr naming it; the exit is then 2, after the good ones are listed.
 */
export async function inspectCommand(args: string[], o: { json?: boolean }): Promise<number> {
  const { statSync, readdirSync } = await import("node:fs");
  const { join } = await import("node:path");
  const isDir = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  };
  const { readRunSummary, formatRunSummary } = await import("../data/reader.ts");
  if (args.length === 1 && !isDir(args[0])) {
    const file = args[0];
    const problem = await scanFileProblem(file);
    if (problem) {
      process.stderr.write(`donki inspect: ${problem}\n`);
      return EXIT.badInput;
    }
    try {
      const s = await readRunSummary(file);
      process.stdout.write((o.json ? JSON.stringify(s, null, 2) : formatRunSummary(s)) + "\n");
      return EXIT.ok;
    } catch (e) {
      process.stderr.write(`donki inspect: ${file}: ${(e as Error).message}\n`);
      return EXIT.badInput;
    }
  }
  let code: number = EXIT.ok;
  const files: string[] = [];
  for (const a of args) {
    if (!isDir(a)) {
      files.push(a);
      continue;
    }
    const scans = readdirSync(a)
      .filter((f) => f.endsWith(".nxs") && !/_part\d+\.nxs$/.test(f))
      .sort()
      .map((f) => join(a, f));
    if (!scans.length) {
      process.stderr.write(`donki inspect: ${a}: no scan files (*.nxs) in this directory\n`);
      code = EXIT.badInput;
    }
    files.push(...scans);
  }
  const { mergeResumed } = await import("./scan-list.ts");
  let rows: import("./scan-list.ts").ScanRow[] = [];
  for (const file of files) {
    const problem = await scanFileProblem(file);
    if (problem) {
      process.stderr.write(`donki inspect: ${problem}\n`);
      code = EXIT.badInput;
      continue;
    }
    try {
      const s = await readRunSummary(file);
      let bytes = statSync(file).size;
      for (const p of s.parts) {
        try {
          bytes += statSync(resolve(dirname(file), p)).size;
        } catch {
          // a missing part file: the summary's own check reports it; the size counts what is there
        }
      }
      rows.push({ file, scanNumber: s.scanNumber, title: s.title, status: s.status, issued: s.issued, planned: s.planned, bytes, ...(s.resumedFrom ? { resumedFrom: s.resumedFrom } : {}) });
    } catch (e) {
      process.stderr.write(`donki inspect: ${file}: ${(e as Error).message}\n`);
      code = EXIT.badInput;
    }
  }
  rows = mergeResumed(rows); // a resumed scan is one line
  if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
  else if (rows.length) process.stdout.write(formatScanList(rows) + "\n");
  return code;
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function formatScanList(rows: import("./scan-list.ts").ScanRow[]): string {
  const table = [["scan", "status", "triggers", "size", "title", "file"]];
  for (const r of rows) table.push([String(r.scanNumber), r.status, `${r.issued}/${r.planned ?? "?"}`, humanBytes(r.bytes), r.title, r.files ? `${r.files.join(" + ")} (resumed)` : r.file]);
  const w = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table.map((row) => row.map((cell, c) => (c === 0 || c === 2 || c === 3 ? cell.padStart(w[c]) : c === row.length - 1 ? cell : cell.padEnd(w[c]))).join("  ")).join("\n");
}

export async function recoverCommand(file: string, o: { json?: boolean }): Promise<number> {
  const problem = await scanFileProblem(file);
  if (problem) {
    process.stderr.write(`donki recover: ${problem}\n`);
    return EXIT.badInput;
  }
  const { recoverScan } = await import("../data/recover.ts");
  try {
    const r = await recoverScan(file);
    if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    else {
      process.stdout.write(
        `${file}: ${r.segments ? `${r.replayed} rows replayed from ${r.segments} journal segment(s) (${r.already} already in the file)` : "no journal"}; ` +
          `${r.doneTriggers} triggers recorded done; every trigger up to ${r.recoveredThrough} complete; status ${r.status}\n`,
      );
      for (const t of r.torn) process.stdout.write(`  ${t.segment}: stopped at byte ${t.offset}: ${t.reason}${t === r.torn[r.torn.length - 1] ? " (a torn last record is what a kill leaves)" : ""}\n`);
      if (r.unplaced) process.stdout.write(`  ${r.unplaced} journal rows have no dataset in the file; the journal is kept\n`);
    }
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`donki recover: ${file}: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
}

export async function estimateCommand(file: string, o: { json?: boolean }, catalogue: DeviceCatalogue): Promise<number> {
  const sc = loadOrReport(file, catalogue);
  if (!sc) return EXIT.badInput;
  const { estimateScenario, formatEstimate } = await import("./estimate.ts");
  let e;
  try {
    e = await estimateScenario(sc, catalogue);
  } catch (err) {
    // a device's timing model refused its settings (the same check as when the player configures it)
    process.stderr.write(`donki estimate: ${sc.path}: ${(err as Error).message}\n`);
    return EXIT.badInput;
  }
  process.stdout.write((o.json ? JSON.stringify(e, null, 2) : formatEstimate(e)) + "\n");
  return EXIT.ok;
}

export async function quicklookCommand(file: string, o: { out?: string; scale?: number }): Promise<number> {
  const problem = await scanFileProblem(file);
  if (problem) {
    process.stderr.write(`donki quicklook: ${problem}\n`);
    return EXIT.badInput;
  }
  const { quicklook } = await import("../data/quicklook.ts");
  try {
    const r = await quicklook(file, { out: o.out, scale: o.scale });
    process.stdout.write(`${r.png}  (${r.width}x${r.height}: ${r.panels.join(", ")})\n`);
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`donki quicklook: ${(e as Error).message}\n`);
    return EXIT.badInput;
  }
}

/** `donki validate FILE...`: 0 = every file satisfies its definitions, 1 = some do not, 2 = unreadable input. */
export async function validateCommand(files: string[], o: { json?: boolean }): Promise<number> {
  const { validateNexus } = await import("../data/nxdl-validate.ts");
  const { existsSync } = await import("node:fs");
  const reports = [];
  for (const f of files) {
    if (!existsSync(f)) {
      process.stderr.write(`donki validate: ${f}: no such file\n`);
      return EXIT.badInput;
    }
    try {
      reports.push(await validateNexus(f));
    } catch (e) {
      process.stderr.write(`donki validate: ${f}: ${(e as Error).message}\n`);
      return EXIT.badInput;
    }
  }
  if (o.json) process.stdout.write(JSON.stringify(reports, null, 2) + "\n");
  else
    for (const r of reports) {
      process.stdout.write(`${r.file}: ${r.errors.length ? `${r.errors.length} problem${r.errors.length === 1 ? "" : "s"}` : "valid"} (${r.checked.join(", ") || "no definition"})\n`);
      for (const e of r.errors) process.stdout.write(`  ${e}\n`);
    }
  return reports.some((r) => r.errors.length) ? EXIT.failed : EXIT.ok;
}

export async function devicesCommand(o: { tcp: string[]; scenario?: string; timeout: number; json?: boolean }, catalogue: DeviceCatalogue): Promise<number> {
  const tcp: Array<{ host: string; port?: number; label?: string }> = [];
  for (const t of o.tcp) {
    const m = /^([^:]+)(?::(\d+))?$/.exec(t);
    if (!m) {
      process.stderr.write(`donki devices: --tcp must be HOST or HOST:PORT, got '${t}'\n`);
      return EXIT.badInput;
    }
    tcp.push({ host: m[1], port: m[2] ? Number(m[2]) : undefined, label: t });
  }
  if (o.scenario) {
    try {
      const sc = loadScenario(o.scenario, { knownDevices: catalogue.deviceNames(), checkSettings: catalogue.checkSettings, checkPlayer: catalogue.checkPlayer });
      for (const p of sc.def.players) {
        if (p.device === "pi-gcs" && (p.settings.transport ?? "tcp") === "tcp" && typeof p.settings.host === "string")
          tcp.push({ host: p.settings.host, port: typeof p.settings.port === "number" ? p.settings.port : undefined, label: `${p.name} (${o.scenario})` });
      }
    } catch (e) {
      process.stderr.write(`donki devices: ${(e as Error).message}\n`);
      return EXIT.badInput;
    }
  }
  const r = await catalogue.listDevices({ tcpControllers: tcp, timeoutMs: o.timeout });
  process.stdout.write((o.json ? JSON.stringify(r.report, null, 2) : r.text) + "\n");
  return EXIT.ok;
}

/** The Director's CURVE settings from --curve KEYFILE and --authorized FILE (both or neither). */
/** `donki run --monitor PORT`: the monitor page on this Director (control with the operator token it prints). */
async function startRunMonitor(ep: { control: string; events: string }, port: number, host: string | undefined, outDir: string, out: (l: string) => void) {
  const { startMonitor } = await import("../monitor/server.ts");
  const { printMonitor } = await import("./monitor-cmd.ts");
    const local = (e: string) => e.replace("tcp://0.0.0.0:", "tcp://127.0.0.1:");
  const m = await startMonitor({ events: local(ep.events), control: local(ep.control), port, host: host && host !== "0.0.0.0" ? host : "127.0.0.1", outDir, say: out });
  printMonitor(m, true, out);
  return m;
}

async function curveServer(keyFile?: string, authorized?: string) {
  if (!keyFile && !authorized) return undefined;
  if (!keyFile || !authorized) throw new Error("CURVE needs both --curve KEYFILE (the Director's keys) and --authorized FILE (public keys allowed in)");
  const { readFileSync } = await import("node:fs");
  const { readKeyFile, readAuthorizedKeyRoles } = await import("../transport/curve.ts");
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch (e) {
      throw new Error(`${f}: ${(e as Error).message}`);
    }
  };
  const authorizedKeys = readAuthorizedKeyRoles(authorized, read(authorized));
  const legacy = authorizedKeys.filter((k) => k.role === "any").length;
  if (legacy)
    process.stderr.write(`donki: ${authorized}: ${legacy} key(s) without a role may register players AND control the scan; give each key a role (player, operator, observer; see README)\n`);
  return { ...readKeyFile(keyFile, read(keyFile)), authorizedKeys };
}

/** A client's CURVE settings from --curve-server-key Z85 and --curve-key-file FILE. */
export async function curveClient(serverKey?: string, keyFile?: string) {
  if (!serverKey && !keyFile) return undefined;
  if (!serverKey || !keyFile) throw new Error("CURVE needs both --curve-server-key (the Director's public key) and --curve-key-file (this client's keys)");
  const { readFileSync } = await import("node:fs");
  const { readKeyFile } = await import("../transport/curve.ts");
  return { serverKey, ...readKeyFile(keyFile, readFileSync(keyFile, "utf8")) };
}

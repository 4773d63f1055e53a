/**
 * `donki run` / `donki director`: run a scenario. Starts a Director, the scenario's local players (separate
 * processes by default, or in this process), writes the NeXus file, and reports.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve, relative } from "node:path";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Director, type RunResult, type PlayerPolicy } from "../director/director.ts";
import { NexusSink, type SinkResult } from "../data/nexus-sink.ts";
import { Player, type PlayerBehaviour } from "../player/player.ts";
import { expandSequence } from "../scenario/sequence.ts";
import type { LoadedScenario } from "../scenario/load.ts";
import { playerSettings, type PlayerDefT } from "../scenario/schema.ts";
import type { ClockMode } from "../clock.ts";
import { envLogFormat, type Logger } from "../log.ts";
import { parseRecord, prettyRecord } from "../log-format.ts";
import { newKeyPair, type CurveKeyPair, type CurveServerConfig } from "../transport/curve.ts";
import { newRunToken, TOKEN_ENV } from "../director/admission.ts";
import { VERSION } from "../version.ts";
import { isPythonDevice, pythonPlayerCommand, resolvePython } from "./python.ts";
import type { DeadTimeReport, InstrumentInfo, RasterInfo } from "../data/types.ts";
import { estimateScenario } from "./estimate.ts";
import { deadTimeReport, formatDeadTime } from "./dead-time.ts";
import { modelDeadlines } from "./deadlines.ts";
import { rasterAxes } from "../data/layout.ts";
import type { TriggerParams } from "../director/director.ts";
import { scenarioDocumentSink } from "../events/scenario-docs.ts";

/** The scenario's incident energy as the trigger parameter `energy` (eV), unless the sequence sets it itself. */
export function withEnergy(p: TriggerParams, energyEv: number): TriggerParams {
  const point = p.point ?? {};
  if (point.energy !== undefined || point.energyEv !== undefined) return p;
  return { ...p, point: { ...point, energy: energyEv } };
}
import { preflight, PreflightError, type PreflightResult } from "./preflight.ts";
import { journalSegments } from "../data/journal.ts";
import { toRanges } from "../data/h5util.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const DONKI_BIN = join(HERE, "../../bin/donki.mjs");

/** What the CLI needs from the device catalogue (drivers/registry.ts), injected so runtime/ knows no driver. */
export interface DeviceCatalogue {
  listDevices(o: { tcpControllers?: Array<{ host: string; port?: number; label?: string }>; timeoutMs?: number }): Promise<{ report: unknown; text: string }>;
  createDevicePlayer(spec: { device: string; name: string; settings: Record<string, unknown>; seed: number; time: ClockMode; faults?: unknown[] }): Promise<PlayerBehaviour>;
  deviceNames(): string[];
  /** Static check of a player's settings against its device's range (scenario load). */
  checkSettings?(device: string, settings: Record<string, unknown>): Array<{ path: Array<string | number>; message: string; severity?: "error" | "warning" }>;
  /** Check of a player's overlap / actOnChange choice (scenario load). */
  checkPlayer?(p: PlayerDefT): Array<{ path: Array<string | number>; message: string; severity?: "error" | "warning" }>;
  createEstimator(spec: { device: string; name: string; settings: Record<string, unknown>; seed: number; time: ClockMode }): Promise<{ estimate(params: Record<string, unknown>): Record<string, number> | Promise<Record<string, number>> } | null>;
}

export interface RunOptions {
  catalogue: DeviceCatalogue;
  log: Logger;
  /** Output directory override. */
  outDir?: string;
  /** Run players inside this process instead of as separate processes. */
  inProcess?: boolean;
  /** Start no local players: every player connects by itself (donki director). */
  noLocalPlayers?: boolean;
  host?: string;
  playerPort?: number;
  controlPort?: number;
  eventPort?: number;
  /** How long to wait for all players to register, ms. */
  waitForPlayersMs?: number;
  time?: ClockMode;
  seed?: number;
  /** Cap the number of triggers (quick tries of a big scenario). */
  maxTriggers?: number;
  /** Start even when the pre-flight check says the output disk is too small (the scan pauses when it fills). */
  force?: boolean;
  /** The pre-flight check's line (printed by the CLI: a warning with --force, or an unbounded scan's estimate). */
  onPreflight?: (r: PreflightResult) => void;
  /** Resume a crashed run: the file it left; the run continues from its first missing trigger into a new file. */
  resume?: string;
  /** Interpreter of the Python players (python:FILE, tango:DEVICE); default DONKI_PYTHON, then one that has pyzmq. */
  python?: string;
  /** CURVE: the Director's key pair and the players'/clients' authorised public keys (local players get their own). */
  curve?: CurveServerConfig;
  /** Bind a non-loopback address without CURVE (reported at start, in status and on the event stream). */
  insecure?: boolean;
  /** Where to write the run token for remote players (without CURVE). Default: <output directory>/donki-run.token. */
  tokenFile?: string;
  /** Largest row a player may declare, bytes (and the ZeroMQ message size limit derived from it). */
  maxRowBytes?: number;
  onProgress?: (trig: number, total: number | null, simTime: number) => void;
  /** Just before the first trigger: the triggers of this run and each trigger's point (the operator's status). */
  onPlan?: (p: { planned: number | null; firstTrigger: number; pointOf: (trig: number) => Record<string, unknown> | undefined }, director: Director) => void;
  /** Each line a local player process writes on stderr (default: stderr, prefixed with its name). */
  playerLog?: (name: string, line: string) => void;
  /** DONKI_LOG of the local player processes (default DONKI_LOG, else warn); they log JSON for playerLog. */
  playerLogLevel?: string;
  /** `--resume` replayed the crashed run's journal first. */
  onRecover?: (r: import("../data/recover.ts").RecoverReport) => void;
  /** Events of the run as they are published (topic, body). */
  onEvent?: (topic: string, body: Record<string, unknown>) => void;
  /** Publish the run documents (start, descriptor, event_page, status, stop) on the event stream. Default true. */
  documents?: boolean;
  onReady?: (endpoints: { player: string; inproc: string; control: string; events: string }, director: Director, tokenFile?: string) => void | Promise<void>;
}

export interface ScenarioRunReport {
  scenario: string;
  title: string;
  result: RunResult;
  file?: string;
  scanNumber?: number;
  perStream: Array<{ key: string; complete: boolean; missing: number[] }>;
  simulatedS: number;
  wallS: number;
  planned: number | null;
  /** Planned vs actual dead time (also in the file under /entry/dead_time). */
  deadTime?: DeadTimeReport;
}

export function timeModeOf(t: LoadedScenario["def"]["time"]): ClockMode {
  if (t === "virtual") return { mode: "virtual" };
  if (t === "real") return { mode: "real" };
  return { mode: "scaled", scale: t.scale };
}

function timeArg(m: ClockMode): string {
  return m.mode === "scaled" ? `scale:${m.scale}` : m.mode;
}

export function parseTimeArg(s: string): ClockMode {
  if (s === "virtual" || s === "real") return { mode: s };
  const m = /^scale:([0-9.eE+-]+)$/.exec(s);
  if (m && Number(m[1]) > 0) return { mode: "scaled", scale: Number(m[1]) };
  throw new Error(`time must be virtual, real or scale:FACTOR (e.g. scale:0.1), got '${s}'`);
}

interface LocalPlayer {
  name: string;
  stop(): Promise<void>;
  kill(): void;
  exited: Promise<number | null>;
}

/** A local player's stderr line on stderr: a log record in DONKI_LOG_FORMAT (pretty by default), other text prefixed. */
function defaultPlayerLine(name: string, line: string): void {
  const rec = envLogFormat() === "pretty" ? parseRecord(line) : undefined;
  process.stderr.write(rec ? prettyRecord(rec, { source: name }) + "\n" : `[${name}] ${line}\n`);
}

/** How a local player process logs: its level, and where its stderr lines go. */
interface PlayerLogging {
  level?: string;
  line?: (name: string, line: string) => void;
}

function logEnv(l: PlayerLogging): Record<string, string> {
  return { DONKI_LOG: l.level ?? process.env.DONKI_LOG ?? "warn", DONKI_LOG_FORMAT: "json" };
}

function spawnPlayer(p: PlayerDefT & { level: number }, endpoint: string, seed: number, time: ClockMode, logging: PlayerLogging, scenarioDir: string, curve?: { serverKey: string; keys: CurveKeyPair }, token?: string, python?: string): LocalPlayer {
  if (isPythonDevice(p.device)) {
    const { command, args, env } = pythonPlayerCommand(p, { python: python!, endpoint, seed, time: timeArg(time), scenarioDir, curve, token, parentPid: process.pid });
    return watch(p.name, spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...logEnv(logging), ...env } }), logging.line);
  }
  const args = [DONKI_BIN, "player", "--name", p.name, "--level", String(p.level), "--director", endpoint, "--join", p.join, "--parent-pid", String(process.pid)];
  if (p.device.startsWith("script:")) {
    args.push("--script", resolve(scenarioDir, p.device.slice("script:".length)));
    for (const [k, v] of Object.entries(p.settings)) args.push("-o", `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  } else {
    args.push("--device", p.device, "--settings", JSON.stringify(playerSettings(p)), "--seed", String(seed), "--time", timeArg(time));
    if (p.faults?.length) args.push("--faults", JSON.stringify(p.faults));
  }
  // the = form: a Z85 key may begin with "-"
  if (curve) args.push(`--curve-server-key=${curve.serverKey}`, `--curve-public-key=${curve.keys.publicKey}`);
  // DONKI_NODE_ARGS: extra Node.js flags for player processes (profiling: "--cpu-prof --cpu-prof-dir=DIR")
  const nodeArgs = process.env.DONKI_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...logEnv(logging), ...(curve ? { DONKI_CURVE_SECRET_KEY: curve.keys.secretKey } : {}), ...(token ? { [TOKEN_ENV]: token } : {}) } });
  return watch(p.name, child, logging.line);
}

/**
 * A local player process: each stderr line to `out` (default: defaultPlayerLine), stopped with SIGTERM
 * (SIGKILL after 5 s); stop() also waits (bounded) for its last lines, so none is printed after the summary.
 */
function watch(name: string, child: ChildProcess, out: (name: string, line: string) => void = defaultPlayerLine): LocalPlayer {
  let partial = "";
  child.stderr!.on("data", (b: Buffer) => {
    const lines = (partial + b.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) out(name, line);
  });
  const drained = new Promise<void>((res) => child.stderr!.once("close", () => res()));
  child.stderr!.once("close", () => {
    if (partial.trim()) out(name, partial);
    partial = "";
  });
  const exited = new Promise<number | null>((res) => {
    child.on("exit", (code) => res(code));
    child.on("error", (e) => {
      process.stderr.write(`[${name}] cannot start: ${e.message}\n`);
      res(127);
    });
  });
  return {
    name,
    exited,
    kill: () => child.kill("SIGKILL"),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
      await Promise.race([drained, new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}

async function inProcessPlayer(p: PlayerDefT & { level: number }, endpoint: string, seed: number, time: ClockMode, cat: DeviceCatalogue, log: Logger, scenarioDir: string, curve?: { serverKey: string; keys: CurveKeyPair }, token?: string): Promise<LocalPlayer> {
  let behaviour: PlayerBehaviour;
  if (p.device.startsWith("script:")) {
    const { loadPlayerScript } = await import("../player/script.ts");
    const opts: Record<string, string> = { name: p.name };
    for (const [k, v] of Object.entries(p.settings)) opts[k] = typeof v === "string" ? v : JSON.stringify(v);
    behaviour = await loadPlayerScript(resolve(scenarioDir, p.device.slice("script:".length)), opts);
  } else {
    behaviour = await cat.createDevicePlayer({ device: p.device, name: p.name, settings: playerSettings(p), seed, time, faults: p.faults });
  }
  const player = new Player({ name: p.name, level: p.level, director: endpoint, behaviour, join: p.join, log: log.child({ player: p.name }), curve: curve ? { serverKey: curve.serverKey, ...curve.keys } : undefined, token });
  await player.start();
  return { name: p.name, exited: Promise.resolve(0), kill: () => void player.close(), stop: () => player.stop("run finished") };
}

export async function runScenario(sc: LoadedScenario, o: RunOptions): Promise<ScenarioRunReport> {
  const def = sc.def;
  const seq = expandSequence(def.sequence);
  const time = o.time ?? timeModeOf(def.time);
  const seed = o.seed ?? def.seed;
  const planned = o.maxTriggers !== undefined && (seq.count === null || o.maxTriggers < seq.count) ? o.maxTriggers : seq.count;
  const outDir = resolve(o.outDir ?? resolve(dirname(sc.path), "..", def.output.directory));
  mkdirSync(outDir, { recursive: true });
  // with CURVE, the local players get a key pair of their own, authorised for this run only
  const localKeys = o.curve ? newKeyPair() : undefined;
  const curve = o.curve && localKeys ? { ...o.curve, authorizedKeys: [...o.curve.authorizedKeys, { key: localKeys.publicKey, role: "player" as const }] } : undefined;
  const playerCurve = o.curve && localKeys ? { serverKey: o.curve.publicKey, keys: localKeys } : undefined;
  // Python players (python:FILE, tango:DEVICE) always run as processes, under an interpreter that has pyzmq
  const pyDefs = o.noLocalPlayers ? [] : def.players.filter((p) => p.level !== undefined && p.level >= 0 && p.host === "local" && isPythonDevice(p.device));
  const python = pyDefs.length ? resolvePython(pyDefs, o.python) : undefined;
  // admission: the scenario's players (others only when an operator admits them by name); without CURVE every
  // hello carries this run's random token (local players get it through the environment, remote ones from a file)
  const token = o.curve ? undefined : newRunToken();
  const pinnedLevels: Record<string, number> = {};
  for (const p of def.players) if (p.level !== undefined) pinnedLevels[p.name] = p.level;
  const director = new Director({
    curve,
    admission: { token, names: def.players.map((p) => p.name), pinnedLevels, maxRowBytes: o.maxRowBytes ?? def.output.maxRowMB * 2 ** 20 },
    insecure: o.insecure,
    host: o.host,
    playerPort: o.playerPort,
    controlPort: o.controlPort,
    eventPort: o.eventPort,
    hbIntervalMs: def.heartbeat?.interval,
    hbTimeoutMs: def.heartbeat?.timeout,
    log: o.log.child({ component: "director" }),
    onEvent: o.onEvent,
  });
  const ep = await director.start();
  // the token file lets remote players (donki player --token-file FILE) register, including one an operator admits
  // later; readable by this user only; reported when the scenario has remote players (or a file was asked for)
  let tokenFile: string | undefined;
  if (token) {
    tokenFile = resolve(o.tokenFile ?? join(outDir, "donki-run.token"));
    rmSync(tokenFile, { force: true });
    writeFileSync(tokenFile, token + "\n", { mode: 0o600, flag: "wx" });
  }
  const showToken = o.noLocalPlayers || def.players.some((p) => p.host !== "local") || o.tokenFile !== undefined;
  await o.onReady?.(ep, director, showToken ? tokenFile : undefined);
  const locals: LocalPlayer[] = [];
  const enabled = def.players.filter((p) => p.level === undefined || p.level >= 0);
  const scenarioDir = dirname(sc.path);
  try {
    if (!o.noLocalPlayers) {
      for (const p of enabled) {
        if (p.host !== "local" || p.level === undefined) continue;
        const lp = p as PlayerDefT & { level: number };
        const logging = { level: o.playerLogLevel, line: o.playerLog };
        if (isPythonDevice(p.device)) locals.push(spawnPlayer(lp, ep.player, seed, time, logging, scenarioDir, playerCurve, token, python!.get(p.name)));
        else if (o.inProcess) locals.push(await inProcessPlayer(lp, playerCurve ? ep.player : ep.inproc, seed, time, o.catalogue, o.log, scenarioDir, playerCurve, token));
        else locals.push(spawnPlayer(lp, ep.player, seed, time, logging, scenarioDir, playerCurve, token));
      }
    }
    const waitMs = o.waitForPlayersMs ?? 60_000;
    const failedEarly = Promise.race(
      locals.map((l) => l.exited.then((code) => (code !== 0 ? Promise.reject(new Error(`player '${l.name}' exited with code ${code} before registering (see its messages above)`)) : new Promise<never>(() => {})))),
    );
    failedEarly.catch(() => {});
    await Promise.race([director.waitForPlayers(enabled.map((p) => p.name), waitMs), failedEarly]);

    // the raster as planned (image axes), and which positioner measured it
    let raster: RasterInfo | undefined;
    if (seq.raster && def.sequence.raster) {
      const pos = seq.raster.positioner ?? director.registry.all().find((e) => e.device.kind === "positioner")?.name;
      const { x, y } = def.sequence.raster;
      const rep = def.sequence.repeat;
      if (pos) raster = { axes: rasterAxes(pos), shape: seq.raster.shape, snake: seq.raster.snake, x, y, ...(rep ? { repeat: { param: rep.param, values: rep.values } } : {}) };
    }
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(def.metadata)) metadata[k] = String(v);
    const ins = def.instrument;
    const ioPlayer = enabled.find((p) => director.registry.all().some((e) => e.name === p.name && e.device.kind === "io"));
    const instrument: InstrumentInfo = {
      name: ins.name,
      source: ins.source,
      energyEv: ins.monochromator.energy_eV,
      sample: { rotationAngleDeg: ins.sample.rotation_angle },
      monitorPresetS: def.sequence.dwell ?? Number(ioPlayer?.settings.gateS ?? 0.1),
    };
    const devices: Record<string, string> = {};
    for (const e of director.registry.all()) devices[e.name] = e.device.kind;
    // every trigger carries the incident energy (eV) unless the sequence sets it: the twins' beam reads it
    const params = (t: number) => withEnergy(seq.params(t), ins.monochromator.energy_eV);
    // planned energy and x / y of every trigger (one pass over the sequence; absent when not numbers throughout)
    let energyPerTrigger: number[] | undefined;
    let plannedX: number[] | undefined;
    let plannedY: number[] | undefined;
    if (planned !== null && planned <= 1_000_000) {
      const cols: Array<number[] | undefined> = [[], [], []];
      for (let t = 1; t <= planned; t++) {
        const pt = (params(t).point ?? {}) as Record<string, unknown>;
        [pt.energy ?? pt.energyEv, pt.x, pt.y].forEach((v, i) => {
          if (typeof v === "number") cols[i]?.push(v);
          else cols[i] = undefined;
        });
      }
      [energyPerTrigger, plannedX, plannedY] = cols;
    }
    const sink = new NexusSink({
      dir: outDir,
      prefix: def.output.prefix ?? sc.name,
      run: { title: def.title, scenarioText: sc.text, scenarioHash: sc.hash, scenarioName: sc.name, program: "donki", version: VERSION, raster, metadata, instrument, devices, energyPerTrigger, plannedX, plannedY },
      flushEveryTriggers: def.output.flushEveryTriggers,
      flushEverySeconds: def.output.flushEverySeconds,
      rolloverTriggers: def.output.rolloverTriggers,
      compression: def.output.compression,
      resumeFrom: o.resume ? { path: o.resume } : undefined,
      queue: { reserveBytes: def.output.reserveMB * 2 ** 20 },
      journal: def.output.journal ? { syncSeconds: def.output.journalSyncSeconds } : false,
      log: o.log.child({ component: "writer" }),
    });
    // a fixed actionTimeout where the scenario sets one; else deadlines from the timing model (30 s without one)
    const policy: Partial<PlayerPolicy> = { onFault: def.policy.onFault, retries: def.policy.retries, actionTimeoutMs: (def.policy.actionTimeout ?? 30) * 1000 };
    const perPlayer: Record<string, Partial<PlayerPolicy>> = {};
    for (const p of def.players) {
      if (!p.policy) continue;
      perPlayer[p.name] = {
        ...(p.policy.onFault ? { onFault: p.policy.onFault } : {}),
        ...(p.policy.retries !== undefined ? { retries: p.policy.retries } : {}),
        ...(p.policy.actionTimeout !== undefined ? { actionTimeoutMs: p.policy.actionTimeout * 1000 } : {}),
      };
    }
    let startTrigger = 1;
    if (o.resume) {
      const { NexusWriter } = await import("../data/nexus-writer.ts");
      const { recoverScan, truncateScan } = await import("../data/recover.ts");
      const { journalSegments } = await import("../data/journal.ts");
      // recover first: every trigger the crashed run reported done is in its file before the resume point is chosen
      if (journalSegments(o.resume).length) {
        const rec = await recoverScan(o.resume);
        o.onRecover?.(rec);
      }
      const rp = await NexusWriter.resumePoint(o.resume);
      startTrigger = rp.resumeTrigger;
      if (planned !== null && startTrigger > planned) throw new Error(`${o.resume}: nothing to resume, every trigger up to ${planned} is in the file`);
      // the crashed file ends before the resume point (a partial trigger there is taken again): each trigger once
      await truncateScan(o.resume, startTrigger);
      o.log.warn({ file: o.resume, scan: rp.scanNumber, from: startTrigger }, "resuming a crashed run");
    }
    // pre-flight: will the file fit on the output disk? (declared rows x triggers still to take, plus the reserve)
    const declared = director.registry.all().filter((e) => e.enabled && e.level >= 0).flatMap((e) => e.streams.map((decl) => ({ player: e.name, decl })));
    const pf = preflight(outDir, declared, planned === null ? null : Math.max(0, planned - startTrigger + 1), def.output.reserveMB * 2 ** 20);
    if (!pf.ok && !o.force) throw new PreflightError(pf);
    if (!pf.ok || planned === null) o.onPreflight?.(pf);
    // the plan of the dead-time report: the timing model over the triggers this run takes
    const est = await estimateScenario(sc, o.catalogue, planned ?? undefined).catch((e: Error) => {
      o.log.warn({ err: e.message }, "no timing model for the dead-time report");
      return null;
    });
    o.onPlan?.({ planned, firstTrigger: startTrigger, pointOf: (t) => params(t).point as Record<string, unknown> | undefined }, director);
    const t0 = performance.now();
    const result = await director.run({
      deadline: modelDeadlines(est, time, (p) => def.policy.actionTimeout !== undefined || def.players.find((x) => x.name === p)?.policy?.actionTimeout !== undefined),
      deadTime: (actual, d) => deadTimeReport(est, actual, { doneFraction: est ? d.done / est.triggers : 0, wallS: d.wallS, overlap: Object.fromEntries(Object.entries(est?.players ?? {}).map(([n, p]) => [n, p.overlap])) }),
      triggers: planned,
      plannedTotal: seq.count,
      startTrigger,
      onWriteError: def.output.onWriteError,
      params,
      require: enabled.map((p) => p.name),
      waitForPlayersMs: waitMs,
      policy,
      perPlayer,
      allowPriorityChange: def.allowPriorityChange,
      // pre.config: each player's section of the scenario (docs/protocol.md)
      config: Object.fromEntries(def.players.map((p) => [p.name, scenarioSection(p)])),
      sink: o.documents === false ? sink : scenarioDocumentSink(sc, director, sink, startTrigger),
      onTrigger: (t, sim) => o.onProgress?.(t, planned, sim),
    });
    const sr = (result.sink ?? sink.result) as SinkResult | null;
    return {
      scenario: relative(process.cwd(), sc.path),
      title: def.title,
      result,
      file: sr?.path ?? sink.path,
      scanNumber: sr?.scanNumber ?? sink.scanNumber,
      perStream: sr?.perStream ?? [],
      simulatedS: result.simTime,
      wallS: (performance.now() - t0) / 1000,
      planned,
      deadTime: sr?.deadTime,
    };
  } finally {
    await Promise.all(locals.map((l) => l.stop().catch(() => l.kill())));
    // players started elsewhere (donki player on other hosts) are told to leave instead of registering again
    await director.close(`its run of '${def.title}' is over`);
    // removed unless another run has written its own there meanwhile
    if (tokenFile && readIfExists(tokenFile)?.trim() === token) rmSync(tokenFile, { force: true });
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** A player's section of the scenario as `pre.config` carries it (defaults applied; no fault injection). */
function scenarioSection(p: PlayerDefT): Record<string, unknown> {
  const { faults: _faults, ...section } = p;
  return JSON.parse(JSON.stringify(section)) as Record<string, unknown>;
}

export function formatReport(r: ScenarioRunReport, timeMode: ClockMode): string {
  const lines: string[] = [];
  const end = r.result.end;
  lines.push(`${r.title}: ${end.status.toUpperCase()}${end.reason ? ` (${end.reason})` : ""}`);
  if (r.file) {
    const rel = relative(process.cwd(), r.file);
    lines.push(`  file:       ${rel && !rel.startsWith("..") ? rel : r.file}  (scan ${r.scanNumber})`);
    if (journalSegments(r.file).length) lines.push(`  journal:    kept beside the file (rows it could not take): donki recover ${rel && !rel.startsWith("..") ? rel : r.file}`);
  }
  const range = r.result.firstTrigger > 1 ? ` (${r.result.firstTrigger}..${r.result.lastTrigger}, resumed)` : "";
  const cut = end.lastIssued > end.lastTrigger ? `, trigger ${end.lastIssued} issued but not completed` : "";
  lines.push(`  triggers:   ${end.done}${end.planned !== null ? ` of ${end.planned - r.result.firstTrigger + 1} planned` : ""}${range}${cut}`);
  lines.push(`  wall time:  ${r.wallS.toFixed(2)} s`);
  // the speed against real time only when the triggers dominate the wall time (not for a try of a few triggers)
  if (timeMode.mode !== "real" && r.simulatedS > 0) lines.push(`  simulated:  ${fmtDuration(r.simulatedS)} of instrument time${end.done >= 10 ? ` (${speedVsReal(r.simulatedS, r.wallS)})` : ""}`);
  if (r.deadTime) lines.push(...formatDeadTime(r.deadTime));
  if (r.perStream.length) {
    const bad = r.perStream.filter((s) => !s.complete);
    lines.push(`  streams:    ${r.perStream.length - bad.length} of ${r.perStream.length} complete`);
    // one line per set of missing triggers (an abort cuts every stream at the same trigger: one line, not one each)
    const byRanges = new Map<string, string[]>();
    for (const s of bad) {
      const rg = toRanges(s.missing);
      byRanges.set(rg, [...(byRanges.get(rg) ?? []), s.key]);
    }
    for (const [rg, keys] of byRanges) {
      const shown = rg.length > 60 ? `${rg.slice(0, 57)}...` : rg;
      lines.push(`    trigger${rg.includes(",") || rg.includes("-") ? "s" : ""} ${shown} missing in ${keys.length === 1 ? keys[0] : `${keys.length} streams (${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", ..." : ""})`}`);
    }
  }
  if (r.result.faults.length) {
    lines.push(`  faults:     ${r.result.faults.length}`);
    for (const f of r.result.faults.slice(0, 10)) lines.push(`    trigger ${f.trig} level ${f.lvl} ${f.player}: ${f.kind} -> ${f.action}: ${f.message}`);
  }
  return lines.join("\n");
}

/** "120x faster than real time", "1.4x faster ...", "2.5x slower ...", "about real time". */
export function speedVsReal(simS: number, wallS: number): string {
  const ratio = simS / Math.max(wallS, 1e-9);
  if (ratio >= 10) return `${ratio.toFixed(0)}x faster than real time`;
  if (ratio >= 1.1) return `${ratio.toFixed(1)}x faster than real time`;
  if (ratio > 0 && ratio <= 0.9) return `${(1 / ratio).toFixed(1)}x slower than real time`;
  return "about real time";
}

export function fmtDuration(s: number): string {
  if (s < 120) return `${s.toFixed(2)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h} h ${m} min ${sec.toFixed(0)} s` : `${m} min ${sec.toFixed(1)} s`;
}

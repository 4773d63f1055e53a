/**
 * The donki command line. Exit codes (one table: runtime/protocol/run-status.ts EXIT_CODE_OF): 0 completed,
 * 1 failed or aborted scan / runtime failure, 2 bad input (or a pre-flight refusal), 3 stopped before its end,
 * 4 completed with gaps (every trigger issued, some rows masked).
 */
import { Command, InvalidArgumentError } from "commander";
import { runPlayerProcess } from "../player/main.ts";
import { createLogger } from "../log.ts";
import { VERSION } from "../version.ts";
import type { DeviceCatalogue } from "./run.ts";

export const EXIT = { ok: 0, failed: 1, badInput: 2, stopped: 3, gaps: 4 } as const;

/** An integer option in [min, max]; anything else is refused by commander before the command runs (exit 2). */
function int(name: string, min = -Infinity, max = Infinity) {
  return (v: string): number => {
    const n = /^[-+]?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`must be an integer`);
    if (n < min || n > max) {
      const range = max === Infinity ? `>= ${min}` : `${min}..${max}`;
      throw new InvalidArgumentError(`must be ${range}`);
    }
    return n;
  };
}
const count = (name: string) => int(name, 1);
const port = (name: string) => int(name, 0, 65535);

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number`);
    return n;
  };
}

/** tcp://HOST:PORT, as the Director reports its endpoints; a clear refusal (exit 2) instead of a ZeroMQ stack trace. */
export function endpoint(name: string) {
  return (v: string): string => {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d+)$/.exec(v.trim());
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new InvalidArgumentError(`expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5571`);
    return v.trim();
  };
}

/** --log-format pretty | json */
function logFormat(v: string): "pretty" | "json" {
  if (v !== "pretty" && v !== "json") throw new InvalidArgumentError(`must be pretty or json`);
  return v;
}

/** The operator's log options of run and director (runtime/cli/terminal/operator.ts). */
function withLogOptions(c: Command): Command {
  return c
    .option("--log-format <format>", "logs as pretty (one line, local time) or json (pino lines, for scripts)", logFormat, "pretty")
    .option("-q, --quiet", "errors only: no status area, no warnings (the summary is still printed)")
    .option("-v, --verbose", "more logs: -v info, -vv debug (default: warnings; or DONKI_LOG)", (_v: string, prev: number) => prev + 1, 0)
    .option("--log-file <file>", "also append every log line (Director, players, info and above) to FILE as JSON lines");
}

function keyValue(v: string, prev: Record<string, string>): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`options are KEY=VALUE, got '${v}'`);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
}

function fail(msg: string, code: number = EXIT.badInput): never {
  process.stderr.write(`donki: ${msg}\n`);
  process.exit(code);
}

function json<T>(what: string, s: string | undefined): T | undefined {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s) as T;
  } catch (e) {
    fail(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

export async function main(argv: string[], catalogue: DeviceCatalogue): Promise<void> {
  const program = new Command();
  program.name("donki").description("Distributed trigger-sequenced data acquisition (a DonkiOrchestra successor)").version(VERSION);
  // Set before the subcommands are made so that they inherit it: every usage error (missing argument, unknown
  // option or command, bad value) is one line "donki CMD: ..." and exit 2, before any Director or process starts.
  program.exitOverride((err) => {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(0);
    process.exit(EXIT.badInput);
  });
  program.configureOutput({
    outputError: (str, write) => write(`donki: ${str.replace(/^error: /, "").replace(/ is invalid\. /, " is invalid: ").trim().replace(/\s*\n\s*/g, " ")}\n`),
  });
  program.showSuggestionAfterError(true);

  withLogOptions(program
    .command("run"))
    .description("run a scenario: Director + local players (twins by default) -> NeXus/HDF5 file")
    .argument("<scenario>", "scenario file (YAML)")
    .option("--out <dir>", "output directory (default: the scenario's output.directory)")
    .option("--in-process", "run the local players inside this process instead of separate processes")
    .option("--time <mode>", "virtual | real | scale:FACTOR (overrides the scenario)")
    .option("--time-scale <factor>", "scaled real time, e.g. 0.1 = ten times faster (same as --time scale:FACTOR)")
    .option("--seed <n>", "seed of the simulated devices (overrides the scenario)", int("seed"))
    .option("--triggers <n>", "stop after this many triggers", count("triggers"))
    .option("--resume <file>", "continue a crashed run from the first trigger missing in FILE (new file, same scan number)")
    .option("--force", "start even if the pre-flight check says the output disk is too small")
    .option("--curve <keyfile>", "CURVE authentication: the Director's key file (donki keys --out FILE)")
    .option("--authorized <file>", "CURVE: public keys allowed to register, push data or control (one per line)")
    .option("--no-progress", "no status area (and no status lines without a terminal); logs only")
    .option("--json", "print the report as JSON on stdout")
    .option("--python <interpreter>", "Python of the python:/tango: players (default: DONKI_PYTHON, else a python3 that has pyzmq)")
    .option("--bind <host>", "interface to bind (default 127.0.0.1; 0.0.0.0 when players connect from other hosts)")
    .option("--port <port>", "player socket port (default: any free port)", port("port"))
    .option("--control-port <port>", "control socket port (default: any free port)", port("control-port"))
    .option("--event-port <port>", "event stream port (default: any free port)", port("event-port"))
    .option("--token-file <file>", "without CURVE: where to write the run token remote players need (default <out>/donki-run.token)")
    .option("--max-row-mb <n>", "largest row (one trigger of one stream) a player may declare, MiB (default: the scenario's output.maxRowMB, 64)", positive("max-row-mb"))
    .option("--monitor [port]", "serve the live monitor page on 127.0.0.1:PORT (0 or none = any free port; the URL and operator token are printed)", port("monitor"))
    .option("--wait <s>", "how long to wait for the players to register (seconds)", int("wait", 0), 60)
    .action(async (file: string, o) => {
      const { runCommand } = await import("./commands.ts");
      if (o.timeScale !== undefined) o.time = `scale:${o.timeScale}`;
      if (o.monitor === true) o.monitor = 0;
      process.exit(await runCommand(file, { ...o, playerPort: o.port, host: o.bind, waitS: o.wait }, catalogue, false));
    });

  withLogOptions(program
    .command("director"))
    .description("run a scenario's Director only; players connect by themselves (donki player on any host)")
    .argument("<scenario>", "scenario file (YAML)")
    .option("--bind <host>", "interface to bind (default 127.0.0.1; another address needs CURVE or --insecure)", "127.0.0.1")
    .option("--insecure", "allow --bind to a non-loopback address without CURVE (warned at start, in status and events)")
    .option("--token-file <file>", "without CURVE: where to write the run token remote players need (default <out>/donki-run.token)")
    .option("--max-row-mb <n>", "largest row (one trigger of one stream) a player may declare, MiB (default: the scenario's output.maxRowMB, 64)", positive("max-row-mb"))
    .option("--port <port>", "player port", port("port"), 5570)
    .option("--control-port <port>", "control port", port("control-port"), 5571)
    .option("--event-port <port>", "event port", port("event-port"), 5572)
    .option("--wait <s>", "how long to wait for the players to register (seconds; the Director says whom it waits for)", int("wait", 0), 120)
    .option("--out <dir>", "output directory")
    .option("--curve <keyfile>", "CURVE authentication: the Director's key file (donki keys --out FILE)")
    .option("--authorized <file>", "CURVE: public keys allowed to register, push data or control (one per line)")
    .option("--triggers <n>", "stop after this many triggers", count("triggers"))
    .option("--force", "start even if the pre-flight check says the output disk is too small")
    .option("--no-progress", "no status area (and no status lines without a terminal); logs only")
    .option("--json", "print the report as JSON on stdout")
    .action(async (file: string, o) => {
      const { runCommand } = await import("./commands.ts");
      process.exit(await runCommand(file, { ...o, playerPort: o.port, host: o.bind, waitS: o.wait }, catalogue, true));
    });

  program
    .command("player")
    .description("run one player process that registers with a Director")
    .requiredOption("--name <name>", "player name (unique per Director)")
    .requiredOption("--director <endpoint>", "Director player endpoint, e.g. tcp://127.0.0.1:5570", endpoint("director"))
    .option("--scenario <file>", "take this player's device, settings, level, seed, time, join and faults from the scenario (the flags below override)")
    .option("--level <n>", "priority level (-1 disables; required without --scenario)", int("level", -1))
    .option("--script <file>", "player script exporting createPlayer(options) or action(trig, params, ctx)")
    .option("--device <name>", `a device instead of a script (${catalogue.deviceNames().join(", ")})`)
    .option("--settings <json>", "device settings as JSON", "{}")
    .option("--seed <n>", "seed of a simulated device", int("seed"), 1)
    .option("--time <mode>", "clock of a simulated device: virtual | real | scale:FACTOR", "virtual")
    .option("--faults <json>", "fault injection for a simulated device (JSON list)")
    .option("-o, --opt <key=value>", "option passed to the script (repeatable)", keyValue, {})
    .option("--join <when>", "join a running scan at the next trigger or the next run", "next-trigger")
    .option("--curve-server-key <z85>", "Director's CURVE public key (enables CURVE)")
    .option("--curve-public-key <z85>", "this player's CURVE public key")
    .option("--curve-secret-key <z85>", "this player's CURVE secret key (or DONKI_CURVE_SECRET_KEY)")
    .option("--curve-key-file <file>", "this player's CURVE key file (instead of the two keys)")
    .option("--hb-interval <ms>", "heartbeat interval", count("hb-interval"))
    .option("--hb-timeout <ms>", "heartbeat timeout", count("hb-timeout"))
    .option("--parent-pid <pid>", "exit when this process is gone (set by donki run for its local players)", count("parent-pid"))
    .option("--token-file <file>", "the run's token file (written by donki run|director; without CURVE every player needs it; or DONKI_RUN_TOKEN)")
    .option("--log-format <format>", "logs as pretty (local time, one line) or json (default: DONKI_LOG_FORMAT, else pretty)", logFormat)
    .action(async (o, cmd: Command) => {
      if (o.logFormat) process.env.DONKI_LOG_FORMAT = o.logFormat;
      let faults = json<unknown[]>("--faults", o.faults);
      if (o.scenario) {
        // flags typed on the command line win over the scenario's values
        const given = (k: string) => ["cli", "env"].includes(cmd.getOptionValueSource(k) ?? "");
        const { playerFromScenario, PlayerScenarioError } = await import("./player-from-scenario.ts");
        let sp;
        try {
          const r = playerFromScenario(o.scenario, o.name, catalogue);
          for (const w of r.warnings) process.stderr.write(`donki player: warning: ${w}\n`);
          sp = r.player;
        } catch (e) {
          if (e instanceof PlayerScenarioError) fail(`player: ${e.lines.join("\n")}`);
          throw e;
        }
        if (!given("level") && sp.level !== undefined) o.level = sp.level;
        if (!o.device && !o.script) {
          if (sp.device) o.device = sp.device;
          else {
            o.script = sp.script;
            o.opt = { ...sp.options, ...o.opt };
          }
        }
        if (o.device && o.device === sp.device) o.settings = JSON.stringify({ ...sp.settings, ...(json<Record<string, unknown>>("--settings", o.settings) ?? {}) });
        if (!given("seed")) o.seed = sp.seed;
        if (!given("time")) o.time = sp.time;
        if (!given("join")) o.join = sp.join;
        if (faults === undefined && o.device === sp.device) faults = sp.faults;
      }
      if (o.level === undefined) fail("player: give --level N, or --scenario FILE (the level of its player --name)");
      if (o.parentPid) {
        // a player started by `donki run` must not outlive its Director process (e.g. after SIGKILL)
        setInterval(() => {
          try {
            process.kill(o.parentPid, 0);
          } catch {
            process.stderr.write(`donki player '${o.name}': the donki process ${o.parentPid} that started it is gone; exiting\n`);
            process.exit(1);
          }
        }, 500).unref();
      }
      if (!o.script && !o.device) fail("player: give --script FILE or --device NAME");
      if (o.join !== "next-trigger" && o.join !== "next-run") fail(`player: --join must be next-trigger or next-run, got '${o.join}'`);
      let curve;
      if (o.curveKeyFile) {
        const { curveClient } = await import("./commands.ts");
        curve = await curveClient(o.curveServerKey, o.curveKeyFile).catch((e: Error) => fail(`player: ${e.message}`));
      } else if (o.curveServerKey) {
        curve = { serverKey: o.curveServerKey, publicKey: o.curvePublicKey, secretKey: o.curveSecretKey ?? process.env.DONKI_CURVE_SECRET_KEY };
        if (!curve.publicKey || !curve.secretKey) fail("player: CURVE needs --curve-public-key and --curve-secret-key (or DONKI_CURVE_SECRET_KEY) too");
      }
      let token: string | undefined = process.env.DONKI_RUN_TOKEN || undefined;
      if (o.tokenFile) {
        const { readFileSync } = await import("node:fs");
        try {
          token = readFileSync(o.tokenFile, "utf8").trim();
        } catch (e) {
          fail(`player: --token-file: ${(e as Error).message}`);
        }
        if (!/^[0-9a-f]{32}$/.test(token!)) fail(`player: ${o.tokenFile} is not a donki run token (32 hex characters)`);
      }
      let behaviour;
      if (o.device) {
        const { parseTimeArg } = await import("./run.ts");
        try {
          behaviour = await catalogue.createDevicePlayer({
            device: o.device,
            name: o.name,
            settings: json<Record<string, unknown>>("--settings", o.settings) ?? {},
            seed: o.seed,
            time: parseTimeArg(o.time),
            faults,
          });
        } catch (e) {
          fail(`player '${o.name}': ${(e as Error).message}`);
        }
      }
      const code = await runPlayerProcess({
        name: o.name,
        level: o.level,
        director: o.director,
        script: o.script,
        behaviour,
        options: o.opt,
        join: o.join,
        curve,
        hbIntervalMs: o.hbInterval,
        hbTimeoutMs: o.hbTimeout,
        token,
        // donki run shows its own players' stderr; any other player sends its records to the Director
        forwardLogs: !o.parentPid,
      });
      process.exit(code);
    });

  program
    .command("ctl")
    .description("drive a running Director through its control socket")
    .argument("<command>", "status | pause | resume | stop | abort | disable | enable | priority | admit")
    .argument("[name]", "player name (admit NAME; same as --player)")
    .option("--control <endpoint>", "Director control endpoint, e.g. tcp://127.0.0.1:5571", endpoint("control"))
    .option("--player <name>", "player (disable, enable, priority)")
    .option("--level <n>", "new level (priority)", int("level", -1))
    .option("--curve-server-key <z85>", "the Director's CURVE public key (when it runs with --curve)")
    .option("--curve-key-file <file>", "this client's CURVE key file (its public key must be authorised)")
    .option("--timeout <ms>", "how long to wait for the Director's reply", count("timeout"), 5000)
    .option("--events <endpoint>", "status only: read it from the event stream (an observer key has no access to control)", endpoint("events"))
    .option("--json", "status only: the Director's status as JSON (for scripts) instead of a table")
    .action(async (cmd: string, name: string | undefined, o) => {
      const { ctlCommand } = await import("./commands.ts");
      process.exit(await ctlCommand(cmd, { ...o, player: o.player ?? name }));
    });

  program
    .command("events")
    .description("print the run documents (start, descriptor, event_page, status, stop) of a Director as JSON lines")
    .requiredOption("--events <endpoint>", "Director event endpoint, e.g. tcp://127.0.0.1:5572", endpoint("events"))
    .option("--control <endpoint>", "also print the Director's status first (control endpoint)", endpoint("control"))
    .option("--follow", "keep following run after run (default: stop after the next stop document)")
    .option("--all", "also print the Director's own events (state, trigger, player, fault, run) as {name: \"event\", topic, body}")
    .option("--curve-server-key <z85>", "the Director's CURVE public key (when it runs with --curve)")
    .option("--curve-key-file <file>", "this client's CURVE key file (its public key must be authorised)")
    .action(async (o) => {
      const { eventsCommand } = await import("./monitor-cmd.ts");
      process.exit(await eventsCommand(o));
    });

  program
    .command("monitor")
    .description("serve the live monitor page for a running Director (read-only without --control)")
    .requiredOption("--events <endpoint>", "Director event endpoint, e.g. tcp://127.0.0.1:5572", endpoint("events"))
    .option("--control <endpoint>", "Director control endpoint: pause/resume/stop from the page with the operator token", endpoint("control"))
    .option("--port <port>", "HTTP port (0 = any free port)", port("port"), 0)
    .option("--bind <host>", "interface to serve on (default 127.0.0.1)")
    .option("--token <token>", "operator token (default: a fresh random one, printed)")
    .option("--out <dir>", "output directory of the finished scans to list")
    .option("--curve-server-key <z85>", "the Director's CURVE public key (when it runs with --curve)")
    .option("--curve-key-file <file>", "this client's CURVE key file (its public key must be authorised)")
    .action(async (o) => {
      const { monitorCommand } = await import("./monitor-cmd.ts");
      process.exit(await monitorCommand(o));
    });

  program
    .command("estimate")
    .description("predict how long a scenario takes on the instrument, from the timing models, by level and phase")
    .argument("<scenario>", "scenario file (YAML)")
    .option("--json", "JSON output")
    .action(async (file: string, o) => {
      const { estimateCommand } = await import("./commands.ts");
      process.exit(await estimateCommand(file, o, catalogue));
    });

  program
    .command("inspect")
    .description("print the summary of a donki NeXus file; several files or a directory: one line per scan")
    .argument("<files...>", "NeXus/HDF5 files written by donki, or directories of them")
    .option("--json", "JSON output")
    .action(async (files: string[], o) => {
      const { inspectCommand } = await import("./commands.ts");
      process.exit(await inspectCommand(files, o));
    });

  program
    .command("recover")
    .description("replay a crashed scan's write-ahead journal (FILE.journal-*) into FILE; the file then tells its status")
    .argument("<file>", "the scan's NeXus file (the journal lies beside it)")
    .option("--json", "JSON output")
    .action(async (file: string, o) => {
      const { recoverCommand } = await import("./commands.ts");
      process.exit(await recoverCommand(file, o));
    });

  program
    .command("quicklook")
    .description("render a scan's maps (absorption, element maps) and summed spectrum to a PNG")
    .argument("<file>", "NeXus/HDF5 file written by donki")
    .option("--out <png>", "output PNG (default: FILE with .png)")
    .option("--scale <n>", "pixels per map pixel (default: maps about 256 px)", count("scale"))
    .action(async (file: string, o) => {
      const { quicklookCommand } = await import("./commands.ts");
      process.exit(await quicklookCommand(file, o));
    });

  program
    .command("validate")
    .description("check NeXus files against the application definitions their entries declare (NXstxm, NXfluo; docs/nexus)")
    .argument("<files...>", "NeXus/HDF5 files")
    .option("--json", "JSON output")
    .action(async (files: string[], o) => {
      const { validateCommand } = await import("./commands.ts");
      process.exit(await validateCommand(files, o));
    });

  program
    .command("devices")
    .description("list serial ports, USB instruments and TCP controllers that are present")
    .option("--tcp <host:port>", "also probe this TCP controller with *IDN? (repeatable)", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("--scenario <file>", "also probe the TCP controllers (pi-gcs players) of this scenario")
    .option("--timeout <ms>", "per-probe timeout", count("timeout"), 1000)
    .option("--json", "JSON output")
    .action(async (o) => {
      const { devicesCommand } = await import("./commands.ts");
      process.exit(await devicesCommand(o, catalogue));
    });

  program
    .command("keys")
    .description("make a CURVE key pair (Z85) for a Director, a player or a control client")
    .option("--out <file>", "write the key file (mode 600) instead of printing; the public key is printed")
    .action(async (o) => {
      const { newKeyPair } = await import("../transport/curve.ts");
      const k = newKeyPair();
      const text = `public: ${k.publicKey}\nsecret: ${k.secretKey}\n`;
      if (o.out) {
        const { writeFileSync, existsSync } = await import("node:fs");
        if (existsSync(o.out)) fail(`keys: ${o.out} exists; refusing to overwrite a key file`);
        writeFileSync(o.out, text, { mode: 0o600 });
        process.stdout.write(`${k.publicKey}\n`);
      } else process.stdout.write(text);
    });

  await program.parseAsync(argv);
}

export const log = () => createLogger("donki");

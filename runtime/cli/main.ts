/**
 * The donki command line. Exit codes: 0 success, 1 failed scan / runtime failure, 2 bad input.
 */
import { Command, InvalidArgumentError } from "commander";
import { runPlayerProcess } from "../player/main.ts";

const program = new Command();
program.name("donki").description("Distributed trigger-sequenced data acquisition (DonkiOrchestra successor)").version("0.1.0");

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got '${v}'`);
    return n;
  };
}

function keyValue(v: string, prev: Record<string, string>): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`options are KEY=VALUE, got '${v}'`);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
}

program
  .command("player")
  .description("run one player process that registers with a Director")
  .requiredOption("--name <name>", "player name (unique per Director)")
  .requiredOption("--level <n>", "priority level (-1 disables)", int("level"))
  .requiredOption("--director <endpoint>", "Director player endpoint, e.g. tcp://127.0.0.1:5570")
  .option("--script <file>", "player script exporting createPlayer(options) or action(trig, params, ctx)")
  .option("--device <spec>", "a device adapter instead of a script, e.g. sim:pi-ccd")
  .option("-o, --opt <key=value>", "option passed to the script/device (repeatable)", keyValue, {})
  .option("--join <when>", "join a running scan at the next trigger or the next run", "next-trigger")
  .option("--curve-server-key <z85>", "Director's CURVE public key (enables CURVE)")
  .option("--curve-public-key <z85>", "this player's CURVE public key")
  .option("--curve-secret-key <z85>", "this player's CURVE secret key")
  .option("--hb-interval <ms>", "heartbeat interval", int("hb-interval"))
  .option("--hb-timeout <ms>", "heartbeat timeout", int("hb-timeout"))
  .action(async (o) => {
    if (!o.script && !o.device) {
      process.stderr.write("donki player: give --script FILE or --device SPEC\n");
      process.exit(2);
    }
    if (o.join !== "next-trigger" && o.join !== "next-run") {
      process.stderr.write(`donki player: --join must be next-trigger or next-run, got '${o.join}'\n`);
      process.exit(2);
    }
    const curve = o.curveServerKey ? { serverKey: o.curveServerKey, publicKey: o.curvePublicKey, secretKey: o.curveSecretKey } : undefined;
    if (curve && (!curve.publicKey || !curve.secretKey)) {
      process.stderr.write("donki player: CURVE needs --curve-public-key and --curve-secret-key too\n");
      process.exit(2);
    }
    let behaviour;
    if (o.device) {
      const { createDevicePlayer } = await import("../players/factory.ts");
      try {
        behaviour = await createDevicePlayer(o.device, o.opt);
      } catch (e) {
        process.stderr.write(`donki player: ${(e as Error).message}\n`);
        process.exit(2);
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
    });
    process.exit(code);
  });

program.exitOverride((err) => {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(0);
  process.exit(2);
});

await program.parseAsync(process.argv);

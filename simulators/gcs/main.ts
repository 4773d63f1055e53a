/**
 * Run the GCS 2.0 emulator as a process:
 *   node --import tsx simulators/gcs/main.ts [--host 127.0.0.1] [--port 0] [--serial PATH] [--baud 115200]
 *        [--time-scale 1] [--axes 3] [--seed 1]
 * Prints one JSON line `{"event":"listening","host":...,"port":...,"serial":...}` on stdout once ready;
 * stops on SIGTERM/SIGINT. Time: real clock, or a ScaledClock with --time-scale < 1.
 */
import { parseArgs } from "node:util";
import { RealClock, ScaledClock } from "../../runtime/clock.ts";
import { GcsEmulator } from "./emulator.ts";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    "no-tcp": { type: "boolean", default: false },
    serial: { type: "string" },
    baud: { type: "string", default: "115200" },
    "time-scale": { type: "string", default: "1" },
    axes: { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
  },
});

const scale = Number(values["time-scale"]);
const clock = scale === 1 ? new RealClock() : new ScaledClock(scale);
const emu = new GcsEmulator({ clock, axes: Number(values.axes), seed: Number(values.seed) });
let port: number | undefined;
if (!values["no-tcp"]) port = (await emu.listenTcp({ host: values.host, port: Number(values.port) })).port;
if (values.serial) await emu.openSerial(values.serial, Number(values.baud));
process.stdout.write(JSON.stringify({ event: "listening", host: values.host, port, serial: values.serial ?? null }) + "\n");
const stop = async () => {
  await emu.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

/**
 * Where donki's time goes on the trigger path, one side at a time (issue 17): a bare zeromq.js ROUTER that speaks
 * just enough of the protocol (welcome, pre, trig) to drive ONE donki Player process (the TypeScript player of
 * `donki player`, empty action), against the same ROUTER driving the bare DEALER echo peer, interleaved rounds.
 * The difference is what the Player adds; bench/triggers.ts's donki/bare minus this is what the Director adds.
 *   node --import tsx bench/player-path.ts [--triggers N] [--rounds N]
 */
import * as zmq from "zeromq";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";
import { encode } from "../runtime/protocol/codec.ts";
import { PROTOCOL_VERSION } from "../runtime/protocol/messages.ts";
import { bareLevels } from "./triggers.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..");

export async function protocolRouterToPlayer(N: number): Promise<number> {
  const r = new zmq.Router({ linger: 0, sendTimeout: 0 });
  await r.bind("tcp://127.0.0.1:*");
  const p = spawn(process.execPath, [join(ROOT, "bin/donki.mjs"), "player", "--name", "p0", "--level", "0", "--director", r.lastEndpoint!, "--script", join(HERE, "empty-player.ts")], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, DONKI_LOG: "warn" },
  });
  const [id] = await r.receive(); // hello
  await r.send([id, encode({ v: PROTOCOL_VERSION, type: "welcome", name: "p0", session: "bench", hbInterval: 500, hbTimeout: 60_000 })]);
  const run = "r1-bench";
  await r.send([id, encode({ v: PROTOCOL_VERSION, type: "pre", run, seq: 1, config: {}, t: 0 })]);
  for (;;) {
    const f = await r.receive();
    if (f[1].includes(Buffer.from("ready"))) break; // heartbeats may come first
  }
  const warm = Math.floor(N / 5);
  let t0 = 0;
  const params = {};
  for (let t = 1; t <= N; t++) {
    if (t === warm) t0 = performance.now();
    await r.send([id, encode({ v: PROTOCOL_VERSION, type: "trig", run, trig: t, lvl: 0, seq: t + 1, params, t: 0 })]);
    for (;;) {
      const f = await r.receive();
      if (f[1].includes(Buffer.from("ack"))) break;
    }
  }
  const rate = (N - warm) / ((performance.now() - t0) / 1000);
  p.kill("SIGTERM");
  await new Promise((res) => p.on("exit", res));
  r.close();
  return rate;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (k: string, d: number) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const N = arg("--triggers", 10_000);
  const R = arg("--rounds", 3);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < R; i++) {
    a.push(await bareLevels([0], N));
    b.push(await protocolRouterToPlayer(N));
    console.log(`round ${i + 1}: bare ROUTER -> bare DEALER echo ${a[i].toFixed(0)}/s   bare ROUTER speaking the protocol -> donki Player ${b[i].toFixed(0)}/s`);
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
  console.log(`medians: bare echo ${med(a).toFixed(0)}/s, donki Player ${med(b).toFixed(0)}/s, ratio ${(med(b) / med(a)).toFixed(2)}; per trigger the Player adds ${(1e6 / med(b) - 1e6 / med(a)).toFixed(0)} us`);
  process.exit(0);
}

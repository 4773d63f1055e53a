/**
 * The least a player can be (bench/player-path.ts --director): a bare zeromq.js DEALER that registers and acks every
 * trigger, no Player class, no job queue, no action. Isolates what the Director costs per trigger.
 *   bare-protocol-peer.ts ENDPOINT NAME
 */
import * as zmq from "zeromq";
import { encode, decodeFromDirector } from "../runtime/protocol/codec.ts";
import { PROTOCOL_VERSION } from "../runtime/protocol/messages.ts";
const [ep, name] = process.argv.slice(2);
const d = new zmq.Dealer({ linger: 0 });
d.connect(ep);
await d.send(encode({ v: PROTOCOL_VERSION, type: "hello", name, level: 0, streams: [], device: { kind: "function", model: "bare", simulated: false }, instance: "x" + process.pid, pid: process.pid, host: "localhost", join: "next-trigger" }));
const hb = setInterval(() => void d.send(encode({ v: PROTOCOL_VERSION, type: "hb" })).catch(() => {}), 500);
process.on("SIGTERM", () => {
  clearInterval(hb);
  d.close();
  process.exit(0);
});
for (;;) {
  const m = decodeFromDirector(await d.receive()) as unknown as Record<string, unknown>;
  if (m.type === "welcome") console.log("registered");
  else if (m.type === "pre") await d.send(encode({ v: PROTOCOL_VERSION, type: "ready", run: m.run, seq: m.seq, ok: true }));
  else if (m.type === "post") await d.send(encode({ v: PROTOCOL_VERSION, type: "done", run: m.run, seq: m.seq, ok: true }));
  else if (m.type === "trig") await d.send(encode({ v: PROTOCOL_VERSION, type: "ack", run: m.run, trig: m.trig, lvl: m.lvl, seq: m.seq, ok: true }));
}

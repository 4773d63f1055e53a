/**
 * Bare zeromq.js peer of the trigger-broadcast direction (bench/triggers.ts bareLevelsPub): triggers arrive on a SUB
 * socket subscribed to this peer's level (first byte of the message), acks go back on a DEALER. No protocol.
 *   zmq-pub-peer.ts ROUTER_ENDPOINT PUB_ENDPOINT LEVEL
 */
import * as zmq from "zeromq";
const [routerEp, pubEp, level] = process.argv.slice(2);
const d = new zmq.Dealer({ linger: 0 });
const s = new zmq.Subscriber({ linger: 0 });
d.connect(routerEp);
s.connect(pubEp);
s.subscribe(Buffer.from([Number(level)]));
s.subscribe(Buffer.from([255])); // the end
await d.send("ready");
for (;;) {
  const [m] = await s.receive();
  if (m[0] === 255) break;
  await d.send(m);
}
s.close();
d.close();

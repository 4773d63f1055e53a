/** Bare zeromq.js DEALER echo peer: the reference for the Director's fan-out (bench/triggers.ts). */
import * as zmq from "zeromq";
const s = new zmq.Dealer({ linger: 0 });
s.connect(process.argv[2]);
await s.send("ready");
for (;;) {
  const [m] = await s.receive();
  if (m.length === 0) break;
  await s.send(m);
}
s.close();

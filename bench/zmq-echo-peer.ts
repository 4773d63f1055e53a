/** Raw zeromq.js PAIR echo peer for the round-trip reference measurement. */
import * as zmq from "zeromq";
const s = new zmq.Pair({ linger: 0 });
s.connect(process.argv[2]);
for (;;) {
  const [m] = await s.receive();
  if (m.length === 1 && m[0] === 0) break;
  await s.send(m);
}
s.close();

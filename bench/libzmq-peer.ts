/**
 * Echo peers on libzmq via koffi (runtime/transport/libzmq.ts), for bench/triggers.ts:
 *   pair ENDPOINT     PAIR echo (round-trip reference)
 *   pair-blocking ENDPOINT   PAIR echo with the main thread blocked in zmq_recv (no event loop)
 *   dealer ENDPOINT   DEALER echo of the bare same-topology reference
 * pair and dealer say "ready" first.
 */
import { LibzmqSocket, ZMQ } from "./libzmq-koffi.ts";
const [mode, ep] = process.argv.slice(2);
if (mode === "pair-blocking") {
  // the main thread blocked in zmq_recv, as pyzmq's echo peer is: no event loop in the path
  const b = new LibzmqSocket(ZMQ.PAIR);
  b.setInt(ZMQ.RCVTIMEO, 10_000); // an orphaned peer ends (zmq_recv fails) instead of blocking for good
  b.connect(ep, false);
  for (;;) {
    const m = b.recvBlocking();
    if (m.length === 1 && m[0] === 0) break;
    b.sendBlocking(m);
  }
  b.close();
  process.exit(0);
}
const s = new LibzmqSocket(mode === "pair" ? ZMQ.PAIR : ZMQ.DEALER, { syncWaitMs: Number(process.env.DONKI_SYNC_WAIT_MS ?? 1) });
s.connect(ep);
const end = mode === "pair" ? (m: Buffer) => m.length === 1 && m[0] === 0 : (m: Buffer) => m.length === 0;
s.onMessage = ([m]) => {
  if (end(m)) {
    s.close();
    setTimeout(() => process.exit(0), 10);
    return;
  }
  s.send([m]);
};
s.send(["ready"]); // a PAIR send before the connection is up would be refused (EAGAIN): the binding side waits for this

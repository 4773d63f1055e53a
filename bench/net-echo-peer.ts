/** Node `net` TCP echo peer (no framing needed: the measuring side sends one 64-byte message per round trip). */
import { connect } from "node:net";
const [host, port] = process.argv[2].split(":");
const s = connect({ host, port: Number(port), noDelay: true });
s.on("data", (b: Buffer) => {
  if (b.length === 1 && b[0] === 0) s.end();
  else s.write(b);
});
s.on("close", () => process.exit(0));

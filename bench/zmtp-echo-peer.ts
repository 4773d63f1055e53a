/** Echo peer on donki's own ZMTP (a ZmtpDealer over node:net) for the round-trip reference measurement. */
import { ZmtpDealer } from "../runtime/transport/zmtp/dealer.ts";
const d = new ZmtpDealer();
d.onMessage((f) => {
  if (f.length === 1 && f[0].length === 1 && f[0][0] === 0) {
    void d.flush(1000).then(() => {
      d.close();
      process.exit(0);
    });
  } else d.send(f);
});
d.connect(process.argv[2]);
d.send(["ready"]);

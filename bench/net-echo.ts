/**
 * The bare Node `net` reference: a loopback TCP connection to bench/net-echo-peer.ts in its own process, which
 * echoes every 64-byte message (a one-byte message ends it). Used by the round-trip and CPU-per-trigger benches.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { join, dirname, resolve } from "node:path";

const HERE = dirname(fileURLToPath(import.meta.url));

export interface NetEchoPeer {
  sock: Socket;
  child: ChildProcess;
  /** The 64-byte message to send. */
  msg: Buffer;
  /** Tell the peer to exit, wait for it, close the connection and the server. */
  stop(): Promise<void>;
}

export async function startNetEchoPeer(): Promise<NetEchoPeer> {
  const server = createServer({ noDelay: true });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const port = (server.address() as AddressInfo).port;
  const child = spawn(process.execPath, ["--import", "tsx", join(HERE, "net-echo-peer.ts"), `127.0.0.1:${port}`], { stdio: "inherit", cwd: resolve(HERE, "..") });
  const sock = await new Promise<Socket>((res) => server.once("connection", res));
  sock.setNoDelay(true);
  return {
    sock,
    child,
    msg: Buffer.alloc(64, 1),
    async stop() {
      sock.write(Buffer.from([0]));
      await new Promise((r) => child.on("exit", r));
      sock.destroy();
      server.close();
    },
  };
}

import * as zmq from "zeromq";

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** Director side: key pair plus the public keys of authorised players/clients. */
export interface CurveServerConfig extends CurveKeyPair {
  authorizedKeys: string[];
}

/** Player/client side: its own key pair plus the Director's public key. */
export interface CurveClientConfig extends CurveKeyPair {
  serverKey: string;
}

export function newKeyPair(): CurveKeyPair {
  return zmq.curveKeyPair();
}

/** Z85 encoding of a 32-byte key, as used on the wire by ZAP (credentials frame is binary). */
const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4) throw new Error("z85: length must be a multiple of 4");
  let out = "";
  for (let i = 0; i < data.length; i += 4) {
    let v = ((data[i] << 24) >>> 0) + (data[i + 1] << 16) + (data[i + 2] << 8) + data[i + 3];
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85[v % 85]);
      v = Math.floor(v / 85);
    }
    out += chunk.join("");
  }
  return out;
}

/**
 * A ZAP handler (RFC 27) authorising CURVE clients by public key. One per process (it binds the well-known
 * inproc endpoint in the default context). `onDenied` is told about every refused key.
 */
export class ZapAuthenticator {
  private readonly sock = new zmq.Reply();
  private readonly allowed: Set<string>;
  private running = false;
  denied = 0;

  constructor(authorizedKeys: string[], private readonly onDenied: (key: string, address: string) => void = () => {}) {
    this.allowed = new Set(authorizedKeys);
  }

  async start(): Promise<void> {
    await this.sock.bind("inproc://zeromq.zap.01");
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let msg: Buffer[];
      try {
        msg = await this.sock.receive();
      } catch {
        return;
      }
      const [version, requestId, , address, , mechanism, credentials] = msg;
      let status = "400";
      let text = "not authorised";
      if (mechanism?.toString() === "CURVE" && credentials?.length === 32) {
        const key = z85Encode(credentials);
        if (this.allowed.has(key)) {
          status = "200";
          text = "OK";
        } else {
          this.denied++;
          this.onDenied(key, address?.toString() ?? "?");
        }
      } else if (mechanism?.toString() !== "CURVE") {
        text = `mechanism ${mechanism?.toString()} not allowed`;
      }
      try {
        await this.sock.send([version ?? "1.0", requestId ?? "", status, text, status === "200" ? "player" : "", ""]);
      } catch {
        return;
      }
    }
  }

  close(): void {
    this.running = false;
    this.sock.close();
  }
}

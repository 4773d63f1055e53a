import * as zmq from "zeromq";
import { keysFor, normaliseKeys, parseAuthorizedKeys, type AuthorizedKey, type Channel } from "./roles.ts";

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** Director side: key pair plus the public keys of authorised players/clients (a plain string: any role). */
export interface CurveServerConfig extends CurveKeyPair {
  authorizedKeys: Array<string | AuthorizedKey>;
}

/** Player/client side: its own key pair plus the Director's public key. */
export interface CurveClientConfig extends CurveKeyPair {
  serverKey: string;
}

/** Make a socket a CURVE client of the server whose public key `curve.serverKey` is (no-op without `curve`). */
export function useCurveClient(sock: { curveServerKey: string | null; curvePublicKey: string | null; curveSecretKey: string | null }, curve?: CurveClientConfig): void {
  if (!curve) return;
  sock.curveServerKey = curve.serverKey;
  sock.curvePublicKey = curve.publicKey;
  sock.curveSecretKey = curve.secretKey;
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

interface ZapDomain {
  allowed: Set<string>;
  /** Every key of the Director (to tell "not authorised" from "not for this socket"). */
  known: Set<string>;
  onDenied: (key: string, address: string, known: boolean) => void;
  counter: { denied: number };
}

/**
 * The process-wide ZAP handler (RFC 27): one REP socket on the well-known inproc endpoint of the default context,
 * shared by every Director in the process; each Director registers its own ZAP domain with its authorised keys.
 * Reference-counted: the socket closes when the last Director leaves.
 */
class ZapHandler {
  private sock: zmq.Reply | null = null;
  private starting: Promise<void> | null = null;
  readonly domains = new Map<string, ZapDomain>();

  async acquire(domain: string, d: ZapDomain): Promise<void> {
    this.domains.set(domain, d);
    if (!this.starting) this.starting = this.open();
    await this.starting;
  }

  release(domain: string): void {
    this.domains.delete(domain);
    if (this.domains.size === 0 && this.sock) {
      this.sock.close();
      this.sock = null;
      this.starting = null;
    }
  }

  private async open(): Promise<void> {
    // a handler closed a moment ago may still hold the endpoint: retry for a while
    for (let i = 0; ; i++) {
      const sock = new zmq.Reply({ linger: 0 });
      try {
        await sock.bind("inproc://zeromq.zap.01");
        this.sock = sock;
        void this.loop(sock);
        return;
      } catch (e) {
        sock.close();
        if (i >= 100) throw new Error(`cannot start the CURVE authenticator (ZAP): ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  private async loop(sock: zmq.Reply): Promise<void> {
    for (;;) {
      let msg: Buffer[];
      try {
        msg = await sock.receive();
      } catch {
        return;
      }
      const [version, requestId, domainB, address, , mechanism, credentials] = msg;
      const d = this.domains.get(domainB?.toString() ?? "");
      let status = "400";
      let text = "not authorised";
      if (!d) text = `unknown ZAP domain '${domainB?.toString()}'`;
      else if (mechanism?.toString() === "CURVE" && credentials?.length === 32) {
        const key = z85Encode(credentials);
        if (d.allowed.has(key)) {
          status = "200";
          text = "OK";
        } else {
          d.counter.denied++;
          d.onDenied(key, address?.toString() ?? "?", d.known.has(key));
        }
      } else text = `mechanism ${mechanism?.toString()} not allowed`;
      try {
        await sock.send([version ?? "1.0", requestId ?? "", status, text, status === "200" ? "player" : "", ""]);
      } catch {
        return;
      }
    }
  }
}

const zap = new ZapHandler();
let domainCounter = 0;

/**
 * One Director's CURVE authorisation: one ZAP domain per socket (player, control, events), each admitting the keys
 * whose role uses that socket (runtime/transport/roles.ts).
 */
export class ZapAuthenticator {
  private readonly base = `donki-${process.pid}-${++domainCounter}`;
  private readonly counter = { denied: 0 };
  private readonly keys: AuthorizedKey[];

  constructor(
    authorizedKeys: ReadonlyArray<string | AuthorizedKey>,
    private readonly onDenied: (key: string, address: string, channel: Channel, known: boolean) => void = () => {},
  ) {
    this.keys = normaliseKeys(authorizedKeys);
  }

  /** The ZAP domain of one of the Director's sockets. */
  domain(channel: Channel): string {
    return `${this.base}-${channel}`;
  }

  get denied(): number {
    return this.counter.denied;
  }

  async start(): Promise<void> {
    const known = new Set(this.keys.map((k) => k.key));
    for (const ch of ["player", "control", "events"] as const)
      await zap.acquire(this.domain(ch), { allowed: keysFor(this.keys, ch), known, onDenied: (k, a, kn) => this.onDenied(k, a, ch, kn), counter: this.counter });
  }

  close(): void {
    for (const ch of ["player", "control", "events"] as const) zap.release(this.domain(ch));
  }
}

/**
 * Key files: `donki keys --out FILE` writes "public: Z85" and "secret: Z85" lines (mode 0600). An authorised-keys
 * file lists public keys, one per line ("public: Z85" lines of key files work too); a line starting with # is a
 * comment (# is also a Z85 character, so there are no trailing comments).
 */
export function readKeyFile(path: string, text: string): CurveKeyPair {
  const pub = /^\s*public:\s*(\S{40})\s*$/m.exec(text)?.[1];
  const sec = /^\s*secret:\s*(\S{40})\s*$/m.exec(text)?.[1];
  if (!pub || !sec) throw new Error(`${path}: not a CURVE key file (needs 'public: <40 Z85 chars>' and 'secret: <40 Z85 chars>' lines; make one with donki keys --out FILE)`);
  return { publicKey: pub, secretKey: sec };
}

/** The public keys of an authorised-keys file (roles dropped; see readAuthorizedKeyRoles). */
export function readAuthorizedKeys(path: string, text: string): string[] {
  return parseAuthorizedKeys(path, text).map((k) => k.key);
}

/** An authorised-keys file with each key's role (`KEY [ROLE]`; a line without a role: any role). */
export function readAuthorizedKeyRoles(path: string, text: string): AuthorizedKey[] {
  return parseAuthorizedKeys(path, text);
}

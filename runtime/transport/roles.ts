/**
 * Roles of CURVE keys. Each authorised key has a role; the Director's three sockets each run their own ZAP domain
 * and admit only the roles that belong there, so a key is refused at the handshake on a socket its role does not
 * use (docs/protocol.md "Security"):
 *
 *   role       player socket   control socket   event stream
 *   player     yes             no               no
 *   operator   no              yes              yes
 *   observer   no              no               yes (status arrives as `status` events)
 *   any        yes             yes              yes   (a line without a role: the meaning before roles existed)
 *
 * Authorised-keys file: one key per line, `KEY [ROLE]`, ROLE one of player, player:NAME[,NAME...], operator,
 * observer; "public: KEY" lines of key files work too; a line starting with # is a comment.
 */

export type Role = "player" | "operator" | "observer" | "any";
export type Channel = "player" | "control" | "events";

export interface AuthorizedKey {
  key: string;
  role: Role;
  /** For role player: the names this key may register (undefined = any name). */
  names?: string[];
}

const CHANNELS: Record<Role, Channel[]> = {
  player: ["player"],
  operator: ["control", "events"],
  observer: ["events"],
  any: ["player", "control", "events"],
};

export function channelsOf(role: Role): Channel[] {
  return CHANNELS[role];
}

/** Accept plain strings (legacy: any role) and role entries. */
export function normaliseKeys(keys: ReadonlyArray<string | AuthorizedKey>): AuthorizedKey[] {
  return keys.map((k) => (typeof k === "string" ? { key: k, role: "any" } : k));
}

/** The public keys admitted on one channel. */
export function keysFor(keys: ReadonlyArray<string | AuthorizedKey>, channel: Channel): Set<string> {
  return new Set(normaliseKeys(keys).filter((k) => channelsOf(k.role).includes(channel)).map((k) => k.key));
}

/** Parse an authorised-keys file with roles; errors name the file and line. */
export function parseAuthorizedKeys(path: string, text: string): AuthorizedKey[] {
  const out: AuthorizedKey[] = [];
  text.split("\n").forEach((raw, i) => {
    // '#' is a Z85 character: only a line that starts with it is a comment
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("secret:")) return;
    const parts = line.replace(/^public:\s*/, "").split(/\s+/);
    const [key, roleText, ...rest] = parts;
    if (!/^\S{40}$/.test(key)) throw new Error(`${path}:${i + 1}: not a Z85 public key (40 characters): '${line}'`);
    if (rest.length) throw new Error(`${path}:${i + 1}: expected 'KEY [ROLE]', got more after the role: '${line}'`);
    if (roleText === undefined) {
      out.push({ key, role: "any" });
      return;
    }
    const m = /^(player|operator|observer)(?::(.+))?$/.exec(roleText);
    if (!m) throw new Error(`${path}:${i + 1}: unknown role '${roleText}' (player, player:NAME[,NAME...], operator or observer)`);
    const role = m[1] as Role;
    if (m[2] !== undefined && role !== "player") throw new Error(`${path}:${i + 1}: only the player role takes names ('${roleText}')`);
    const names = m[2]?.split(",").filter(Boolean);
    if (names?.some((n) => !/^[A-Za-z0-9_.-]{1,64}$/.test(n))) throw new Error(`${path}:${i + 1}: bad player name in '${roleText}'`);
    out.push({ key, role, ...(names ? { names } : {}) });
  });
  return out;
}

// ---- proof of a player key in `hello` (needed only where a key is limited to names) ----
import { createHmac, createPrivateKey, createPublicKey, diffieHellman, timingSafeEqual } from "node:crypto";

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const Z85_INDEX = new Map([...Z85].map((c, i) => [c, i]));

/** Decode a Z85 string (length a multiple of 5) into bytes; throws on a character outside Z85. */
export function z85Decode(s: string): Buffer {
  if (s.length % 5) throw new Error("z85: length must be a multiple of 5");
  const out = Buffer.alloc((s.length / 5) * 4);
  for (let i = 0, o = 0; i < s.length; i += 5, o += 4) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85_INDEX.get(s[i + j]);
      if (d === undefined) throw new Error(`z85: bad character '${s[i + j]}'`);
      v = v * 85 + d;
    }
    out.writeUInt32BE(v >>> 0, o);
  }
  return out;
}

const b64u = (b: Buffer) => b.toString("base64url");

/** X25519 shared secret of a CURVE secret key and another party's CURVE public key (both Z85). */
function sharedSecret(secretZ85: string, ownPublicZ85: string, otherPublicZ85: string): Buffer {
  const privateKey = createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: b64u(z85Decode(secretZ85)), x: b64u(z85Decode(ownPublicZ85)) }, format: "jwk" });
  const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64u(z85Decode(otherPublicZ85)) }, format: "jwk" });
  return diffieHellman({ privateKey, publicKey });
}

/**
 * `hello.proof`: hex HMAC-SHA256, keyed with the X25519 secret shared by the player's CURVE key and the Director's,
 * of "donki-hello-v1|" + name. Only the holder of the player's secret key (or the Director) can compute it, so the
 * Director learns which authorised key sends this hello (ZeroMQ's ROUTER does not tell).
 */
export function helloProof(secretZ85: string, publicZ85: string, directorPublicZ85: string, name: string): string {
  return createHmac("sha256", sharedSecret(secretZ85, publicZ85, directorPublicZ85)).update(`donki-hello-v1|${name}`).digest("hex");
}

/** Director side: does `proof` show that the sender holds the secret of `playerPublicZ85`? */
export function checkHelloProof(directorSecretZ85: string, directorPublicZ85: string, playerPublicZ85: string, name: string, proof: string): boolean {
  let want: Buffer;
  try {
    want = createHmac("sha256", sharedSecret(directorSecretZ85, directorPublicZ85, playerPublicZ85)).update(`donki-hello-v1|${name}`).digest();
  } catch {
    return false;
  }
  const got = Buffer.from(proof, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

import { describe, expect, it } from "vitest";
import { newKeyPair, readAuthorizedKeys, readKeyFile } from "./curve.ts";

describe("CURVE key files", () => {
  it("authorised-keys files keep keys containing '#' (a Z85 character); only lines starting with # are comments", () => {
    const k = "VT&w:Tbw%:(i%PTULbpjYd3rRR6a#0123456789a"; // 40 Z85 characters with a '#'
    expect(k.length).toBe(40);
    expect(readAuthorizedKeys("auth", `# operators\n${k}\n  public: ${k}\nsecret: ${k}\n\n`)).toEqual([k, k]);
    expect(() => readAuthorizedKeys("auth", "short\n")).toThrow(/auth:1: not a Z85 public key/);
  });

  it("key files round-trip and bad ones are named", () => {
    const kp = newKeyPair();
    expect(readKeyFile("f", `public: ${kp.publicKey}\nsecret: ${kp.secretKey}\n`)).toEqual(kp);
    expect(() => readKeyFile("f.key", "public: x\n")).toThrow(/f\.key: not a CURVE key file/);
  });
});

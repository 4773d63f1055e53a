/** The `log` message (player -> Director) and `welcome.logs`, as docs/protocol.md defines them. */
import { describe, expect, it } from "vitest";
import { decodeFromDirector, decodeFromPlayer, encode, ProtocolError } from "./codec.ts";
import { PROTOCOL_VERSION } from "./messages.ts";

const log = (extra: Record<string, unknown>) => decodeFromPlayer([encode({ v: PROTOCOL_VERSION, type: "log", level: "warn", msg: "hot pixel", ...extra })]);

describe("log messages", () => {
  it("accepts a record with a level, a message, a time and scalar fields", () => {
    const d = log({ t: 1764558000123.5, fields: { trigger: 3, pixel: "[3,4]", saturated: true } });
    expect(d).not.toBeInstanceOf(ProtocolError);
    expect(log({ t: 1764558000123n })).not.toBeInstanceOf(ProtocolError); // epoch ms packed as uint64
  });
  it("refuses an unknown level, a missing message, non-scalar fields or more than 16 of them", () => {
    const reason = (d: ReturnType<typeof log>) => (d instanceof ProtocolError ? d.message : "accepted");
    expect(reason(log({ level: "loud" }))).toBe("'log' field 'level' is missing or has the wrong type");
    expect(reason(log({ msg: undefined }))).toBe("'log' field 'msg' is missing or has the wrong type");
    expect(reason(log({ fields: { pixel: [3, 4] } }))).toBe("'log' field 'fields' has the wrong type");
    expect(reason(log({ fields: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) }))).toBe("'log' field 'fields' has the wrong type");
  });
  it("welcome.logs is one of the levels", () => {
    const w = (logs: unknown) => decodeFromDirector([encode({ v: PROTOCOL_VERSION, type: "welcome", name: "p", session: "s", hbInterval: 500, hbTimeout: 3000, logs })]);
    expect(w("info")).not.toBeInstanceOf(ProtocolError);
    expect(w("chatty")).toBeInstanceOf(ProtocolError);
  });
});

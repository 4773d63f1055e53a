/**
 * Roles of CURVE keys with real processes: a player key cannot control, an operator key cannot register a player,
 * an observer sees status and events only, a player key limited to names registers only those names.
 */
import { afterEach, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DONKI, ROOT, killAllAndWait, reportedEndpoints, startProcess, tempDir, until } from "./helpers/procs.ts";
import { parseAuthorizedKeys } from "../runtime/transport/roles.ts";

const donki = (args: string[], timeout = 60_000) => spawnSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8", timeout });

afterEach(async () => {
  await killAllAndWait();
});

describe("CURVE key roles", () => {
  it("authorised-keys lines: KEY [ROLE]; a line without a role keeps its old meaning (any role); bad roles are located", () => {
    const k = "VT&w:Tbw%:(i%PTULbpjYd3rRR6a#0123456789a";
    expect(parseAuthorizedKeys("auth", `# x\n${k}\n${k} operator\npublic: ${k} player:xrf,ccd\n${k} observer\n`)).toEqual([
      { key: k, role: "any" },
      { key: k, role: "operator" },
      { key: k, role: "player", names: ["xrf", "ccd"] },
      { key: k, role: "observer" },
    ]);
    expect(() => parseAuthorizedKeys("auth", `${k} admin\n`)).toThrow(/auth:1: unknown role 'admin'/);
    expect(() => parseAuthorizedKeys("auth", `\n${k} operator:xrf\n`)).toThrow(/auth:2: only the player role takes names/);
  });

  it("player keys cannot control, operator keys cannot register, observers read status from events, name-limited keys register only their names", async () => {
    const dir = tempDir();
    const key = (name: string) => {
      const file = join(dir, `${name}.key`);
      return { file, pub: donki(["keys", "--out", file]).stdout.trim() };
    };
    const [dk, op, ob, pl] = [key("director"), key("operator"), key("observer"), key("player")];
    const auth = join(dir, "authorized");
    writeFileSync(auth, `# beamline keys\n${op.pub} operator\n${ob.pub} observer\n${pl.pub} player:extra\n`);
    // a scan without end (stopped by the operator below), whatever the machine's load
    const sc = join(dir, "endless.yaml");
    writeFileSync(sc, `title: endless scan for the roles test
time: { scale: 0.2 }
players:
  - { name: stage, level: 0, device: sim:pi-stage }
  - { name: io, level: 1, device: sim:io }
sequence:
  time: { count: null, fixed: { x: 50, y: 50 } }
  dwell: 1.0
output: { directory: out, prefix: roles }
`);
    const p = startProcess(["run", sc, "--out", dir, "--no-progress", "--curve", dk.file, "--authorized", auth], { DONKI_SHOW_ENDPOINTS: "1" });
    const { player, control, events } = await reportedEndpoints(p);
    // an answer is waited for up to 10 s (the suite runs under load); a refusal shows as no answer within 3 s
    const ctl = (k: { file: string }, ...args: string[]) => donki(["ctl", ...args, "--curve-server-key", dk.pub, "--curve-key-file", k.file, "--timeout", "10000"]);
    const ctlRefused = (k: { file: string }, ...args: string[]) => donki(["ctl", ...args, "--curve-server-key", dk.pub, "--curve-key-file", k.file, "--timeout", "3000"]);
    await until(() => readdirSync(dir).some((f) => f.endsWith(".nxs")), 60_000, "the scan to start");
    await until(() => ctl(op, "status", "--control", control).status === 0, 60_000, "the operator's status");

    // a player key gets no answer on the control socket (refused at the CURVE handshake)
    const byPlayer = ctlRefused(pl, "pause", "--control", control);
    expect(byPlayer.status).toBe(1);
    expect(byPlayer.stderr).toMatch(/no reply from the Director/);
    // an observer neither (control), but reads the status from the event stream
    expect(ctlRefused(ob, "pause", "--control", control).status).toBe(1);
    const obs = ctl(ob, "status", "--events", events, "--json");
    expect(obs.status).toBe(0);
    expect(JSON.parse(obs.stdout).state).toMatch(/running|paused/);

    // the operator's key cannot register a player (refused at the handshake: no answer, exit 2)
    const asOperator = donki(["player", "--name", "extra", "--level", "1", "--director", player, "--device", "sim:io", "--curve-server-key", dk.pub, "--curve-key-file", op.file]);
    expect(asOperator.status).toBe(2);
    expect(asOperator.stderr).toMatch(/no answer from the Director/);
    // a player key limited to 'extra' cannot take the name 'io' (reject, code role)
    const wrongName = donki(["player", "--name", "io", "--level", "1", "--director", player, "--device", "sim:io", "--curve-server-key", dk.pub, "--curve-key-file", pl.file]);
    expect(wrongName.status).toBe(2);
    expect(wrongName.stderr).toMatch(/may register only extra/);
    // with its own name, once the operator admits it, it registers
    expect(ctl(op, "admit", "extra", "--control", control).status).toBe(0);
    const extra = startProcess(["player", "--name", "extra", "--level", "1", "--join", "next-run", "--director", player, "--device", "sim:io", "--curve-server-key", dk.pub, "--curve-key-file", pl.file]);
    await extra.waitFor(/registered/, 30_000);

    expect(ctl(op, "stop", "--control", control).status).toBe(0);
    expect(await p.exited).toBe(3);
    expect(p.err.join("\n")).toMatch(/CURVE: refused a key on a socket its role does not use/);
  }, 240_000);
});

/** The operator's command line on its usage paths: every mistake is one clear line on stderr and exit 2, before
 * any Director, player or file is started (the exit-code table in the README). Real CLI, real processes. */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { h5ready, h5wasm } from "../runtime/data/h5util.ts";
import { DONKI, ROOT, tempDir } from "./helpers/procs.ts";

function donki(args: string[]) {
  const r = spawnSync(process.execPath, [DONKI, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, DONKI_LOG: "warn" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** exit 2, exactly one line on stderr starting "donki", matching `re`, no stack trace. */
function refused(args: string[], re: RegExp): void {
  const r = donki(args);
  expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(2);
  expect(r.err).toMatch(re);
  expect(r.err.trimEnd().split("\n"), r.err).toHaveLength(1);
  expect(r.err).toMatch(/^donki/);
  expect(r.err).not.toMatch(/\bat .*\.(ts|js|mjs):\d+|HDF5-DIAG|Error:/);
}

describe("usage errors exit 2 with one line, before anything starts", () => {
  it("missing argument, unknown option or command, missing required option", () => {
    refused(["run"], /missing required argument 'scenario'/);
    refused(["inspect"], /missing required argument 'files'/);
    refused(["run", "scenarios/fast-scan.yaml", "--bogus"], /unknown option '--bogus'/);
    refused(["run", "scenarios/fast-scan.yaml", "--bin", "0.0.0.0"], /unknown option '--bin' \(Did you mean --bind\?\)/);
    refused(["frobnicate"], /unknown command 'frobnicate'/);
    refused(["player", "--name", "a"], /required option '--director <endpoint>' not specified/);
    refused(["run", "scenarios/fast-scan.yaml", "--out"], /option '--out <dir>' argument missing/);
  });

  it("bad integers (--triggers abc, -5, 0, 1.5; ports out of range) are refused and nothing is written", () => {
    const out = tempDir();
    for (const [v, why] of [["abc", "must be an integer"], ["-5", "must be >= 1"], ["0", "must be >= 1"], ["1.5", "must be an integer"], ["", "must be an integer"]]) {
      refused(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--triggers", v], new RegExp(`'--triggers <n>' argument '${v.replace(".", "\\.")}' is invalid: ${why}`));
    }
    refused(["run", "scenarios/fast-scan.yaml", "--out", out, "--port", "70000"], /'--port <port>' argument '70000' is invalid: must be 0\.\.65535/);
    refused(["director", "scenarios/fast-scan.yaml", "--out", out, "--wait", "-1"], /'--wait <s>' argument '-1' is invalid: must be >= 0/);
    refused(["run", "scenarios/fast-scan.yaml", "--out", out, "--max-row-mb", "x"], /'--max-row-mb <n>' argument 'x' is invalid: must be a positive number/);
    refused(["ctl", "status", "--control", "tcp://127.0.0.1:5571", "--timeout", "0"], /'--timeout <ms>' argument '0' is invalid/);
    expect(readdirSync(out)).toEqual([]); // no scan file, no token, no journal: refused before the Director
  });

  it("log options: a bad --log-format or DONKI_LOG is refused before anything starts", () => {
    const out = tempDir();
    refused(["run", "scenarios/fast-scan.yaml", "--out", out, "--log-format", "xml"], /'--log-format <format>' argument 'xml' is invalid: must be pretty or json/);
    refused(["run", "scenarios/fast-scan.yaml", "--out", out, "--log-file", join(out, "no/such/dir/run.log")], /^donki: --log-file .*run\.log: cannot open it \(ENOENT\)$/m);
    const r = spawnSync(process.execPath, [DONKI, "run", "scenarios/fast-scan.yaml", "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, DONKI_LOG: "loud" } });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("donki: DONKI_LOG must be one of trace, debug, info, warn, error, fatal, silent, got 'loud'\n");
    expect(readdirSync(out)).toEqual([]);
  });

  it("help and version still exit 0", () => {
    expect(donki(["--version"]).code).toBe(0);
    const h = donki(["run", "--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/Usage: donki run/);
  });
});

describe("endpoints are tcp://HOST:PORT, named when wrong", () => {
  it("ctl, events, monitor and player refuse an endpoint without tcp:// or with a bad port", () => {
    refused(["ctl", "pause", "--control", "127.0.0.1:5571"], /'--control <endpoint>' argument '127\.0\.0\.1:5571' is invalid: expected tcp:\/\/HOST:PORT/);
    refused(["ctl", "status", "--events", "localhost:5572"], /'--events <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["ctl", "pause", "--control", "tcp://127.0.0.1:99999"], /'--control <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["ctl", "pause", "--control", "tcp://127.0.0.1"], /'--control <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["events", "--events", "127.0.0.1:5572"], /'--events <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["events", "--events", "tcp://127.0.0.1:5572", "--control", "udp://127.0.0.1:5571"], /'--control <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["monitor", "--events", "5572"], /'--events <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["player", "--name", "p", "--level", "1", "--device", "counter", "--director", "127.0.0.1:5570"], /'--director <endpoint>' .* expected tcp:\/\/HOST:PORT/);
    refused(["ctl", "pause"], /give --control/);
  });
});

describe("bad files are named with what is wrong", () => {
  /** missing, a directory, a text file, an HDF5 file that is not a donki scan */
  async function badFiles() {
    const dir = tempDir();
    const other = join(dir, "other.h5");
    await h5ready();
    const f = new h5wasm.File(other, "w");
    f.create_group("data");
    f.close();
    const text = join(dir, "notes.nxs");
    writeFileSync(text, "not a scan\n");
    return { dir, other, text, missing: join(dir, "missing.nxs") };
  }

  for (const cmd of ["inspect", "recover", "quicklook"]) {
    it(`${cmd}: missing, a directory, not HDF5, HDF5 but not a donki scan`, async () => {
      const b = await badFiles();
      refused([cmd, "README.md"], new RegExp(`^donki ${cmd}: README\\.md: not an HDF5 file$`, "m"));
      refused([cmd, b.text], /notes\.nxs: not an HDF5 file/);
      refused([cmd, b.missing], /missing\.nxs: no such file/);
      if (cmd === "inspect") refused([cmd, b.dir], /notes\.nxs: not an HDF5 file/); // a directory: its *.nxs scans
      else refused([cmd, b.dir], /is a directory, not a scan file/);
      refused([cmd, b.other], /other\.h5: HDF5 file but not a donki scan \(no \/entry\)/);
    }, 180_000);
  }

  it("run --resume names the file and what is wrong, before anything starts", async () => {
    const b = await badFiles();
    const out = tempDir();
    const run = (resume: string) => ["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--resume", resume];
    refused(run(b.missing), /^donki: --resume .*missing\.nxs: no such file$/m);
    refused(run("README.md"), /^donki: --resume README\.md: not an HDF5 file$/m);
    refused(run(b.other), /--resume .*other\.h5: HDF5 file but not a donki scan/);
    expect(readdirSync(out)).toEqual([]);
  }, 180_000);
});

describe("inspect of several files or a directory", () => {
  it("prints one line per scan (number, status, issued/planned triggers, size, title, file); bad files named, exit 2", () => {
    const out = tempDir();
    expect(donki(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--triggers", "3"]).code).toBe(3);
    expect(donki(["run", "scenarios/fast-scan.yaml", "--out", out, "--no-progress", "--triggers", "2"]).code).toBe(3);
    const dir = donki(["inspect", out]);
    expect(dir.err).toBe("");
    expect(dir.code).toBe(0);
    const lines = dir.out.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^scan\s+status\s+triggers\s+size\s+title\s+file$/);
    expect(lines[1]).toMatch(/^\s*1\s+stopped\s+3\/30\s+[\d.]+ (KiB|MiB)\s+Fast test raster .*fast_00001\.nxs$/);
    expect(lines[2]).toMatch(/^\s*2\s+stopped\s+2\/30\s+[\d.]+ (KiB|MiB)\s+Fast test raster .*fast_00002\.nxs$/);
    // files and a bad one: the good ones listed, the bad one named on stderr, exit 2
    const mixed = donki(["inspect", join(out, "fast_00002.nxs"), "README.md", "--json"]);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toBe("donki inspect: README.md: not an HDF5 file\n");
    const rows = JSON.parse(mixed.out);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ scanNumber: 2, status: "stopped", issued: 2, planned: 30 });
    expect(rows[0].bytes).toBeGreaterThan(0);
    refused(["inspect", tempDir()], /no scan files \(\*\.nxs\) in this directory/);
  }, 180_000);
});

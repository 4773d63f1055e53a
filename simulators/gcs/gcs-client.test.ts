/**
 * The GCS emulator against a small third-party-style GCS 2.0 client written here from PI's published command
 * reference (GCS 2.0 line protocol and the E-727 command descriptions, see docs/pi-gcs.md), sharing no code
 * with drivers/pi-gcs: a TCP socket, LF-terminated commands, replies framed by "a line ending in SPACE+LF
 * continues the reply, a bare LF ends it", `axis=value` parsing, and the GCS array format of DRR?.
 * No timing assertion: a query that must get no reply is pipelined with ERR?, so the first bytes to arrive
 * are ERR?'s answer.
 */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/clock.ts";
import { GcsEmulator } from "./emulator.ts";

/** A minimal GCS client: one TCP connection, queries answered in order. */
class MiniGcsClient {
  private buf = "";
  private readonly waiting: Array<(reply: string) => void> = [];
  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      for (;;) {
        // a reply ends at the first LF not preceded by a space
        let end = -1;
        for (let i = 0; i < this.buf.length; i++) if (this.buf[i] === "\n" && (i === 0 || this.buf[i - 1] !== " ")) {
          end = i;
          break;
        }
        if (end < 0 || !this.waiting.length) return;
        const reply = this.buf.slice(0, end + 1);
        this.buf = this.buf.slice(end + 1);
        this.waiting.shift()!(reply);
      }
    });
  }

  static connect(port: number): Promise<MiniGcsClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host: "127.0.0.1", port }, () => resolve(new MiniGcsClient(s)));
      s.setNoDelay(true);
      s.once("error", reject);
    });
  }

  /** Send a set command (no reply expected). */
  send(cmd: string): void {
    this.sock.write(cmd + "\n");
  }

  /** Send a query; resolve with its lines (trailing SPACE+LF / LF removed). */
  query(cmd: string): Promise<string[]> {
    const p = new Promise<string>((r) => this.waiting.push(r));
    this.sock.write(cmd + "\n");
    return p.then((r) => r.replace(/\n$/, "").split(" \n"));
  }

  /** Send several lines at once and collect the replies of the queries among them, in order. */
  pipeline(lines: string[], replies: number): Promise<string[][]> {
    const ps = Array.from({ length: replies }, () => new Promise<string>((r) => this.waiting.push(r)));
    this.sock.write(lines.map((l) => l + "\n").join(""));
    return Promise.all(ps).then((rs) => rs.map((r) => r.replace(/\n$/, "").split(" \n")));
  }

  close(): void {
    this.sock.destroy();
  }
}

/** `axis=value` lines -> map. */
const axisValues = (lines: string[]) => Object.fromEntries(lines.map((l) => l.split("=")).map(([k, v]) => [k.trim(), Number(v)]));

/** GCS array format: `# KEY = value` header up to `# END_HEADER`, then rows of DIM columns. */
function parseArray(lines: string[]): { header: Record<string, string>; rows: number[][] } {
  const header: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const l = lines[i];
    expect(l.startsWith("#"), `header line ${i}: ${l}`).toBe(true);
    if (l.replace(/^#\s*/, "").trim() === "END_HEADER") break;
    const m = /^#\s*([A-Z_0-9]+)\s*=\s*(.*)$/.exec(l);
    expect(m, `header line ${l}`).not.toBeNull();
    header[m![1]] = m![2].trim();
  }
  const rows = lines.slice(i + 1).filter((l) => l.trim().length).map((l) => l.trim().split(/\s+/).map(Number));
  return { header, rows };
}

describe("GCS emulator vs a client written from PI's command reference", () => {
  let emu: GcsEmulator | undefined;
  let cli: MiniGcsClient | undefined;
  afterEach(async () => {
    cli?.close();
    cli = undefined;
    await emu?.close();
    emu = undefined;
  });

  async function start() {
    const clock = new VirtualClock(0);
    emu = new GcsEmulator({ clock, noise: 0, serialNumber: "0123456789" });
    const { port } = await emu.listenTcp();
    cli = await MiniGcsClient.connect(port);
    return { clock, emu, cli };
  }

  it("identity and versions: *IDN?, VER?, SSN?, CSV?, SAI?", async () => {
    const { cli } = await start();
    const [idn] = await cli.query("*IDN?");
    expect(idn).toMatch(/Physik Instrumente.*E-727/);
    const ver = await cli.query("VER?");
    expect(ver.length).toBeGreaterThanOrEqual(1);
    for (const l of ver) expect(l).toMatch(/^[A-Z_0-9]+: V\S+/); // "<component>: V<version> [text]"
    expect(await cli.query("SSN?")).toEqual(["0123456789"]);
    expect(await cli.query("CSV?")).toEqual(["2.0"]);
    expect(await cli.query("SAI?")).toEqual(["1", "2", "3"]);
  });

  it("HLP? lists one command per line between a title and 'end of help' (the first word is the command)", async () => {
    const { cli } = await start();
    const hlp = await cli.query("HLP?");
    expect(hlp[hlp.length - 1]).toBe("end of help");
    const cmds = hlp.slice(1, -1).map((l) => l.split(/\s+/)[0]);
    expect(cmds).toEqual(expect.arrayContaining(["*IDN?", "VER?", "SSN?", "HPA?", "HDR?", "TNR?", "DRR?", "DRL?", "SPA?", "ERR?", "MOV", "POS?", "#5", "#24"]));
  });

  it("HPA? lists the parameters (PamID=TAB-separated fields), SPA? reads them per axis", async () => {
    const { cli } = await start();
    const hpa = await cli.query("HPA?");
    expect(hpa[hpa.length - 1]).toBe("end of help");
    const ids = hpa.slice(0, -1).map((l) => {
      const m = /^(0x[0-9A-F]{8})=\t(\d+)\t(\d+)\t(INT|FLOAT|CHAR)\t(\S+)\t(.+)$/.exec(l);
      expect(m, l).not.toBeNull();
      return m![1];
    });
    expect(ids).toEqual(expect.arrayContaining(["0x07000900", "0x07000901", "0x0E000200"]));
    // PIPython reads the data type as the 4th whitespace-separated token of every line with "="
    for (const l of hpa.filter((x) => x.includes("="))) expect(["INT", "FLOAT", "CHAR"]).toContain(l.split(/\s+/)[3]);
    const spa = await cli.query("SPA? 1 0x07000900 2 0x0E000200 3 0x07000001");
    expect(spa).toEqual(["1 0x07000900=0.010000", "2 0x0E000200=0.000020", "3 0x07000001=100.000000"]);
    // all parameters of all axes: one line per (axis, parameter)
    expect((await cli.query("SPA?")).length).toBe(3 * ids.length);
    cli.send("SPA 1 0x07000900 0.02");
    expect(await cli.query("SPA? 1 0x07000900")).toEqual(["1 0x07000900=0.020000"]);
    expect(await cli.query("ERR?")).toEqual(["0"]);
  });

  it("data recorder: TNR?, HDR?, DRC?, RTR?, and DRR? in the GCS array format follows a move", async () => {
    const { cli, clock } = await start();
    expect(await cli.query("TNR?")).toEqual(["8"]);
    const hdr = await cli.query("HDR?");
    expect(hdr[0]).toBe("#RecordOptions");
    expect(hdr).toContain("2=Real Position of Axis");
    expect(hdr[hdr.length - 1]).toBe("end of help");
    expect(await cli.query("DRC? 1 2")).toEqual(["1=1 2", "2=2 2"]);
    cli.send("RTR 10");
    expect(await cli.query("RTR?")).toEqual(["10"]);
    cli.send("DRC 3 1 1"); // table 3: commanded position of axis 1
    cli.send("MOV 1 60"); // 10 um at 1000 um/s: 10 ms; starts a recording
    expect(await cli.query("ERR?")).toEqual(["0"]);
    clock.advanceTo(clock.now() + 0.02);
    const drl = axisValues(await cli.query("DRL? 1 3 4"));
    expect(drl["1"]).toBeGreaterThanOrEqual(100);
    expect(drl["3"]).toBe(drl["1"]);
    expect(drl["4"]).toBe(0); // table 4 records nothing (option 0)
    const { header, rows } = parseArray(await cli.query("DRR? 1 100 1 3"));
    expect(header.DIM).toBe("2");
    expect(Number(header.SAMPLE_TIME)).toBeCloseTo(10 * 20e-6, 9);
    expect(Number(header.NDATA)).toBe(100);
    expect(header.NAME0).toMatch(/Real Position.*1/);
    expect(rows).toHaveLength(100);
    for (const r of rows) expect(r).toHaveLength(2);
    // the real position ramps from ~50 to 60 um, monotonically; the commanded one is 60 throughout
    expect(rows[0][0]).toBeLessThan(51);
    expect(rows[99][0]).toBeCloseTo(60, 6);
    for (let k = 1; k < rows.length; k++) expect(rows[k][0]).toBeGreaterThanOrEqual(rows[k - 1][0]);
    for (const r of rows) expect(r[1]).toBe(60);
    // asking for points not yet recorded: all of them arrive, once recorded (the reply waits on the clock)
    cli.send("MOV 1 50");
    const t0 = clock.now();
    const later = parseArray(await cli.query("DRR? 1 500 1"));
    expect(later.rows).toHaveLength(500);
    expect(Number(later.header.NDATA)).toBe(500);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(499 * 200e-6 - 1e-9);
    expect(later.rows[499][0]).toBeCloseTo(50, 6);
  });

  it("a query naming a non-existent axis gets no reply; ERR? then returns 15 (invalid axis)", async () => {
    const { cli } = await start();
    const [err] = await cli.pipeline(["POS? 9", "ERR?"], 1);
    expect(err).toEqual(["15"]);
    expect(axisValues(await cli.query("POS? 1"))).toEqual({ "1": 50 });
  });

  it("an unknown command gets no reply (error 2); ERR? reports the last error and clears it", async () => {
    const { cli } = await start();
    const [a] = await cli.pipeline(["XYZ?", "ERR?"], 1);
    expect(a).toEqual(["2"]);
    // two errors in a row: the controller keeps only the last one
    cli.send("MOV 1 200"); // 7: out of limits
    const [b, c] = await cli.pipeline(["SPA? 1 0x0BADBEEF", "ERR?", "ERR?"], 2); // 54, then ERR? -> 54, then 0
    expect(b).toEqual(["54"]);
    expect(c).toEqual(["0"]);
  });
});

/** The write-ahead journal's format: records read back, a torn or damaged record ends the segment, versions checked. */
import { afterEach, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JournalWriter, journalSegments, readJournal } from "./journal.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function journal(o: { segmentBytes?: number } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "donki-journal-"));
  dirs.push(dir);
  const file = path.join(dir, "scan_00001.nxs");
  const j = new JournalWriter(file, { file: "scan_00001.nxs", runId: "r1", firstTrigger: 1, created: "2030-01-01T00:00:00Z" }, { syncSeconds: 0, ...o });
  j.stream({ key: "io/I0", dtype: "float64", shape: [] });
  j.stream({ key: "ccd/frame", dtype: "uint16", shape: [300, 300] });
  const f64 = (v: number) => new Uint8Array(new Float64Array([v]).buffer);
  const frame = (t: number) => new Uint8Array(new Uint16Array(300 * 300).fill(t).buffer);
  return { j, file, f64, frame };
}

describe("journal", () => {
  it("reads back every row and DONE record, in order, small and large rows alike", () => {
    const { j, file, f64, frame } = journal();
    for (let t = 1; t <= 4; t++) {
      j.row("io/I0", t, f64(t * 1.5));
      j.row("ccd/frame", t, frame(t));
      j.done(t);
    }
    j.row("io/I0", 5, f64(7.5)); // a row without its DONE record (killed before the trigger completed)
    j.close(false);
    const c = readJournal(file);
    expect(c.header).toMatchObject({ file: "scan_00001.nxs", runId: "r1", firstTrigger: 1 });
    expect([...c.streams.keys()]).toEqual(["io/I0", "ccd/frame"]);
    expect([...c.done.keys()]).toEqual([1, 2, 3, 4]);
    expect(c.rows.map((r) => `${r.key}@${r.trig}`)).toEqual(["io/I0@1", "ccd/frame@1", "io/I0@2", "ccd/frame@2", "io/I0@3", "ccd/frame@3", "io/I0@4", "ccd/frame@4", "io/I0@5"]);
    expect(Buffer.from(c.rows[8]!.data).readDoubleLE(0)).toBe(7.5);
    expect(new Uint16Array(new Uint8Array(c.rows[7]!.data).buffer)[1234]).toBe(4);
    expect(c.torn).toEqual([]);
  });

  it("a torn last record (kill mid-write) or a damaged one ends the segment; what precedes it is used", () => {
    const { j, file, f64 } = journal();
    for (let t = 1; t <= 3; t++) {
      j.row("io/I0", t, f64(t));
      j.done(t);
    }
    j.close(false);
    const seg = journalSegments(file)[0]!;
    const size = fs.statSync(seg).size;
    fs.truncateSync(seg, size - 3);
    let c = readJournal(file);
    expect([...c.done.keys()]).toEqual([1, 2]);
    expect(c.rows.length).toBe(3);
    expect(c.torn[0]!.reason).toMatch(/torn record/);
    // flip a byte inside trigger 2's row: the checksum stops the reading there
    const b = fs.readFileSync(seg);
    const at = b.lastIndexOf(Buffer.from(new Float64Array([2]).buffer));
    b[at + 7] ^= 0xff;
    fs.writeFileSync(seg, b);
    c = readJournal(file);
    expect([...c.done.keys()]).toEqual([1]);
    expect(c.torn[0]!.reason).toBe("checksum mismatch");
  });

  it("rotates into segments that each read on their own, releases the ones the file holds, refuses another version", () => {
    const { j, file, frame } = journal({ segmentBytes: 400_000 });
    const closed: number[] = [];
    for (let t = 1; t <= 6; t++) {
      j.row("ccd/frame", t, frame(t));
      j.done(t);
      const k = j.rotateIfFull();
      if (k !== null) closed.push(k);
    }
    expect(closed.length).toBeGreaterThanOrEqual(2);
    expect(journalSegments(file).length).toBe(closed.length + 1);
    expect([...readJournal(file).done.keys()]).toEqual([1, 2, 3, 4, 5, 6]);
    j.release(closed[0]!);
    expect(journalSegments(file).length).toBe(closed.length);
    const c = readJournal(file);
    expect(c.streams.has("ccd/frame")).toBe(true); // stream records are repeated at the top of every segment
    expect(c.torn).toEqual([]);
    j.close(true);
    expect(journalSegments(file)).toEqual([]);
    // a journal of another version is refused with a clear message
    const { j: j2, file: f2 } = journal();
    j2.close(false);
    const seg = journalSegments(f2)[0]!;
    const b = fs.readFileSync(seg);
    b.writeUInt32LE(99, 8);
    fs.writeFileSync(seg, b);
    expect(() => readJournal(f2)).toThrow(/journal version 99, this donki reads version 1/);
  });
});

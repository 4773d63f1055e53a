/**
 * GCS 2.0 reply framer. A reply is one or more lines; every line but the last ends with SPACE+LF, the last
 * with a bare LF. A readline parser would split multi-line replies: this framer joins them.
 */
export class GcsFramer {
  private buf = "";
  /** Index from which to look for the next LF (everything before is part of an unfinished reply). */
  private scan = 0;

  /** Feed bytes; returns the replies completed by them (each without its final LF, inner " \n" kept). */
  push(d: Buffer): string[] {
    this.buf += d.toString("latin1");
    const out: string[] = [];
    for (;;) {
      const i = this.buf.indexOf("\n", this.scan);
      if (i < 0) {
        this.scan = this.buf.length;
        return out;
      }
      if (i > 0 && this.buf[i - 1] === " ") {
        this.scan = i + 1; // continuation line
        continue;
      }
      out.push(this.buf.slice(0, i));
      this.buf = this.buf.slice(i + 1);
      this.scan = 0;
    }
  }

  /** Bytes buffered for an unfinished reply. */
  get pending(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf = "";
    this.scan = 0;
  }
}

/** The lines of a framed reply, without their trailing SPACE. */
export function replyLines(reply: string): string[] {
  return reply.split("\n").map((l) => l.replace(/ $/, "").replace(/\r$/, ""));
}

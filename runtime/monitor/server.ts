/**
 * The monitor: an HTTP + WebSocket server (node:http + ws) that follows a Director's event stream, keeps the run so
 * far (RunHistory) and serves the page in monitor/web/ (plain ES modules, no build step). Browsers get the replay of
 * the run on connect, then every message live. Pause / resume / stop from the page need the operator token; without
 * it the page is read-only. Finished scans: /api/scans lists the output directory (the reader of `donki inspect`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { dirname, extname, join, resolve, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocketServer, WebSocket } from "ws";
import { EventFollower, type StreamMessage } from "../events/follow.ts";
import { ControlClient } from "../control/client.ts";
import type { CurveClientConfig } from "../transport/curve.ts";
import { RunHistory } from "./history.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const WEB_ROOT = resolve(HERE, "../../monitor/web");
/** The H5Web viewer bundle (built by `npm run build:viewer`, which `prepare` runs on npm ci; never committed). */
export const VIEWER_ROOT = resolve(HERE, "../../monitor/viewer/dist");
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".wasm": "application/wasm", ".woff2": "font/woff2" };
const SCAN_FILE = /^[A-Za-z0-9._-]+\.(nxs|h5|hdf5)$/;
const CONTROL_CMDS = new Set(["pause", "resume", "stop"]);

export interface MonitorOptions {
  /** The Director's event stream. */
  events: string;
  /** The Director's control socket (without it the page is read-only for everybody). */
  control?: string;
  curve?: CurveClientConfig;
  /** 0 = any free port. */
  port?: number;
  /** Interface to serve on (default 127.0.0.1). */
  host?: string;
  /** Operator token (default: a fresh random one). */
  token?: string;
  /** Output directory of finished scans. */
  outDir?: string;
  /** Lines for the operator's terminal (control actions taken from the page, state changes). */
  say?: (line: string) => void;
}

export interface Monitor {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

function sameToken(a: unknown, b: string): boolean {
  if (typeof a !== "string") return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startMonitor(o: MonitorOptions): Promise<Monitor> {
  const token = o.token ?? randomBytes(16).toString("hex");
  const say = o.say ?? (() => {});
  const history = new RunHistory();
  const control = o.control ? new ControlClient(o.control, o.curve) : null;

  const http = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`monitor: ${(e as Error).message}\n`);
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    if (url.pathname === "/api/scans") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(await listScans(o.outDir)));
      return;
    }
    if (url.pathname === "/api/file") {
      // a finished scan for the H5Web viewer: a plain file name in the output directory, nothing else
      const name = url.searchParams.get("name") ?? "";
      if (!o.outDir || !SCAN_FILE.test(name) || name.startsWith(".")) {
        res.writeHead(400, { "content-type": "text/plain" }).end(`not a scan file name: '${name}'\n`);
        return;
      }
      try {
        const body = await readFile(join(o.outDir, name));
        res.writeHead(200, { "content-type": "application/x-hdf5", "cache-control": "no-store" }).end(body);
      } catch {
        res.writeHead(404, { "content-type": "text/plain" }).end(`${name}: no such scan in ${o.outDir}\n`);
      }
      return;
    }
    if (url.pathname === "/viewer/" || url.pathname.startsWith("/viewer/assets/")) {
      const rel = url.pathname === "/viewer/" ? "index.html" : url.pathname.slice("/viewer/".length);
      if (rel.includes("..")) {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = await readFile(join(VIEWER_ROOT, rel));
        res.writeHead(200, { "content-type": TYPES[extname(rel)] ?? "application/octet-stream" }).end(body);
      } catch {
        res.writeHead(404, { "content-type": "text/plain" }).end(rel === "index.html" ? "the H5Web viewer is not built: npm run build:viewer\n" : "not found\n");
      }
      return;
    }
    if (url.pathname === "/api/info") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ control: !!control, outDir: o.outDir ?? null }));
      return;
    }
    const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    if (!/^[a-z0-9_-]+\.(html|js|css|svg)$/.test(name)) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const body = await readFile(join(WEB_ROOT, name));
      res.writeHead(200, { "content-type": TYPES[extname(name)], "cache-control": "no-store" }).end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  http.on("upgrade", (req, socket, head) => {
    // a page from another site must not drive the scan through the operator's browser
    const origin = req.headers.origin;
    if (new URL(req.url ?? "/", "http://x").pathname !== "/ws" || (origin && new URL(origin).host !== req.headers.host)) {
      socket.write("HTTP/1.1 403 Forbidden\r\n\r\n");
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  wss.on("connection", (ws: WebSocket) => {
    ws.send(JSON.stringify({ kind: "hello", control: !!control }));
    ws.send(JSON.stringify({ kind: "replay", items: history.replay() }));
    ws.on("message", (raw) => {
      let m: { type?: string; cmd?: string; token?: unknown; id?: number };
      try {
        m = JSON.parse(raw.toString());
      } catch {
        return;
      }
      if (m.type === "check-token") {
        ws.send(JSON.stringify({ kind: "token", id: m.id, ok: sameToken(m.token, token) }));
        return;
      }
      if (m.type !== "control") return;
      const reply = (ok: boolean, error?: string) => ws.send(JSON.stringify({ kind: "control-reply", id: m.id, cmd: m.cmd, ok, error }));
      if (!CONTROL_CMDS.has(m.cmd ?? "")) return reply(false, `unknown command '${m.cmd}' (pause, resume, stop)`);
      if (!sameToken(m.token, token)) return reply(false, "the operator token is required (printed by donki at start)");
      if (!control) return reply(false, "this monitor has no control endpoint (donki monitor --control ENDPOINT)");
      say(`donki monitor: '${m.cmd}' requested from the page`);
      control.request(m.cmd as "pause", {}, 5000).then(
        (r) => reply(r.ok, r.ok ? undefined : r.error),
        (e: Error) => reply(false, e.message),
      );
    });
  });

  const broadcast = (m: StreamMessage) => {
    const text = JSON.stringify({ kind: "event", ...m });
    for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(text);
  };
  const follower = new EventFollower(
    o.events,
    (raw) => {
      const m = history.accept(raw);
      if (!m) return;
      if (m.topic === "state") {
        const s = m.body as unknown as { state: string; reason?: string };
        if (s.state === "paused" || s.state === "running") say(`donki: ${s.state}${s.reason ? ` (${s.reason})` : ""}`);
      }
      broadcast(m);
    },
    o.curve,
  );

  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((res, rej) => {
    http.once("error", rej);
    http.listen(o.port ?? 0, host, () => res());
  });
  const port = (http.address() as { port: number }).port;
  const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    url: `http://${shown}:${port}/`,
    port,
    token,
    async close() {
      follower.close();
      control?.close();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((res) => http.close(() => res()));
    },
  };
}

/** The scans in the output directory, newest first, each with the summary `donki inspect` prints. */
export async function listScans(dir: string | undefined): Promise<Array<Record<string, unknown>>> {
  if (!dir) return [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.(nxs|h5|hdf5)$/.test(n)).sort().reverse().slice(0, 200);
  } catch {
    return [];
  }
  const { readRunSummary } = await import("../data/reader.ts");
  const out: Array<Record<string, unknown>> = [];
  for (const n of names) {
    try {
      const s = await readRunSummary(join(dir, n));
      out.push({ file: basename(n), scan: s.scanNumber, title: s.title, status: s.status, start: s.start, duration: s.duration, triggers: s.lastTrigger - s.firstTrigger + 1, streams: s.perStream.length, incomplete: s.perStream.filter((p) => !p.complete).length });
    } catch (e) {
      out.push({ file: basename(n), error: (e as Error).message });
    }
  }
  return out;
}

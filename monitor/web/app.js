// donki monitor page: applies the run documents (docs/protocol.md "Run documents") and the Director's events
// received over the monitor's WebSocket. Plain ES module, canvas drawing, no build step.
import { drawMap, drawSpectrum, drawFrame } from "./plots.js";

const $ = (id) => document.getElementById(id);
const MAP_STREAM = /(^|\/)(transmission|roi_[A-Za-z0-9_]+)$/;

let S = fresh();
function fresh() {
  return { start: null, desc: {}, maps: {}, status: null, spectrum: null, frame: null, faults: [], stop: null };
}

// ------------------------------------------------------------------ connection

let ws = null;
let controlAvailable = false;
let tokenOk = false;
let reqId = 0;

function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => {
    $("link").textContent = "live";
    checkToken();
  };
  ws.onclose = () => {
    $("link").textContent = "disconnected (retrying)";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.kind === "hello") {
      controlAvailable = m.control;
      updateControls();
    }
    else if (m.kind === "replay") {
      S = fresh();
      $("maps").replaceChildren();
      $("faults").replaceChildren();
      for (const item of m.items) apply(item);
      document.body.dataset.replayed = "1";
    } else if (m.kind === "event") apply(m);
    else if (m.kind === "token") {
      tokenOk = m.ok;
      updateControls();
    } else if (m.kind === "control-reply") {
      $("control-msg").textContent = m.ok ? `${m.cmd}: sent` : `${m.cmd} refused: ${m.error}`;
    }
  };
}

function checkToken() {
  const t = $("token").value.trim();
  if (!t) {
    tokenOk = false;
    updateControls();
    return;
  }
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "check-token", token: t, id: ++reqId }));
}

function updateControls() {
  const on = tokenOk && controlAvailable;
  for (const id of ["pause", "resume", "stop"]) $(id).disabled = !on;
  $("control-msg").textContent = on ? "operator" : !controlAvailable ? "read-only: this monitor has no control endpoint" : $("token").value ? "read-only: wrong operator token" : "read-only: enter the operator token to control the scan";
  document.body.dataset.operator = on ? "1" : "0";
}

function send(cmd) {
  ws.send(JSON.stringify({ type: "control", cmd, token: $("token").value.trim(), id: ++reqId }));
}

// ------------------------------------------------------------------ applying documents and events

function apply(m) {
  if (m.topic === "doc") applyDoc(m.body.name, m.body.doc);
  else if (m.topic === "state") {
    // after the stop document the Director goes idle: the page keeps showing how the run ended
    if (!(S.stop && m.body.state === "idle")) setState(m.body.state, m.body.reason);
  }
  else if (m.topic === "fault") addFault(m.body);
}

function applyDoc(name, doc) {
  if (name === "start") {
    S = fresh();
    S.start = doc;
    $("maps").replaceChildren();
    $("faults").replaceChildren();
    $("title").textContent = doc.title;
    $("run").textContent = `scan ${doc.scan ?? "?"} · ${doc.scenario} · run ${doc.run}${doc.file ? " · " + doc.file.split("/").pop() : ""}`;
    document.body.dataset.run = doc.run;
  } else if (name === "descriptor") {
    S.desc[doc.stream] = doc;
    if (doc.kind === "scalar" && S.start?.raster && MAP_STREAM.test(doc.stream)) addMap(doc);
  } else if (name === "event_page") {
    for (const [k, c] of Object.entries(doc.data)) {
      const map = S.maps[k];
      if (!map) continue;
      for (let i = 0; i < c.trig.length; i++) place(map, c.trig[i], c.value[i]);
      redraw(map);
    }
    for (const [k, p] of Object.entries(doc.previews)) {
      const d = S.desc[k];
      if (!d) continue;
      if (p.shape.length === 1) {
        S.spectrum = { d, p };
        $("spectrum-label").textContent = `${k}, trigger ${p.trig}`;
        drawSpectrum($("spectrum"), d, p);
      } else if (p.shape.length === 2) {
        S.frame = { d, p };
        $("frame-label").textContent = `${k}, trigger ${p.trig}, ${d.shape.join(" x ")} px shown ${p.shape.join(" x ")}`;
        drawFrame($("frame"), p);
      }
    }
  } else if (name === "status") {
    S.status = doc;
    setState(doc.state, doc.reason);
    showProgress(doc);
    showPlayers(doc);
  } else if (name === "stop") {
    S.stop = doc;
    setState(doc.status, doc.message);
    const e = doc.efficiency;
    if (e && e.actual !== null) {
      const pct = (x) => (x === null ? "?" : `${(100 * x).toFixed(1)} %`);
      $("reason").textContent = [doc.message, `efficiency ${pct(e.actual)} of ${e.instrumentS.toFixed(2)} s exposing (planned ${pct(e.planned)})`].filter(Boolean).join("; ");
    }
    const gaps = Object.entries(doc.gaps);
    if (gaps.length) for (const [k, g] of gaps) addFault({ trig: g.first[0], lvl: "-", player: k, kind: "gap", message: `${g.missing} trigger(s) missing`, action: "-" });
    loadScans();
  }
}

function setState(state, reason) {
  const el = $("state");
  el.textContent = state;
  el.dataset.state = state;
  $("reason").textContent = reason ?? "";
}

function showProgress(st) {
  const first = S.start?.firstTrigger ?? 1;
  const done = Math.max(0, st.trig - first + 1);
  const total = st.planned === null ? null : st.planned - first + 1;
  $("bar").max = total ?? 1;
  $("bar").value = total ? done : 0;
  $("progress").textContent = total ? `${done} / ${total} triggers (${((100 * done) / total).toFixed(1)} %)` : `${done} triggers`;
  $("progress").dataset.done = String(done);
  $("eta").textContent = st.etaS !== null && st.state === "running" ? `ETA ${fmt(st.etaS)} · elapsed ${fmt(st.elapsedS)}` : `elapsed ${fmt(st.elapsedS)}`;
}

function fmt(s) {
  if (s < 60) return `${s.toFixed(0)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function showPlayers(st) {
  const rows = [];
  for (const l of st.levels) {
    for (const p of l.players) {
      const tr = document.createElement("tr");
      tr.dataset.player = p.name;
      tr.dataset.alive = String(p.alive);
      const cells = [String(l.level), p.name + (p.enabled ? "" : " (disabled)"), p.alive ? "yes" : "LOST", p.lastAckMs === null ? "-" : `${p.lastAckMs.toFixed(1)} ms`, String(p.faults)];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i === 2 && !p.alive) td.className = "dead";
        tr.append(td);
      });
      rows.push(tr);
    }
  }
  $("players").tBodies[0].replaceChildren(...rows);
  for (const f of st.faults) addFault(f);
}

function addFault(f) {
  const key = `${f.trig}/${f.lvl}/${f.player}/${f.kind}/${f.message}`;
  if (S.faults.includes(key)) return;
  S.faults.push(key);
  const li = document.createElement("li");
  li.textContent = `trigger ${f.trig}, level ${f.lvl}, ${f.player}: ${f.kind} -> ${f.action}: ${f.message}`;
  $("faults").append(li);
}

// ------------------------------------------------------------------ maps

function addMap(d) {
  const r = S.start.raster;
  const rows = r.y.points * r.repeats;
  const cols = r.x.points;
  const fig = document.createElement("figure");
  const canvas = document.createElement("canvas");
  canvas.className = "map";
  canvas.dataset.stream = d.stream;
  canvas.dataset.filled = "0";
  const cap = document.createElement("figcaption");
  cap.textContent = `${d.name} (${d.player})`;
  fig.append(canvas, cap);
  $("maps").append(fig);
  S.maps[d.stream] = { d, r, rows, cols, values: new Float64Array(rows * cols).fill(NaN), filled: 0, canvas, dirty: false };
}

function place(map, trig, value) {
  const { r, cols } = map;
  const n = r.x.points * r.y.points;
  const i = trig - 1;
  const rep = Math.floor(i / n);
  const k = i % n;
  const row = Math.floor(k / cols);
  let col = k % cols;
  if (r.snake && row % 2 === 1) col = cols - 1 - col;
  const at = (rep * r.y.points + row) * cols + col;
  if (at >= map.values.length) return;
  if (Number.isNaN(map.values[at])) map.filled++;
  map.values[at] = value;
}

function redraw(map) {
  map.canvas.dataset.filled = String(map.filled);
  if (map.dirty) return;
  map.dirty = true;
  requestAnimationFrame(() => {
    map.dirty = false;
    drawMap(map.canvas, map);
  });
}

// ------------------------------------------------------------------ finished scans

async function loadScans() {
  const info = await (await fetch("/api/info")).json();
  $("scans-dir").textContent = info.outDir ?? "(no output directory)";
  const list = await (await fetch("/api/scans")).json();
  const rows = list.map((s) => {
    const tr = document.createElement("tr");
    const cells = s.error ? [s.file, "", s.error, "", "", "", ""] : [s.file, s.scan, s.title, s.status, s.triggers, `${s.streams - s.incomplete}/${s.streams} complete`, s.start ? new Date(s.start).toLocaleString() : ""];
    for (const [i, c] of cells.entries()) {
      const td = document.createElement("td");
      if (i === 0 && !s.error) {
        // the finished file in H5Web (monitor/viewer)
        const a = document.createElement("a");
        a.href = `/viewer/?file=${encodeURIComponent(s.file)}`;
        a.target = "_blank";
        a.textContent = s.file;
        a.title = "open in H5Web";
        td.append(a);
      } else td.textContent = String(c);
      tr.append(td);
    }
    return tr;
  });
  $("scans").tBodies[0].replaceChildren(...rows);
}

// ------------------------------------------------------------------ start

const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) $("token").value = fromHash;
else $("token").value = sessionStorage.getItem("donki-token") ?? "";
$("token").addEventListener("input", () => {
  sessionStorage.setItem("donki-token", $("token").value.trim());
  checkToken();
});
for (const id of ["pause", "resume", "stop"]) $(id).addEventListener("click", () => send(id));
connect();
loadScans().catch(() => {});

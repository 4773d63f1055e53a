// Canvas plots of the monitor: maps with micrometre axes and a colour bar, the spectrum with its ROIs in eV,
// the CCD frame. Small on purpose (see the README's dependency table for why no plotting library).

// viridis, 9 stops
const STOPS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141], [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
export function colour(f) {
  if (!(f >= 0)) f = 0;
  if (f > 1) f = 1;
  const x = f * (STOPS.length - 1);
  const i = Math.min(Math.floor(x), STOPS.length - 2);
  const t = x - i;
  return STOPS[i].map((c, k) => Math.round(c + (STOPS[i + 1][k] - c) * t));
}

function range(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (hi === lo) return [lo, lo + 1];
  return [lo, hi];
}

function fmtNum(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-2)) return v.toExponential(1);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** A map: pixels of the raster (row 0 = y.start at the bottom), axes in the positioner's units, colour bar. */
export function drawMap(canvas, map) {
  const { r, rows, cols, values, d } = map;
  const s = Math.max(2, Math.floor(240 / Math.max(rows, cols)));
  const L = 46, T = 8, B = 34, CB = 70;
  const W = cols * s, H = rows * s;
  canvas.width = L + W + CB;
  canvas.height = T + H + B;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = "#eee";
  g.fillRect(L, T, W, H);
  const [lo, hi] = range(values);
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const v = values[row * cols + col];
      if (Number.isNaN(v)) continue;
      const [cr, cg, cb] = colour((v - lo) / (hi - lo));
      g.fillStyle = `rgb(${cr},${cg},${cb})`;
      g.fillRect(L + col * s, T + H - (row + 1) * s, s, s);
    }
  }
  // axes (micrometres: the positioner's units)
  g.fillStyle = "#222";
  g.strokeStyle = "#222";
  g.font = "11px sans-serif";
  g.strokeRect(L - 0.5, T - 0.5, W + 1, H + 1);
  const ticks = (a) => [a.start, (a.start + a.stop) / 2, a.stop];
  g.textAlign = "center";
  for (const [i, v] of ticks(r.x).entries()) g.fillText(fmtNum(v), L + (i * W) / 2, T + H + 13);
  g.fillText(`x (${r.units})`, L + W / 2, T + H + 27);
  g.textAlign = "right";
  const ny = r.y.points;
  for (let rep = 0; rep < r.repeats; rep++) {
    for (const [i, v] of ticks(r.y).entries()) g.fillText(fmtNum(v), L - 4, T + H - rep * ny * s - (i * ny * s) / 2 + 4);
  }
  g.save();
  g.translate(10, T + H / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = "center";
  g.fillText(`y (${r.units})`, 0, 0);
  g.restore();
  // colour bar with units
  const x0 = L + W + 10;
  for (let i = 0; i < H; i++) {
    const [cr, cg, cb] = colour(1 - i / H);
    g.fillStyle = `rgb(${cr},${cg},${cb})`;
    g.fillRect(x0, T + i, 12, 1);
  }
  g.fillStyle = "#222";
  g.textAlign = "left";
  g.fillText(fmtNum(hi), x0 + 15, T + 9);
  g.fillText(fmtNum(lo), x0 + 15, T + H);
  g.fillText(d.units && d.units !== "1" ? d.units : "ratio", x0 + 15, T + H / 2 + 4);
}

/** The latest spectrum (decimated preview) on a log scale, its ROIs in eV as labelled bands. */
export function drawSpectrum(canvas, d, p) {
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const L = 46, B = 30, T = 18, R = 22;
  g.fillStyle = "#fff";
  g.fillRect(0, 0, W, H);
  const ax = d.axis ?? { offset: 0, step: 1, units: "bin" };
  const b = d.preview?.binning?.[0] ?? 1;
  const n = p.values.length;
  const e0 = ax.offset;
  const e1 = ax.offset + ax.step * n * b;
  const X = (e) => L + ((e - e0) / (e1 - e0)) * (W - L - R);
  const top = Math.log10(1 + Math.max(1, ...p.values));
  const Y = (v) => T + (H - T - B) * (1 - Math.log10(1 + v) / top);
  g.font = "11px sans-serif";
  for (const [name, [lo, hi]] of Object.entries(d.rois ?? {})) {
    g.fillStyle = "rgba(255,165,0,0.25)";
    g.fillRect(X(lo), T, Math.max(1, X(hi) - X(lo)), H - T - B);
    g.fillStyle = "#8a4b00";
    g.textAlign = "center";
    g.fillText(name, (X(lo) + X(hi)) / 2, T - 4);
  }
  g.strokeStyle = "#1a5fb4";
  g.beginPath();
  for (let i = 0; i < n; i++) {
    const e = e0 + ax.step * (i * b + b / 2);
    if (i === 0) g.moveTo(X(e), Y(p.values[i]));
    else g.lineTo(X(e), Y(p.values[i]));
  }
  g.stroke();
  g.fillStyle = "#222";
  g.strokeStyle = "#222";
  g.strokeRect(L, T, W - L - R, H - T - B);
  g.textAlign = "center";
  for (let k = 0; k <= 4; k++) {
    const e = e0 + ((e1 - e0) * k) / 4;
    g.fillText(fmtNum(e), X(e), H - B + 13);
  }
  g.fillText(`energy (${ax.units})`, (L + W - R) / 2, H - 4);
  g.textAlign = "right";
  g.fillText(fmtNum(10 ** top - 1), L - 3, T + 8);
  g.fillText("0", L - 3, H - B);
  g.save();
  g.translate(10, (T + H - B) / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = "center";
  g.fillText(`${d.units} per ${b} bins (log)`, 0, 0);
  g.restore();
}

/** The latest frame (decimated preview), grey scale between its own min and max. */
export function drawFrame(canvas, p) {
  const [h, w] = p.shape;
  const s = Math.max(1, Math.floor(256 / Math.max(h, w)));
  canvas.width = w * s;
  canvas.height = h * s;
  const g = canvas.getContext("2d");
  const img = g.createImageData(w, h);
  const [lo, hi] = range(p.values);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round((255 * (p.values[i] - lo)) / (hi - lo));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  const tmp = new OffscreenCanvas(w, h);
  tmp.getContext("2d").putImageData(img, 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(tmp, 0, 0, w * s, h * s);
}

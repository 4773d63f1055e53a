/**
 * A tiny raster canvas for quick looks: RGB drawing, a built-in 5x7 bitmap font, the viridis colormap and PNG
 * output through pngjs. No external fonts or native code.
 */
import * as fs from "node:fs";
import { PNG } from "pngjs";

export type RGB = readonly [number, number, number];

export const WHITE: RGB = [255, 255, 255];
export const BLACK: RGB = [0, 0, 0];
export const DARK: RGB = [40, 40, 40];
export const LIGHT: RGB = [225, 225, 225];
/** Missing data (mask 0 / NaN): a neutral grey that viridis never produces (viridis is never grey). */
export const MISSING: RGB = [150, 150, 150];

// ------------------------------------------------------------------ colormap

/**
 * Viridis as a 256-entry table, from a degree-6 polynomial fit of matplotlib's viridis (max error ~1/255 per
 * channel; https://www.shadertoy.com/view/WlfXRN, CC0).
 */
export const VIRIDIS: RGB[] = (() => {
  const c = [
    [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832],
  ];
  const out: RGB[] = [];
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    const ch = (k: number) => {
      let v = 0;
      for (let d = 6; d >= 0; d--) v = v * t + c[d]![k]!;
      return Math.max(0, Math.min(255, Math.round(v * 255)));
    };
    out.push([ch(0), ch(1), ch(2)]);
  }
  return out;
})();

/** Colour of a value in [0, 1] (clamped). */
export function viridis(t: number): RGB {
  const i = Math.round(Math.max(0, Math.min(1, t)) * 255);
  return VIRIDIS[Number.isFinite(i) ? i : 0]!;
}

/** Inverse lookup (tests): index 0..255 of the nearest viridis entry, or -1 if the colour is far from all. */
export function viridisIndex(c: RGB, tolerance = 12): number {
  let best = -1;
  let bd = Infinity;
  for (let i = 0; i < 256; i++) {
    const v = VIRIDIS[i]!;
    const d = Math.abs(v[0] - c[0]) + Math.abs(v[1] - c[1]) + Math.abs(v[2] - c[2]);
    if (d < bd) {
      bd = d;
      best = i;
    }
  }
  return bd <= tolerance ? best : -1;
}

// ------------------------------------------------------------------ font

/**
 * 5x7 glyphs: per glyph the character, 7 rows as base-32 digits (bit 4 = leftmost column) and a descender
 * shift (rows drawn lower, for g j p q y). Unknown characters draw as a box.
 */
const FONT_SRC =
  "AEHHVHHH0BUHHUHHU0CEHGGGHE0DUHHHHHU0EVGGUGGV0FVGGUGGG0GEHGNHHF0HHHHVHHH0IE44444E0J72222IC0KHIKOKIH0LGGGGGGV0" +
  "MHRLLHHH0NHHPLJHH0OEHHHHHE0PUHHUGGG0QEHHHLID0RUHHUKIH0SFGGE11U0TV4444440UHHHHHHE0VHHHHHA40WHHHLLLA0XHHA4AHH0" +
  "YHHA44440ZV1248GV0a00E1FHF0bGGMPHHU0c00EGGHE0d11DJHHF0e00EHVGE0f698S8880gFHHHF1E2hGGMPHHH0i40C444E0j20622IC2" +
  "kGGIKOKI0lC44444E0m00QLLLL0n00MPHHH0o00EHHHE0pUHHHUGG2qFHHHF112r00MPGGG0s00FGE1U0t88S88960u00HHHJD0v00HHHA40" +
  "w00HHLLA0x00HA4AH0yHHHHF1E2z00V248V00EHJLPHE014C4444E02EH1248V03V2421HE0426AIV2205VGU11HE0668GUHHE07V1248880" +
  "8EHHEHHE09EHHF12C0.00000CC0,0000C480:0CC0CC00-000V0000+044V4400=00V0V000/01248G00_000000V0(24888420)84222480" +
  "[E88888E0]E22222E0%OP248J30*04LEL400#AAVAVAA0<248G8420>84212480'44800000\"AAA00000!44444040?EH124040" +
  "|44444440~008L2000^4AH00000&CIK8LID0@EHNLMGF0$4FKE5U40;0CC0C480";

interface Glyph {
  rows: number[];
  shift: number;
}
const FONT = new Map<string, Glyph>();
for (let i = 0; i + 9 <= FONT_SRC.length; i += 9) {
  const ch = FONT_SRC[i]!;
  const rows = [...FONT_SRC.slice(i + 1, i + 8)].map((d) => parseInt(d, 32));
  FONT.set(ch, { rows, shift: Number(FONT_SRC[i + 8]) });
}
FONT.set(" ", { rows: [0, 0, 0, 0, 0, 0, 0], shift: 0 });
const BOX: Glyph = { rows: [31, 17, 17, 17, 17, 17, 31], shift: 0 };

/** Advance per character (5 px glyph + 1 px space) and line height (7 + 2 descender + 1) at scale 1. */
export const CHAR_W = 6;
export const CHAR_H = 10;

export const textWidth = (s: string, scale = 1): number => Math.max(0, s.length * CHAR_W * scale - scale);

// ------------------------------------------------------------------ canvas

export class Canvas {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: RGB = WHITE,
  ) {
    if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) throw new Error(`bad canvas size ${width}x${height}`);
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      this.data[i * 4] = background[0];
      this.data[i * 4 + 1] = background[1];
      this.data[i * 4 + 2] = background[2];
      this.data[i * 4 + 3] = 255;
    }
  }

  set(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 4;
    this.data[o] = c[0];
    this.data[o + 1] = c[1];
    this.data[o + 2] = c[2];
  }

  get(x: number, y: number): RGB {
    const o = (y * this.width + x) * 4;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  /** Mix `c` into the pixel with weight a (0..1). */
  blend(x: number, y: number, c: RGB, a: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 4;
    for (let k = 0; k < 3; k++) this.data[o + k] = Math.round(this.data[o + k]! * (1 - a) + c[k]! * a);
  }

  fillRect(x: number, y: number, w: number, h: number, c: RGB, alpha = 1): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++)
      for (let xx = x0; xx < x1; xx++) {
        if (alpha >= 1) this.set(xx, yy, c);
        else this.blend(xx, yy, c, alpha);
      }
  }

  strokeRect(x: number, y: number, w: number, h: number, c: RGB): void {
    this.fillRect(x, y, w, 1, c);
    this.fillRect(x, y + h - 1, w, 1, c);
    this.fillRect(x, y, 1, h, c);
    this.fillRect(x + w - 1, y, 1, h, c);
  }

  /** Bresenham line between integer-rounded end points. */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (let guard = 0; guard < 100000; guard++) {
      this.set(x0, y0, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draw text with its top-left corner at (x, y); returns the width drawn. */
  text(x: number, y: number, s: string, c: RGB = BLACK, scale = 1): number {
    let cx = Math.round(x);
    for (const ch of s) {
      const g = FONT.get(ch) ?? BOX;
      for (let r = 0; r < 7; r++) {
        const bits = g.rows[r]!;
        if (!bits) continue;
        for (let col = 0; col < 5; col++) {
          if (bits & (16 >> col)) this.fillRect(cx + col * scale, y + (r + g.shift) * scale, scale, scale, c);
        }
      }
      cx += CHAR_W * scale;
    }
    return textWidth(s, scale);
  }

  /** Text rotated 90 degrees counter-clockwise (reads bottom to top), its left edge at x, ending at y. */
  textUp(x: number, y: number, s: string, c: RGB = BLACK, scale = 1): void {
    let cy = Math.round(y);
    for (const ch of s) {
      const g = FONT.get(ch) ?? BOX;
      for (let r = 0; r < 7; r++) {
        const bits = g.rows[r]!;
        for (let col = 0; col < 5; col++) {
          if (bits & (16 >> col)) this.fillRect(x + (r + g.shift) * scale, cy - (col + 1) * scale, scale, scale, c);
        }
      }
      cy -= CHAR_W * scale;
    }
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    return PNG.sync.write(png, { colorType: 2 });
  }

  writePng(file: string): void {
    fs.writeFileSync(file, this.toPng());
  }
}

/** Cut a string to at most `maxWidth` pixels at `scale`, with "..." when shortened. */
export function fitText(s: string, maxWidth: number, scale = 1): string {
  const n = Math.floor((maxWidth + scale) / (CHAR_W * scale));
  if (s.length <= n) return s;
  return n <= 3 ? s.slice(0, Math.max(0, n)) : `${s.slice(0, n - 3)}...`;
}

/** Compact number for labels: 4 significant digits, exponent form outside 1e-3..1e5. */
export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(3).split("e");
    return `${String(Number(m))}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** About `n` "nice" tick values (1, 2, 5 x 10^k steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, n);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return out;
}

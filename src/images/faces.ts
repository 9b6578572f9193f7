import { ConfigError, checkInt, checkKnownKeys, checkNumber } from "../errors";
import { Rng } from "../random";
import { type ImageSet, quantize8 } from "./types";

/**
 * The embedded face dataset: cartoon faces drawn from signed distance functions, a stand-in for CelebA
 * that needs no download. Like CelebA it has major axes of variation (a feminine/masculine axis that
 * moves face shape, hair length, brows and lips together; skin tone; hair colour and style) and rare
 * details at known frequencies (glasses, hats), so one can watch a collapsing sequence of VAEs lose
 * the rare details first, as the paper describes for §3.3.
 *
 * Image i of a split is a pure function of (seed, split, i): the training set of 1000 images is the
 * first 1000 of the training set of 5000.
 */

export const HAIR_COLORS = ["black", "brown", "blond", "red", "gray"] as const;
export type HairColor = (typeof HAIR_COLORS)[number];

/** Attribute names of every embedded face, in a fixed order (hair colours one-hot). */
export const FACE_ATTRIBUTES = ["glasses", "hat", "feminine", "smiling", "longHair", ...HAIR_COLORS.map((c) => `hair_${c}`)] as const;

export interface FaceConfig {
  /** Probability of glasses, of a hat, of the feminine end of the axis, of a smile. */
  glasses: number;
  hat: number;
  feminine: number;
  smiling: number;
  /** Relative frequency of each hair colour. */
  hairColors: Record<HairColor, number>;
}

export const FACE_DEFAULTS: FaceConfig = {
  glasses: 0.1,
  hat: 0.05,
  feminine: 0.5,
  smiling: 0.5,
  hairColors: { black: 0.3, brown: 0.35, blond: 0.2, red: 0.05, gray: 0.1 },
};

export function checkFaceConfig(partial: Partial<FaceConfig>, field = "faces"): FaceConfig {
  checkKnownKeys(field, partial, Object.keys(FACE_DEFAULTS));
  const c = { ...FACE_DEFAULTS, ...partial, hairColors: { ...FACE_DEFAULTS.hairColors, ...partial.hairColors } };
  for (const k of ["glasses", "hat", "feminine", "smiling"] as const) checkNumber(`${field}.${k}`, c[k], { min: 0, max: 1 });
  checkKnownKeys(`${field}.hairColors`, c.hairColors, HAIR_COLORS);
  let total = 0;
  for (const h of HAIR_COLORS) total += checkNumber(`${field}.hairColors.${h}`, c.hairColors[h], { min: 0 });
  if (!(total > 0)) throw new ConfigError(`${field}.hairColors`, "needs at least one positive weight");
  return c;
}

type Rgb = readonly [number, number, number];

/** Everything that defines one face; coordinates are in [-1, 1]², y pointing down. */
export interface FaceParams {
  feminine: boolean;
  smiling: boolean;
  glasses: boolean;
  hat: boolean;
  hairColor: HairColor;
  longHair: boolean;
  bald: boolean;
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  jaw: number;
  skin: Rgb;
  hair: Rgb;
  hairline: number;
  hairSlope: number;
  eyeColor: Rgb;
  eyeSpacing: number;
  eyeSize: number;
  mouthWidth: number;
  lips: Rgb;
  background: [Rgb, Rgb];
  shirt: Rgb;
  frame: Rgb;
  hatColor: Rgb;
  brightness: number;
}

const SKIN: Rgb[] = [
  [0.97, 0.82, 0.71],
  [0.89, 0.69, 0.55],
  [0.77, 0.57, 0.42],
  [0.56, 0.38, 0.26],
  [0.38, 0.25, 0.17],
];
const HAIR: Record<HairColor, Rgb> = {
  black: [0.07, 0.06, 0.06],
  brown: [0.36, 0.22, 0.12],
  blond: [0.88, 0.74, 0.42],
  red: [0.66, 0.25, 0.09],
  gray: [0.68, 0.68, 0.68],
};
const EYES: Rgb[] = [
  [0.3, 0.18, 0.08],
  [0.2, 0.4, 0.7],
  [0.25, 0.5, 0.3],
];

const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const scale = (a: Rgb, s: number): Rgb => [a[0] * s, a[1] * s, a[2] * s];
const randomColor = (rng: Rng, lo = 0.1, hi = 0.9): Rgb => [lo + (hi - lo) * rng.uniform(), lo + (hi - lo) * rng.uniform(), lo + (hi - lo) * rng.uniform()];

function pickWeighted<T extends string>(rng: Rng, weights: Record<T, number>, names: readonly T[]): T {
  const total = names.reduce((s, n) => s + weights[n], 0);
  let u = rng.uniform() * total;
  for (const n of names) {
    u -= weights[n];
    if (u < 0 && weights[n] > 0) return n;
  }
  return names.filter((n) => weights[n] > 0).pop()!;
}

/**
 * Draws one face. The attributes are drawn first, each from its own uniform, so their frequencies are
 * exactly the configured ones whatever the rest of the face looks like.
 */
export function sampleFaceParams(rng: Rng, config: FaceConfig = FACE_DEFAULTS): FaceParams {
  const feminine = rng.uniform() < config.feminine;
  const smiling = rng.uniform() < config.smiling;
  const glasses = rng.uniform() < config.glasses;
  const hat = rng.uniform() < config.hat;
  const hairColor = pickWeighted(rng, config.hairColors, HAIR_COLORS);
  const style = rng.uniform();
  const longHair = feminine ? style < 0.85 : style < 0.1;
  const bald = !feminine && !longHair && style > 0.9;
  const tone = rng.uniform() * (SKIN.length - 1);
  const t0 = Math.floor(tone);
  const skin = mix(SKIN[t0], SKIN[Math.min(SKIN.length - 1, t0 + 1)], tone - t0);
  const jitter = (s: number) => s * (2 * rng.uniform() - 1);
  const hair = scale(HAIR[hairColor], 0.85 + 0.3 * rng.uniform());
  const bg0 = randomColor(rng, 0.25, 0.95);
  return {
    feminine,
    smiling,
    glasses,
    hat,
    hairColor,
    longHair,
    bald,
    cx: jitter(0.06),
    cy: 0.02 + jitter(0.05),
    rx: (feminine ? 0.4 : 0.45) + jitter(0.03),
    ry: (feminine ? 0.52 : 0.55) + jitter(0.03),
    jaw: feminine ? 0 : 0.6 + 0.4 * rng.uniform(),
    skin,
    hair,
    hairline: -0.25 + jitter(0.08),
    hairSlope: jitter(0.25),
    eyeColor: EYES[rng.int(EYES.length)],
    eyeSpacing: 0.17 + jitter(0.02),
    eyeSize: (feminine ? 0.068 : 0.058) + jitter(0.008),
    mouthWidth: 0.14 + jitter(0.03),
    lips: feminine ? mix([0.75, 0.2, 0.25], skin, 0.25 * rng.uniform()) : mix([0.6, 0.3, 0.28], skin, 0.5),
    background: [bg0, mix(bg0, randomColor(rng, 0.2, 0.9), 0.6)],
    shirt: randomColor(rng, 0.05, 0.85),
    frame: rng.uniform() < 0.5 ? [0.05, 0.05, 0.05] : randomColor(rng, 0.1, 0.7),
    hatColor: randomColor(rng, 0.05, 0.8),
    brightness: 0.88 + 0.24 * rng.uniform(),
  };
}

/** The 0/1 labels of a face, in FACE_ATTRIBUTES order. */
export function faceLabels(p: FaceParams): number[] {
  return [p.glasses, p.hat, p.feminine, p.smiling, p.longHair, ...HAIR_COLORS.map((c) => c === p.hairColor)].map(Number);
}

// Signed distances (negative inside). Ellipse distances are approximate, which only softens edges.
const ellipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number) => (Math.hypot((x - cx) / rx, (y - cy) / ry) - 1) * Math.min(rx, ry);
const box = (x: number, y: number, cx: number, cy: number, hw: number, hh: number, r = 0) => {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};
const segment = (x: number, y: number, ax: number, ay: number, bx: number, by: number, r: number) => {
  const px = x - ax;
  const py = y - ay;
  const dx = bx - ax;
  const dy = by - ay;
  const h = Math.min(1, Math.max(0, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - dx * h, py - dy * h) - r;
};

/** Renders a face to size × size × 3 values in [0, 1] (8-bit), anti-aliased by analytic pixel coverage. */
export function renderFace(p: FaceParams, size: number): Float32Array {
  const out = new Float32Array(size * size * 3);
  const px = 2 / size;
  let x = 0;
  let y = 0;
  let r = 0;
  let g = 0;
  let b = 0;
  const paint = (d: number, c: Rgb, alpha = 1) => {
    const cover = Math.min(1, Math.max(0, 0.5 - d / px)) * alpha;
    if (cover <= 0) return;
    r += (c[0] - r) * cover;
    g += (c[1] - g) * cover;
    b += (c[2] - b) * cover;
  };
  const { cx, cy, rx, ry } = p;
  const top = cy - ry;
  const eyeY = cy - 0.12 * ry;
  const mouthY = cy + 0.52 * ry;
  const shade = scale(p.skin, 0.8);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      x = -1 + (col + 0.5) * px;
      y = -1 + (row + 0.5) * px;
      const t = (y + 1) / 2;
      [r, g, b] = mix(p.background[0], p.background[1], t);
      // Shoulders, neck, long hair behind the head.
      paint(ellipse(x, y, cx * 0.5, 1.25, 0.85, 0.45), p.shirt);
      if (p.longHair) paint(box(x, y, cx, cy + 0.2, rx + 0.1, ry * 0.95, 0.12), p.hair);
      paint(box(x, y, cx * 0.8, cy + ry + 0.05, 0.15, 0.2, 0.05), shade);
      // Face: an ellipse, squared off at the jaw along the masculine end of the axis.
      let face = ellipse(x, y, cx, cy, rx, ry);
      if (p.jaw > 0) face = Math.min(face, box(x, y, cx, cy + 0.2 * ry, rx * (0.82 + 0.08 * p.jaw), ry * 0.72, 0.18) + 0.02 * (1 - p.jaw));
      paint(face, p.skin);
      paint(ellipse(x, y, cx - rx, eyeY + 0.1, 0.06, 0.11), shade);
      paint(ellipse(x, y, cx + rx, eyeY + 0.1, 0.06, 0.11), shade);
      // Hair on top: a cap above a (possibly slanted) hairline.
      if (!p.bald) {
        const cap = ellipse(x, y, cx, cy - 0.05, rx + 0.06, ry + 0.06);
        const line = y - (cy + p.hairline * ry * 1.6 + p.hairSlope * (x - cx));
        paint(Math.max(cap, line), p.hair);
      }
      // Eyes, irises, pupils, brows.
      for (const side of [-1, 1]) {
        const ex = cx + side * p.eyeSpacing;
        paint(ellipse(x, y, ex, eyeY, p.eyeSize * 1.3, p.eyeSize * 0.8), [0.97, 0.97, 0.95]);
        paint(ellipse(x, y, ex, eyeY, p.eyeSize * 0.6, p.eyeSize * 0.6), p.eyeColor);
        paint(ellipse(x, y, ex, eyeY, p.eyeSize * 0.28, p.eyeSize * 0.28), [0.02, 0.02, 0.02]);
        const browY = eyeY - p.eyeSize * 1.6;
        paint(segment(x, y, ex - side * 0.06, browY + 0.01, ex + side * 0.07, browY - 0.01, p.feminine ? 0.009 : 0.018), scale(p.hair, 0.7));
      }
      paint(ellipse(x, y, cx, cy + 0.22 * ry, 0.035, 0.06), shade, 0.7);
      // Mouth: a smile is an open half-ellipse with teeth, a neutral mouth a closed line.
      if (p.smiling) {
        const open = Math.max(ellipse(x, y, cx, mouthY - 0.02, p.mouthWidth, 0.09), mouthY - 0.02 - y);
        paint(open, [0.35, 0.05, 0.08]);
        paint(Math.max(open, y - (mouthY + 0.025)), [0.96, 0.95, 0.9]);
        paint(Math.abs(open) - 0.008, p.lips);
      } else {
        paint(ellipse(x, y, cx, mouthY, p.mouthWidth * 0.85, p.feminine ? 0.03 : 0.02), p.lips);
      }
      if (p.glasses) {
        for (const side of [-1, 1]) paint(Math.abs(ellipse(x, y, cx + side * p.eyeSpacing, eyeY, 0.12, 0.095)) - 0.014, p.frame);
        paint(segment(x, y, cx - p.eyeSpacing + 0.12, eyeY, cx + p.eyeSpacing - 0.12, eyeY, 0.012), p.frame);
      }
      if (p.hat) {
        paint(box(x, y, cx, top + 0.02, rx + 0.2, 0.04, 0.02), p.hatColor);
        paint(box(x, y, cx, top - 0.14, rx * 0.85, 0.17, 0.08), p.hatColor);
        paint(box(x, y, cx, top - 0.04, rx * 0.85, 0.025), scale(p.hatColor, 0.6));
      }
      const o = (row * size + col) * 3;
      out[o] = r * p.brightness;
      out[o + 1] = g * p.brightness;
      out[o + 2] = b * p.brightness;
    }
  }
  return quantize8(out);
}

export interface FaceDatasetOptions {
  /** Side of the square images in pixels (64 as in the paper, 32 for quick runs). */
  size: number;
  count: number;
  seed: number;
  /** The split's name; different splits share no faces ("train", "test", "classifier", ...). */
  split: string;
  /** Index of the first face (a later slice of the same split). */
  start?: number;
  faces?: Partial<FaceConfig>;
}

/** `count` faces with their labels; face i is drawn from Rng.derive(seed, "faces", split, start + i). */
export function generateFaces(o: FaceDatasetOptions): ImageSet {
  const size = checkInt("size", o.size, { min: 8, max: 1024 });
  const count = checkInt("count", o.count, { min: 0 });
  const start = checkInt("start", o.start ?? 0, { min: 0 });
  const config = checkFaceConfig(o.faces ?? {});
  const per = size * size * 3;
  const images = new Float32Array(count * per);
  const labels = FACE_ATTRIBUTES.map(() => new Uint8Array(count));
  for (let i = 0; i < count; i++) {
    const p = sampleFaceParams(Rng.derive(o.seed, "faces", o.split, start + i), config);
    images.set(renderFace(p, size), i * per);
    faceLabels(p).forEach((v, a) => (labels[a][i] = v));
  }
  const attributes = Object.fromEntries(FACE_ATTRIBUTES.map((a, k) => [a, labels[k]]));
  return { images, n: count, height: size, width: size, attributes };
}

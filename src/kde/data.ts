import type { Rng } from "../random";

/**
 * The 2-D toy sets that "Collapse or Thrive" (Kazdan, Schaeffer et al., ICML 2025) fits kernel density
 * estimates on. Each is a clean shape plus isotropic Gaussian noise of standard deviation `noise` on
 * both coordinates. The shapes' sizes and placements are ours, chosen so that every set spans about
 * [-2, 2]² and one noise level means about the same blur on each.
 */
export const DATASETS = ["blobs", "moons", "circles", "swiss-roll"] as const;
export type DatasetName = (typeof DATASETS)[number];

/** n points in the plane, row-major: point i is (points[2i], points[2i+1]). */
export interface Points {
  readonly points: Float64Array;
  readonly n: number;
}

/** Where each shape puts one noiseless point, given uniform draws. */
type Shape = (rng: Rng) => [number, number];

/**
 * blobs: an equal mixture of three Gaussians centred on the corners of a triangle of radius 1.5; the
 * noise is each blob's standard deviation, so with no noise the blobs are three points.
 */
const BLOB_CENTRES: readonly [number, number][] = [0, 1, 2].map((k) => {
  const angle = Math.PI / 2 + (2 * Math.PI * k) / 3;
  return [1.5 * Math.cos(angle), 1.5 * Math.sin(angle)];
});

const SHAPES: Record<DatasetName, Shape> = {
  blobs: (rng) => BLOB_CENTRES[rng.int(BLOB_CENTRES.length)],
  // Two interleaved half circles of radius 1: the upper one centred at the origin, the lower one
  // shifted right by 1 and down by ½, each point on either with probability ½.
  moons(rng) {
    const t = Math.PI * rng.uniform();
    return rng.uniform() < 0.5 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
  },
  // Two concentric circles of radii 1 and ½, each point on either with probability ½.
  circles(rng) {
    const t = 2 * Math.PI * rng.uniform();
    const r = rng.uniform() < 0.5 ? 1 : 0.5;
    return [r * Math.cos(t), r * Math.sin(t)];
  },
  // The swiss roll seen from its axis: the spiral r = t for t uniform on [1.5π, 4.5π], scaled by 1/10
  // so that it spans about [-1.4, 1.4] (the third, axial coordinate of the 3-D roll is dropped).
  "swiss-roll"(rng) {
    const t = 1.5 * Math.PI * (1 + 2 * rng.uniform());
    return [(t * Math.cos(t)) / 10, (t * Math.sin(t)) / 10];
  },
};

/** n points of `dataset` with isotropic Gaussian noise of standard deviation `noise`. */
export function generate(dataset: DatasetName, n: number, noise: number, rng: Rng): Points {
  const shape = SHAPES[dataset];
  const points = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [x, y] = shape(rng);
    points[2 * i] = x + noise * rng.normal();
    points[2 * i + 1] = y + noise * rng.normal();
  }
  return { points, n };
}

import type { DataCodec, Modality } from "../collapse/modality";
import { type SequenceConfig, checkSequenceFields } from "../collapse/spec";
import { ConfigError, DataError, checkInt, checkKnownKeys, checkNumber, checkOneOf, fieldNames } from "../errors";
import { Rng } from "../random";
import { DATASETS, type DatasetName, type Points, generate } from "./data";
import { BANDWIDTH_RULES, type Bandwidth, type Kde, concatPoints, fitKde, kdeTotalVariance, logDensities, meanLogDensity, sampleKde } from "./model";

/**
 * The collapse loop on kernel density estimates of 2-D toy sets ("Collapse or Thrive", Kazdan,
 * Schaeffer et al., ICML 2025): each model is a KDE on its training points, sampled for the next. The
 * truth is known only through draws, so a model is scored by the mean log density it gives held-out
 * real points, and its samples by the density a reference KDE on many more real points gives them.
 */
export interface KdeSequenceConfig extends SequenceConfig {
  dataset: DatasetName;
  /** Standard deviation of the Gaussian noise on both coordinates of every real point (> 0). */
  noise: number;
  /** Real points in the original set; every synthetic set has as many. */
  samples: number;
  /** A fixed bandwidth, or the rule that fits one to each training set (see BANDWIDTH_RULES). */
  bandwidth: Bandwidth;
  /** Held-out real points the test log-likelihood averages over. */
  testSize: number;
  /** Real points of the reference KDE (bandwidth by cross-validation) that scores samples. */
  referenceSize: number;
  /** Fresh real points added at every iteration ≥ 2 (0 = none). */
  freshRealSamples?: number;
}

export function checkKdeSequenceConfig(c: KdeSequenceConfig): KdeSequenceConfig {
  if (typeof c !== "object" || c === null || Array.isArray(c)) throw new ConfigError("config", "expected an object");
  checkKnownKeys(
    "",
    c,
    fieldNames<KdeSequenceConfig>({ dataset: true, noise: true, samples: true, bandwidth: true, testSize: true, referenceSize: true, freshRealSamples: true, strategy: true, iterations: true, seed: true, curation: true, realShare: true }),
  );
  checkOneOf("dataset", c.dataset, DATASETS);
  // Without noise moons, circles and the roll are curves, on which no density is finite.
  checkNumber("noise", c.noise, { exclusiveMin: 0 });
  checkInt("samples", c.samples, { min: 2 });
  checkBandwidth("bandwidth", c.bandwidth);
  checkInt("testSize", c.testSize, { min: 1 });
  checkInt("referenceSize", c.referenceSize, { min: 2 });
  checkInt("freshRealSamples", c.freshRealSamples ?? 0, { min: 0 });
  checkSequenceFields(c);
  return c;
}

export function checkBandwidth(field: string, value: unknown): Bandwidth {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  if (typeof value === "string" && (BANDWIDTH_RULES as readonly string[]).includes(value)) return value as Bandwidth;
  throw new ConfigError(field, `expected a positive number or one of ${BANDWIDTH_RULES.join(", ")}, got ${JSON.stringify(value)}`);
}

/**
 * What a sequence measures its models against, drawn once from streams of its seed that no other draw
 * uses: the held-out test points, and the reference KDE on `referenceSize` other real points.
 */
export interface KdeTruth {
  test: Points;
  reference: Kde;
}

export function kdeTruth(c: Pick<KdeSequenceConfig, "dataset" | "noise" | "testSize" | "referenceSize" | "seed">): KdeTruth {
  const test = generate(c.dataset, c.testSize, c.noise, Rng.derive(c.seed, "kde", "test"));
  const referencePoints = generate(c.dataset, c.referenceSize, c.noise, Rng.derive(c.seed, "kde", "reference"));
  return { test, reference: fitKde(referencePoints, "cv", Rng.derive(c.seed, "kde", "reference-cv")) };
}

export interface KdeModalityOptions {
  dataset: DatasetName;
  noise: number;
  bandwidth: Bandwidth;
  truth: KdeTruth;
}

export function kdeModality(o: KdeModalityOptions): Modality<Points, Kde> {
  const { test, reference } = o.truth;
  return {
    name: "kde",
    size: (d) => d.n,
    select: (d, indices) => {
      const points = new Float64Array(2 * indices.length);
      indices.forEach((i, k) => {
        points[2 * k] = d.points[2 * i];
        points[2 * k + 1] = d.points[2 * i + 1];
      });
      return { points, n: indices.length };
    },
    real: (size, rng) => generate(o.dataset, size, o.noise, rng),
    fit: (parts, ctx) => fitKde(concatPoints(parts.map((p) => p.data)), o.bandwidth, ctx.rng),
    sample: (model, size, rng) => sampleKde(model, size, rng),
    evaluate: (model, rng) => ({
      testLogLikelihood: meanLogDensity(model, test),
      // As many samples as test points, scored by the reference: the precision-like counterpart.
      sampleLogLikelihood: meanLogDensity(reference, sampleKde(model, test.n, rng)),
      bandwidth: model.bandwidth,
      totalVariance: kdeTotalVariance(model),
    }),
    verifiers: {
      reference: (data) => logDensities(reference, data),
      self: (data, { model }) => logDensities(model, data),
    },
    codec: pointsCodec,
  };
}

/** One-line descriptions of the verifiers kdeModality implements (the spec's `verifiers`). */
export const KDE_VERIFIERS: Readonly<Record<string, string>> = {
  reference: "log density of each sample under a KDE (bandwidth by cross-validation) on referenceSize separate real points",
  self: "log density of each sample under the model that drew it (its own confidence, no real data)",
};

/** Layout: n as u32, then 2n float64 coordinates (x0, y0, x1, ...), little-endian. */
export const pointsCodec: DataCodec<Points> = {
  encode(d) {
    const bytes = new Uint8Array(4 + 16 * d.n);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, d.n, true);
    for (let k = 0; k < 2 * d.n; k++) view.setFloat64(4 + 8 * k, d.points[k], true);
    return bytes;
  },
  decode(bytes) {
    const what = "kde dataset";
    if (bytes.byteLength < 4) throw new DataError(what, `truncated header: ${bytes.byteLength} bytes, the point count takes 4`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = view.getUint32(0, true);
    if (bytes.byteLength !== 4 + 16 * n) throw new DataError(what, `truncated or corrupt: ${bytes.byteLength} bytes, but ${n} points take ${4 + 16 * n}`);
    const points = new Float64Array(2 * n);
    for (let k = 0; k < 2 * n; k++) {
      points[k] = view.getFloat64(4 + 8 * k, true);
      if (!Number.isFinite(points[k])) throw new DataError(what, `point ${k >> 1} has a non-finite ${k % 2 === 0 ? "x" : "y"} coordinate (${points[k]})`);
    }
    return { points, n };
  },
};

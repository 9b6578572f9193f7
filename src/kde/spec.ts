import { sequenceSetup } from "../collapse/runSequence";
import { type ModalitySpec, type SequenceResult, growingSetCost } from "../collapse/spec";
import { DATASETS } from "./data";
import { BANDWIDTH_RULES } from "./model";
import { KDE_VERIFIERS, type KdeSequenceConfig, checkKdeSequenceConfig, kdeModality, kdeTruth } from "./modality";

/** What a KDE run records about itself: the reference KDE's fitted bandwidth. */
export interface KdeFacts {
  referenceBandwidth: number;
}

/**
 * "Collapse or Thrive" (Kazdan, Schaeffer et al., ICML 2025): sequences of kernel density estimates
 * of 2-D toy sets, each fit on samples of the ones before it. Every size is ours. Fits are closed-form
 * (no tensors); a model's evaluation costs its training points × the test points, so accumulate's
 * sequences grow quadratically in the iteration count, and the profiles scale both.
 */
export const KDE: ModalitySpec<KdeSequenceConfig, SequenceResult<KdeSequenceConfig>, null, KdeFacts, null> = {
  name: "kde",
  brief: "Collapse or Thrive: one sequence of kernel density estimates of a 2-D toy set",
  summary: "fit one sequence of Gaussian kernel density estimates of a 2-D toy set (blobs, moons, circles, swiss roll), each on samples of the ones before it",
  entry: { module: __filename, exportName: "KDE" },
  profiles: {
    smoke: { dataset: "moons", noise: 0.1, samples: 100, bandwidth: "scott", strategy: "replace", iterations: 5, seed: 0, testSize: 200, referenceSize: 400 },
    quick: { dataset: "moons", noise: 0.1, samples: 200, bandwidth: "scott", strategy: "replace", iterations: 30, seed: 0, testSize: 1000, referenceSize: 2000 },
    medium: { dataset: "moons", noise: 0.1, samples: 500, bandwidth: "scott", strategy: "replace", iterations: 50, seed: 0, testSize: 2000, referenceSize: 5000 },
    paper: { dataset: "moons", noise: 0.1, samples: 1000, bandwidth: "scott", strategy: "replace", iterations: 100, seed: 0, testSize: 2000, referenceSize: 10000 },
  },
  describe: (c) => `${c.dataset} (noise ${c.noise}), ${c.samples} points per set, bandwidth ${c.bandwidth}, ${c.iterations} iterations`,
  label: (c) => `${c.dataset} · ${c.strategy} · bandwidth ${c.bandwidth}`,
  flags: [
    { flag: "dataset", field: "dataset", type: "string", help: ["NAME", DATASETS.join(", ")], choices: () => DATASETS },
    { flag: "bandwidth", field: "bandwidth", type: "string", help: ["H", `a fixed kernel width, or fitted per model: ${BANDWIDTH_RULES.join(", ")}`] },
    { flag: "samples", field: "samples", type: "int", help: ["N", "real points; every synthetic set has as many"] },
    { flag: "noise", field: "noise", type: "real", help: ["S", "standard deviation of the noise on every real point"] },
    { flag: "test-size", field: "testSize", type: "int", help: ["N", "held-out real points of the test log-likelihood"] },
    { flag: "reference-size", field: "referenceSize", type: "int", help: ["N", "real points of the reference KDE (sampleLogLikelihood, the reference verifier)"] },
    { flag: "fresh-real", field: "freshRealSamples", type: "int", help: ["N", "fresh real points added at every iteration ≥ 2 (default 0)"], fallback: () => 0 },
  ],
  // --bandwidth arrives as text: a number given there is a fixed bandwidth.
  prepare(c, given) {
    const text = given.bandwidth;
    return text !== undefined && text.trim() !== "" && Number.isFinite(Number(text)) ? { ...c, bandwidth: Number(text) } : c;
  },
  check: (c) => void checkKdeSequenceConfig(c),
  tensors: false,
  stored: true,
  // A run's first iterations are those of a longer one (every draw is derived per iteration).
  runKey: ({ iterations: _iterations, ...key }) => key,
  load: async () => null,
  async setup(c) {
    const truth = kdeTruth(c);
    return sequenceSetup({
      modality: kdeModality({ dataset: c.dataset, noise: c.noise, bandwidth: c.bandwidth, truth }),
      loop: { strategy: c.strategy, iterations: c.iterations, realSize: c.samples, freshRealSize: c.freshRealSamples ?? 0 },
      facts: { referenceBandwidth: truth.reference.bandwidth },
      extras: null,
    });
  },
  result: (base) => base,
  verifiers: KDE_VERIFIERS,
  // Evaluation dominates: the test points against every training point, the samples against the reference.
  cost: (c, finished) => growingSetCost(c.strategy, c.iterations, finished, () => c.samples * c.testSize) + (c.iterations - finished) * c.testSize * c.referenceSize,
  scaleRealSet: (c, factor) => ({ ...c, samples: Math.max(2, Math.round(c.samples * factor)) }),
  metrics: [
    { key: "testLogLikelihood", label: "test log-likelihood", digits: 4 },
    { key: "sampleLogLikelihood", label: "sample log-likelihood (reference)", header: "sample LL", digits: 4 },
    { key: "bandwidth", label: "bandwidth", digits: 4 },
    { key: "totalVariance", label: "total variance", digits: 4 },
  ],
  sizeUnit: "points",
};

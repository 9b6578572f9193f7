import type { Rng } from "../random";
import type { FitCheckpoint } from "../nn/fit";
import type { Part } from "./strategies";

/** What the loop tells a modality while it fits model n. */
export interface FitContext {
  /** 1-based index of the model being fit. */
  readonly iteration: number;
  readonly rng: Rng;
  /**
   * Multiply the configured training work (epochs, or steps where they are fixed) by this: 1 except
   * under replace-matched-compute, where it matches accumulate's optimizer steps (see trainingScale).
   */
  readonly trainingScale: number;
  /** Reports intermediate metrics (e.g. a learning curve); forwarded to the loop's observer. */
  readonly report: (step: number, metrics: Readonly<Record<string, number>>) => void;
  /** Where the fit keeps mid-fit checkpoints (a stored run's), to resume a killed fit where it stood. */
  readonly checkpoint?: FitCheckpoint;
}

/**
 * A kind of data plus a generative model for it. The collapse loop is generic over this interface:
 * linear regression, language models, diffusion and VAEs each implement it once.
 * `D` is a dataset (rows, documents, images), `M` a fitted model.
 */
export interface Modality<D, M> {
  readonly name: string;
  /** Number of samples in a dataset (rows, documents, images, conformations). */
  size(data: D): number;
  /** The samples at `indices` (used by accumulate-subsample). */
  select(data: D, indices: Int32Array): D;
  /**
   * Real training data, one of two ways. `realPool`: every real training sample the modality holds, in
   * order; the loop takes the original set from its start and each fresh draw as the next slice, the
   * same way for every modality (see `realDraw`). `real`: a generator of `size` fresh samples from
   * `rng` (`draw` is 1 for the original set, n for fresh data at iteration n), for synthetic problems
   * such as §2's regression and §5's Gaussian.
   */
  readonly realPool?: D;
  real?(size: number, rng: Rng, draw: number): D | Promise<D>;
  /** Fits a fresh model on the given parts (a modality may exploit their structure, e.g. repeated rows). */
  fit(train: readonly Part<D>[], ctx: FitContext): M | Promise<M>;
  /** `size` new samples from the model. */
  sample(model: M, size: number, rng: Rng): D | Promise<D>;
  /**
   * Samples that begin every larger sample from the same generator: sample(model, n, rng) for n ≥
   * previewSize starts with sample(model, previewSize, rng) (e.g. the first batch). The last model of a
   * stored run draws only these, enough to show; continuing the run draws its whole set then, from the
   * model read back (see CollapseOptions.restore). Unset: the last model draws its whole set.
   */
  readonly previewSize?: number;
  /** Metrics of the model on held-out real data. */
  evaluate(model: M, rng: Rng): Readonly<Record<string, number>> | Promise<Readonly<Record<string, number>>>;
  /** Frees a model's resources (tensors) once the loop is done with it. */
  dispose?(model: M): void;
  /** Frees what the modality itself holds (e.g. a reference model), once the loop returns or fails. */
  close?(): void;
  /** Byte encoding of datasets, needed to persist synthetic sets in a run store (resume). */
  readonly codec?: DataCodec<D>;
  /**
   * The verifiers curation can use, by name (their one-line descriptions are the spec's `verifiers`):
   * each scores every sample of a synthetic set, higher meaning more trustworthy. See CurationConfig.
   */
  readonly verifiers?: Readonly<Record<string, Verifier<D, M>>>;
  /**
   * The training work of fit `iteration` on `train` at `trainingScale` (examples seen, and tokens and
   * FLOPs where the modality knows them), from the parts alone. Unset: one pass over the training set,
   * the work of a closed-form fit.
   */
  trainingCompute?(train: readonly Part<D>[], trainingScale: number, iteration: number): FitCompute;
}

/** Scores of a synthetic set, one per sample (higher = kept first); `model` is the model that drew it. */
export type Verifier<D, M> = (data: D, ctx: { iteration: number; model: M; rng: Rng }) => Float64Array | Promise<Float64Array>;

/** Training work: examples seen (counting repeats over epochs), and tokens and FLOPs where known. */
export interface FitCompute {
  examples: number;
  tokens?: number;
  flops?: number;
}

export interface DataCodec<D> {
  encode(data: D): Uint8Array;
  decode(bytes: Uint8Array): D;
}

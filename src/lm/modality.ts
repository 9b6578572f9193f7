import { ConfigError } from "../errors";
import type { DataCodec, Modality } from "../collapse/modality";
import { holdingAlso } from "../nn/fit";
import { DataError } from "../errors";
import type { BpeTokenizer } from "../text/bpe";
import { initParams } from "./model";
import { type SamplingConfig, sampleDocuments } from "./sample";
import { type TrainConfig, evaluateCrossEntropy, train, windows } from "./train";
import type { LmConfig } from "./types";
import { cloneParams, disposeParams } from "../nn/params";
import type { Rng } from "../random";
import { quantile, textMeasures, vocabularyOf } from "../text/metrics";
import { documentCrossEntropies } from "./score";
import type { Params } from "../nn/params";
import { type BigramReference, bigramReference, lmFitCompute, validWordShare } from "./verifiers";

/** Tokenized documents (ids without the end-of-document token). */
export interface LmData {
  readonly docs: readonly Int32Array[];
}

export interface LmModel {
  readonly params: Params;
  /** Tokens the model was trained on (all epochs). */
  readonly trainTokens: number;
  /** Its test cross-entropy, when the fit already measured it on every validation window. */
  readonly testCrossEntropy?: number;
  /** The iteration it was fit at. */
  readonly iteration?: number;
}

export interface LmModalityOptions {
  model: LmConfig;
  tokenizer: BpeTokenizer;
  /** Real training documents, tokenized: the original set first, then the fresh-real draws in order. */
  realDocs: readonly Int32Array[];
  /** Size of the original real set (the first draw). */
  originalDocs: number;
  /** Held-out real validation windows (sequenceLength + 1 tokens each). */
  validWindows: readonly Int32Array[];
  train: TrainConfig;
  /** Epochs of the first iteration only (Figure 11 varies it); default train.epochs. */
  firstIterationEpochs?: number;
  sampling: SamplingConfig;
  /**
   * Model 1 is trained on the real data alone, so sequences that differ only in strategy or sampling
   * train the very same first model. When given, this fits it once and shares it (see runLmSequence).
   */
  shareFirstModel?: (fit: () => Promise<FittedLm>) => Promise<FittedLm & { cached: boolean }>;
  /**
   * Text measures per iteration (beyond the paper): `documents` generated at evaluation, scored against
   * the real training vocabulary and by the first model. 0 documents: none.
   */
  textMetrics?: { documents: number; vocabulary: ReadonlySet<string>; loadFirstModel?: () => Params | null };
}

/** Quantiles of the generated documents' perplexity under the first model, reported as firstModelPerplexityQ05 ... */
export const PERPLEXITY_QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95] as const;

export function perplexityQuantileKey(q: number): string {
  return `firstModelPerplexityQ${String(Math.round(q * 100)).padStart(2, "0")}`;
}

/** The record metrics measured on generated text (they depend on the sampling settings, not only on the model). */
export const TEXT_MEASURE_KEYS: readonly string[] = ["validWordRate", "distinct1", "distinct2", "meanWords", ...PERPLEXITY_QUANTILES.map(perplexityQuantileKey)];

/** A freshly fitted model with the learning curve it reported. */
export interface FittedLm extends LmModel {
  readonly curve: readonly { step: number; metrics: Record<string, number> }[];
}

/**
 * Causal language models as a collapse-loop modality: fit = pretrain a freshly initialised model,
 * sample = generate whole documents, evaluate = cross-entropy on real held-out text.
 */
export function lmModality(o: LmModalityOptions): Modality<LmData, LmModel> {
  const eot = o.tokenizer.eotId;
  // The first model, kept (or read back on resume) to score every later model's text.
  let first: Params | null = null;
  const textMeasuresOf = async (model: LmModel, iteration: number, rng: Rng): Promise<Record<string, number>> => {
    const t = o.textMetrics;
    if (!t || t.documents <= 0) return {};
    const docs = await sampleDocuments(o.model, model.params, eot, t.documents, o.sampling, rng);
    const m = textMeasures(docs.map((d) => o.tokenizer.decode(d, { skipSpecial: true })), t.vocabulary);
    const out: Record<string, number> = { validWordRate: m.validWordRate, distinct1: m.distinct1, distinct2: m.distinct2, meanWords: m.meanWords };
    if (iteration === 1 && first === null) first = cloneParams(model.params);
    if (first === null) first = t.loadFirstModel?.() ?? null;
    if (first !== null) {
      const ppl = documentCrossEntropies(o.model, first, docs, eot, o.train.microBatchSize ?? o.train.batchSize).map(Math.exp);
      for (const q of PERPLEXITY_QUANTILES) out[perplexityQuantileKey(q)] = quantile(ppl, q);
    }
    return out;
  };
  // Built on first use: only a curated sequence asks for them.
  let reference: BigramReference | null = null;
  let vocabulary: ReadonlySet<string> | null = o.textMetrics?.vocabulary ?? null;
  const realVocabulary = () => (vocabulary ??= vocabularyOf(o.realDocs.slice(0, o.originalDocs).map((d) => o.tokenizer.decode(d, { skipSpecial: true }))));
  return {
    name: "lm",
    // sampleDocuments draws batch by batch from one generator: the first batch begins every sample.
    previewSize: o.sampling.batchSize,
    size: (data) => data.docs.length,
    select: (data, indices) => ({ docs: Array.from(indices, (i) => data.docs[i]) }),
    realPool: { docs: o.realDocs },
    async fit(parts, ctx) {
      const fitFresh = async (report: (step: number, metrics: Record<string, number>) => void): Promise<FittedLm> => {
        const docs = parts.flatMap((p) => p.data.docs);
        // Documents in a seeded order, each followed by the end-of-document token, as one stream.
        const order = ctx.rng.permutation(docs.length);
        const stream = concatDocuments(Array.from(order, (i) => docs[i]), eot);
        const trainWindows = windows(stream, o.train.sequenceLength);
        const epochs = (ctx.iteration === 1 && o.firstIterationEpochs !== undefined ? o.firstIterationEpochs : o.train.epochs) * ctx.trainingScale;
        const params = initParams(o.model, ctx.rng.fork("init"));
        const curve: { step: number; metrics: Record<string, number> }[] = [];
        try {
          // The curve so far is kept with a mid-fit checkpoint, so a resumed fit's is the whole one.
          const checkpoint = holdingAlso(ctx.checkpoint, { save: () => curve, restore: (c) => curve.splice(0, curve.length, ...(c as typeof curve)) });
          const result = await train(
            o.model,
            params,
            trainWindows,
            o.validWindows,
            { ...o.train, epochs },
            ctx.rng.fork("batches"),
            (p) => {
              const metrics: Record<string, number> = { trainLoss: p.trainLoss, tokens: p.tokens, learningRate: p.learningRate };
              if (p.testCrossEntropy !== undefined) metrics.testCrossEntropy = p.testCrossEntropy;
              curve.push({ step: p.step, metrics });
              report(p.step, metrics);
            },
            checkpoint,
          );
          return { params, trainTokens: result.tokens, curve, testCrossEntropy: result.finalTestCrossEntropy };
        } catch (e) {
          disposeParams(params);
          if (e instanceof Error) e.message = `iteration ${ctx.iteration}: ${e.message}`;
          throw e;
        }
      };
      if (ctx.iteration !== 1 || !o.shareFirstModel) return { ...(await fitFresh(ctx.report)), iteration: ctx.iteration };
      const fitted = await o.shareFirstModel(() => fitFresh(ctx.report));
      // A shared model's learning curve is replayed, so the record is the same as a fresh fit's.
      if (fitted.cached) for (const point of fitted.curve) ctx.report(point.step, point.metrics);
      return { params: fitted.params, trainTokens: fitted.trainTokens, testCrossEntropy: fitted.testCrossEntropy, iteration: 1 };
    },
    sample: async (model, size, rng) => ({ docs: await sampleDocuments(o.model, model.params, eot, size, o.sampling, rng) }),
    evaluate: async (model, rng) => ({
      // The fit's last evaluation is this very computation; a shared first model read back has none.
      testCrossEntropy: model.testCrossEntropy ?? evaluateCrossEntropy(o.model, model.params, o.validWindows, o.train.microBatchSize ?? o.train.batchSize),
      trainTokens: model.trainTokens,
      ...(await textMeasuresOf(model, model.iteration ?? 0, rng.fork("text-metrics"))),
    }),
    dispose: (model) => disposeParams(model.params),
    close() {
      if (first) disposeParams(first);
      first = null;
    },
    codec: lmCodec,
    verifiers: {
      // The modality's whole real pool (the original set and every fresh draw): more real text than any training set of the sequence.
      reference: (data) => {
        reference ??= bigramReference(o.realDocs, o.tokenizer.vocabSize, eot);
        return Float64Array.from(data.docs, (d) => reference!.meanLogProb(d));
      },
      // Model 1 as the reference (the text measures' first model): each document's mean log-probability per token under it.
      "first-model": async (data, ctx) => {
        if (first === null && ctx.iteration === 1) first = cloneParams(ctx.model.params);
        if (first === null) first = o.textMetrics?.loadFirstModel?.() ?? null;
        if (first === null) throw new ConfigError("curation.verifier", "first-model needs the sequence's first model: keep checkpoints in the run store (a run resumed without them has none)");
        return Float64Array.from(documentCrossEntropies(o.model, first, data.docs, eot, o.train.microBatchSize ?? o.train.batchSize), (ce) => -ce);
      },
      // The original real training set's words, the vocabulary of the validWordRate metric.
      "valid-words": (data) => {
        const known = realVocabulary();
        return Float64Array.from(data.docs, (d) => validWordShare(o.tokenizer.decode(d, { skipSpecial: true }), known));
      },
    },
    trainingCompute(parts, trainingScale, iteration) {
      const docs = parts.flatMap((p) => p.data.docs);
      const epochs = (iteration === 1 && o.firstIterationEpochs !== undefined ? o.firstIterationEpochs : o.train.epochs) * trainingScale;
      const streamTokens = docs.reduce((s, d) => s + d.length + 1, 0);
      return lmFitCompute(o.model, o.train, docs.length, streamTokens, epochs);
    },
  };
}

/** Documents joined into one token stream, each followed by `eot`. */
export function concatDocuments(docs: readonly Int32Array[], eot: number): Int32Array {
  const total = docs.reduce((s, d) => s + d.length + 1, 0);
  const out = new Int32Array(total);
  let o = 0;
  for (const d of docs) {
    out.set(d, o);
    o += d.length;
    out[o++] = eot;
  }
  return out;
}

const MAGIC = 0x4c4d4431; // "LMD1"

/** Binary layout: magic, document count (u32), lengths (u32 each), then all ids (i32). */
export const lmCodec: DataCodec<LmData> = {
  encode(data) {
    const n = data.docs.length;
    const total = data.docs.reduce((s, d) => s + d.length, 0);
    const buf = Buffer.alloc(8 + 4 * n + 4 * total);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(n, 4);
    let o = 8;
    for (const d of data.docs) (buf.writeUInt32LE(d.length, o), (o += 4));
    for (const d of data.docs) for (let i = 0; i < d.length; i++, o += 4) buf.writeInt32LE(d[i], o);
    return buf;
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 8 || buf.readUInt32LE(0) !== MAGIC) throw new DataError("lm dataset", "not a collapse-kit token dataset (bad magic)");
    const n = buf.readUInt32LE(4);
    if (buf.length < 8 + 4 * n) throw new DataError("lm dataset", "truncated document table");
    const lengths = Array.from({ length: n }, (_, i) => buf.readUInt32LE(8 + 4 * i));
    const total = lengths.reduce((a, b) => a + b, 0);
    if (buf.length !== 8 + 4 * n + 4 * total) throw new DataError("lm dataset", `truncated or corrupt: ${buf.length} bytes, expected ${8 + 4 * n + 4 * total}`);
    let o = 8 + 4 * n;
    const docs = lengths.map((len) => {
      const d = new Int32Array(len);
      for (let i = 0; i < len; i++, o += 4) d[i] = buf.readInt32LE(o);
      return d;
    });
    return { docs };
  },
};


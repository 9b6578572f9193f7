import * as path from "node:path";
import type { Profile } from "../collapse/profiles";
import { type ModalitySpec, baseConfig, growingSetCost, trainFlags } from "../collapse/spec";
import { runSequence } from "../collapse/runSequence";
import { ConfigError } from "../errors";
import { canonicalJson } from "../store/runStore";
import { wrap } from "../progress";
import { parseDataSpec } from "../text/dataSpec";
import { lmConfig, lmConfigNames } from "./configs";
import { lmCrossEntropyFigure } from "./figures";
import { parameterCount } from "./model";
import { SAMPLING_DEFAULTS } from "./sample";
import {
  type LmCorpus,
  type LmExtras,
  type LmFacts,
  type LmSequenceConfig,
  type LmSequenceResult,
  checkLmSequenceConfig,
  firstModelKey,
  lmApproxTrainTokens,
  lmResult,
  lmRunKey,
  lmTrainSizeLabel,
  loadLmCorpus,
  setupLmSequence,
} from "./sequence";
import { TRAIN_DEFAULTS } from "./train";
import { LM_COST } from "./plan";

/**
 * §3.1: sequences of transformer language models, each pretrained from scratch on text sampled from
 * the models before it. Sequences that share a first model (same setting, another strategy or
 * temperature) do not start together: the second waits for the first to store model 1 and reads it.
 */
export const LM: ModalitySpec<LmSequenceConfig, LmSequenceResult, LmCorpus, LmFacts, LmExtras> = {
  name: "lm",
  brief: "§3.1: one sequence of transformer language models (GPT-2, Llama-2)",
  summary: "fit one §3.1 sequence of transformer language models, each pretrained on text sampled from the models before it (replace) or on everything so far (accumulate)",
  entry: { module: __filename, exportName: "LM" },
  profiles: {
    smoke: {
      model: "gpt2-smoke",
      vocabSize: 512,
      data: "embedded",
      trainDocuments: 120,
      validDocuments: 30,
      strategy: "replace",
      iterations: 3,
      seed: 0,
      train: { batchSize: 8, sequenceLength: 64, learningRate: 3e-3, minLearningRate: 3e-4, evalEvery: 8, evalSequences: 4 },
      sampling: { batchSize: 60 },
      textMetricDocuments: 12,
    },
    // Sized by tokens, so that every corpus gets the same budget (ours; the paper trains on all of
    // TinyStories); the README's "What quick shows" says what these sizes give.
    quick: {
      model: "gpt2-quick",
      vocabSize: 2048,
      data: "embedded",
      trainTokens: 300_000,
      validTokens: 12_000,
      strategy: "replace",
      iterations: 3,
      seed: 0,
      train: { epochs: 2, batchSize: 8, sequenceLength: 128, learningRate: 1e-2, minLearningRate: 1e-3, warmupFraction: 0.1, evalEvery: 50, evalSequences: 24 },
      sampling: { batchSize: 100 },
    },
    // Medium (every size ours): the paper's data, model (its smallest GPT-2; lmFigure3Models adds its
    // smallest Llama-2), vocabulary and training settings, on 14,000 of TinyStories' 2,119,719
    // training documents (0.66%, sized with collapse plan so that the longest sequence, accumulate,
    // takes about a night on one core: the README's planned costs) and 10% of its validation split,
    // for 5 iterations instead of 10. Learning curves every 25 steps rather than 500 (a first fit is
    // about 90 steps at the kit's estimate of 200 tokens a document) on 128 validation sequences.
    // Sampling as the paper profile's; text measures at their default.
    medium: {
      model: "gpt2-9m",
      vocabSize: 8000,
      data: "tinystories",
      trainDocuments: 14_000,
      validDocuments: 2_199,
      strategy: "replace",
      iterations: 5,
      seed: 0,
      train: { batchSize: 64, microBatchSize: 8, sequenceLength: 512, learningRate: 5e-4, minLearningRate: 5e-5, warmupFraction: 0.01, evalEvery: 25, evalSequences: 128 },
      sampling: { batchSize: 256, maxTokens: 1023 },
    },
    paper: {
      model: "gpt2-9m",
      vocabSize: 8000,
      data: "tinystories",
      trainDocuments: 2_119_719,
      validDocuments: 21_990,
      strategy: "replace",
      iterations: 10,
      seed: 0,
      // Micro-batches of 8 keep a fit of the paper's batch (64 × 512) within a 24 GB machine or GPU.
      train: { batchSize: 64, microBatchSize: 8, sequenceLength: 512, learningRate: 5e-4, minLearningRate: 5e-5, warmupFraction: 0.01, evalEvery: 500, evalSequences: 512 },
      sampling: { batchSize: 256, maxTokens: 1023 },
    },
  },
  describe: (b) => `${b.model} on ${b.data}, ${lmTrainSizeLabel(b)}, vocabulary ${b.vocabSize}, ${b.iterations} iterations, ${b.train.epochs ?? 1} epoch(s)`,
  label(c) {
    const extra = [c.sampling?.temperature !== undefined ? `temperature ${c.sampling.temperature}` : "", c.firstIterationEpochs !== undefined ? `first epochs ${c.firstIterationEpochs}` : ""];
    return [c.model, c.strategy, lmTrainSizeLabel(c), ...extra].filter(Boolean).join(" · ");
  },
  data: {
    help: [
      "embedded | tinystories | text:PATH",
      "embedded: stories generated offline from a seed;",
      "tinystories: downloaded once into $COLLAPSE_DATA_DIR (or read from",
      "$COLLAPSE_TINYSTORIES_DIR); text:PATH: documents separated by lines",
      "holding only <|endoftext|>",
    ],
    normalize(text) {
      const spec = parseDataSpec(text);
      return spec.kind === "text" ? `text:${path.resolve(spec.path)}` : spec.kind;
    },
  },
  flags: [
    { flag: "model", field: "model", type: "string", help: ["NAME", ...wrap(lmConfigNames().join(", "), 66)], choices: lmConfigNames },
    { flag: "tokens", field: "trainTokens", type: "int", help: ["N", "real training tokens: the first documents whose tokens reach N (the", "profile's way); every synthetic set has as many documents"], clears: "trainDocuments" },
    { flag: "documents", field: "trainDocuments", type: "int", help: ["N", "real training documents instead of --tokens"], clears: "trainTokens" },
    { flag: "valid-tokens", field: "validTokens", type: "int", help: ["N", "real held-out tokens for the test cross-entropy"], clears: "validDocuments" },
    { flag: "valid-documents", field: "validDocuments", type: "int", help: ["N", "real held-out documents instead of --valid-tokens"], clears: "validTokens" },
    { flag: "vocab", field: "vocabSize", type: "int", help: ["N", "BPE vocabulary size, ≥ 258 (the paper states none; paper profile: 8000)"] },
    ...trainFlags<LmSequenceConfig>(TRAIN_DEFAULTS, "text"),
    { flag: "micro-batch", field: "train.microBatchSize", type: "int", help: ["N", "sequences per forward/backward pass: gradients are accumulated over", "batch/N passes, the same update in less memory (default: the whole", "batch; paper profile: 8, for a 24 GB machine or GPU)"] },
    { flag: "first-epochs", field: "firstIterationEpochs", type: "real", help: ["E", "epochs of the first model only (Figure 11; default: --epochs)"], fallback: (c) => c.train.epochs ?? TRAIN_DEFAULTS.epochs },
    { flag: "text-metric-documents", field: "textMetricDocuments", type: "int", help: ["N", "documents generated per model for the text measures", "(default 64; 0: none)"] },
    { flag: "fresh-real", field: "freshRealDocuments", type: "int", help: ["N", "fresh real documents added at every iteration ≥ 2 (default 0)"], fallback: () => 0 },
    { flag: "temperature", field: "sampling.temperature", type: "real", help: ["T", "sampling temperature > 0 (default 1.0; the paper's ablation: 0.3)"], fallback: () => SAMPLING_DEFAULTS.temperature },
    { flag: "top-k", field: "sampling.topK", type: "int", help: ["K", "sample from the K most likely tokens only (default 0: off)"], fallback: () => SAMPLING_DEFAULTS.topK },
    { flag: "top-p", field: "sampling.topP", type: "real", help: ["P", "nucleus sampling, 0 < P ≤ 1 (default 1: off)"], fallback: () => SAMPLING_DEFAULTS.topP },
  ],
  check(c) {
    checkLmSequenceConfig(c);
    lmRunKey(c); // a missing text file
  },
  // A field the profile set that does not fit the chosen --model: say which profile does.
  explain(e, given, profile) {
    const base = LM.profiles[profile];
    if (given.model === undefined || given.model === base.model) return null;
    const fits = given.model.endsWith("-smoke") ? "smoke" : /-quick(-[sm])?$/.test(given.model) ? "quick" : "medium or paper";
    return new ConfigError(e.field, `${e.detail} (set by the ${profile} profile, which is sized for ${base.model}; --model ${given.model} fits --profile ${fits})`);
  },
  tensors: true,
  stored: true,
  runKey: (c) => lmRunKey(c),
  load: (c, ctx) => loadLmCorpus(c, ctx.status),
  setup: setupLmSequence,
  result: lmResult,
  verifiers: {
    reference: "mean log-probability per token under a bigram model of the whole real training pool (interpolated with unigrams)",
    "valid-words": "share of the document's words that occur in the real training text",
    "first-model": "mean log-probability per token under the sequence's first model (trained on real data only)",
  },
  // Training work: parameters × tokens trained on × epochs.
  scaleRealSet: (c, factor) => (c.trainTokens !== undefined ? { ...c, trainTokens: Math.max(1, Math.round(c.trainTokens * factor)) } : { ...c, trainDocuments: Math.max(1, Math.round((c.trainDocuments ?? 0) * factor)) }),
  cost(c, finished) {
    let params = 1;
    try {
      params = parameterCount(lmConfig(c.model, c.vocabSize));
    } catch {
      // an unknown model is reported by the sequence itself
    }
    return growingSetCost(c.strategy, c.iterations, finished, (n) => lmApproxTrainTokens(c) * (n === 1 ? (c.firstIterationEpochs ?? c.train.epochs ?? 1) : (c.train.epochs ?? 1))) * params;
  },
  plan: LM_COST,
  firstModelKey: (c) => canonicalJson(firstModelKey(lmRunKey(c))),
  metrics: [
    { key: "testCrossEntropy", label: "test cross-entropy", header: "test CE (nats/token)", digits: 4 },
    { key: "trainTokens", label: "training tokens", header: "tokens", digits: 0 },
    { key: "validWordRate", label: "valid words", digits: 3 },
    { key: "distinct2", label: "distinct-2", digits: 3 },
    { key: "firstModelPerplexityQ50", label: "median perplexity under model 1", header: "ppl₁ median", digits: 1 },
  ],
  jsonMetricsHelp: "distinct1, meanWords, firstModelPerplexityQ05/Q25/Q50/Q75/Q95",
  sizeUnit: "documents",
  summarize: (r, c) => ({
    json: { model: r.model.name, vocabSize: r.model.vocabSize, backendDetail: r.backend?.detail, realData: r.realData },
    title: `${r.model.name}, vocabulary ${r.model.vocabSize} · ${c.data}: ${r.realData.trainDocuments.toLocaleString("en-US")} real training documents (${r.realData.trainTokens.toLocaleString("en-US")} tokens)`,
  }),
  live: { label: (c) => c.model, figure: lmCrossEntropyFigure },
};

/** The §3.1 base sequence of a profile (GPT-2; the notebooks vary model, strategy and temperature). */
export function lmBaseConfig(profile: Profile): LmSequenceConfig {
  return baseConfig(LM, profile);
}

/** Runs (or resumes, or reads back) one §3.1 sequence. */
export function runLmSequence(config: LmSequenceConfig, opts: Parameters<typeof runSequence>[2] = {}): Promise<LmSequenceResult> {
  return runSequence(LM, config, opts);
}

import { type CostModel, type FitWork, type Rates, OPTIMIZER_BYTES_PER_PARAMETER, formatBytes, loopOf, plannedIterations, stepsOnly, TIMED_SECONDS, timeSteps } from "../collapse/plan";
import { disposeParams } from "../nn/params";
import { Rng } from "../random";
import { EOT_ID, trainBpe } from "../text/bpe";
import { lmConfig } from "./configs";
import { initParams, parameterCount } from "./model";
import { checkSamplingConfig, sampleDocuments } from "./sample";
import { ESTIMATED_TOKENS_PER_DOCUMENT, type LmSequenceConfig, TEXT_METRIC_DOCUMENTS, TOKENIZER_BYTES_PER_TOKEN, loadLmCorpus } from "./sequence";
import { checkTrainConfig, evaluateCrossEntropy, train } from "./train";
import type { LmConfig } from "./types";
import { epochSteps } from "../nn/fit";

/**
 * Multiply-adds of a forward pass per token (×2 for FLOPs): every weight matrix once (the input
 * embedding is a lookup; GPT-2's tied head reads it again), and attention's scores and weighted sum
 * over `context` earlier positions (Kaplan et al. 2020's 2·N + 2·layers·context·d).
 */
export function lmForwardFlopsPerToken(m: LmConfig, context: number): number {
  const n = parameterCount(m);
  const lookups = m.vocabSize * m.dModel + (m.arch === "gpt2" ? m.contextLength * m.dModel : 0);
  const head = m.arch === "gpt2" ? m.vocabSize * m.dModel : 0; // tied: counted in the lookup table, used again as the head
  return 2 * (n - lookups + head) + 2 * m.nLayers * context * m.dModel;
}

/**
 * Float32 values a training step keeps per token of one micro-batch: per layer the residual stream,
 * norms, projections and MLP activations (≈ 12·d + 2·hidden) and the attention probabilities and their
 * gradient (3·heads·T); the logits, their softmax and gradient (3·V).
 */
function activationFloatsPerToken(m: LmConfig, T: number): number {
  return m.nLayers * (12 * m.dModel + 2 * m.dHidden + 3 * m.nHeads * T) + 3 * m.vocabSize;
}

/**
 * Peak resident bytes of a fit: tensor sizes × 2.8 + 2 GB, fitted to the peaks measured here for
 * gpt2-9m (9.3 GiB) and llama2-42m (12.8 GiB) at 64 × 512 in micro-batches of 8 (tensorflow on CPU: the
 * runtime, the compiled graph's buffers and the host's data beside the tensors).
 */
export function lmPeakBytes(m: LmConfig, microBatch: number, T: number): number {
  const tensors = 4 * (parameterCount(m) * (1 + OPTIMIZER_BYTES_PER_PARAMETER / 4 + 1) + microBatch * T * activationFloatsPerToken(m, T));
  return 2.8 * tensors + 2e9;
}

/** The largest micro-batch (a divisor of the batch) whose fit fits in `budgetBytes`, or null if even 1 does not. */
export function lmMicroBatchFor(c: LmSequenceConfig, budgetBytes: number): number | null {
  const m = lmConfig(c.model, c.vocabSize);
  const t = checkTrainConfig(c.train, m);
  for (let mb = t.batchSize; mb >= 1; mb--) if (t.batchSize % mb === 0 && lmPeakBytes(m, mb, t.sequenceLength) <= budgetBytes) return mb;
  return null;
}

/** The sampling settings a sequence runs with (documents up to the context by default). */
function samplingOf(c: LmSequenceConfig, m: LmConfig) {
  return checkSamplingConfig({ maxTokens: m.contextLength - 1, ...c.sampling }, m);
}

function tokensPerDocument(c: LmSequenceConfig): number {
  const cap = samplingOf(c, lmConfig(c.model, c.vocabSize)).maxTokens;
  return Math.min(cap + 1, ESTIMATED_TOKENS_PER_DOCUMENT);
}

function realTokens(c: LmSequenceConfig): number {
  return c.trainTokens ?? (c.trainDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
}

function validTokens(c: LmSequenceConfig): number {
  return c.validTokens ?? (c.validDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
}

export const LM_COST: CostModel<LmSequenceConfig> = {
  work(c) {
    const m = lmConfig(c.model, c.vocabSize);
    const t = checkTrainConfig(c.train, m);
    const T = t.sequenceLength;
    const perDoc = tokensPerDocument(c);
    const textDocs = c.textMetricDocuments ?? TEXT_METRIC_DOCUMENTS;
    const n = parameterCount(m);
    const micro = t.microBatchSize ?? t.batchSize;
    const sampling = samplingOf(c, m);
    // Sizes in tokens: a synthetic set has as many documents as the real one, of about the same length.
    const plan = plannedIterations(loopOf(c, realTokens(c), (c.freshRealDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT));
    const fits: FitWork[] = plan.map((p) => {
      const epochs = (p.iteration === 1 ? (c.firstIterationEpochs ?? t.epochs) : t.epochs) * p.scale;
      const windows = Math.max(1, Math.floor(p.trainSize / T));
      const steps = epochSteps(windows, t.batchSize, epochs, t.maxSteps);
      const trainUnits = steps * t.batchSize * T;
      // After the last model, a run in the store keeps one sampling batch (what a longer run would start with).
      const preview = p.iteration === c.iterations ? sampling.batchSize * perDoc : 0;
      const sampleUnits = p.drawn + preview + textDocs * perDoc;
      // A batch decodes until its longest document ends: taken as three times the mean, within the cap.
      const sampleCalls = Math.ceil(sampleUnits / perDoc / sampling.batchSize) * Math.min(sampling.maxTokens, 3 * perDoc);
      const evalUnits = (t.evalEvery > 0 ? Math.floor(steps / t.evalEvery) : 0) * (t.evalSequences > 0 ? t.evalSequences : validTokens(c) / T) * T + validTokens(c) + (textDocs > 0 ? textDocs * perDoc : 0);
      return {
        iteration: p.iteration,
        trainSize: p.trainSize,
        trainUnits,
        steps,
        trainFlops: 3 * trainUnits * lmForwardFlopsPerToken(m, T),
        sampleUnits,
        sampleFlops: sampleUnits * lmForwardFlopsPerToken(m, perDoc / 2),
        sampleCalls,
        evalUnits,
        evalFlops: evalUnits * lmForwardFlopsPerToken(m, T),
        // Int32 tokens of the synthetic set, and the model's float32 parameters.
        diskBytes: 4 * p.drawn + 4 * n,
      };
    });
    const assumptions = [`§3.1: a document is taken as ${perDoc} tokens where only counts are known, and a synthetic set as long as the real one (ours)`];
    return {
      parameters: n,
      units: { train: "tokens", sample: "tokens", eval: "tokens" },
      fits,
      memory: { peakBytes: lmPeakBytes(m, micro, T), basis: "§3.1 memory: tensor sizes × 2.8 + 2 GB, fitted to gpt2-9m and llama2-42m measured at 64 × 512 here (tensorflow, CPU)", microBatch: micro },
      checkpointBytes: 4 * n * 3 + 1e6,
      assumptions,
    };
  },

  // What the timed rates depend on: the model and the shapes of its steps, and the sizes the set-up scales with.
  rateKey(c) {
    const { batchSize, sequenceLength, microBatchSize } = c.train;
    const { batchSize: sampleBatch, maxTokens } = c.sampling;
    return JSON.stringify([c.model, c.vocabSize, c.data, c.trainTokens, c.trainDocuments, c.validTokens, c.validDocuments, batchSize, sequenceLength, microBatchSize, sampleBatch, maxTokens]);
  },

  advise(c, budget) {
    const m = lmConfig(c.model, c.vocabSize);
    const t = checkTrainConfig(c.train, m);
    const micro = t.microBatchSize ?? t.batchSize;
    const need = lmPeakBytes(m, micro, t.sequenceLength);
    if (need <= budget) return null;
    const fits = lmMicroBatchFor(c, budget);
    const at = `${c.model} in passes of ${micro} × ${t.sequenceLength} tokens needs ≈ ${formatBytes(need)}, more than the ${formatBytes(budget)} at hand`;
    return fits === null ? `${at}, even one sequence a pass (≈ ${formatBytes(lmPeakBytes(m, 1, t.sequenceLength))})` : `${at}: --micro-batch ${fits} (≈ ${formatBytes(lmPeakBytes(m, fits, t.sequenceLength))}) fits`;
  },

  async calibrate(c, opts): Promise<Rates> {
    const m = lmConfig(c.model, c.vocabSize);
    const t = checkTrainConfig(c.train, m);
    const s = samplingOf(c, m);
    const T = t.sequenceLength;
    const micro = t.microBatchSize ?? t.batchSize;
    const rng = Rng.derive(0, "plan", c.model);
    const params = initParams(m, rng.fork("init"));
    // Token values do not change the work: random windows, one micro-batch a step.
    const windows = (count: number) => Array.from({ length: count }, () => Int32Array.from({ length: T + 1 }, () => rng.int(m.vocabSize)));
    const stepsOf = async (steps: number) => {
      const r = await train(m, params, windows(micro * steps), [], { ...t, batchSize: micro, microBatchSize: undefined, maxSteps: steps, evalEvery: 0, warmupFraction: 0 }, rng.fork("steps"));
      return r.seconds;
    };
    try {
      const { perStep, fitOverhead, k } = await timeSteps(stepsOf, { warmUp: 1, k: 2, maxK: 32, minSeconds: opts?.stepsOnly ? TIMED_SECONDS.besideLoad : TIMED_SECONDS.alone, signal: opts?.signal });
      const parts = Math.ceil(t.batchSize / micro);
      if (opts?.stepsOnly) return stepsOnly(perStep * parts, fitOverhead);
      // Evaluation: forward passes over windows, in micro-batches.
      const evalWindows = windows(Math.max(2, micro));
      evaluateCrossEntropy(m, params, evalWindows, micro);
      let t0 = performance.now();
      evaluateCrossEntropy(m, params, evalWindows, micro);
      const evalUnit = (performance.now() - t0) / 1000 / (evalWindows.length * T);
      // Sampling: a short batch (random weights run to the limit), scaled to the documents' length by FLOPs.
      const perDoc = tokensPerDocument(c);
      const length = Math.min(s.maxTokens, perDoc, 48);
      const batch = Math.min(s.batchSize, 64);
      await sampleDocuments(m, params, EOT_ID, batch, { ...s, maxTokens: 2 }, rng.fork("warm-up"));
      t0 = performance.now();
      await sampleDocuments(m, params, EOT_ID, batch, { ...s, batchSize: batch, maxTokens: length }, rng.fork("sample"));
      const sampleUnit = ((performance.now() - t0) / 1000 / (batch * length)) * (lmForwardFlopsPerToken(m, perDoc / 2) / lmForwardFlopsPerToken(m, length / 2));
      // Set-up: the tokenizer learns from about one training set of text, then encodes the sets.
      const sample = await loadLmCorpus({ ...c, data: "embedded", trainTokens: 20_000, trainDocuments: undefined, validTokens: 1000, validDocuments: undefined }, () => undefined);
      const bytes = sample.train.reduce((n, d) => n + Buffer.byteLength(d), 0);
      t0 = performance.now();
      const tokenizer = trainBpe(sample.train, { vocabSize: c.vocabSize });
      for (const d of sample.train) tokenizer.encode(d);
      const perByte = (performance.now() - t0) / 1000 / bytes;
      const setup = perByte * TOKENIZER_BYTES_PER_TOKEN * (realTokens(c) + validTokens(c));
      return {
        trainStep: perStep * parts,
        sampleUnit,
        evalUnit,
        setup,
        fitOverhead,
        basis: `§3.1 timing: fits of ${k} and ${2 * k} steps of ${micro} × ${T} tokens (${parts} per optimizer step), ${batch} documents sampled to ${length} tokens, a tokenizer on ${Math.round(bytes / 1000)} kB of text`,
      };
    } finally {
      disposeParams(params);
    }
  },
};

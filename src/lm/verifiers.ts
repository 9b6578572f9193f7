import type { FitCompute } from "../collapse/modality";
import { epochSteps, examplesVisited } from "../nn/fit";
import { words } from "../text/metrics";
import { lmForwardFlopsPerToken } from "./plan";
import type { TrainConfig } from "./train";
import type { LmConfig } from "./types";

// Curation's verifiers for generated documents (LoopConfig.curation) and the training work of one fit.

/**
 * Weight of the bigram estimate against the unigram one in the reference model (ours: Jelinek-Mercer
 * interpolation, the paper has no reference model). A context never seen in the real text falls back
 * to the unigram estimate alone.
 */
export const BIGRAM_WEIGHT = 0.9;
/** Add-k pseudo-count of every token in the unigram estimate (ours), so no token has probability 0. */
export const UNIGRAM_PSEUDO_COUNT = 0.5;

/**
 * A token-bigram model of real text, the reference the `reference` verifier scores documents by: trained
 * on more real data than any one sequence's training set holds (the modality's whole real pool), and
 * with no parameters to fit, so it costs one pass over the pool. Every document is read as the fit
 * reads it: preceded and followed by the end-of-text token.
 */
export interface BigramReference {
  /** Mean natural-log probability per predicted token of `doc` (its tokens and the end-of-text after them). */
  meanLogProb(doc: Int32Array): number;
}

export function bigramReference(docs: readonly Int32Array[], vocabSize: number, eot: number): BigramReference {
  const unigram = new Float64Array(vocabSize).fill(UNIGRAM_PSEUDO_COUNT);
  const contexts = new Float64Array(vocabSize);
  // Sparse: a real corpus uses a small share of the vocabSize² pairs.
  const pairs = new Map<number, number>();
  let total = UNIGRAM_PSEUDO_COUNT * vocabSize;
  for (const doc of docs) {
    let previous = eot;
    for (let i = 0; i <= doc.length; i++) {
      const token = i < doc.length ? doc[i] : eot;
      unigram[token]++;
      total++;
      contexts[previous]++;
      const key = previous * vocabSize + token;
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
      previous = token;
    }
  }
  const probability = (previous: number, token: number): number => {
    const p = unigram[token] / total;
    const seen = contexts[previous];
    if (seen === 0) return p;
    return BIGRAM_WEIGHT * ((pairs.get(previous * vocabSize + token) ?? 0) / seen) + (1 - BIGRAM_WEIGHT) * p;
  };
  return {
    meanLogProb(doc) {
      let sum = 0;
      let previous = eot;
      for (let i = 0; i <= doc.length; i++) {
        const token = i < doc.length ? doc[i] : eot;
        if (token < 0 || token >= vocabSize) throw new RangeError(`token id ${token} outside the reference model's vocabulary of ${vocabSize}`);
        sum += Math.log(probability(previous, token));
        previous = token;
      }
      return sum / (doc.length + 1);
    },
  };
}

/**
 * Share of a text's words (runs of letters, lower-cased: text/metrics' words) that occur in `vocabulary`,
 * the real training text's words. A text with no words scores 0: it has nothing to trust.
 */
export function validWordShare(text: string, vocabulary: ReadonlySet<string>): number {
  const ws = words(text);
  if (ws.length === 0) return 0;
  let valid = 0;
  for (const w of ws) if (vocabulary.has(w)) valid++;
  return valid / ws.length;
}

/** Windows of sequenceLength + 1 tokens that train.ts' `windows` cuts from a stream of `tokens`. */
export function windowCount(tokens: number, sequenceLength: number): number {
  return tokens < sequenceLength + 1 ? 0 : Math.floor((tokens - sequenceLength - 1) / sequenceLength) + 1;
}

/**
 * The training work of one LM fit on `docs` documents holding `streamTokens` tokens (each document with
 * its end-of-text token), counted as the fit counts it: the stream's windows, epochSteps of them, the
 * windows those steps visit. Examples are documents seen (the documents times the passes made over the
 * stream), tokens the predicted tokens of the visited windows (the model's trainTokens), FLOPs 3× the
 * forward pass's per token (a backward pass is about twice a forward one; plan.ts' convention).
 */
export function lmFitCompute(model: LmConfig, train: TrainConfig, docs: number, streamTokens: number, epochs: number): FitCompute {
  const windows = windowCount(streamTokens, train.sequenceLength);
  if (windows === 0) return { examples: 0, tokens: 0, flops: 0 };
  const steps = epochSteps(windows, train.batchSize, epochs, train.maxSteps);
  const visited = examplesVisited(windows, train.batchSize, steps);
  const tokens = visited * train.sequenceLength;
  return { examples: (docs * visited) / windows, tokens, flops: 3 * lmForwardFlopsPerToken(model, train.sequenceLength) * tokens };
}

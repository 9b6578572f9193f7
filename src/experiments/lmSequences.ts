import { lmConfig } from "../lm/configs";
import { parameterCount } from "../lm/model";
import { canonicalJson } from "../store/runStore";
import {
  type LmSequenceConfig,
  type LmSequenceResult,
  checkLmSequenceConfig,
  firstModelKey,
  lmApproxTrainTokens,
  lmFinishedIterations,
  lmTrainSizeLabel,
  lmRunKey,
  runLmSequence,
} from "./languageModels";
import { type SequenceKind, type SequencesOptions, growingSetCost, runSequences } from "./sequences";

/**
 * §3.1 sequences for runSequences. Sequences that share a first model (same setting, another strategy
 * or temperature) do not start together: the second waits for the first to store model 1 and then
 * reads it instead of training it.
 */
export const LM_SEQUENCES: SequenceKind<LmSequenceConfig, LmSequenceResult> = {
  entry: { module: __filename, exportName: "LM_SEQUENCES" },
  check(c) {
    checkLmSequenceConfig(c);
    lmRunKey(c); // a missing text file
  },
  run: runLmSequence,
  finishedIterations: lmFinishedIterations,
  cost: estimatedCost,
  describe(c) {
    const extra = [c.sampling?.temperature !== undefined ? `temperature ${c.sampling.temperature}` : "", c.firstIterationEpochs !== undefined ? `first epochs ${c.firstIterationEpochs}` : ""];
    return [c.model, c.strategy, lmTrainSizeLabel(c), ...extra].filter(Boolean).join(" · ");
  },
  firstModelKey: (c) => canonicalJson(firstModelKey(lmRunKey(c))),
};

/** runSequences for §3.1 language models (what the notebooks and `collapse reproduce` call). */
export function runLmSequences(configs: readonly LmSequenceConfig[], opts: SequencesOptions): Promise<LmSequenceResult[]> {
  return runSequences(LM_SEQUENCES, configs, opts);
}

/** Relative training work of the iterations still to run: parameters × tokens trained on × epochs. */
export function estimatedCost(c: LmSequenceConfig, finishedIterations = 0): number {
  let params = 1;
  try {
    params = parameterCount(lmConfig(c.model, c.vocabSize));
  } catch {
    // an unknown model is reported by the sequence itself
  }
  return growingSetCost(c.strategy, c.iterations, finishedIterations, (n) => lmApproxTrainTokens(c) * (n === 1 ? (c.firstIterationEpochs ?? c.train.epochs ?? 1) : (c.train.epochs ?? 1))) * params;
}

import * as fs from "node:fs";
import * as path from "node:path";
import type { CollapseResult } from "../collapse/loop";
import { STRATEGIES, type Strategy } from "../collapse/strategies";
import { backendInfo, selectBackend } from "../backend";
import { ConfigError, DataError, checkInt, checkKnownKeys, checkOneOf } from "../errors";
import { lmConfig } from "../lm/configs";
import { type FittedLm, type LmData, concatDocuments, lmCodec, lmModality } from "../lm/modality";
import { parameterCount } from "../lm/model";
import { type SamplingConfig, checkSamplingConfig } from "../lm/sample";
import { type TrainConfig, checkTrainConfig, windows } from "../lm/train";
import type { LmConfig } from "../lm/types";
import { Run, RunInUseError, type RunStore, modelArtifact, readStoredSynthetic } from "../store/runStore";
import { vocabularyOf } from "../text/metrics";
import { BpeTokenizer, EOT_ID, trainBpe } from "../text/bpe";
import { embeddedStoriesFor, formatDataSpec, loadCorpus, parseDataSpec, prefixByBytes } from "../text/dataSpec";
import type { Profile } from "./profiles";
import { type SequenceRunOptions, collapseInRun } from "./sequences";
import { loadParams, saveParams } from "../nn/safetensors";

/** One §3.1 sequence of language models: everything that determines its results. */
export interface LmSequenceConfig {
  /** A named model config (see lmConfigNames()): gpt2-9m, llama2-42m, gpt2-quick, ... */
  model: string;
  /** BPE vocabulary size to train (ours: 8000 at paper, where the paper's parameter counts come out exactly; the paper states none); a small corpus may support fewer merges. */
  vocabSize: number;
  /** "embedded", "tinystories" or "text:PATH". */
  data: string;
  /**
   * The original real training set, by tokens or by documents (exactly one): `trainTokens` takes the
   * first documents whose tokens (each with its end-of-text token) reach it, so that every corpus gets
   * the same training budget whatever its document lengths. Every synthetic set has as many documents.
   */
  trainTokens?: number;
  trainDocuments?: number;
  /** Real held-out text for the test cross-entropy, by tokens or by documents (exactly one). */
  validTokens?: number;
  validDocuments?: number;
  strategy: Strategy;
  iterations: number;
  seed: number;
  train: Partial<TrainConfig>;
  sampling: Partial<SamplingConfig>;
  /** Epochs of the first model only (Figure 11); default: train.epochs. */
  firstIterationEpochs?: number;
  /** Fresh real documents added at every iteration ≥ 2 (0 = none). */
  freshRealDocuments?: number;
  /** Documents generated per iteration for the text measures (valid-word rate, distinct-n, perplexity under model 1); default 64, 0 = none. */
  textMetricDocuments?: number;
}

/** Documents generated per iteration for the text measures, unless the config says otherwise (ours). */
export const TEXT_METRIC_DOCUMENTS = 64;

const KEYS = ["model", "vocabSize", "data", "trainTokens", "trainDocuments", "validTokens", "validDocuments", "strategy", "iterations", "seed", "train", "sampling", "firstIterationEpochs", "freshRealDocuments", "textMetricDocuments"];

/** Rejects bad fields before any work starts. The model config is checked again once the vocabulary is known. */
export function checkLmSequenceConfig(c: LmSequenceConfig): LmSequenceConfig {
  if (typeof c !== "object" || c === null) throw new ConfigError("config", "expected an object");
  checkKnownKeys("", c, KEYS);
  const probe = lmConfig(c.model, checkInt("vocabSize", c.vocabSize, { min: 258 }));
  parseDataSpec(c.data);
  for (const [tokens, documents] of [["trainTokens", "trainDocuments"], ["validTokens", "validDocuments"]] as const) {
    if ((c[tokens] === undefined) === (c[documents] === undefined)) throw new ConfigError(tokens, `set exactly one of ${tokens} and ${documents}`);
    if (c[tokens] !== undefined) checkInt(tokens, c[tokens], { min: 1 });
    else checkInt(documents, c[documents], { min: 1 });
  }
  checkOneOf("strategy", c.strategy, STRATEGIES);
  checkInt("iterations", c.iterations, { min: 1 });
  checkInt("seed", c.seed, { min: 0, max: 2 ** 31 - 1 });
  checkTrainConfig(c.train ?? {}, probe);
  checkSamplingConfig({ maxTokens: probe.contextLength - 1, ...c.sampling }, probe);
  if (c.firstIterationEpochs !== undefined && !(c.firstIterationEpochs > 0)) throw new ConfigError("firstIterationEpochs", "must be > 0");
  checkInt("freshRealDocuments", c.freshRealDocuments ?? 0, { min: 0 });
  checkInt("textMetricDocuments", c.textMetricDocuments ?? TEXT_METRIC_DOCUMENTS, { min: 0 });
  return c;
}

export type LmSequenceOptions = SequenceRunOptions;

export interface LmSequenceResult extends CollapseResult {
  config: LmSequenceConfig;
  model: LmConfig;
  parameters: number;
  backend: Record<string, unknown>;
  tokenizer: BpeTokenizer;
  /** The run directory, when a store was used. */
  runDir: string | null;
  /** The held-out real validation windows every model was scored on. */
  validWindows: readonly Int32Array[];
  /** The real sets as used: documents and tokens (each document with its end-of-text token). */
  realData: {
    trainDocuments: number;
    trainTokens: number;
    validDocuments: number;
    validTokens: number;
    /** The baseline a model must beat: validation cross-entropy (nats/token) of the training set's token frequencies. */
    unigramCrossEntropy: number;
  };
}

/** Cross-entropy of `valid` (each document + end-of-text) under `train`'s token frequencies, add-½ smoothed. */
export function unigramCrossEntropy(train: readonly Int32Array[], valid: readonly Int32Array[], vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(0.5);
  let total = 0.5 * vocabSize;
  const eot = EOT_ID;
  for (const d of train) {
    for (const id of d) counts[id]++;
    counts[eot]++;
    total += d.length + 1;
  }
  let nll = 0;
  let n = 0;
  for (const d of valid) {
    for (const id of d) nll -= Math.log(counts[id] / total);
    nll -= Math.log(counts[eot] / total);
    n += d.length + 1;
  }
  return nll / n;
}

/** The real training set as a reader says it: "200,000 tokens" or "120 documents". */
export function lmTrainSizeLabel(c: Pick<LmSequenceConfig, "trainTokens" | "trainDocuments">): string {
  return c.trainTokens !== undefined ? `${c.trainTokens.toLocaleString("en-US")} tokens` : `${(c.trainDocuments ?? 0).toLocaleString("en-US")} documents`;
}

/** Tokens a document is taken to hold where only a document count is known (estimates, never sizes). */
const ESTIMATED_TOKENS_PER_DOCUMENT = 200;

/** Training tokens of the original set, exact when sized by tokens, else estimated (for cost estimates). */
export function lmApproxTrainTokens(c: Pick<LmSequenceConfig, "trainTokens" | "trainDocuments">): number {
  return c.trainTokens ?? (c.trainDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
}

/** Read limit of the loaders, per token asked for (see runLmSequence). */
const READ_BYTES_PER_TOKEN = 12;
/** Bytes of real text the tokenizer learns from, per training token asked for (about one training set). */
const TOKENIZER_BYTES_PER_TOKEN = 4;

/**
 * Encoded documents from the start of `docs`: `count` of them, or the fewest whose tokens reach
 * `tokens`; with their token total (each document with its end-of-text token).
 */
function takeTokens(docs: readonly string[], tokenizer: BpeTokenizer, tokens: number | undefined, count: number | undefined): { docs: Int32Array[]; tokens: number } {
  const out: Int32Array[] = [];
  let total = 0;
  for (const d of docs) {
    if (count !== undefined ? out.length >= count : total >= tokens!) break;
    const ids = tokenizer.encode(d);
    out.push(ids);
    total += ids.length + 1;
  }
  return { docs: out, tokens: total };
}

/**
 * The real training documents, encoded: the original set (by tokens or documents) and the fresh
 * documents after it. Only what is used is encoded, so a large corpus costs no more than its prefix.
 */
function realTrainingSet(train: readonly string[], tokenizer: BpeTokenizer, config: LmSequenceConfig, freshDocs: number): { docs: Int32Array[]; originalDocuments: number; originalTokens: number } {
  const { docs: original, tokens: originalTokens } = takeTokens(train, tokenizer, config.trainTokens, config.trainDocuments);
  if (config.trainTokens !== undefined && originalTokens < config.trainTokens) {
    throw new ConfigError("trainTokens", `needs ${config.trainTokens.toLocaleString("en-US")} real training tokens, the corpus holds ${originalTokens.toLocaleString("en-US")} (in ${original.length} documents); ask for fewer (--tokens, or trainTokens in a config)`);
  }
  const fresh = train.slice(original.length, original.length + freshDocs).map((d) => tokenizer.encode(d));
  if (fresh.length < freshDocs) {
    throw new ConfigError("freshRealDocuments", `needs ${freshDocs} fresh real documents after the ${original.length} of the original set, the corpus has ${fresh.length}`);
  }
  return { docs: [...original, ...fresh], originalDocuments: original.length, originalTokens };
}

/**
 * Runs (or resumes, or reads back) one sequence: loads the real corpus, trains the tokenizer on the real
 * training documents, then fits `iterations` models through the shared collapse loop.
 */
export async function runLmSequence(config: LmSequenceConfig, opts: LmSequenceOptions = {}): Promise<LmSequenceResult> {
  checkLmSequenceConfig(config);
  const status = opts.onStatus ?? (() => {});
  const backend = await selectBackend();
  const fresh = config.freshRealDocuments ?? 0;
  const freshDocs = fresh * (config.iterations - 1);
  const spec = parseDataSpec(config.data);
  const T = config.trainTokens;
  const V = config.validTokens;
  // Read limits only: no byte-level BPE on real text spends more bytes a token, and a fresh document
  // is rarely longer than a few kilobytes; the sets themselves are cut by tokens below.
  const trainBytes = T !== undefined ? T * READ_BYTES_PER_TOKEN + freshDocs * 4096 : undefined;
  const validBytes = V !== undefined ? V * READ_BYTES_PER_TOKEN : undefined;
  const trainCount = config.trainDocuments !== undefined ? config.trainDocuments + freshDocs : undefined;
  // The validation share of a text file's split, by (estimated) tokens.
  const trainShare = T ?? (trainCount ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
  const validShare = V ?? (config.validDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
  status(`loading ${formatDataSpec(spec)} (${T !== undefined ? `${T.toLocaleString("en-US")} training tokens` : `${trainCount} training documents`}, ${V !== undefined ? `${V.toLocaleString("en-US")} validation tokens` : `${config.validDocuments} validation documents`})`);
  // Load before opening the run, so bad data leaves no run directory behind.
  const corpus = await loadCorpus(spec, {
    seed: config.seed,
    embeddedDocuments:
      (trainCount ?? embeddedStoriesFor(T! * TOKENIZER_BYTES_PER_TOKEN + freshDocs * 2000)) + (config.validDocuments ?? embeddedStoriesFor(V! * TOKENIZER_BYTES_PER_TOKEN)),
    validFraction: validShare / (trainShare + validShare),
    trainDocuments: trainCount,
    validDocuments: config.validDocuments,
    trainBytes,
    validBytes,
  });
  if (trainCount !== undefined && corpus.train.length < trainCount) {
    throw new ConfigError("trainDocuments", `needs ${trainCount} real training documents, the corpus has ${corpus.train.length}`);
  }
  if (corpus.valid.length === 0) throw new ConfigError(V !== undefined ? "validTokens" : "validDocuments", "the corpus has no validation documents");
  const key = lmRunKey(config);
  const run = opts.store?.open("lm", key, { backend: backendInfo() }) ?? null;
  try {
    // By tokens, the tokenizer learns from about as much text as the training set will hold.
    const tokenizerDocs = T !== undefined ? prefixByBytes(corpus.train, T * TOKENIZER_BYTES_PER_TOKEN) : corpus.train.slice(0, config.trainDocuments);
    const tokenizer = loadOrTrainTokenizer(run, tokenizerDocs, config.vocabSize, status);
    const real = realTrainingSet(corpus.train, tokenizer, config, freshDocs);
    const trainDocuments = real.originalDocuments;
    const model = lmConfig(config.model, tokenizer.vocabSize);
    const train = checkTrainConfig(config.train ?? {}, model);
    const sampling = checkSamplingConfig({ maxTokens: model.contextLength - 1, ...config.sampling }, model);
    const realDocs = real.docs;
    const { docs: validDocs, tokens: validTokens } = takeTokens(corpus.valid, tokenizer, V, config.validDocuments);
    if (V !== undefined && validTokens < V) throw new ConfigError("validTokens", `needs ${V.toLocaleString("en-US")} real validation tokens, the corpus holds ${validTokens.toLocaleString("en-US")}; ask for fewer (--valid-tokens, or validTokens in a config)`);
    const validWindows = windows(concatDocuments(validDocs, tokenizer.eotId), train.sequenceLength);
    if (validWindows.length === 0) throw new ConfigError(V !== undefined ? "validTokens" : "validDocuments", `the validation text is shorter than one sequence of ${train.sequenceLength} tokens`);
    status(
      `real data: ${trainDocuments.toLocaleString("en-US")} training documents (${real.originalTokens.toLocaleString("en-US")} tokens), ${validDocs.length.toLocaleString("en-US")} validation documents (${validTokens.toLocaleString("en-US")} tokens)`,
    );
    status(`${model.name}: ${parameterCount(model).toLocaleString("en-US")} parameters, vocabulary ${tokenizer.vocabSize}, backend ${backend.name}`);
    const store = opts.store;
    const shareFirstModel =
      store ? (fit: () => Promise<FittedLm>) => sharedFirstModel(store, firstModelKey(key), model, tokenizer, status, fit) : undefined;
    const result = await collapseInRun({
      modality: lmModality({
        model,
        tokenizer,
        realDocs,
        originalDocs: trainDocuments,
        validWindows,
        train,
        sampling,
        firstIterationEpochs: config.firstIterationEpochs,
        shareFirstModel,
        textMetrics: {
          documents: config.textMetricDocuments ?? TEXT_METRIC_DOCUMENTS,
          vocabulary: vocabularyOf(corpus.train.slice(0, trainDocuments)),
          // On resume, model 1 is read back from its checkpoint to score the later models' text.
          loadFirstModel: () => {
            const file = run?.artifactPath(modelArtifact(1));
            return file && fs.existsSync(file) ? loadParams(file).params : null;
          },
        },
      }),
      loop: { strategy: config.strategy, iterations: config.iterations, realSize: trainDocuments, freshRealSize: fresh },
      seed: config.seed,
      run,
      opts,
      checkpoint: (m) => ({ params: m.params, metadata: { config: JSON.stringify(model), tokenizer: JSON.stringify(tokenizer.toJSON()) } }),
      fromCheckpoint: (params) => ({ params, trainTokens: 0 }),
      summaryMetric: "testCrossEntropy",
    });
    return {
      ...result,
      config,
      model,
      parameters: parameterCount(model),
      backend: backendInfo(),
      tokenizer,
      runDir: run?.dir ?? null,
      validWindows,
      realData: { trainDocuments, trainTokens: real.originalTokens, validDocuments: validDocs.length, validTokens, unigramCrossEntropy: unigramCrossEntropy(realDocs.slice(0, trainDocuments), validDocs, tokenizer.vocabSize) },
    };
  } finally {
    run?.close();
  }
}

/**
 * The run-store key of a sequence. Keyed without `iterations`: asking for more iterations continues the
 * run, fewer reads its prefix. A text file is part of the key by size and modification time, so that
 * editing it does not reuse old results.
 */
export function lmRunKey(config: LmSequenceConfig): Record<string, unknown> {
  const { iterations: _iterations, ...sequence } = config;
  const spec = parseDataSpec(config.data);
  if (spec.kind !== "text") return sequence;
  const resolved = path.resolve(spec.path);
  let file: fs.Stats;
  try {
    file = fs.statSync(resolved);
  } catch (e) {
    throw new DataError(resolved, `cannot read the corpus (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); --data text:PATH needs an existing text file`);
  }
  return { ...sequence, dataFile: { size: file.size, mtimeMs: file.mtimeMs } };
}

/** Iterations a stored sequence has finished (0 when it has no run yet). */
export function lmFinishedIterations(store: RunStore, config: LmSequenceConfig): number {
  return store.recordCount("lm", lmRunKey(config));
}

/** What determines model 1 of a sequence: everything but the strategy and the sampling (iterations are never keyed). */
export function firstModelKey(runKey: object): Record<string, unknown> {
  const { strategy: _strategy, sampling: _sampling, iterations: _iterations, ...rest } = runKey as Record<string, unknown>;
  return rest;
}

/**
 * Fits model 1 once per setting and keeps it in the store (kind `lm-first-model`): the replace,
 * accumulate and temperature-0.3 sequences of one setting then train one first model instead of three.
 * A process that finds another one training it waits for that model rather than training a copy.
 */
async function sharedFirstModel(
  store: RunStore,
  key: Record<string, unknown>,
  model: LmConfig,
  tokenizer: BpeTokenizer,
  status: (m: string) => void,
  fit: () => Promise<FittedLm>,
): Promise<FittedLm & { cached: boolean }> {
  let run: Run | null = null;
  for (let waited = false; run === null; ) {
    try {
      run = store.open("lm-first-model", key);
    } catch (e) {
      if (!(e instanceof RunInUseError)) throw e;
      if (!waited) status(`waiting for process ${e.owner}, which is training the same first model`);
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    const [record] = run.records<{ trainTokens: number; curve: FittedLm["curve"] }>();
    const file = run.artifactPath("model.safetensors");
    if (record && fs.existsSync(file)) return { params: loadParams(file).params, trainTokens: record.trainTokens, curve: record.curve, cached: true };
    const fitted = await fit();
    saveParams(file, fitted.params, { config: JSON.stringify(model), tokenizer: JSON.stringify(tokenizer.toJSON()), iteration: "1" });
    run.append({ trainTokens: fitted.trainTokens, curve: fitted.curve });
    run.finish({ trainTokens: fitted.trainTokens });
    return { ...fitted, cached: false };
  } finally {
    run.close();
  }
}

/** The tokenizer is part of a run's results: trained once, then read back on resume. */
function loadOrTrainTokenizer(run: Run | null, docs: readonly string[], vocabSize: number, status: (m: string) => void): BpeTokenizer {
  const saved = run?.readArtifact("tokenizer.json");
  if (saved) return BpeTokenizer.fromJSON(JSON.parse(saved.toString("utf8")), run!.artifactPath("tokenizer.json"));
  status(`training a byte-level BPE tokenizer (vocabulary ${vocabSize}) on ${docs.length} documents`);
  const tokenizer = trainBpe(docs, { vocabSize });
  run?.writeArtifact("tokenizer.json", JSON.stringify(tokenizer.toJSON()));
  return tokenizer;
}

/** Decoded synthetic documents sampled from model `iteration` of a stored run (Table 1). */
export function storedSamples(runDir: string, tokenizer: BpeTokenizer, iteration: number, count: number): string[] {
  const data: LmData | null = readStoredSynthetic(runDir, iteration, lmCodec);
  if (!data) return [];
  return data.docs.slice(0, count).map((d) => tokenizer.decode(d, { skipSpecial: true }));
}

/**
 * The models of Figure 3 at each profile: GPT-2 and Llama-2, as in the paper. The quick and smoke Llama-2
 * sequences are the same models as Table 2's Llama-2 rows (at smoke the same runs; at quick the appendix trains on fewer tokens).
 */
export function lmFigure3Models(profile: Profile): string[] {
  switch (profile) {
    case "smoke":
      return ["gpt2-smoke", "llama2-smoke"];
    case "quick":
      return ["gpt2-quick", "llama2-quick"];
    case "paper":
      return ["gpt2-9m", "llama2-12m", "llama2-42m", "llama2-126m"];
  }
}

/** The base sequence of each profile (GPT-2; the notebooks vary model, strategy and temperature). */
export function lmBaseConfig(profile: Profile): LmSequenceConfig {
  switch (profile) {
    case "smoke":
      return {
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
      };
    case "quick":
      // Sized by tokens, so that every corpus gets the same budget (ours; the paper trains on all of
      // TinyStories), and so that the first models write readable stories on a 2-core CPU: see the
      // README's "What quick shows" for what these sizes give and lm/configs.ts for the models. Three
      // iterations, each with two seeds in the notebooks (defaultSeeds), fit the quick budget.
      return {
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
      };
    case "paper":
      return {
        model: "gpt2-9m",
        vocabSize: 8000,
        data: "tinystories",
        trainDocuments: 2_119_719,
        validDocuments: 21_990,
        strategy: "replace",
        iterations: 10,
        seed: 0,
        train: { batchSize: 64, sequenceLength: 512, learningRate: 5e-4, minLearningRate: 5e-5, warmupFraction: 0.01, evalEvery: 500, evalSequences: 512 },
        sampling: { batchSize: 256, maxTokens: 1023 },
      };
  }
}

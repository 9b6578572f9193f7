import * as fs from "node:fs";
import * as path from "node:path";
import { type SequenceConfig, type SequenceResult, type SequenceSetup, type SetupContext, checkSequenceFields } from "../collapse/spec";
import { lazyField, sequenceSetup } from "../collapse/runSequence";
import type { Strategy } from "../collapse/strategies";
import { ConfigError, DataError, checkInt, checkKnownKeys, fieldNames } from "../errors";
import { loadParams, paramsCodec } from "../nn/safetensors";
import { type RunStore, memo, modelArtifact, readStoredArtifact, readStoredSynthetic } from "../store/runStore";
import { BpeTokenizer, EOT_ID, trainBpe } from "../text/bpe";
import { embeddedStoriesFor, formatDataSpec, loadCorpus, parseDataSpec, prefixByBytes } from "../text/dataSpec";
import { vocabularyOf } from "../text/metrics";
import { lmConfig } from "./configs";
import { type FittedLm, type LmData, concatDocuments, lmCodec, lmModality } from "./modality";
import { parameterCount } from "./model";
import { type SamplingConfig, checkSamplingConfig } from "./sample";
import { type TrainConfig, checkTrainConfig, windows } from "./train";
import type { LmConfig } from "./types";

/** One §3.1 sequence of language models: everything that determines its results. */
export interface LmSequenceConfig extends SequenceConfig {
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

const KEYS = fieldNames<LmSequenceConfig>({
  model: true,
  vocabSize: true,
  data: true,
  trainTokens: true,
  trainDocuments: true,
  validTokens: true,
  validDocuments: true,
  strategy: true,
  iterations: true,
  seed: true,
  train: true,
  sampling: true,
  firstIterationEpochs: true,
  freshRealDocuments: true,
  textMetricDocuments: true,
  curation: true,
  realShare: true,
});

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
  checkSequenceFields(c);
  checkTrainConfig(c.train ?? {}, probe);
  checkSamplingConfig({ maxTokens: probe.contextLength - 1, ...c.sampling }, probe);
  if (c.firstIterationEpochs !== undefined && !(c.firstIterationEpochs > 0)) throw new ConfigError("firstIterationEpochs", "must be > 0");
  checkInt("freshRealDocuments", c.freshRealDocuments ?? 0, { min: 0 });
  checkInt("textMetricDocuments", c.textMetricDocuments ?? TEXT_METRIC_DOCUMENTS, { min: 0 });
  return c;
}

export interface LmSequenceResult extends SequenceResult<LmSequenceConfig> {
  model: LmConfig;
  parameters: number;
  /** The tokenizer the run trained (read from the run store on first use when the result was read back). */
  tokenizer: BpeTokenizer;
  /** The held-out real validation windows every model was scored on (run here only: a read-back result loads no corpus). */
  validWindows?: readonly Int32Array[];
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
export const ESTIMATED_TOKENS_PER_DOCUMENT = 200;

/** Training tokens of the original set, exact when sized by tokens, else estimated (for cost estimates). */
export function lmApproxTrainTokens(c: Pick<LmSequenceConfig, "trainTokens" | "trainDocuments">): number {
  return c.trainTokens ?? (c.trainDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
}

/** Read limit of the loaders, per token asked for (see loadLmCorpus). */
const READ_BYTES_PER_TOKEN = 12;
/** Bytes of real text the tokenizer learns from, per training token asked for (about one training set). */
export const TOKENIZER_BYTES_PER_TOKEN = 4;

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

/** What `load` reads: the real documents (training, then validation), as text. */
export interface LmCorpus {
  train: readonly string[];
  valid: readonly string[];
}

/** How many training and validation tokens or documents a config reads, and its fresh documents. */
function sizing(config: LmSequenceConfig) {
  const freshDocs = (config.freshRealDocuments ?? 0) * (config.iterations - 1);
  const T = config.trainTokens;
  const V = config.validTokens;
  const trainCount = config.trainDocuments !== undefined ? config.trainDocuments + freshDocs : undefined;
  return { freshDocs, T, V, trainCount };
}

/** Reads the real corpus a config needs (the prefix its sizes ask for), before any run is opened. */
export async function loadLmCorpus(config: LmSequenceConfig, status: (m: string) => void): Promise<LmCorpus> {
  const { freshDocs, T, V, trainCount } = sizing(config);
  const spec = parseDataSpec(config.data);
  // Read limits only: no byte-level BPE on real text spends more bytes a token, and a fresh document
  // is rarely longer than a few kilobytes; the sets themselves are cut by tokens in setup.
  const trainBytes = T !== undefined ? T * READ_BYTES_PER_TOKEN + freshDocs * 4096 : undefined;
  const validBytes = V !== undefined ? V * READ_BYTES_PER_TOKEN : undefined;
  // The validation share of a text file's split, by (estimated) tokens.
  const trainShare = T ?? (trainCount ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
  const validShare = V ?? (config.validDocuments ?? 0) * ESTIMATED_TOKENS_PER_DOCUMENT;
  status(`loading ${formatDataSpec(spec)} (${T !== undefined ? `${T.toLocaleString("en-US")} training tokens` : `${trainCount} training documents`}, ${V !== undefined ? `${V.toLocaleString("en-US")} validation tokens` : `${config.validDocuments} validation documents`})`);
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
  return corpus;
}

/** What a §3.1 run records about itself (read back with its records). */
export interface LmFacts {
  model: LmConfig;
  parameters: number;
  /** The real sets as used: documents and tokens (each document with its end-of-text token). */
  realData: LmSequenceResult["realData"];
}

/** What a result holds besides its facts: the tokenizer (read from the run on demand) and, when run here, the validation windows. */
export interface LmExtras {
  tokenizer: BpeTokenizer;
  validWindows?: readonly Int32Array[];
}

/**
 * One sequence on its loaded corpus, in its open run: the tokenizer (trained on the real training
 * documents once, kept in the run), the real sets cut to size, model 1 shared with the sequences that
 * train the same one, and the LM modality.
 */
export async function setupLmSequence(config: LmSequenceConfig, corpus: LmCorpus, ctx: SetupContext): Promise<SequenceSetup<LmFacts, LmExtras>> {
  const { run, status } = ctx;
  const { freshDocs, T, V } = sizing(config);
  // By tokens, the tokenizer learns from about as much text as the training set will hold.
  const tokenizerDocs = T !== undefined ? prefixByBytes(corpus.train, T * TOKENIZER_BYTES_PER_TOKEN) : corpus.train.slice(0, config.trainDocuments);
  const tokenizer = await memo(run, TOKENIZER, tokenizerCodec, () => {
    status(`training a byte-level BPE tokenizer (vocabulary ${config.vocabSize}) on ${tokenizerDocs.length} documents`);
    return trainBpe(tokenizerDocs, { vocabSize: config.vocabSize });
  });
  const real = realTrainingSet(corpus.train, tokenizer, config, freshDocs);
  const trainDocuments = real.originalDocuments;
  const model = lmConfig(config.model, tokenizer.vocabSize);
  const train = checkTrainConfig(config.train ?? {}, model);
  const sampling = checkSamplingConfig({ maxTokens: model.contextLength - 1, ...config.sampling }, model);
  const { docs: validDocs, tokens: validTokens } = takeTokens(corpus.valid, tokenizer, V, config.validDocuments);
  if (V !== undefined && validTokens < V) throw new ConfigError("validTokens", `needs ${V.toLocaleString("en-US")} real validation tokens, the corpus holds ${validTokens.toLocaleString("en-US")}; ask for fewer (--valid-tokens, or validTokens in a config)`);
  const validWindows = windows(concatDocuments(validDocs, tokenizer.eotId), train.sequenceLength);
  if (validWindows.length === 0) throw new ConfigError(V !== undefined ? "validTokens" : "validDocuments", `the validation text is shorter than one sequence of ${train.sequenceLength} tokens`);
  status(
    `real data: ${trainDocuments.toLocaleString("en-US")} training documents (${real.originalTokens.toLocaleString("en-US")} tokens), ${validDocs.length.toLocaleString("en-US")} validation documents (${validTokens.toLocaleString("en-US")} tokens)`,
  );
  status(`${model.name}: ${parameterCount(model).toLocaleString("en-US")} parameters, vocabulary ${tokenizer.vocabSize}, backend ${ctx.backendName}`);
  const store = ctx.store;
  const checkpointMetadata = { config: JSON.stringify(model), tokenizer: JSON.stringify(tokenizer.toJSON()) };
  const shareFirstModel = store ? (fit: () => Promise<FittedLm>) => sharedFirstModel(store, firstModelKey(lmRunKey(config)), checkpointMetadata, status, fit) : undefined;
  return sequenceSetup({
    modality: lmModality({
      model,
      tokenizer,
      realDocs: real.docs,
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
    loop: { strategy: config.strategy, iterations: config.iterations, realSize: trainDocuments, freshRealSize: config.freshRealDocuments ?? 0 },
    checkpoint: (m) => ({ params: m.params, metadata: checkpointMetadata }),
    fromCheckpoint: (params) => ({ params, trainTokens: 0 }),
    facts: {
      model,
      parameters: parameterCount(model),
      realData: { trainDocuments, trainTokens: real.originalTokens, validDocuments: validDocs.length, validTokens, unigramCrossEntropy: unigramCrossEntropy(real.docs.slice(0, trainDocuments), validDocs, tokenizer.vocabSize) },
    },
    extras: { tokenizer, validWindows },
  });
}

/** A result from the loop's, the run's facts and (run here) the tokenizer in memory, else read from the run. */
export function lmResult(base: SequenceResult<LmSequenceConfig>, facts: LmFacts, extras: LmExtras | null): LmSequenceResult {
  const result = { ...base, ...facts };
  if (extras) return { ...result, ...extras };
  return lazyField(result, "tokenizer", () => storedTokenizer(base.runDir!));
}

/** The tokenizer a stored run trained. */
export function storedTokenizer(runDir: string): BpeTokenizer {
  const tokenizer = readStoredArtifact(runDir, TOKENIZER, tokenizerCodec);
  if (!tokenizer) throw new DataError(path.join(runDir, "artifacts", TOKENIZER), "missing: the run holds no tokenizer");
  return tokenizer;
}

/** The artifact a run keeps its tokenizer in. */
const TOKENIZER = "tokenizer.json";

const tokenizerCodec = {
  encode: (t: BpeTokenizer) => Buffer.from(JSON.stringify(t.toJSON())),
  decode: (bytes: Uint8Array) => BpeTokenizer.fromJSON(JSON.parse(Buffer.from(bytes).toString("utf8"))),
};

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
  metadata: Record<string, string>,
  status: (m: string) => void,
  fit: () => Promise<FittedLm>,
): Promise<FittedLm & { cached: boolean }> {
  const run = await store.openWhenFree("lm-first-model", key, (owner) => status(`waiting for process ${owner}, which is training the same first model`));
  try {
    const trained: { model?: FittedLm } = {};
    // The record goes in before the model file, so a stored model always has its record.
    const { params } = await run.memo("model.safetensors", paramsCodec, async () => {
      const fitted = await fit();
      trained.model = fitted;
      run.append({ trainTokens: fitted.trainTokens, curve: fitted.curve });
      return { params: fitted.params, metadata: { ...metadata, iteration: "1" } };
    });
    if (trained.model) {
      run.finish({ trainTokens: trained.model.trainTokens });
      return { ...trained.model, cached: false };
    }
    const record = run.records<{ trainTokens: number; curve: FittedLm["curve"] }>().at(-1);
    if (!record) throw new DataError(run.dir, "holds a first model without its record (trainTokens, curve); move the directory away to train it again");
    return { params, trainTokens: record.trainTokens, curve: record.curve, cached: true };
  } finally {
    run.close();
  }
}

/** Decoded synthetic documents sampled from model `iteration` of a stored run (Table 1). */
export function storedSamples(runDir: string, tokenizer: BpeTokenizer, iteration: number, count: number): string[] {
  const data: LmData | null = readStoredSynthetic(runDir, iteration, lmCodec);
  if (!data) return [];
  return data.docs.slice(0, count).map((d) => tokenizer.decode(d, { skipSpecial: true }));
}

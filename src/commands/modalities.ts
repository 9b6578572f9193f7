import * as path from "node:path";
import { ConfigError } from "../errors";
import { gaussianBaseConfig } from "../experiments/gaussian";
import { type LmSequenceConfig, type LmSequenceResult, checkLmSequenceConfig, lmBaseConfig, lmTrainSizeLabel, runLmSequence } from "../experiments/languageModels";
import { LM_SEQUENCES } from "../experiments/lmSequences";
import { MOLECULE_SEQUENCES, type MoleculeSequenceConfig, checkMoleculeSequenceConfig, moleculeBaseConfig, runMoleculeSequence } from "../experiments/molecules";
import type { Profile } from "../experiments/profiles";
import { VAE_SEQUENCES, type VaeSequenceConfig, checkVaeSequenceConfig, fitVaeSizesToData, runVaeSequence, vaeBaseConfig } from "../experiments/vae";
import { type GaussianSequenceConfig, checkGaussianSequenceConfig, runGaussianSequence } from "../gaussian/modality";
import { lmConfigNames } from "../lm/configs";
import { SAMPLING_DEFAULTS } from "../lm/sample";
import { TRAIN_DEFAULTS } from "../lm/train";
import { MOLECULE_TRAIN_DEFAULTS } from "../molecules/diffusion";
import { parseDataSpec } from "../text/dataSpec";
import { VAE_TRAIN_DEFAULTS } from "../vae/train";
import { wrap } from "./args";
import type { FieldFlag, SequenceCommand, SequenceCommandResult } from "./sequenceCommand";

// Every `collapse <modality>` command: its flags, metrics and help. A new modality adds one entry
// to SEQUENCE_COMMANDS.

/** "prefix:PATH" data specs with the path made absolute (a relative one would key the run by the cwd). */
function absolutePaths(prefixes: readonly string[]): (text: string) => string {
  return (text) => {
    const colon = text.indexOf(":");
    return colon > 0 && prefixes.includes(text.slice(0, colon)) ? `${text.slice(0, colon)}:${path.resolve(text.slice(colon + 1))}` : text;
  };
}

/** --epochs, --batch and --lr: the training fields every neural modality has. */
function trainFlags<C extends { train: object }>(defaults: { epochs: number; batchSize: number; learningRate: number }, unit: string): FieldFlag<C>[] {
  return [
    { flag: "epochs", field: "train.epochs", type: "real", help: ["E", `passes over each model's training ${unit} (default: the profile's)`], fallback: () => defaults.epochs },
    { flag: "batch", field: "train.batchSize", type: "int", help: ["B", "training batch size (default: the profile's)"], fallback: () => defaults.batchSize },
    { flag: "lr", field: "train.learningRate", type: "real", help: ["LR", "peak learning rate (default: the profile's)"], fallback: () => defaults.learningRate },
  ];
}

export const LM_COMMAND: SequenceCommand<LmSequenceConfig, LmSequenceResult> = {
  name: "lm",
  summary: "fit one §3.1 sequence of transformer language models, each pretrained on text sampled from the models before it (replace) or on everything so far (accumulate)",
  base: lmBaseConfig,
  describe: (b) => `${b.model} on ${b.data}, ${lmTrainSizeLabel(b)}, vocabulary ${b.vocabSize}, ${b.iterations} iterations, ${b.train.epochs ?? 1} epoch(s)`,
  data: {
    help: [
      "embedded | tinystories | text:PATH",
      "embedded: stories generated offline from a seed;",
      "tinystories: downloaded once into $COLLAPSE_DATA_DIR (or read from",
      "$COLLAPSE_TINYSTORIES_DIR); text:PATH: documents separated by lines",
      "holding only <|endoftext|>",
    ],
    normalize: (text) => {
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
    { flag: "first-epochs", field: "firstIterationEpochs", type: "real", help: ["E", "epochs of the first model only (Figure 11; default: --epochs)"], fallback: (c) => c.train.epochs ?? TRAIN_DEFAULTS.epochs },
    { flag: "text-metric-documents", field: "textMetricDocuments", type: "int", help: ["N", "documents generated per model for the text measures", "(default 64; 0: none)"] },
    { flag: "fresh-real", field: "freshRealDocuments", type: "int", help: ["N", "fresh real documents added at every iteration ≥ 2 (default 0)"], fallback: () => 0 },
    { flag: "temperature", field: "sampling.temperature", type: "real", help: ["T", "sampling temperature > 0 (default 1.0; the paper's ablation: 0.3)"], fallback: () => SAMPLING_DEFAULTS.temperature },
    { flag: "top-k", field: "sampling.topK", type: "int", help: ["K", "sample from the K most likely tokens only (default 0: off)"], fallback: () => SAMPLING_DEFAULTS.topK },
    { flag: "top-p", field: "sampling.topP", type: "real", help: ["P", "nucleus sampling, 0 < P ≤ 1 (default 1: off)"], fallback: () => SAMPLING_DEFAULTS.topP },
  ],
  tensors: true,
  stored: true,
  check: checkLmSequenceConfig,
  run: runLmSequence,
  sequences: LM_SEQUENCES,
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
    json: { model: r.model.name, vocabSize: r.tokenizer.vocabSize, backendDetail: r.backend.detail, realData: r.realData },
    title: `${r.model.name}, vocabulary ${r.tokenizer.vocabSize} · ${c.data}: ${r.realData.trainDocuments.toLocaleString("en-US")} real training documents (${r.realData.trainTokens.toLocaleString("en-US")} tokens)`,
  }),
  // A field the profile set that does not fit the chosen --model: say which profile does.
  explain(e: ConfigError, given, profile: Profile) {
    const base = lmBaseConfig(profile);
    if (given.model === undefined || given.model === base.model) return null;
    const fits = given.model.endsWith("-smoke") ? "smoke" : given.model.endsWith("-quick") ? "quick" : "paper";
    return new ConfigError(e.field, `${e.detail} (set by the ${profile} profile, which is sized for ${base.model}; --model ${given.model} fits --profile ${fits})`);
  },
};

export const VAE_COMMAND: SequenceCommand<VaeSequenceConfig, SequenceCommandResult> = {
  name: "vae",
  summary: "fit one §3.3 sequence of convolutional VAEs, each trained on images generated by the VAEs before it (replace) or on everything so far (accumulate)",
  base: vaeBaseConfig,
  describe: (c) => `${c.imageSize}×${c.imageSize} ${c.data}, ${c.trainImages} images, channels ${c.model.channels.join("/")}, latent ${c.model.latentDim}, ${c.iterations} iterations`,
  data: {
    help: [
      "embedded: procedural faces with attribute labels (offline);",
      "celeba: $COLLAPSE_CELEBA_DIR or data/celeba (img_align_celeba/ +",
      "list_eval_partition.txt); celeba:DIR; folder:PATH: any folder of images",
      "(90% train, 10% test). Real images with no size flag take the profile's",
      "sizes as far as the data holds them",
    ],
    normalize: absolutePaths(["celeba", "folder"]),
  },
  flags: [
    { flag: "image-size", field: "imageSize", type: "int", help: ["S", "side of the square images (the paper: 64)"] },
    { flag: "train-images", field: "trainImages", type: "int", help: ["N", "real training images"] },
    { flag: "test-images", field: "testImages", type: "int", help: ["N", "held-out real images for the test −ELBO and the metrics"] },
    { flag: "samples", field: "samplesPerIteration", type: "int", help: ["N", "images sampled from each model for the next iterations"] },
    { flag: "fresh-real", field: "freshRealImages", type: "int", help: ["N", "fresh real images added at every iteration ≥ 2 (default 0)"], fallback: () => 0 },
    ...trainFlags<VaeSequenceConfig>(VAE_TRAIN_DEFAULTS, "images"),
  ],
  tensors: true,
  stored: true,
  // Real images with no size given: the profile's sizes, as far as the folder (or CelebA) holds them.
  prepare: (c, given, file) =>
    ["train-images", "test-images", "samples"].some((f) => given[f] !== undefined) || ["trainImages", "testImages", "samplesPerIteration"].some((k) => k in file) ? c : fitVaeSizesToData(c),
  check: checkVaeSequenceConfig,
  run: runVaeSequence,
  sequences: VAE_SEQUENCES,
  metrics: [
    { key: "testNegElbo", label: "test −ELBO", digits: 2 },
    { key: "frechetDistance", label: "Fréchet", digits: 2 },
    { key: "precision", label: "precision", digits: 3 },
    { key: "recall", label: "recall", digits: 3 },
  ],
  sizeUnit: "images",
};

export const MOLECULES_COMMAND: SequenceCommand<MoleculeSequenceConfig, SequenceCommandResult> = {
  name: "molecules",
  summary: "fit one §3.2 sequence of conformation diffusion models, each trained on conformations generated by the models before it (replace) or on everything so far (accumulate)",
  base: moleculeBaseConfig,
  describe: (c) => `${c.data}, ${c.trainMolecules} molecules × ${c.conformersPerMolecule} conformers, ${c.iterations} iterations`,
  data: {
    help: [
      "embedded: drug-like molecules generated offline (openchemlib conformers; the smoke and",
      "quick sets ship in data/molecules, others are generated once and cached);",
      "geom-drugs | geom-qm9: GEOM msgpack files from $COLLAPSE_GEOM_DIR (or downloaded);",
      "msgpack:PATH: any file in GEOM's msgpack layout",
    ],
    normalize: absolutePaths(["msgpack"]),
  },
  flags: [
    { flag: "train-molecules", field: "trainMolecules", type: "int", help: ["N", "molecules whose conformers form the real training set"] },
    { flag: "test-molecules", field: "testMolecules", type: "int", help: ["N", "held-out molecules for the test loss and COV/MAT"] },
    { flag: "conformers", field: "conformersPerMolecule", type: "int", help: ["K", "conformers kept per molecule"] },
    { flag: "fresh-real", field: "freshRealMolecules", type: "int", help: ["N", "fresh real molecules (K conformers each) added at every iteration ≥ 2", "(default 0)"], fallback: () => 0 },
    ...trainFlags<MoleculeSequenceConfig>(MOLECULE_TRAIN_DEFAULTS, "conformers"),
  ],
  tensors: true,
  stored: true,
  check: checkMoleculeSequenceConfig,
  run: runMoleculeSequence,
  sequences: MOLECULE_SEQUENCES,
  metrics: [
    { key: "testLoss", label: "test loss", digits: 4 },
    { key: "coverage", label: "COV", digits: 3 },
    { key: "matching", label: "MAT (Å)", digits: 3 },
  ],
  sizeUnit: "conformers",
};

export const GAUSSIAN_COMMAND: SequenceCommand<GaussianSequenceConfig, SequenceCommandResult> = {
  name: "gaussian",
  summary: "fit one §5 (Figure 8) sequence of multivariate Gaussians by maximum likelihood, each on samples of the fits before it",
  base: (p) => gaussianBaseConfig(p),
  describe: (c) => `${c.dim}-D, ${c.samples} samples per set, ${c.iterations} iterations`,
  flags: [
    { flag: "dim", field: "dim", type: "int", help: ["D", "dimension; the truth is N(0, diag(1, 1/2, ..., 1/D))"] },
    { flag: "samples", field: "samples", type: "int", help: ["N", "real samples; every synthetic set has as many"] },
    { flag: "reference-size", field: "referenceSize", type: "int", help: ["N", "real points for precision/recall per iteration (0: skip them)"] },
    { flag: "fresh-real", field: "freshRealSamples", type: "int", help: ["N", "fresh real samples added at every iteration ≥ 2 (default 0)"], fallback: () => 0 },
  ],
  tensors: false,
  stored: false,
  check: checkGaussianSequenceConfig,
  run: (c) => runGaussianSequence(c),
  metrics: [
    { key: "frechetDistance", label: "Fréchet", digits: 4 },
    { key: "totalVariance", label: "total variance", digits: 4 },
    { key: "precision", label: "precision", digits: 3 },
    { key: "recall", label: "recall", digits: 3 },
  ],
  sizeUnit: "samples",
};

/** The sequence commands by name: one line per modality. */
export const SEQUENCE_COMMANDS = {
  lm: LM_COMMAND,
  molecules: MOLECULES_COMMAND,
  vae: VAE_COMMAND,
  gaussian: GAUSSIAN_COMMAND,
} as const;

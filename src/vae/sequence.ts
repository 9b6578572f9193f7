import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type SequenceConfig, type SequenceResult, type SequenceSetup, type SetupContext, checkSequenceFields } from "../collapse/spec";
import { lazyField, sequenceSetup } from "../collapse/runSequence";
import type { Strategy } from "../collapse/strategies";
import { ConfigError, DataError, checkInt, checkKnownKeys, fieldNames } from "../errors";
import { CELEBA_CLASSIFIER_ATTRIBUTES, type FolderSplit, celebaDir, celebaPartition, folderSplit, loadCelebA, loadImageFiles } from "../images/celeba";
import { type FaceConfig, checkFaceConfig, generateFaces } from "../images/faces";
import { type ImageSet, imageCodec, selectImages } from "../images/types";
import { Rng, deriveSeed } from "../random";
import { loadParams, paramsCodec } from "../nn/safetensors";
import { memo, modelArtifact, readStoredArtifact, readStoredSynthetic } from "../store/runStore";
import { type Classifier, classifierAccuracy, classifierInit, disposeClassifier, trainClassifier } from "./classifier";
import { vaeModality } from "./modality";
import { type VaeConfig, checkVaeConfig, reconstruct, vaeParameterCount } from "./model";
import { type VaeTrainConfig, checkVaeTrainConfig } from "./train";

/** Where the §3.3 images come from. */
export type ImageDataSpec = { kind: "embedded" } | { kind: "celeba"; dir?: string } | { kind: "folder"; path: string };

const FORMS = `"embedded", "celeba", "celeba:DIR" or "folder:PATH"`;

export function parseImageDataSpec(spec: unknown, field = "data"): ImageDataSpec {
  if (spec === "embedded" || spec === "celeba") return { kind: spec };
  if (typeof spec === "string" && (spec.startsWith("folder:") || spec.startsWith("celeba:"))) {
    const [kind, p] = [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)];
    if (p.trim() === "") throw new ConfigError(field, `"${kind}:" needs a directory (valid forms: ${FORMS})`);
    return kind === "folder" ? { kind: "folder", path: p } : { kind: "celeba", dir: p };
  }
  throw new ConfigError(field, `expected ${FORMS}, got ${JSON.stringify(spec)}`);
}

/** The model part of a sequence config (the image size is the sequence's). */
export type VaeModelSpec = Omit<VaeConfig, "imageSize">;

/** One §3.3 sequence of VAEs: everything that determines its results. */
export interface VaeSequenceConfig extends SequenceConfig {
  /** "embedded" (procedural faces), "celeba" ($COLLAPSE_CELEBA_DIR), "celeba:DIR" or "folder:PATH". */
  data: string;
  /** Side of the square images (the paper: 64). */
  imageSize: number;
  /** Real images in the original training set. */
  trainImages: number;
  /** Held-out real images for the test error and as the metrics' reference. */
  testImages: number;
  strategy: Strategy;
  iterations: number;
  seed: number;
  model: VaeModelSpec;
  train: Partial<VaeTrainConfig>;
  /** Images sampled from each model for the next iterations (the paper: 163K, the size of the real set). */
  samplesPerIteration: number;
  /** Fresh real images added at every iteration ≥ 2 (0 = none); they follow the original set in the data. */
  freshRealImages?: number;
  /** Generated images scored per iteration by the attribute classifier (0 = none). */
  metricSamples: number;
  /** Labelled real images the attribute classifier is trained on, and its epochs. */
  classifierImages: number;
  classifierEpochs: number;
  /** Embedded data only: attribute frequencies of the faces. */
  faces?: Partial<FaceConfig>;
}

const KEYS = fieldNames<VaeSequenceConfig>({
  data: true,
  imageSize: true,
  trainImages: true,
  testImages: true,
  strategy: true,
  iterations: true,
  seed: true,
  model: true,
  train: true,
  samplesPerIteration: true,
  freshRealImages: true,
  metricSamples: true,
  classifierImages: true,
  classifierEpochs: true,
  faces: true,
  curation: true,
  realShare: true,
});

/** Rejects bad fields before any work starts, naming the field. */
export function checkVaeSequenceConfig(c: VaeSequenceConfig): VaeSequenceConfig {
  if (typeof c !== "object" || c === null) throw new ConfigError("config", "expected an object");
  checkKnownKeys("", c, KEYS);
  const spec = parseImageDataSpec(c.data);
  const size = checkInt("imageSize", c.imageSize, { min: 4, max: 1024 });
  checkInt("trainImages", c.trainImages, { min: 1 });
  checkInt("freshRealImages", c.freshRealImages ?? 0, { min: 0 });
  checkInt("testImages", c.testImages, { min: 2 });
  checkSequenceFields(c);
  if (typeof c.model !== "object" || c.model === null) throw new ConfigError("model", "expected an object");
  if ("imageSize" in c.model) throw new ConfigError("model.imageSize", "set imageSize at the top level of the sequence config");
  checkVaeConfig({ ...c.model, imageSize: size });
  checkVaeTrainConfig(c.train ?? {});
  checkInt("samplesPerIteration", c.samplesPerIteration, { min: 1 });
  const metric = checkInt("metricSamples", c.metricSamples, { min: 0 });
  if (metric > 0 && metric < 4) throw new ConfigError("metricSamples", "needs at least 4 images for the k-NN precision/recall (or 0 for none)");
  if (metric > 0 && c.testImages < 4) throw new ConfigError("testImages", `needs at least 4 held-out images for the k-NN precision/recall, got ${c.testImages} (or metricSamples 0 for none)`);
  checkInt("classifierImages", c.classifierImages, { min: 0 });
  checkInt("classifierEpochs", c.classifierEpochs, { min: 0 });
  if (c.curation?.verifier === "classifier-confidence") {
    // Judged by the attribute classifier: it must exist and be trained on labelled real images.
    const missing = spec.kind === "folder" ? "a folder of images has no attribute labels to train it on" : c.classifierImages === 0 ? "classifierImages is 0" : c.classifierEpochs === 0 ? "classifierEpochs is 0" : null;
    if (missing) throw new ConfigError("curation.verifier", `classifier-confidence needs a trained attribute classifier, and this config has none (${missing}); curate with another verifier or train the classifier`);
  }
  if (c.faces !== undefined) {
    if (spec.kind !== "embedded") throw new ConfigError("faces", "only applies to the embedded faces");
    checkFaceConfig(c.faces);
  }
  return c;
}

/** The real images of a sequence: training, test and the classifier's labelled set. */
export interface VaeData {
  train: ImageSet;
  test: ImageSet;
  classifierSet: ImageSet;
  /** What a run is keyed by besides the config (a folder's file list, CelebA's location). */
  source: Record<string, unknown>;
}

/** Real training images a sequence reads: the original set plus its fresh draws. */
export function realTrainImages(c: Pick<VaeSequenceConfig, "trainImages" | "freshRealImages" | "iterations">): number {
  return c.trainImages + (c.freshRealImages ?? 0) * Math.max(0, c.iterations - 1);
}

/** Loads (or renders) the real images of a sequence; missing data is a DataError saying how to get it. */
export async function loadVaeData(c: VaeSequenceConfig, status: (m: string) => void = () => {}): Promise<VaeData> {
  const spec = parseImageDataSpec(c.data);
  const size = c.imageSize;
  // The original training set, then every fresh real draw after it, in the data's order.
  const trainImages = realTrainImages(c);
  switch (spec.kind) {
    case "embedded": {
      status(`rendering ${trainImages + c.testImages + c.classifierImages} embedded faces at ${size}×${size}`);
      const faces = (split: string, count: number) => generateFaces({ size, count, seed: c.seed, split, faces: c.faces });
      return { train: faces("train", trainImages), test: faces("test", c.testImages), classifierSet: faces("classifier", c.classifierImages), source: vaeDataSource(c) };
    }
    case "celeba": {
      const dir = celebaDir(spec.dir);
      const parts = celebaPartition(dir);
      const need = { train: trainImages, test: c.testImages, validation: c.classifierImages };
      for (const [split, n] of Object.entries(need)) {
        if (parts[split as keyof typeof parts].length < n) throw new ConfigError(split === "validation" ? "classifierImages" : `${split}Images`, `CelebA's ${split} split has ${parts[split as keyof typeof parts].length} images, ${n} asked for`);
      }
      const load = (split: "train" | "validation" | "test", limit: number) => {
        status(`loading ${limit} CelebA ${split} images from ${dir}`);
        return loadCelebA(dir, split, { size, limit, attributes: CELEBA_CLASSIFIER_ATTRIBUTES });
      };
      return { train: await load("train", trainImages), test: await load("test", c.testImages), classifierSet: await load("validation", c.classifierImages), source: vaeDataSource(c) };
    }
    case "folder": {
      const split = folderSplit(spec.path, FOLDER_TEST_FRACTION, c.seed);
      if (split.train.length < trainImages) throw new ConfigError(trainImages > c.trainImages ? "freshRealImages" : "trainImages", `${spec.path} has ${split.train.length} training images (90% of its files), ${trainImages} asked for${trainImages > c.trainImages ? ` (${c.trainImages} + fresh ${c.freshRealImages} × ${c.iterations - 1} iterations)` : ""}`);
      if (split.test.length < c.testImages) throw new ConfigError("testImages", `${spec.path} has ${split.test.length} test images (10% of its files), ${c.testImages} asked for`);
      status(`loading ${trainImages + c.testImages} images from ${spec.path}`);
      const train = await loadImageFiles(split.train.slice(0, trainImages), { size });
      const test = await loadImageFiles(split.test.slice(0, c.testImages), { size });
      // A folder has no labels: the classifier stays untrained and only provides random features.
      return { train, test, classifierSet: { ...test, attributes: undefined }, source: vaeDataSource(c, split) };
    }
  }
}

/**
 * The config with its real-set sizes fitted to a folder or CelebA directory: at most the profile's
 * sizes, at most what the data holds (a folder: its 90% / 10% split), and as many images sampled per
 * iteration as the real training set then holds if the profile sampled that many. Embedded data is
 * generated to any size and is returned as it is. This is what `collapse vae` does when --data names
 * real images and no size is given; a size that is given is never changed (it is checked instead).
 */
export function fitVaeSizesToData(c: VaeSequenceConfig): VaeSequenceConfig {
  const spec = parseImageDataSpec(c.data);
  if (spec.kind === "embedded") return c;
  let train: number;
  let test: number;
  if (spec.kind === "folder") {
    const split = folderSplit(spec.path, FOLDER_TEST_FRACTION, c.seed);
    [train, test] = [split.train.length, split.test.length];
  } else {
    const parts = celebaPartition(celebaDir(spec.dir));
    [train, test] = [parts.train.length, parts.test.length];
  }
  const trainImages = Math.min(c.trainImages, train);
  const testImages = Math.min(c.testImages, test);
  const samplesPerIteration = c.samplesPerIteration >= c.trainImages ? trainImages : Math.min(c.samplesPerIteration, trainImages);
  return { ...c, trainImages, testImages, samplesPerIteration };
}

/** A folder's images: 90% train, 10% test (a seeded split). */
const FOLDER_TEST_FRACTION = 0.1;

/**
 * Where a sequence's real images come from, as its runs are keyed (a folder by its file list's size).
 * `split`: the folder's split when the caller has listed it already (listing a large folder is slow).
 */
export function vaeDataSource(c: VaeSequenceConfig, split?: FolderSplit): Record<string, unknown> {
  const spec = parseImageDataSpec(c.data);
  switch (spec.kind) {
    case "embedded":
      return { kind: "embedded" };
    case "celeba":
      return { kind: "celeba", dir: celebaDir(spec.dir) };
    case "folder": {
      const { train, test } = split ?? folderSplit(spec.path, FOLDER_TEST_FRACTION, c.seed);
      const files = [...train, ...test];
      return { kind: "folder", path: path.resolve(spec.path), files: files.length, bytes: files.reduce((s, f) => s + fs.statSync(f).size, 0) };
    }
  }
}

export type VaeSequenceResult = SequenceResult<VaeSequenceConfig> &
  VaeFacts & {
    /** The first held-out real test images (up to 16), for reconstructions (Figure 12); read from the run on first use when the result was read back. */
    testPreview: ImageSet;
  };

/** What a §3.3 run records about itself (read back with its records). */
export interface VaeFacts {
  model: VaeConfig;
  parameters: number;
  /** The attribute classifier's accuracy on the held-out real test images, per attribute. */
  classifierAccuracy: Record<string, number>;
  /** Attribute frequencies among the real test images (the reference for freq_* metrics). */
  realFrequencies: Record<string, number>;
}

/** The classifier of a sequence's metrics; its attributes are those every labelled real image has. */
export function classifierFor(c: VaeSequenceConfig, data: VaeData): Classifier {
  const attributes = Object.keys(data.classifierSet.attributes ?? {}).filter((a) => data.test.attributes?.[a]);
  const channels = c.imageSize >= 64 ? [16, 32, 64, 64] : [16, 32, 64];
  return classifierInit({ imageSize: c.imageSize, channels: channels.slice(0, Math.log2(c.imageSize) - 1), featureDim: 64, attributes }, Rng.derive(c.seed, "classifier-init"));
}

const TEST_PREVIEW = "test-preview.bin";

/**
 * One sequence on its real images, in its open run: the attribute classifier (trained once, kept in
 * the run), then the VAE modality.
 */
export async function setupVaeSequence(config: VaeSequenceConfig, data: VaeData, ctx: SetupContext): Promise<SequenceSetup<VaeFacts, { testPreview: ImageSet }>> {
  const { run, status } = ctx;
  const model: VaeConfig = { ...config.model, imageSize: config.imageSize };
  const train = checkVaeTrainConfig(config.train ?? {});
  const classifier = classifierFor(config, data);
  try {
    const stored = await memo(run, "classifier.safetensors", paramsCodec, async () => {
      if (classifier.config.attributes.length > 0 && config.classifierEpochs > 0 && data.classifierSet.n > 0) {
        status(`training the attribute classifier (${classifier.config.attributes.join(", ")}) on ${data.classifierSet.n} real images`);
        await trainClassifier(classifier, data.classifierSet, { epochs: config.classifierEpochs, batchSize: 64, learningRate: 2e-3 }, Rng.derive(config.seed, "classifier-train"));
      }
      return { params: classifier.params, metadata: { config: JSON.stringify(classifier.config) } };
    });
    if (stored.params !== classifier.params) {
      for (const [name, v] of Object.entries(stored.params)) {
        classifier.params[name].assign(v);
        v.dispose();
      }
    }
  } catch (e) {
    disposeClassifier(classifier);
    throw e;
  }
  const testPreview = selectImages(data.test, Int32Array.from({ length: Math.min(16, data.test.n) }, (_, i) => i));
  run?.writeArtifact(TEST_PREVIEW, imageCodec.encode(testPreview));
  status(`VAE: ${vaeParameterCount(model).toLocaleString("en-US")} parameters, ${config.imageSize}×${config.imageSize} images, backend ${ctx.backendName}`);
  return sequenceSetup({
    modality: vaeModality({ model, train, realTrain: data.train, originalImages: config.trainImages, test: data.test, classifier, metricSamples: config.metricSamples, evalSeed: deriveSeed(config.seed, "vae-eval") }),
    loop: { strategy: config.strategy, iterations: config.iterations, realSize: config.trainImages, syntheticSizes: config.samplesPerIteration, freshRealSize: config.freshRealImages ?? 0 },
    checkpoint: (m) => ({ params: m.params, metadata: { config: JSON.stringify(model) } }),
    fromCheckpoint: (params) => ({ params, trainImages: 0 }),
    facts: {
      model,
      parameters: vaeParameterCount(model),
      classifierAccuracy: classifierAccuracy(classifier, data.test),
      realFrequencies: Object.fromEntries(classifier.config.attributes.map((a) => [a, mean(data.test.attributes![a])])),
    },
    extras: { testPreview },
    dispose: () => disposeClassifier(classifier),
  });
}

/** A result from the loop's, the run's facts and (run here) the preview images in memory, else read from the run. */
export function vaeResult(base: SequenceResult<VaeSequenceConfig>, facts: VaeFacts, extras: { testPreview: ImageSet } | null): VaeSequenceResult {
  const result = { ...base, ...facts };
  if (extras) return { ...result, ...extras };
  return lazyField(result, "testPreview", () => {
    const preview = readStoredArtifact(base.runDir!, TEST_PREVIEW, imageCodec);
    if (!preview) throw new DataError(path.join(base.runDir!, "artifacts", TEST_PREVIEW), "missing: the run holds no preview of its test images");
    return preview;
  });
}

/** The run-store key of a sequence: the config without `iterations`, and where non-embedded images come from. */
export function vaeRunKey(config: VaeSequenceConfig, source: Record<string, unknown> = vaeDataSource(config)): Record<string, unknown> {
  const { iterations: _iterations, ...sequence } = config;
  return source.kind === "embedded" ? sequence : { ...sequence, source };
}

const mean = (labels: Uint8Array) => labels.reduce((s, v) => s + v, 0) / Math.max(1, labels.length);

/** Images sampled from model `iteration` of a stored run (null if the run holds none). */
export function storedImages(runDir: string, iteration: number): ImageSet | null {
  return readStoredSynthetic(runDir, iteration, imageCodec);
}

/** Reconstructions (decoded posterior means) of `images` by the checkpoint of model `iteration` of a stored run. */
export function storedReconstructions(runDir: string, iteration: number, images: ImageSet): ImageSet {
  const file = path.join(runDir, "artifacts", modelArtifact(iteration));
  if (!fs.existsSync(file)) throw new DataError(file, "no checkpoint of this model (was the run made with checkpoints off?)");
  const { params, metadata } = loadParams(file);
  try {
    const model = JSON.parse(metadata.config) as VaeConfig;
    const out = tf.tidy(() => reconstruct(model, params, tf.tensor4d(images.images, [images.n, images.height, images.width, 3])));
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return { images: Float32Array.from(data), n: images.n, height: images.height, width: images.width };
  } finally {
    for (const v of Object.values(params)) v.dispose();
  }
}

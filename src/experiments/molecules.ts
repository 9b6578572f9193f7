import * as fs from "node:fs";
import * as path from "node:path";
import type { CollapseResult } from "../collapse/loop";
import { STRATEGIES, type Strategy } from "../collapse/strategies";
import { backendInfo, selectBackend } from "../backend";
import { ConfigError, DataError, checkInt, checkKnownKeys, checkOneOf } from "../errors";
import { Rng } from "../random";
import { type DiffusionConfig, GEODIFF_DRUGS_DIFFUSION, type MoleculeTrainConfig, checkDiffusionConfig, checkMoleculeTrainConfig, rescaledDrugsSchedule } from "../molecules/diffusion";
import { type EgnnConfig, checkEgnnConfig, egnnParameterCount } from "../molecules/egnn";
import { EMBEDDED_DEFAULTS, type EmbeddedSpec, embeddedConformations, splitByMolecule } from "../molecules/embedded";
import { type GeomLocateOptions, findGeomFile, geomFile, parseMoleculeDataSpec, readGeomMsgpack } from "../molecules/geom";
import { type MoleculeEvaluationConfig, checkMoleculeEvaluationConfig, moleculeModality } from "../molecules/modality";
import { QM9_COVERAGE_THRESHOLD } from "../molecules/rmsd";
import { type ConformationSet, conformationCodec } from "../molecules/types";
import { readStoredSynthetic } from "../store/runStore";
import type { Profile } from "./profiles";
import { type SequenceKind, type SequenceRunOptions, type SequencesOptions, collapseInRun, growingSetCost, runSequences, storedIterations } from "./sequences";

/** One §3.2 sequence of conformation diffusion models: everything that determines its results. */
export interface MoleculeSequenceConfig {
  /** "embedded", "geom-drugs", "geom-qm9" or "msgpack:PATH" (a file in GEOM's crude msgpack format). */
  data: string;
  /** Molecules whose conformers form the real training set. */
  trainMolecules: number;
  /** Held-out molecules (never trained on) for the test loss and COV/MAT. */
  testMolecules: number;
  /** Conformers kept per molecule (GEOM: highest Boltzmann weight; embedded: generated). */
  conformersPerMolecule: number;
  /**
   * Fresh real molecules added at every iteration ≥ 2 (0 = none): more training molecules are read, and
   * each draw is the next conformersPerMolecule × N conformers of the training pool.
   */
  freshRealMolecules?: number;
  /** Molecules with more heavy atoms than this are skipped (GEOM) or not generated (embedded). */
  maxAtoms: number;
  strategy: Strategy;
  iterations: number;
  seed: number;
  model: Partial<EgnnConfig>;
  diffusion: Partial<DiffusionConfig>;
  train: Partial<MoleculeTrainConfig>;
  evaluation: Partial<MoleculeEvaluationConfig>;
}

const KEYS = ["data", "trainMolecules", "testMolecules", "conformersPerMolecule", "freshRealMolecules", "maxAtoms", "strategy", "iterations", "seed", "model", "diffusion", "train", "evaluation"];

export interface CheckedMoleculeSequence {
  config: MoleculeSequenceConfig;
  model: EgnnConfig;
  diffusion: DiffusionConfig;
  train: MoleculeTrainConfig;
  evaluation: MoleculeEvaluationConfig;
}

/** Rejects bad fields before any work starts, naming the culprit; returns the filled-in sub-configs. */
export function checkMoleculeSequenceConfig(c: MoleculeSequenceConfig): CheckedMoleculeSequence {
  if (typeof c !== "object" || c === null) throw new ConfigError("config", "expected an object");
  checkKnownKeys("", c, KEYS);
  parseMoleculeDataSpec(c.data);
  checkInt("trainMolecules", c.trainMolecules, { min: 1 });
  checkInt("testMolecules", c.testMolecules, { min: 1 });
  checkInt("conformersPerMolecule", c.conformersPerMolecule, { min: 1 });
  checkInt("freshRealMolecules", c.freshRealMolecules ?? 0, { min: 0 });
  checkInt("maxAtoms", c.maxAtoms, { min: 2 });
  checkOneOf("strategy", c.strategy, STRATEGIES);
  checkInt("iterations", c.iterations, { min: 1 });
  checkInt("seed", c.seed, { min: 0, max: 2 ** 31 - 1 });
  return {
    config: c,
    model: checkEgnnConfig(c.model ?? {}),
    diffusion: checkDiffusionConfig(c.diffusion ?? {}),
    train: checkMoleculeTrainConfig(c.train ?? {}),
    evaluation: checkMoleculeEvaluationConfig(c.evaluation ?? {}),
  };
}

export interface MoleculeSequenceOptions extends SequenceRunOptions {
  /** Where GEOM files are found or downloaded to (default: COLLAPSE_GEOM_DIR, then the data cache). */
  geom?: GeomLocateOptions;
  /** Cache directory of the embedded set (default: COLLAPSE_DATA_DIR, else data/cache). */
  cacheDir?: string;
}

export interface MoleculeSequenceResult extends CollapseResult {
  config: MoleculeSequenceConfig;
  model: EgnnConfig;
  diffusion: DiffusionConfig;
  parameters: number;
  backend: Record<string, unknown>;
  runDir: string | null;
  /** The real data the sequence used (train: every real training conformer; test: held-out molecules). */
  data: { train: ConformationSet; test: ConformationSet };
}

/** Real training molecules a sequence reads: the original set plus its fresh draws. */
export function realMolecules(c: Pick<MoleculeSequenceConfig, "trainMolecules" | "freshRealMolecules" | "iterations">): number {
  return c.trainMolecules + (c.freshRealMolecules ?? 0) * Math.max(0, c.iterations - 1);
}

/** The embedded set a config trains and tests on (train + test molecules, generated together). */
export function embeddedSpecOf(config: MoleculeSequenceConfig): EmbeddedSpec {
  return {
    molecules: realMolecules(config) + config.testMolecules,
    conformers: config.conformersPerMolecule,
    seed: config.seed,
    minAtoms: Math.min(EMBEDDED_DEFAULTS.minAtoms, config.maxAtoms),
    maxAtoms: config.maxAtoms,
    minimise: false,
  };
}

/** Train and test conformation sets of a config, split by molecule (seeded by the config's seed). */
export async function loadMoleculeData(config: MoleculeSequenceConfig, opts: MoleculeSequenceOptions = {}): Promise<{ train: ConformationSet; test: ConformationSet; dataFile: string | null }> {
  const spec = parseMoleculeDataSpec(config.data);
  const status = opts.onStatus ?? (() => {});
  const total = realMolecules(config) + config.testMolecules;
  let all: ConformationSet;
  let dataFile: string | null = null;
  if (spec.kind === "embedded") {
    const r = await embeddedConformations(embeddedSpecOf(config), { cacheDir: opts.cacheDir, onStatus: status });
    status(`embedded molecules: ${r.set.molecules.length} molecules, ${r.set.conformers.length} conformers (${r.source}${r.source === "generated" ? ` in ${r.seconds.toFixed(0)} s` : ""})`);
    all = r.set;
  } else {
    const file = spec.kind === "msgpack" ? path.resolve(spec.path) : (await geomFile(spec.dataset, opts.geom)).path;
    dataFile = file;
    status(`reading ${total} molecules from ${file}`);
    const r = await readGeomMsgpack(file, { maxMolecules: total, maxConformers: config.conformersPerMolecule, maxAtoms: config.maxAtoms });
    all = r.set;
    if (all.molecules.length < total) {
      throw new ConfigError(realMolecules(config) > config.trainMolecules ? "freshRealMolecules" : "trainMolecules", `needs ${total} molecules (train${realMolecules(config) > config.trainMolecules ? " + fresh" : ""} + test), ${file} has only ${all.molecules.length} with ≤ ${config.maxAtoms} heavy atoms`);
    }
  }
  const split = splitByMolecule(all, config.testMolecules, Rng.derive(config.seed, "molecule-split"));
  return { ...split, dataFile };
}

/**
 * Runs (or resumes, or reads back) one sequence: loads or generates the conformations, splits them by
 * molecule, then fits `iterations` diffusion models through the shared collapse loop. The run store
 * key is the config without `iterations` (more iterations continue a run, fewer read its prefix).
 */
export async function runMoleculeSequence(config: MoleculeSequenceConfig, opts: MoleculeSequenceOptions = {}): Promise<MoleculeSequenceResult> {
  const checked = checkMoleculeSequenceConfig(config);
  const status = opts.onStatus ?? (() => {});
  const backend = await selectBackend();
  const { train, test, dataFile } = await loadMoleculeData(config, opts);
  const run = opts.store?.open("molecules", moleculeRunKey(config, dataFile), { backend: backendInfo() }) ?? null;
  try {
    const parameters = egnnParameterCount(checked.model);
    status(`EGNN ${checked.model.layers}×${checked.model.hidden}: ${parameters.toLocaleString("en-US")} parameters; ${train.conformers.length} training conformers of ${train.molecules.length} molecules, ${test.conformers.length} test conformers of ${test.molecules.length}; backend ${backend.name}`);
    // Training conformers come grouped by molecule, so the original set is the first trainMolecules' conformers.
    const fresh = config.freshRealMolecules ?? 0;
    const originalMolecules = new Set<number>();
    let realSize = 0;
    for (const c of train.conformers) {
      if (!originalMolecules.has(c.molecule) && originalMolecules.size === config.trainMolecules) break;
      originalMolecules.add(c.molecule);
      realSize++;
    }
    const result = await collapseInRun({
      modality: moleculeModality({
        model: checked.model,
        diffusion: checked.diffusion,
        train: checked.train,
        evaluation: checked.evaluation,
        realTrain: train,
        originalSize: realSize,
        test,
        evaluationSeed: config.seed,
      }),
      loop: { strategy: config.strategy, iterations: config.iterations, realSize, freshRealSize: fresh * config.conformersPerMolecule },
      seed: config.seed,
      run,
      opts,
      checkpoint: (m) => ({ params: m.params, metadata: { model: JSON.stringify(checked.model), diffusion: JSON.stringify(checked.diffusion) } }),
      fromCheckpoint: (params) => ({ params, finalTrainLoss: NaN, trainSteps: 0 }),
      summaryMetric: "testLoss",
    });
    return { ...result, config, model: checked.model, diffusion: checked.diffusion, parameters, backend: backendInfo(), runDir: run?.dir ?? null, data: { train, test } };
  } finally {
    run?.close();
  }
}

/**
 * The run-store key of a sequence: the config without `iterations` (more iterations continue a run,
 * fewer read its prefix), and a data file's size and modification time, so that another file does not
 * reuse old results. `dataFile`: the file the data was read from (default: the one that is there now).
 */
export function moleculeRunKey(config: MoleculeSequenceConfig, dataFile: string | null = moleculeDataFile(config)): Record<string, unknown> {
  const { iterations: _iterations, ...sequence } = config;
  if (dataFile === null) return sequence;
  const stat = fs.statSync(dataFile);
  return { ...sequence, dataFile: { size: stat.size, mtimeMs: stat.mtimeMs } };
}

/** The file a GEOM or msgpack config reads, if it is there (null for the embedded set). */
function moleculeDataFile(config: MoleculeSequenceConfig): string | null {
  const spec = parseMoleculeDataSpec(config.data);
  if (spec.kind === "embedded") return null;
  if (spec.kind === "msgpack") return path.resolve(spec.path);
  const found = findGeomFile(spec.dataset);
  if (!found) throw new DataError(spec.dataset, "no GEOM file has been downloaded yet");
  return found.path;
}

/** §3.2 sequences for runSequences (what the notebook and `collapse reproduce` call). */
export const MOLECULE_SEQUENCES: SequenceKind<MoleculeSequenceConfig, MoleculeSequenceResult> = {
  entry: { module: __filename, exportName: "MOLECULE_SEQUENCES" },
  check: checkMoleculeSequenceConfig,
  run: runMoleculeSequence,
  finishedIterations: (store, config) => storedIterations(store, "molecules", () => moleculeRunKey(config)),
  cost: (c, finished) => growingSetCost(c.strategy, c.iterations, finished, () => c.trainMolecules * c.conformersPerMolecule * (c.train.epochs ?? 1)),
  describe: (c) => `${c.data} · ${c.strategy} · ${c.trainMolecules} molecules`,
  async prepare(configs, opts) {
    // Generate the embedded set (minutes) or download GEOM once, rather than once per worker.
    for (const c of configs) {
      const spec = parseMoleculeDataSpec(c.data);
      if (spec.kind === "embedded") await loadMoleculeData(c, { onStatus: opts.onStatus });
      else if (spec.kind === "geom") await geomFile(spec.dataset);
    }
  },
};

/** runSequences for §3.2: the sequences side by side in worker processes (see runSequences). */
export function runMoleculeSequences(configs: readonly MoleculeSequenceConfig[], opts: SequencesOptions): Promise<MoleculeSequenceResult[]> {
  return runSequences(MOLECULE_SEQUENCES, configs, opts);
}

/** The base sequence of each profile (the notebooks vary the strategy). */
export function moleculeBaseConfig(profile: Profile): MoleculeSequenceConfig {
  switch (profile) {
    case "smoke":
      return {
        data: "embedded",
        trainMolecules: 12,
        testMolecules: 4,
        conformersPerMolecule: 3,
        maxAtoms: 16,
        strategy: "replace",
        iterations: 2,
        seed: 0,
        model: { hidden: 16, layers: 2, bondEmbedding: 8, timeFeatures: 8, rbf: 8 },
        diffusion: rescaledDrugsSchedule(50, 10),
        train: { epochs: 6, batchSize: 8, learningRate: 2e-3, reportEvery: 10 },
        evaluation: { lossRepeats: 2, batchSize: 32, coverageMolecules: 2, generatedPerReference: 1 },
      };
    case "quick":
      // Measured on this 2-core machine under load (wasm, one thread): generating the 76 embedded
      // molecules takes ~3 min (which is why data/molecules ships them); one iteration's sampling +
      // evaluation ~12 s of CPU;
      // a fit ~0.06 s of CPU per step. Training is by epochs (like the paper's fixed-epoch training),
      // so accumulate's later fits take proportionally more steps (286, 572, 858, 1144). With a fixed
      // step count instead, accumulate's real data is diluted at every iteration and its test loss
      // creeps up too (measured: 0.450, 0.475, 0.495 with 400 steps per fit). Measured with this config:
      // test loss replace 0.505, 0.532, 0.561, 0.583; accumulate 0.505, 0.472, 0.466, 0.459; the two
      // sequences together 347 s of CPU (533 s wall on the shared, loaded machine).
      return {
        data: "embedded",
        trainMolecules: 60,
        testMolecules: 16,
        conformersPerMolecule: 5,
        maxAtoms: 22,
        strategy: "replace",
        iterations: 4,
        seed: 0,
        model: { hidden: 32, layers: 3, bondEmbedding: 8, timeFeatures: 16, rbf: 12 },
        diffusion: rescaledDrugsSchedule(200, 20),
        train: { epochs: 16, batchSize: 16, learningRate: 2e-3, minLearningRate: 2e-4, reportEvery: 25 },
        evaluation: { lossRepeats: 4, batchSize: 64, coverageMolecules: 8, generatedPerReference: 2 },
      };
    case "paper":
      // GEOM-Drugs down-sampled to 40,000 conformations (8,000 molecules × 5 conformers), GeoDiff's drugs
      // schedule (sigmoid β 1e-7 → 2e-3 over 5,000 steps) sampled in 50 steps, 8 iterations; the test
      // molecules follow GeoDiff's test set size (200 molecules).
      return {
        data: "geom-drugs",
        trainMolecules: 8000,
        testMolecules: 200,
        conformersPerMolecule: 5,
        maxAtoms: 60,
        strategy: "replace",
        iterations: 8,
        seed: 0,
        model: { hidden: 128, layers: 6, bondEmbedding: 32, timeFeatures: 32, rbf: 32, rbfMax: 10, radius: 10 },
        diffusion: { ...GEODIFF_DRUGS_DIFFUSION },
        train: { epochs: 50, batchSize: 32, learningRate: 1e-3, minLearningRate: 1e-4, reportEvery: 500 },
        evaluation: { lossRepeats: 2, batchSize: 128, coverageMolecules: 200, generatedPerReference: 2 },
      };
  }
}

/** COV threshold of a dataset (GEOM-QM9: 0.5 Å; drugs and the embedded set: 1.25 Å). */
export function defaultCoverageThreshold(data: string): number {
  return data === "geom-qm9" ? QM9_COVERAGE_THRESHOLD : 1.25;
}

/** The synthetic conformations sampled from model `iteration` of a stored run (null if there are none). */
export function storedConformations(runDir: string, iteration: number): ConformationSet | null {
  return readStoredSynthetic(runDir, iteration, conformationCodec);
}

import * as fs from "node:fs";
import * as path from "node:path";
import { type SequenceConfig, type SequenceResult, type SequenceSetup, type SetupContext, checkSequenceFields } from "../collapse/spec";
import { sequenceSetup } from "../collapse/runSequence";
import type { Strategy } from "../collapse/strategies";
import { ConfigError, DataError, checkInt, checkKnownKeys, fieldNames } from "../errors";
import { Rng } from "../random";
import { type DiffusionConfig, type MoleculeTrainConfig, checkDiffusionConfig, checkMoleculeTrainConfig } from "./diffusion";
import { type EgnnConfig, checkEgnnConfig, egnnParameterCount } from "./egnn";
import { EMBEDDED_DEFAULTS, type EmbeddedSpec, embeddedConformations, splitByMolecule } from "./embedded";
import { type GeomLocateOptions, findGeomFile, geomFile, parseMoleculeDataSpec, readGeomMsgpack } from "./geom";
import { type MoleculeEvaluationConfig, checkMoleculeEvaluationConfig, moleculeModality } from "./modality";
import { QM9_COVERAGE_THRESHOLD } from "./rmsd";
import { type ConformationSet, conformationCodec } from "./types";
import { readStoredSynthetic } from "../store/runStore";

/** One §3.2 sequence of conformation diffusion models: everything that determines its results. */
export interface MoleculeSequenceConfig extends SequenceConfig {
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

const KEYS = fieldNames<MoleculeSequenceConfig>({
  data: true,
  trainMolecules: true,
  testMolecules: true,
  conformersPerMolecule: true,
  freshRealMolecules: true,
  maxAtoms: true,
  strategy: true,
  iterations: true,
  seed: true,
  model: true,
  diffusion: true,
  train: true,
  evaluation: true,
  curation: true,
  realShare: true,
});

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
  checkSequenceFields(c);
  return {
    config: c,
    model: checkEgnnConfig(c.model ?? {}),
    diffusion: checkDiffusionConfig(c.diffusion ?? {}),
    train: checkMoleculeTrainConfig(c.train ?? {}),
    evaluation: checkMoleculeEvaluationConfig(c.evaluation ?? {}),
  };
}

export interface MoleculeDataOptions {
  onStatus?: (message: string) => void;
  /** Where GEOM files are found or downloaded to (default: COLLAPSE_GEOM_DIR, then the data cache). */
  geom?: GeomLocateOptions;
  /** Cache directory of the embedded set (default: COLLAPSE_DATA_DIR, else data/cache). */
  cacheDir?: string;
}

/** What a §3.2 run records about itself (read back with its records). */
export interface MoleculeFacts {
  model: EgnnConfig;
  diffusion: DiffusionConfig;
  parameters: number;
}

/** A §3.2 result; its real data is not part of it (loadMoleculeData(result.config) reads it again). */
export type MoleculeSequenceResult = SequenceResult<MoleculeSequenceConfig> & MoleculeFacts;

/** What `load` reads: the real training conformers (the original set, then the fresh draws) and the held-out test molecules. */
export interface MoleculeData {
  train: ConformationSet;
  test: ConformationSet;
  /** The file the data was read from (null for the embedded set). */
  dataFile: string | null;
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
export async function loadMoleculeData(config: MoleculeSequenceConfig, opts: MoleculeDataOptions = {}): Promise<MoleculeData> {
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
 * One sequence on its conformations, in its open run: the original set is the first trainMolecules'
 * conformers (they come grouped by molecule), the fresh draws the ones after them.
 */
export async function setupMoleculeSequence(config: MoleculeSequenceConfig, data: MoleculeData, ctx: SetupContext): Promise<SequenceSetup<MoleculeFacts, null>> {
  const checked = checkMoleculeSequenceConfig(config);
  const { train, test } = data;
  const parameters = egnnParameterCount(checked.model);
  ctx.status(`EGNN ${checked.model.layers}×${checked.model.hidden}: ${parameters.toLocaleString("en-US")} parameters; ${train.conformers.length} training conformers of ${train.molecules.length} molecules, ${test.conformers.length} test conformers of ${test.molecules.length}; backend ${ctx.backendName}`);
  const fresh = config.freshRealMolecules ?? 0;
  const originalMolecules = new Set<number>();
  let realSize = 0;
  for (const c of train.conformers) {
    if (!originalMolecules.has(c.molecule) && originalMolecules.size === config.trainMolecules) break;
    originalMolecules.add(c.molecule);
    realSize++;
  }
  return sequenceSetup({
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
    checkpoint: (m) => ({ params: m.params, metadata: { model: JSON.stringify(checked.model), diffusion: JSON.stringify(checked.diffusion) } }),
    fromCheckpoint: (params) => ({ params, finalTrainLoss: NaN, trainSteps: 0 }),
    facts: { model: checked.model, diffusion: checked.diffusion, parameters },
    extras: null,
  });
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

/** COV threshold of a dataset (GEOM-QM9: 0.5 Å; drugs and the embedded set: 1.25 Å). */
export function defaultCoverageThreshold(data: string): number {
  return data === "geom-qm9" ? QM9_COVERAGE_THRESHOLD : 1.25;
}

/** The synthetic conformations sampled from model `iteration` of a stored run (null if there are none). */
export function storedConformations(runDir: string, iteration: number): ConformationSet | null {
  return readStoredSynthetic(runDir, iteration, conformationCodec);
}

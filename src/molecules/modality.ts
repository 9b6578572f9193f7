import type { Modality } from "../collapse/modality";
import { ConfigError, checkInt, checkKnownKeys, checkNumber } from "../errors";
import { Rng } from "../random";
import { type DiffusionConfig, type EvaluationDraws, type MoleculeTrainConfig, evaluateDenoisingLoss, evaluationDraws, sampleConformations, scaledMoleculeTraining, trainDiffusion, trainingSteps } from "./diffusion";
import { type EgnnConfig, initEgnn } from "./egnn";
import { DRUGS_COVERAGE_THRESHOLD, coverageAndMatching } from "./rmsd";
import { type ConformationSet, type Conformer, conformationCodec, conformersByMolecule, mergeConformationSets, selectConformers } from "./types";
import { disposeParams } from "../nn/params";
import type { Params } from "../nn/params";
import { bondLengthScores, meanBondLengths, moleculeFitCompute } from "./verifiers";

/** How a fitted conformation model is scored on the held-out test molecules. */
export interface MoleculeEvaluationConfig {
  /** Noised copies of every test conformer in the fixed test-loss draws. */
  lossRepeats: number;
  /** Conformers per forward pass (evaluation and sampling). */
  batchSize: number;
  /** Test molecules whose conformers are generated for COV/MAT (0 = skip COV/MAT). */
  coverageMolecules: number;
  /** Generated conformers per reference conformer (GeoDiff: 2). */
  generatedPerReference: number;
  /** COV threshold δ in Å (GEOM-Drugs: 1.25, QM9: 0.5). */
  threshold: number;
}

export const MOLECULE_EVALUATION_DEFAULTS: MoleculeEvaluationConfig = { lossRepeats: 4, batchSize: 64, coverageMolecules: 20, generatedPerReference: 2, threshold: DRUGS_COVERAGE_THRESHOLD };

export function checkMoleculeEvaluationConfig(partial: Partial<MoleculeEvaluationConfig>, field = "evaluation"): MoleculeEvaluationConfig {
  if (typeof partial !== "object" || partial === null) throw new ConfigError(field, "expected an object");
  checkKnownKeys(field, partial, Object.keys(MOLECULE_EVALUATION_DEFAULTS));
  const c = { ...MOLECULE_EVALUATION_DEFAULTS, ...partial };
  checkInt(`${field}.lossRepeats`, c.lossRepeats, { min: 1 });
  checkInt(`${field}.batchSize`, c.batchSize, { min: 1 });
  checkInt(`${field}.coverageMolecules`, c.coverageMolecules, { min: 0 });
  checkInt(`${field}.generatedPerReference`, c.generatedPerReference, { min: 1 });
  checkNumber(`${field}.threshold`, c.threshold, { exclusiveMin: 0 });
  return c;
}

export interface MoleculeModel {
  readonly params: Params;
  /** Mean training loss over the last report window of the fit. */
  readonly finalTrainLoss: number;
  /** Optimizer steps of the fit. */
  readonly trainSteps: number;
}

export interface MoleculeModalityOptions {
  model: EgnnConfig;
  diffusion: DiffusionConfig;
  train: MoleculeTrainConfig;
  evaluation: MoleculeEvaluationConfig;
  /** Real training conformers: the original set first (`originalSize` conformers), then fresh draws in order. */
  realTrain: ConformationSet;
  originalSize: number;
  /** Held-out real conformers of molecules that never appear in training. */
  test: ConformationSet;
  /** Seed of the fixed test-loss draws (the same (t, ε) for every model of a sequence). */
  evaluationSeed: number;
}

/**
 * Conformation diffusion as a collapse-loop modality.
 * - fit: a freshly initialised EGNN denoiser trained on the union of the parts (real and synthetic
 *   conformers of the same molecule share its graph);
 * - sample(size): one generated conformation per conformer of the original real training set, in
 *   order (cycling if `size` is larger), so every synthetic set has the molecules, and the number of
 *   conformers per molecule, of the real training set;
 * - evaluate: the denoising loss on held-out real test conformers with fixed seeded (t, ε) draws (the
 *   paper's test loss), plus COV-R and MAT-R of conformers generated for the first test molecules
 *   against their reference conformers.
 */
export function moleculeModality(o: MoleculeModalityOptions): Modality<ConformationSet, MoleculeModel> {
  if (o.originalSize > o.realTrain.conformers.length) {
    throw new ConfigError("originalSize", `${o.originalSize} exceeds the ${o.realTrain.conformers.length} real training conformers`);
  }
  if (o.test.conformers.length === 0) throw new ConfigError("test", "no test conformers");
  const template = selectConformers(o.realTrain, Int32Array.from({ length: o.originalSize }, (_, i) => i));
  let draws: EvaluationDraws | null = null;
  const testDraws = () => (draws ??= evaluationDraws(o.test, o.diffusion, o.evaluation.lossRepeats, o.evaluation.batchSize, Rng.derive(o.evaluationSeed, "test-loss-draws")));
  const byMolecule = conformersByMolecule(o.test);
  const coverageMolecules = Math.min(o.evaluation.coverageMolecules, o.test.molecules.length);
  // The real pool's mean bond lengths, measured on first use (only a curated sequence asks for them).
  let realBondLengths: Map<string, number> | null = null;

  return {
    name: "molecules",
    // sampleConformations draws each batch of molecules from a generator forked for it.
    previewSize: o.evaluation.batchSize,
    size: (data) => data.conformers.length,
    select: (data, indices) => selectConformers(data, indices),
    realPool: o.realTrain,
    async fit(parts, ctx) {
      const data = mergeConformationSets(parts.map((p) => p.data));
      const params = initEgnn(o.model, ctx.rng.fork("init"));
      const train = scaledMoleculeTraining(o.train, ctx.trainingScale);
      try {
        const finalTrainLoss = await trainDiffusion(
          o.model,
          o.diffusion,
          params,
          data,
          train,
          ctx.rng.fork("train"),
          (p) => ctx.report(p.step, { trainLoss: p.trainLoss, learningRate: p.learningRate }),
          ctx.checkpoint,
        );
        return { params, finalTrainLoss, trainSteps: trainingSteps(train, data.conformers.length) };
      } catch (e) {
        disposeParams(params);
        if (e instanceof Error) e.message = `iteration ${ctx.iteration}: ${e.message}`;
        throw e;
      }
    },
    async sample(model, size, rng) {
      const n = template.conformers.length;
      const which = Array.from({ length: size }, (_, i) => template.conformers[i % n].molecule);
      const xyz = await sampleConformations(o.model, o.diffusion, model.params, which.map((m) => template.molecules[m]), o.evaluation.batchSize, rng);
      const conformers: Conformer[] = which.map((m, i) => ({ molecule: m, xyz: xyz[i] }));
      return { molecules: template.molecules, conformers };
    },
    async evaluate(model, rng) {
      const metrics: Record<string, number> = {
        testLoss: evaluateDenoisingLoss(o.model, o.diffusion, model.params, testDraws()),
        trainLoss: model.finalTrainLoss,
        trainSteps: model.trainSteps,
      };
      if (coverageMolecules > 0) {
        const molecules = [];
        const owners: number[] = [];
        for (let m = 0; m < coverageMolecules; m++) {
          for (let k = 0; k < o.evaluation.generatedPerReference * byMolecule[m].length; k++) {
            molecules.push(o.test.molecules[m]);
            owners.push(m);
          }
        }
        const generated = await sampleConformations(o.model, o.diffusion, model.params, molecules, o.evaluation.batchSize, rng.fork("coverage"));
        let cov = 0;
        let mat = 0;
        for (let m = 0; m < coverageMolecules; m++) {
          const refs = byMolecule[m].map((j) => o.test.conformers[j].xyz);
          const gen = generated.filter((_, i) => owners[i] === m);
          const r = coverageAndMatching(refs, gen, o.evaluation.threshold);
          cov += r.coverage;
          mat += r.matching;
        }
        metrics.coverage = cov / coverageMolecules;
        metrics.matching = mat / coverageMolecules;
      }
      return metrics;
    },
    dispose: (model) => disposeParams(model.params),
    codec: conformationCodec,
    verifiers: {
      "bond-lengths": (data) => bondLengthScores(data, (realBondLengths ??= meanBondLengths(o.realTrain))),
    },
    trainingCompute(parts, trainingScale) {
      const sets = parts.map((p) => p.data);
      const train = scaledMoleculeTraining(o.train, trainingScale);
      return moleculeFitCompute(o.model, sets, trainingSteps(train, sets.reduce((s, set) => s + set.conformers.length, 0)), train.batchSize);
    },
  };
}

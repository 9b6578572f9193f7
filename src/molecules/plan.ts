import { type CostModel, type FitWork, type Rates, OPTIMIZER_BYTES_PER_PARAMETER, loopOf, plannedIterations, stepsOnly, TIMED_SECONDS, timeSteps } from "../collapse/plan";
import { disposeParams } from "../nn/params";
import { Rng } from "../random";
import { checkDiffusionConfig, checkMoleculeTrainConfig, evaluateDenoisingLoss, evaluationDraws, sampleConformations, scaledMoleculeTraining, trainDiffusion, trainingSteps } from "./diffusion";
import { type EgnnConfig, checkEgnnConfig, egnnParameterCount, initEgnn } from "./egnn";
import { checkMoleculeEvaluationConfig } from "./modality";
import { parseMoleculeDataSpec } from "./geom";
import { type MoleculeSequenceConfig, loadMoleculeData } from "./sequence";
import type { ConformationSet, MoleculeGraph } from "./types";

/** Heavy atoms per molecule taken where the data are not at hand (ours: GEOM-Drugs' molecules hold about 25). */
const ASSUMED_HEAVY_ATOMS = 25;

function meanAtoms(c: MoleculeSequenceConfig): number {
  return Math.min(c.maxAtoms, ASSUMED_HEAVY_ATOMS);
}

/**
 * Multiply-adds of one conformer's forward pass with `atoms` atoms, every pair within the radius (drug
 * molecules span about the default 10 Å): per layer and edge, the message MLP (both atoms' features,
 * the distance's basis and the bond embedding into the width, then width²) and the coordinate MLP;
 * per layer and atom, the node MLP.
 */
export function egnnForwardMacs(m: EgnnConfig, atoms: number): number {
  const h = m.hidden;
  const edges = atoms * (atoms - 1);
  const perEdge = (2 * h + m.rbf + m.bondEmbedding) * h + h * h + h * h + h;
  const perNode = 2 * h * h + h * h;
  return m.layers * (edges * perEdge + atoms * perNode) + atoms * m.timeFeatures * h;
}

function checked(c: MoleculeSequenceConfig) {
  return { model: checkEgnnConfig(c.model ?? {}), diffusion: checkDiffusionConfig(c.diffusion ?? {}), train: checkMoleculeTrainConfig(c.train ?? {}), evaluation: checkMoleculeEvaluationConfig(c.evaluation ?? {}) };
}

export const MOLECULE_COST: CostModel<MoleculeSequenceConfig> = {
  work(c) {
    const { model, diffusion, train, evaluation } = checked(c);
    const atoms = meanAtoms(c);
    const forward = 2 * egnnForwardMacs(model, atoms);
    const n = egnnParameterCount(model);
    const plan = plannedIterations(loopOf(c, c.trainMolecules * c.conformersPerMolecule, (c.freshRealMolecules ?? 0) * c.conformersPerMolecule));
    const coverage = Math.min(evaluation.coverageMolecules, c.testMolecules) * c.conformersPerMolecule * evaluation.generatedPerReference;
    const fits: FitWork[] = plan.map((p) => {
      const steps = trainingSteps(scaledMoleculeTraining(train, p.scale), p.trainSize);
      const trainUnits = steps * train.batchSize;
      // A sampled conformer is one denoiser pass per sampling step.
      // After the last model, a run in the store keeps one sampling batch (what a longer run would start with).
      const sampleUnits = p.drawn + (p.iteration === c.iterations ? evaluation.batchSize : 0) + coverage;
      const evalUnits = c.testMolecules * c.conformersPerMolecule * evaluation.lossRepeats;
      return {
        iteration: p.iteration,
        trainSize: p.trainSize,
        trainUnits,
        steps,
        trainFlops: 3 * forward * trainUnits,
        sampleUnits,
        sampleFlops: forward * diffusion.samplingSteps * sampleUnits,
        sampleCalls: Math.ceil(sampleUnits / evaluation.batchSize) * diffusion.samplingSteps,
        evalUnits,
        evalFlops: forward * evalUnits,
        // Float32 coordinates of the synthetic conformers, and the model.
        diskBytes: p.drawn * atoms * 3 * 4 + 4 * n,
      };
    });
    const perConformer = atoms * atoms * model.hidden * model.layers; // the message tensors dominate
    return {
      parameters: n,
      units: { train: "conformers", sample: "conformers", eval: "conformers" },
      fits,
      memory: {
        peakBytes: 3 * 4 * (n * (2 + OPTIMIZER_BYTES_PER_PARAMETER / 4) + train.batchSize * 6 * perConformer) + 1e9,
        basis: "§3.2 memory: tensor sizes × 3 + 1 GB (an estimate, not measured)",
      },
      checkpointBytes: 4 * n * 3 + 1e6,
      assumptions: parseMoleculeDataSpec(c.data).kind === "embedded" ? [] : [`§3.2: molecules of ${atoms} heavy atoms on average where the data are not at hand (ours)`],
    };
  },

  async calibrate(c, opts): Promise<Rates> {
    const { model, diffusion, train, evaluation } = checked(c);
    const rng = Rng.derive(0, "plan", "molecules");
    const params = initEgnn(model, rng.fork("init"));
    // The embedded sets ship (or are cached): time on them. Elsewhere, chains of the assumed size packed within the radius.
    let setup = 0;
    let set: ConformationSet;
    const real = parseMoleculeDataSpec(c.data).kind === "embedded";
    if (real) {
      const t0 = performance.now();
      set = (await loadMoleculeData(c)).train;
      setup = (performance.now() - t0) / 1000;
    } else {
      const atoms = meanAtoms(c);
      const molecule: MoleculeGraph = {
        smiles: "C".repeat(atoms),
        atomicNumbers: new Uint8Array(atoms).fill(6),
        bonds: Int32Array.from({ length: 2 * (atoms - 1) }, (_, k) => (k >> 1) + (k & 1)),
        bondOrders: new Uint8Array(atoms - 1).fill(1),
      };
      set = { molecules: [molecule], conformers: Array.from({ length: 64 }, () => ({ molecule: 0, xyz: Float32Array.from({ length: 3 * atoms }, () => 4 * (rng.uniform() - 0.5)) })) };
    }
    const fitOf = async (steps: number) => {
      const t0 = performance.now();
      await trainDiffusion(model, diffusion, params, set, { ...train, epochs: 0, steps }, rng.fork("fit"));
      return (performance.now() - t0) / 1000;
    };
    try {
      // Real batches differ in atoms and edges, padded to a few shapes each compiled once: meet them all first.
      const { perStep, fitOverhead, k } = await timeSteps(fitOf, { warmUp: real ? 24 : 2, k: real ? 16 : 1, minSeconds: opts?.stepsOnly ? TIMED_SECONDS.besideLoad : TIMED_SECONDS.alone, signal: opts?.signal });
      if (opts?.stepsOnly) return stepsOnly(perStep, fitOverhead);
      const draws = evaluationDraws(set, diffusion, 1, evaluation.batchSize, rng.fork("draws"));
      evaluateDenoisingLoss(model, diffusion, params, draws);
      let t0 = performance.now();
      evaluateDenoisingLoss(model, diffusion, params, draws);
      const evalUnit = (performance.now() - t0) / 1000 / set.conformers.length;
      // Sampling: one batch through a few of its steps, scaled to the schedule's sampling steps.
      const molecules = Array.from({ length: Math.min(evaluation.batchSize, set.conformers.length) }, (_, i) => set.molecules[set.conformers[i].molecule]);
      const steps = Math.min(diffusion.samplingSteps, 5);
      const short_ = { ...diffusion, samplingSteps: steps };
      await sampleConformations(model, short_, params, molecules.slice(0, 2), evaluation.batchSize, rng.fork("warm-up"));
      t0 = performance.now();
      await sampleConformations(model, short_, params, molecules, evaluation.batchSize, rng.fork("sample"));
      const sampleUnit = ((performance.now() - t0) / 1000 / molecules.length) * (diffusion.samplingSteps / steps);
      return {
        trainStep: perStep,
        sampleUnit,
        evalUnit,
        setup,
        fitOverhead,
        basis: `§3.2 timing: fits of ${k} and ${2 * k} steps of ${train.batchSize} conformers, ${set.conformers.length} evaluated, ${molecules.length} sampled through ${steps} of ${diffusion.samplingSteps} steps`,
      };
    } finally {
      disposeParams(params);
    }
  },
};

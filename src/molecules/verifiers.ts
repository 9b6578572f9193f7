import type { FitCompute } from "../collapse/modality";
import type { EgnnConfig } from "./egnn";
import { egnnForwardMacs } from "./plan";
import type { ConformationSet, MoleculeGraph } from "./types";

// Curation's verifier for generated conformations (LoopConfig.curation) and the training work of one fit.

/**
 * How far (Å) a bond may be from the real mean length of its kind and still count as plausible (ours:
 * real heavy-atom bonds of one kind spread by a few hundredths of an ångström, while the gap between
 * kinds, e.g. C–C single 1.53 Å against aromatic 1.39 Å, is over a tenth).
 */
export const BOND_LENGTH_TOLERANCE = 0.1;

/** A bond's kind: its two elements (in either order) and its order. */
function bondKind(m: MoleculeGraph, k: number): string {
  const a = m.atomicNumbers[m.bonds[2 * k]];
  const b = m.atomicNumbers[m.bonds[2 * k + 1]];
  return `${Math.min(a, b)}-${Math.max(a, b)}:${m.bondOrders[k]}`;
}

function bondLength(xyz: Float32Array, i: number, j: number): number {
  const dx = xyz[3 * i] - xyz[3 * j];
  const dy = xyz[3 * i + 1] - xyz[3 * j + 1];
  const dz = xyz[3 * i + 2] - xyz[3 * j + 2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/**
 * Mean length of every kind of bond (elements and order) over the conformers of a real set. The bond
 * order is part of the kind because one pair of elements has several lengths (C–C single, aromatic,
 * double), each far narrower than the gaps between them.
 */
export function meanBondLengths(set: ConformationSet): Map<string, number> {
  const sums = new Map<string, { total: number; count: number }>();
  for (const c of set.conformers) {
    const m = set.molecules[c.molecule];
    for (let k = 0; k < m.bondOrders.length; k++) {
      const kind = bondKind(m, k);
      const s = sums.get(kind) ?? { total: 0, count: 0 };
      s.total += bondLength(c.xyz, m.bonds[2 * k], m.bonds[2 * k + 1]);
      s.count++;
      sums.set(kind, s);
    }
  }
  return new Map(Array.from(sums, ([kind, s]) => [kind, s.total / s.count]));
}

/**
 * Per conformer, the share of its bonds whose length is within `tolerance` of the real mean of their
 * kind. Bonds of a kind the real set never has are not judged; a conformer with no judged bond scores 1
 * (nothing in it is implausible by this measure).
 */
export function bondLengthScores(set: ConformationSet, reference: ReadonlyMap<string, number>, tolerance = BOND_LENGTH_TOLERANCE): Float64Array {
  return Float64Array.from(set.conformers, (c) => {
    const m = set.molecules[c.molecule];
    let judged = 0;
    let within = 0;
    for (let k = 0; k < m.bondOrders.length; k++) {
      const mean = reference.get(bondKind(m, k));
      if (mean === undefined) continue;
      judged++;
      if (Math.abs(bondLength(c.xyz, m.bonds[2 * k], m.bonds[2 * k + 1]) - mean) <= tolerance) within++;
    }
    return judged === 0 ? 1 : within / judged;
  });
}

/**
 * The training work of one diffusion fit on the union of `sets` over `steps` steps of `batchSize`
 * conformers (every step takes min(batchSize, set size), see trainDiffusion): examples are the
 * conformers noised and denoised, FLOPs 3× the forward pass's of the average conformer (2 per
 * multiply-add; a backward pass is about twice a forward one), with plan.ts' count of a forward pass
 * (every pair of atoms an edge). The sets are read as they are, not merged as the fit merges them.
 */
export function moleculeFitCompute(model: EgnnConfig, sets: readonly ConformationSet[], steps: number, batchSize: number): FitCompute {
  const n = sets.reduce((s, set) => s + set.conformers.length, 0);
  if (n === 0) return { examples: 0, flops: 0 };
  const examples = steps * Math.min(batchSize, n);
  const totalMacs = sets.reduce((s, set) => set.conformers.reduce((t, c) => t + egnnForwardMacs(model, set.molecules[c.molecule].atomicNumbers.length), s), 0);
  return { examples, flops: 3 * 2 * (totalMacs / n) * examples };
}

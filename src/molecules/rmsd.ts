import { Matrix, SingularValueDecomposition, determinant } from "ml-matrix";

/**
 * Rigid alignment and the conformation-generation metrics of GeoDiff's evaluation (recall versions):
 * - RMSD after the optimal superposition (Kabsch: centre both, rotate by the SVD of their covariance);
 * - COV-R(δ): the fraction of reference conformers that some generated conformer matches within δ Å;
 * - MAT-R: the mean, over reference conformers, of the RMSD to the closest generated conformer.
 * Atoms are compared in their stored order: no symmetry-equivalent atom permutations are searched
 * (RDKit's GetBestRMS does that), so symmetric groups can only raise the RMSD.
 */

/** The centroid of flattened xyz coordinates. */
export function centroid(xyz: ArrayLike<number>): [number, number, number] {
  const n = xyz.length / 3;
  let x = 0;
  let y = 0;
  let z = 0;
  for (let i = 0; i < n; i++) {
    x += xyz[3 * i];
    y += xyz[3 * i + 1];
    z += xyz[3 * i + 2];
  }
  return [x / n, y / n, z / n];
}

/** A copy of `xyz` with its centroid at the origin (Float64). */
export function centered(xyz: ArrayLike<number>): Float64Array {
  const [cx, cy, cz] = centroid(xyz);
  const out = new Float64Array(xyz.length);
  for (let i = 0; i < xyz.length; i += 3) {
    out[i] = xyz[i] - cx;
    out[i + 1] = xyz[i + 1] - cy;
    out[i + 2] = xyz[i + 2] - cz;
  }
  return out;
}

/**
 * The proper rotation R (row-major 3×3) minimising Σ‖R·p_i − q_i‖² for centred p, q (Kabsch; a
 * reflection is excluded by flipping the sign of the smallest singular direction).
 */
export function kabschRotation(p: Float64Array, q: Float64Array): number[][] {
  const h = new Matrix(3, 3);
  for (let i = 0; i < p.length; i += 3) {
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) h.set(a, b, h.get(a, b) + p[i + a] * q[i + b]);
  }
  const svd = new SingularValueDecomposition(h, { computeLeftSingularVectors: true, computeRightSingularVectors: true, autoTranspose: false });
  const u = svd.leftSingularVectors;
  const v = svd.rightSingularVectors;
  const d = determinant(v.mmul(u.transpose())) < 0 ? -1 : 1;
  const dm = Matrix.diag([1, 1, d]);
  return v.mmul(dm).mmul(u.transpose()).to2DArray();
}

/** RMSD (Å) between two conformations of the same atoms after optimal translation and rotation. */
export function alignedRmsd(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length % 3 !== 0 || a.length === 0) throw new RangeError(`alignedRmsd: coordinate arrays of length ${a.length} and ${b.length}`);
  const p = centered(a);
  const q = centered(b);
  const r = kabschRotation(p, q);
  let s = 0;
  for (let i = 0; i < p.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      const rp = r[k][0] * p[i] + r[k][1] * p[i + 1] + r[k][2] * p[i + 2];
      const diff = rp - q[i + k];
      s += diff * diff;
    }
  }
  return Math.sqrt(s / (p.length / 3));
}

/** Plain RMSD without alignment. */
export function rawRmsd(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`rawRmsd: coordinate arrays of length ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s / (a.length / 3));
}

/** aligned RMSD of every (reference r, generated g) pair: matrix[r][g]. */
export function rmsdMatrix(references: readonly ArrayLike<number>[], generated: readonly ArrayLike<number>[]): number[][] {
  return references.map((r) => generated.map((g) => alignedRmsd(r, g)));
}

export interface CoverageResult {
  /** COV-R: fraction of references matched within δ by some generated conformer. */
  coverage: number;
  /** MAT-R: mean over references of the best RMSD (Å). */
  matching: number;
}

/** COV-R and MAT-R of one molecule's generated conformers against its reference conformers. */
export function coverageAndMatching(references: readonly ArrayLike<number>[], generated: readonly ArrayLike<number>[], threshold: number): CoverageResult {
  if (references.length === 0 || generated.length === 0) throw new RangeError("coverageAndMatching needs at least one reference and one generated conformer");
  const m = rmsdMatrix(references, generated);
  let covered = 0;
  let total = 0;
  for (const row of m) {
    const best = Math.min(...row);
    if (best < threshold) covered++;
    total += best;
  }
  return { coverage: covered / references.length, matching: total / references.length };
}

/** The GEOM-Drugs threshold of GeoDiff's COV (Å); QM9 uses 0.5. */
export const DRUGS_COVERAGE_THRESHOLD = 1.25;
export const QM9_COVERAGE_THRESHOLD = 0.5;

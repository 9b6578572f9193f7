import { EigenvalueDecomposition, Matrix } from "ml-matrix";

/**
 * Sample-quality metrics on feature vectors (rows of an n × d matrix, row-major Float64Array or
 * Float32Array). The features come from whatever embedding the caller chooses; in this kit, the
 * penultimate layer of the small attribute classifier (see classifier.ts). The Fréchet distance on
 * those features is therefore NOT the Inception FID of the literature: its values are comparable only
 * with each other, under the same classifier.
 */

export interface FeatureStats {
  dim: number;
  n: number;
  mean: Float64Array;
  /** d × d covariance (divided by n − 1), row-major. */
  cov: Float64Array;
}

export function featureStats(features: ArrayLike<number>, n: number, dim: number): FeatureStats {
  if (features.length !== n * dim) throw new RangeError(`featureStats: ${features.length} values for ${n} × ${dim}`);
  if (n < 2) throw new RangeError("featureStats: needs at least 2 rows for a covariance");
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += features[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const cov = new Float64Array(dim * dim);
  const centered = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) centered[j] = features[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ca = centered[a];
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ca * centered[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      cov[a * dim + b] /= n - 1;
      cov[b * dim + a] = cov[a * dim + b];
    }
  }
  return { dim, n, mean, cov };
}

/** A row-major d × d array as an ml-matrix Matrix. */
export function toMatrix(values: ArrayLike<number>, d: number): Matrix {
  return new Matrix(Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => values[i * d + j])));
}

/** The symmetric PSD square root of a symmetric matrix (negative eigenvalues from rounding clipped to 0). */
function sqrtSymmetric(m: Matrix): Matrix {
  const eig = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const v = eig.eigenvectorMatrix;
  const roots = eig.realEigenvalues.map((l) => Math.sqrt(Math.max(0, l)));
  return v.mmul(Matrix.diag(roots)).mmul(v.transpose());
}

/**
 * The Fréchet distance between N(m1, C1) and N(m2, C2), i.e. the squared 2-Wasserstein distance:
 * ‖m1 − m2‖² + tr(C1 + C2 − 2 (C1^½ C2 C1^½)^½). The inner product C1^½ C2 C1^½ is symmetric, so
 * both square roots come from symmetric eigendecompositions (no complex parts to discard).
 */
export function frechetDistance(a: Pick<FeatureStats, "dim" | "mean" | "cov">, b: Pick<FeatureStats, "dim" | "mean" | "cov">): number {
  const d = a.dim;
  if (b.dim !== d) throw new RangeError(`frechetDistance: dimensions ${a.dim} and ${b.dim}`);
  let meanTerm = 0;
  for (let j = 0; j < d; j++) meanTerm += (a.mean[j] - b.mean[j]) ** 2;
  const c1 = toMatrix(a.cov, d);
  const c2 = toMatrix(b.cov, d);
  const r1 = sqrtSymmetric(c1);
  const inner = r1.mmul(c2).mmul(r1);
  const symmetric = inner.add(inner.transpose()).mul(0.5);
  const crossTrace = new EigenvalueDecomposition(symmetric, { assumeSymmetric: true }).realEigenvalues.reduce((s, l) => s + Math.sqrt(Math.max(0, l)), 0);
  return Math.max(0, meanTerm + c1.trace() + c2.trace() - 2 * crossTrace);
}

/** Squared Euclidean distances between every row of a (na × d) and every row of b (nb × d), row-major na × nb. */
function squaredDistances(a: ArrayLike<number>, na: number, b: ArrayLike<number>, nb: number, d: number): Float64Array {
  const out = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = a[i * d + k] - b[j * d + k];
        s += t * t;
      }
      out[i * nb + j] = s;
    }
  }
  return out;
}

/** Squared distance of each row to its k-th nearest other row of the same set. */
function kthNeighbourRadii(x: ArrayLike<number>, n: number, d: number, k: number): Float64Array {
  const dist = squaredDistances(x, n, x, n, d);
  const radii = new Float64Array(n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    row.set(dist.subarray(i * n, (i + 1) * n));
    row[i] = Infinity; // not its own neighbour
    row.sort();
    radii[i] = row[k - 1];
  }
  return radii;
}

/** Share of the rows of `query` that fall inside at least one ball (centre = row of `ref`, squared radius). */
function coverage(query: ArrayLike<number>, nq: number, ref: ArrayLike<number>, nr: number, radii: Float64Array, d: number): number {
  const dist = squaredDistances(query, nq, ref, nr, d);
  let inside = 0;
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nr; j++) {
      if (dist[i * nr + j] <= radii[j]) {
        inside++;
        break;
      }
    }
  }
  return inside / nq;
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls
 * around its points reaching to their k-th nearest neighbour. Precision is the share of generated
 * points inside the real manifold (quality), recall the share of real points inside the generated
 * manifold (diversity: a collapsed model covers few real points). O(n²·d): meant for a few thousand rows.
 */
export function precisionRecall(real: ArrayLike<number>, nReal: number, fake: ArrayLike<number>, nFake: number, dim: number, k = 3): { precision: number; recall: number } {
  if (nReal <= k || nFake <= k) throw new RangeError(`precisionRecall: needs more than k = ${k} points in each set (got ${nReal} real, ${nFake} generated)`);
  const realRadii = kthNeighbourRadii(real, nReal, dim, k);
  const fakeRadii = kthNeighbourRadii(fake, nFake, dim, k);
  return {
    precision: coverage(fake, nFake, real, nReal, realRadii, dim),
    recall: coverage(real, nReal, fake, nFake, fakeRadii, dim),
  };
}

import * as tf from "@tensorflow/tfjs";
import { GATHER_ROWS } from "../backend/portableKernels";

/**
 * Row gather and segment sum for message passing, with gradients that are each other.
 *
 * tf.gather on the wasm backend copies element by element (about 10 ms for 6,500 rows of 32 floats,
 * eight times a matMul of the same rows), and the gradient tfjs defines for unsortedSegmentSum adds a
 * gather, a logicalAnd and a select. A message-passing step does both on every edge, so on cpu and wasm
 * the gather is one plain row-copy kernel (backend/portableKernels, registered when the backend is
 * selected) and the two ops are paired with tf.customGrad: d gatherRows = segmentSum, d segmentSum =
 * gatherRows.
 */

/** x[indices] along the first axis (float32 x, int32 indices), differentiable in x. */
export function gatherRows(x: tf.Tensor, indices: tf.Tensor1D): tf.Tensor {
  const rows = x.shape[0];
  const backend = tf.getBackend();
  const fast = backend === "cpu" || backend === "wasm";
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    const value = fast ? (tf.engine().runKernel(GATHER_ROWS, { x: input, indices }, {}) as tf.Tensor) : tf.gather(input, indices);
    return { value, gradFunc: (dy: tf.Tensor) => tf.unsortedSegmentSum(dy, indices, rows) };
  });
  return f(x);
}

/** Sum of the rows of x [E, ...] into `segments` rows by segment id (int32 [E]), differentiable in x. */
export function segmentSum(x: tf.Tensor, ids: tf.Tensor1D, segments: number): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.unsortedSegmentSum(input, ids, segments), gradFunc: (dy: tf.Tensor) => gatherRows(dy, ids) };
  });
  return f(x);
}

import * as tf from "@tensorflow/tfjs";
import { installKernels } from "../backend";

/**
 * Row gather and segment sum for message passing, with gradients that are each other.
 *
 * tf.gather on the wasm backend copies element by element (about 10 ms for 6,500 rows of 32 floats,
 * eight times a matMul of the same rows), and the gradient tfjs defines for unsortedSegmentSum adds a
 * gather, a logicalAnd and a select. A message-passing step does both on every edge, so this module
 * registers one plain row-copy kernel ("CollapseGatherRows", cpu and wasm) and pairs the two ops with
 * tf.customGrad: d gatherRows = segmentSum, d segmentSum = gatherRows.
 */

const GATHER_ROWS = "CollapseGatherRows";

type TypedArray = Float32Array | Int32Array | Uint8Array;

interface RawBackend {
  readSync(dataId: object): TypedArray;
  makeOutput?(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: TypedArray): tf.TensorInfo;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: TypedArray): tf.TensorInfo;
}

function gatherRowsKernel(backendName: "cpu" | "wasm"): tf.KernelConfig {
  return {
    kernelName: GATHER_ROWS,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { x, indices } = inputs as unknown as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const b = backend as unknown as RawBackend;
      const xv = b.readSync(x.dataId) as Float32Array;
      const ids = b.readSync(indices.dataId) as Int32Array;
      const rows = x.shape[0];
      const width = x.shape.slice(1).reduce((p, q) => p * q, 1);
      const out = new Float32Array(ids.length * width);
      for (let k = 0; k < ids.length; k++) {
        const i = ids[k];
        if (i < 0 || i >= rows) throw new RangeError(`gatherRows: index ${i} out of range [0, ${rows})`);
        out.set(xv.subarray(i * width, (i + 1) * width), k * width);
      }
      const shape = [ids.length, ...x.shape.slice(1)];
      return backendName === "wasm" ? b.makeOutput!(shape, "float32", undefined, out) : b.makeTensorInfo!(shape, "float32", out);
    },
  };
}

function ensureKernel(): void {
  installKernels();
  const name = tf.getBackend();
  if (name !== "cpu" && name !== "wasm") return;
  if (!tf.getKernel(GATHER_ROWS, name)) tf.registerKernel(gatherRowsKernel(name));
}

/** x[indices] along the first axis (float32 x, int32 indices), differentiable in x. */
export function gatherRows(x: tf.Tensor, indices: tf.Tensor1D): tf.Tensor {
  ensureKernel();
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
  installKernels();
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: tf.unsortedSegmentSum(input, ids, segments), gradFunc: (dy: tf.Tensor) => gatherRows(dy, ids) };
  });
  return f(x);
}

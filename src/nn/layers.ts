import * as tf from "@tensorflow/tfjs";

/** Layers more than one model uses: pure tfjs math over explicit tensors. */

/**
 * x [..., in] @ w [in, out] (+ bias [out]), with as few ops as the backend allows (see `affine`): on
 * the native backend every op costs a dispatch from JS, more than the arithmetic at the quick sizes.
 */
export function linear(x: tf.Tensor, w: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1];
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : x.reshape([-1, inDim]);
  const y = affine(flat as tf.Tensor2D, w as tf.Tensor2D, bias);
  return x.rank === 2 ? y : y.reshape([...x.shape.slice(0, -1), w.shape[1]!]);
}

/** SiLU (swish), x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * a · b (either transposed), for operands of any rank ≥ 2 with broadcast batch dimensions. On the
 * tensorflow backend this is one BatchMatMulV2 call: tfjs's matMul op reshapes both operands to rank 3
 * and the result back (three extra ops per product, each a round trip into libtensorflow), which
 * BatchMatMulV2 does not need. Its gradient is tfjs's own (BatchMatMul's). Elsewhere: tf.matMul.
 */
export function matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (tf.getBackend() !== "tensorflow") return tf.matMul(a, b, transposeA, transposeB);
  return tf.engine().runKernel("BatchMatMul", { a, b } as unknown as tf.NamedTensorMap, { transposeA, transposeB }) as tf.Tensor;
}

/**
 * x [N, in] · w [in, out] + bias [out]: one BatchMatMulV2 and one Add on tensorflow (whose _FusedMatMul
 * kernel is those two plus the reshapes), tfjs's fused matmul elsewhere (one XNNPACK call on wasm).
 */
export function affine(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor2D {
  if (tf.getBackend() === "tensorflow") {
    const y = matMul(x, w) as tf.Tensor2D;
    return bias ? (tf.add(y, bias) as tf.Tensor2D) : y;
  }
  return (bias ? tf.fused.matMul({ a: x, b: w, bias }) : tf.matMul(x, w)) as tf.Tensor2D;
}

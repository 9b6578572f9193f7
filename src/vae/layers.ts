import * as tf from "@tensorflow/tfjs";

/**
 * Convolutions for the image models (VAE, attribute classifier), NHWC activations and [k, k, in, out]
 * filters, "same"-size padding of (k-1)/2 on every side (PyTorch's `padding=1` for 3×3 kernels).
 *
 * Why not plain `tf.conv2d`: its filter gradient (Conv2DBackpropFilter) has no wasm kernel and the cpu
 * kernel it falls back to is a naive loop, seconds per step for a 16→32-channel layer. On wasm and cpu
 * we therefore take that gradient as one matrix product, im2col(x)ᵀ · dy, with the im2col matrix
 * built on the host (a cheap copy) and the product run by XNNPACK. The input gradient
 * (Conv2DBackpropInput, a naive loop on wasm too) becomes a forward convolution, which XNNPACK runs.
 * Native backends keep their own kernels.
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, stride: 1 | 2, opts: { inputGrad?: boolean } = {}): tf.Tensor4D {
  const k = w.shape[0];
  if (k !== w.shape[1] || k % 2 !== 1) throw new RangeError(`conv2d: filters must be square with an odd size, got [${w.shape}]`);
  const pad = (k - 1) / 2;
  const backend = tf.getBackend();
  // Native backends take only "same"/"valid" padding, and TensorFlow's "same" pads a stride-2 layer
  // on the bottom/right only: pad explicitly to keep PyTorch's symmetric geometry on every backend.
  if (backend !== "wasm" && backend !== "cpu") return tf.conv2d(pad === 0 ? x : tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), w, stride, "valid");
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, stride, pad),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dy4 = dy as tf.Tensor4D;
        // The first layer's input is data: skip its gradient (the largest of the network's).
        const dx = opts.inputGrad === false ? tf.zerosLike(xs) : convInputGrad(dy4, ws, xs.shape, stride, pad);
        const [, ho, wo, out] = dy4.shape;
        const cols = im2colTransposed(xs.dataSync() as Float32Array, xs.shape, k, stride, pad, ho, wo);
        const rows = k * k * xs.shape[3];
        const dw = tf.matMul(tf.tensor2d(cols, [rows, cols.length / rows]), dy4.reshape([-1, out])).reshape(ws.shape);
        return [dx, dw];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/**
 * The gradient of conv2d(x, w, stride, pad) with respect to x, as a stride-1 forward convolution: dy is
 * spread onto the input grid (stride − 1 zeros between values), padded, and correlated with the
 * spatially flipped filter whose in/out channels are swapped.
 */
export function convInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: readonly number[], stride: number, pad: number): tf.Tensor4D {
  const [b, ho, wo, out] = dy.shape;
  const [, h, wd] = xShape;
  const k = w.shape[0];
  let spread: tf.Tensor4D = dy;
  if (stride > 1) {
    const s = stride - 1;
    spread = tf.pad(dy.reshape([b, ho, 1, wo, 1, out]), [[0, 0], [0, 0], [0, s], [0, 0], [0, s], [0, 0]]).reshape([b, ho * stride, wo * stride, out]) as tf.Tensor4D;
  }
  const before = k - 1 - pad;
  const afterH = h + k - 1 - spread.shape[1] - before;
  const afterW = wd + k - 1 - spread.shape[2] - before;
  if (afterH < 0 || afterW < 0) throw new RangeError(`convInputGrad: unsupported geometry (input ${h}×${wd}, output ${ho}×${wo}, stride ${stride})`);
  const padded = tf.pad(spread, [[0, 0], [before, afterH], [before, afterW], [0, 0]]);
  return tf.conv2d(padded, flipFilter(w), 1, "valid");
}

/** w[k−1−ky, k−1−kx, o, c] for w [k, k, c, o], computed on the host (tiny, and Reverse is slow on wasm). */
function flipFilter(w: tf.Tensor4D): tf.Tensor4D {
  const [k, , c, o] = w.shape;
  const src = w.dataSync() as Float32Array;
  const out = new Float32Array(src.length);
  for (let ky = 0; ky < k; ky++)
    for (let kx = 0; kx < k; kx++)
      for (let ci = 0; ci < c; ci++)
        for (let oi = 0; oi < o; oi++) out[(((k - 1 - ky) * k + (k - 1 - kx)) * o + oi) * c + ci] = src[((ky * k + kx) * c + ci) * o + oi];
  return tf.tensor4d(out, [k, k, o, c]);
}

/**
 * The transposed im2col matrix of x [B, H, W, C]: row (ky·k + kx)·C + c, column (b·ho + i)·wo + j holds
 * x[b, stride·i + ky − pad, stride·j + kx − pad, c] (0 outside the image).
 */
export function im2colTransposed(x: Float32Array, shape: readonly number[], k: number, stride: number, pad: number, ho: number, wo: number): Float32Array {
  const [b, h, w, c] = shape;
  const n = b * ho * wo;
  const out = new Float32Array(k * k * c * n);
  for (let ky = 0; ky < k; ky++) {
    for (let kx = 0; kx < k; kx++) {
      const base = (ky * k + kx) * c;
      for (let bi = 0; bi < b; bi++) {
        for (let i = 0; i < ho; i++) {
          const y = stride * i + ky - pad;
          if (y < 0 || y >= h) continue;
          for (let j = 0; j < wo; j++) {
            const xx = stride * j + kx - pad;
            if (xx < 0 || xx >= w) continue;
            const src = ((bi * h + y) * w + xx) * c;
            const col = (bi * ho + i) * wo + j;
            for (let ci = 0; ci < c; ci++) out[(base + ci) * n + col] = x[src + ci];
          }
        }
      }
    }
  }
  return out;
}

/**
 * Doubles the spatial size: a stride-1 convolution to 4·out channels whose groups of four become
 * 2×2 pixel blocks (sub-pixel convolution, Shi et al. 2016). It can represent any stride-2
 * transposed convolution and, unlike one, needs no filter gradient of a strided op.
 */
export function upsampleConv(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const [b, h, wd] = x.shape;
  const out = w.shape[3] / 4;
  if (!Number.isInteger(out)) throw new RangeError(`upsampleConv: filter output channels ${w.shape[3]} are not a multiple of 4`);
  const y = conv2d(x, w, 1);
  return y.reshape([b, h, wd, 2, 2, out]).transpose([0, 1, 3, 2, 4, 5]).reshape([b, 2 * h, 2 * wd, out]) as tf.Tensor4D;
}

/** x [N, in] @ w [in, out] + bias [out]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  return tf.add(tf.matMul(x, w as tf.Tensor2D), bias);
}

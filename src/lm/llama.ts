import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random";
import { type CachedAttention, attendLayer, embed, mergeHeads, rmsNorm, splitHeads } from "./layers";
import type { ForwardResult, LmConfig } from "./types";
import { linear, silu } from "../nn/layers";
import { materialize, normal, ones, type ParamSpec } from "../nn/params";
import type { Params } from "../nn/params";

/**
 * Llama 2 (Touvron et al. 2023) as in HF `LlamaForCausalLM` / llama2.c: token embedding, pre-RMSNorm
 * blocks with rotary position embeddings (RoPE, HF's rotate-half layout) in multi-head attention and a
 * SwiGLU MLP, a final RMSNorm, no biases, and an untied output head (HF Llama's default
 * `tie_word_embeddings=false`; the paper's 12M/42M/126M counts are reproduced exactly only untied).
 *
 * Parameters ([in, out] weight layout):
 *   wte [V, d]
 *   blocks.i.attn_norm.weight [d]; blocks.i.attn.{wq,wk,wv,wo} [d, d]
 *   blocks.i.mlp_norm.weight [d]; blocks.i.mlp.w1 (gate) [d, h], .w3 (up) [d, h], .w2 (down) [h, d]
 *   norm.weight [d]; lm_head [d, V]
 */

export function llamaSpecs(c: LmConfig): Record<string, ParamSpec> {
  const d = c.dModel;
  const h = c.dHidden;
  const resid = normal(0.02 / Math.sqrt(2 * c.nLayers));
  const specs: Record<string, ParamSpec> = {
    wte: { shape: [c.vocabSize, d], init: normal() },
    "norm.weight": { shape: [d], init: ones },
    lm_head: { shape: [d, c.vocabSize], init: normal() },
  };
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blocks.${i}.`;
    specs[p + "attn_norm.weight"] = { shape: [d], init: ones };
    specs[p + "attn.wq"] = { shape: [d, d], init: normal() };
    specs[p + "attn.wk"] = { shape: [d, d], init: normal() };
    specs[p + "attn.wv"] = { shape: [d, d], init: normal() };
    specs[p + "attn.wo"] = { shape: [d, d], init: resid };
    specs[p + "mlp_norm.weight"] = { shape: [d], init: ones };
    specs[p + "mlp.w1"] = { shape: [d, h], init: normal() };
    specs[p + "mlp.w3"] = { shape: [d, h], init: normal() };
    specs[p + "mlp.w2"] = { shape: [h, d], init: resid };
  }
  return specs;
}

/** 2·V·d + L·(4d² + 3d·h + 2d) + d. */
export function llamaParameterCount(c: LmConfig): number {
  const d = c.dModel;
  const h = c.dHidden;
  return 2 * c.vocabSize * d + c.nLayers * (4 * d * d + 3 * d * h + 2 * d) + d;
}

export function llamaInit(c: LmConfig, rng: Rng): Params {
  return materialize(llamaSpecs(c), rng);
}

/**
 * RoPE tables for positions start..start+t-1: cos and sin of p·θ^(-2j/hd), each [t, hd] with the
 * hd/2 frequencies repeated in both halves (rotate-half layout). Computed on the CPU in float64.
 */
export function ropeTables(headDim: number, theta: number, start: number, t: number): [tf.Tensor2D, tf.Tensor2D] {
  const half = headDim / 2;
  const cos = new Float32Array(t * headDim);
  const sin = new Float32Array(t * headDim);
  for (let p = 0; p < t; p++) {
    for (let j = 0; j < half; j++) {
      const angle = (start + p) * Math.pow(theta, (-2 * j) / headDim);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + j] = cos[p * headDim + j + half] = c;
      sin[p * headDim + j] = sin[p * headDim + j + half] = s;
    }
  }
  return [tf.tensor2d(cos, [t, headDim]), tf.tensor2d(sin, [t, headDim])];
}

/** x·cos + rotate_half(x)·sin, rotate_half([x1, x2]) = [-x2, x1]; x [B, H, T, hd]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const half = x.shape[3] / 2;
  const [x1, x2] = tf.split(x, [half, half], 3);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
}

/**
 * tokens [B, T] int32 → logits [B, T, V]. With `kv`, the T tokens come after the cached ones (their
 * RoPE tables come with the cache step): see gpt2Forward.
 */
export function llamaForward(c: LmConfig, params: Params, tokens: tf.Tensor2D, kv: CachedAttention | null = null): ForwardResult {
  const t = tokens.shape[1];
  const hd = c.dModel / c.nHeads;
  const [cos, sin] = kv ? kv.step.rope! : ropeTables(hd, c.ropeTheta ?? 10000, 0, t);
  let x: tf.Tensor = embed(params.wte, tokens);
  const written = { keys: [] as tf.Tensor4D[], values: [] as tf.Tensor4D[] };
  for (let i = 0; i < c.nLayers; i++) {
    const p = (n: string) => params[`blocks.${i}.${n}`];
    const a = rmsNorm(x, p("attn_norm.weight"), c.normEps);
    const q = applyRope(splitHeads(linear(a, p("attn.wq")), c.nHeads), cos, sin);
    const k = applyRope(splitHeads(linear(a, p("attn.wk")), c.nHeads), cos, sin);
    const v = splitHeads(linear(a, p("attn.wv")), c.nHeads);
    const heads = attendLayer(q, k, v, i, kv, written);
    x = tf.add(x, linear(mergeHeads(heads), p("attn.wo")));
    const m = rmsNorm(x, p("mlp_norm.weight"), c.normEps);
    const gated = tf.mul(silu(linear(m, p("mlp.w1"))), linear(m, p("mlp.w3")));
    x = tf.add(x, linear(gated, p("mlp.w2")));
  }
  const f = rmsNorm(x, params["norm.weight"], c.normEps);
  return { logits: linear(f, params.lm_head) as tf.Tensor3D, ...written };
}

import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../random";
import { type CachedAttention, attendLayer, embed, gelu, layerNorm, mergeHeads, splitHeads } from "./layers";
import type { ForwardResult, LmConfig } from "./types";
import { linear } from "../nn/layers";
import { materialize, normal, ones, zeros, type ParamSpec } from "../nn/params";
import type { Params } from "../nn/params";

/**
 * GPT-2 (Radford et al. 2019), nanoGPT style: learned token and position embeddings, pre-LayerNorm
 * blocks (causal self-attention, GELU MLP), a final LayerNorm, biases everywhere, and the output head
 * tied to the token embedding (logits = h · wteᵀ).
 *
 * Parameters ([in, out] weight layout):
 *   wte [V, d], wpe [P, d]
 *   blocks.i.ln1.{weight,bias} [d]; blocks.i.attn.qkv.weight [d, 3d], .bias [3d];
 *   blocks.i.attn.proj.weight [d, d], .bias [d]; blocks.i.ln2.{weight,bias} [d];
 *   blocks.i.mlp.fc.weight [d, h], .bias [h]; blocks.i.mlp.proj.weight [h, d], .bias [d]
 *   lnf.{weight,bias} [d]
 */

export function gpt2Specs(c: LmConfig): Record<string, ParamSpec> {
  const d = c.dModel;
  const h = c.dHidden;
  // GPT-2 init: N(0, 0.02); projections into the residual stream scaled by 1/√(2·nLayers); positions
  // N(0, positionInitStd ?? 0.02).
  const resid = normal(0.02 / Math.sqrt(2 * c.nLayers));
  const specs: Record<string, ParamSpec> = {
    wte: { shape: [c.vocabSize, d], init: normal() },
    wpe: { shape: [c.contextLength, d], init: c.positionInitStd === 0 ? zeros : normal(c.positionInitStd) },
    "lnf.weight": { shape: [d], init: ones },
    "lnf.bias": { shape: [d], init: zeros },
  };
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blocks.${i}.`;
    specs[p + "ln1.weight"] = { shape: [d], init: ones };
    specs[p + "ln1.bias"] = { shape: [d], init: zeros };
    specs[p + "attn.qkv.weight"] = { shape: [d, 3 * d], init: normal() };
    specs[p + "attn.qkv.bias"] = { shape: [3 * d], init: zeros };
    specs[p + "attn.proj.weight"] = { shape: [d, d], init: resid };
    specs[p + "attn.proj.bias"] = { shape: [d], init: zeros };
    specs[p + "ln2.weight"] = { shape: [d], init: ones };
    specs[p + "ln2.bias"] = { shape: [d], init: zeros };
    specs[p + "mlp.fc.weight"] = { shape: [d, h], init: normal() };
    specs[p + "mlp.fc.bias"] = { shape: [h], init: zeros };
    specs[p + "mlp.proj.weight"] = { shape: [h, d], init: resid };
    specs[p + "mlp.proj.bias"] = { shape: [d], init: zeros };
  }
  return specs;
}

/** V·d + P·d + L·(4d² + 2d·h + 9d + h) + 2d (the head is tied to wte). */
export function gpt2ParameterCount(c: LmConfig): number {
  const d = c.dModel;
  const h = c.dHidden;
  const perBlock = 4 * d * d + 2 * d * h + 9 * d + h;
  return c.vocabSize * d + c.contextLength * d + c.nLayers * perBlock + 2 * d;
}

export function gpt2Init(c: LmConfig, rng: Rng): Params {
  return materialize(gpt2Specs(c), rng);
}

/**
 * tokens [B, T] int32 → logits [B, T, V]. With `kv`, the T tokens come after the cached ones: their
 * keys and values are written into the cache tensors, and the updated ones are returned too. Pure
 * tfjs ops over explicit tensors (the caller tidies; `model.forward` is the tidy, stateful wrapper).
 */
export function gpt2Forward(c: LmConfig, params: Params, tokens: tf.Tensor2D, kv: CachedAttention | null = null): ForwardResult {
  const [b, t] = tokens.shape;
  const pos = kv ? tf.gather(params.wpe, kv.step.positions) : tf.slice(params.wpe, [0, 0], [t, c.dModel]);
  let x: tf.Tensor = tf.add(embed(params.wte, tokens), pos);
  const written = { keys: [] as tf.Tensor4D[], values: [] as tf.Tensor4D[] };
  for (let i = 0; i < c.nLayers; i++) {
    const p = (n: string) => params[`blocks.${i}.${n}`];
    // attention
    const a = layerNorm(x, p("ln1.weight"), p("ln1.bias"), c.normEps);
    // q, k, v from the fused [d, 3d] projection, split on the (small) weights rather than on the
    // activations: slicing/transposing [B, T, 3d] activations is slow on the portable backends.
    const w = tf.split(p("attn.qkv.weight"), 3, 1);
    const bias = tf.split(p("attn.qkv.bias"), 3, 0);
    const [q, k, v] = [0, 1, 2].map((j) => splitHeads(linear(a, w[j], bias[j]), c.nHeads));
    const heads = attendLayer(q, k, v, i, kv, written);
    x = tf.add(x, linear(mergeHeads(heads), p("attn.proj.weight"), p("attn.proj.bias")));
    // MLP
    const m = layerNorm(x, p("ln2.weight"), p("ln2.bias"), c.normEps);
    const hdn = gelu(linear(m, p("mlp.fc.weight"), p("mlp.fc.bias")));
    x = tf.add(x, linear(hdn, p("mlp.proj.weight"), p("mlp.proj.bias")));
  }
  const f = layerNorm(x, params["lnf.weight"], params["lnf.bias"], c.normEps);
  const logits = tf.matMul(f.reshape([b * t, c.dModel]), params.wte, false, true);
  return { logits: logits.reshape([b, t, c.vocabSize]) as tf.Tensor3D, ...written };
}

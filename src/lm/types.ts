import type * as tf from "@tensorflow/tfjs";

/**
 * Shared shapes of the language-model stack (§3.1). Models are plain functions over explicit, named
 * parameters (nanoGPT style): `initParams(config, rng)` builds them, `forward(config, params, tokens)`
 * runs them. No hidden global state; every random draw comes from an explicit `Rng`.
 */

export type Architecture = "gpt2" | "llama";

export interface LmConfig {
  /** A name such as "gpt2-9m", "llama2-42m", "gpt2-quick", "gpt2-smoke". */
  name: string;
  arch: Architecture;
  vocabSize: number;
  /** Maximum sequence length (positions for GPT-2, RoPE table for Llama). */
  contextLength: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Hidden width of the MLP (GPT-2: usually 4·dModel; Llama: the SwiGLU hidden size). */
  dHidden: number;
  /** LayerNorm / RMSNorm epsilon. */
  normEps: number;
  /** Llama only: RoPE base frequency. */
  ropeTheta?: number;
  /** GPT-2 only: standard deviation of the learned position embeddings at init (default 0.02). */
  positionInitStd?: number;
}


/**
 * Per-layer key/value cache for incremental decoding: keys[l], values[l] have shape
 * [batch, nHeads, capacity, headDim], of which the first `length` positions are filled (see
 * lm/layers `createCache`).
 */
export interface KVCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  /** Tokens already in the cache (the position of the next token). */
  length: number;
}

export interface ForwardOptions {
  /** Incremental decoding: attend over the cache plus the new tokens, then extend the cache. */
  cache?: KVCache;
}

/** What a model's forward pass computes: the logits and, with a cache, its layers' new keys and values. */
export interface ForwardResult {
  logits: tf.Tensor3D;
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
}

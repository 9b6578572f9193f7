import { ConfigError, checkInt, checkKnownKeys, checkNumber, checkOneOf, fieldNames } from "../errors";
import type { LmConfig } from "./types";

/**
 * Named model configurations.
 *
 * `paper`: the paper's models (§3.1) at a vocabulary of 8000 (ours: the paper states neither the
 * vocabulary nor the dimensions, only parameter counts); these dimensions reproduce the counts exactly:
 *   GPT-2 9M   d=256, 8 layers, 2048 positions, MLP 4d, tied head           8,890,880
 *   Llama 12M  d=256, 8 layers, SwiGLU hidden 1024, untied head            12,488,960
 *   Llama 42M  d=512, 8 layers, SwiGLU hidden 2048, untied head            41,755,136
 *   Llama 126M d=768, 12 layers, SwiGLU hidden 3072, untied head          125,553,408
 * (the GPT-2 one is the TinyStories-8M shape: 256 wide, 8 layers, 2048 positions). Head counts do not
 * change parameter counts and are not given in the paper: head size 32 for d=256, 64 otherwise.
 *
 * `quick`: small enough to learn a simple story corpus on a 2-core CPU in minutes. `smoke`: a few
 * training steps in seconds, for tests and CI.
 *
 * The quick and smoke GPT-2s start their position embeddings at zero. With d=64 and 100–150 optimizer
 * steps per fit, positions drawn at the token embeddings' scale (HF's N(0, 0.02)) swamp the token
 * signal for most of the fit: the test cross-entropy of a first gpt2-quick model after 2 epochs over 300
 * stories at batch 8 (the quick profile then) was
 * 4.96 nats/token at std 0.02, 4.55 at 0.01 (OpenAI's GPT-2 init), 3.92 at 0.005 and 3.88 at 0 (no
 * position embeddings at all: 3.77). The paper-size GPT-2 keeps HF's init, as the paper used it.
 */

const PAPER_VOCAB = 8000;

const CONFIGS: Record<string, LmConfig> = {
  "gpt2-9m": gpt2("gpt2-9m", PAPER_VOCAB, 2048, 256, 8, 8, 1024),
  "llama2-12m": llama("llama2-12m", PAPER_VOCAB, 2048, 256, 8, 8, 1024),
  "llama2-42m": llama("llama2-42m", PAPER_VOCAB, 2048, 512, 8, 8, 2048),
  "llama2-126m": llama("llama2-126m", PAPER_VOCAB, 2048, 768, 12, 12, 3072),
  // Sized by measurement (native backend, one thread, 300k real embedded tokens × 2 epochs at batch 8,
  // vocabulary 2048): llama2-quick reached 0.87 nats/token in ~19 s and writes stories that read as
  // English. A GPT-2 of the same width (gpt2-quick-s) reached only 1.28 in ~20 s, its stories falling
  // apart after a sentence or two: with tied embeddings and learned positions it has fewer parameters
  // to spend on the text. At width 96 (445k parameters, comparable to llama2-quick's 363k) it reached
  // 1.06 in ~27 s. Width 128 with 4 layers (1.1M parameters) trained ~3× slower a token.
  "gpt2-quick": { ...gpt2("gpt2-quick", 1024, 256, 96, 2, 4, 384), positionInitStd: 0 },
  "llama2-quick": llama("llama2-quick", 1024, 256, 64, 2, 4, 176),
  // The §3.1 appendix's GPT-2: ~20 sequences on 25k tokens each, where the narrower model keeps the
  // appendix within the quick budget.
  "gpt2-quick-s": { ...gpt2("gpt2-quick-s", 1024, 256, 64, 2, 4, 256), positionInitStd: 0 },
  // Narrower quick Llama-2s, so that Table 2 compares three sizes (~92k, 154k, 232k parameters) as the
  // paper compares 12M, 42M and 126M; they train at ~8.5k and ~7k tokens/s against llama2-quick's ~4.8k.
  "llama2-quick-s": llama("llama2-quick-s", 1024, 256, 32, 2, 2, 96),
  "llama2-quick-m": llama("llama2-quick-m", 1024, 256, 48, 2, 4, 128),
  "gpt2-smoke": { ...gpt2("gpt2-smoke", 512, 64, 32, 2, 2, 128), positionInitStd: 0 },
  "llama2-smoke": llama("llama2-smoke", 512, 64, 32, 2, 2, 96),
};

/** The paper's parameter counts (§3.1, Table 2) for the `paper` configs, at vocabulary 8000. */
export const PAPER_PARAMETER_COUNTS: Readonly<Record<string, number>> = {
  "gpt2-9m": 8_890_880,
  "llama2-12m": 12_488_960,
  "llama2-42m": 41_755_136,
  "llama2-126m": 125_553_408,
};

export const PAPER_VOCAB_SIZE = PAPER_VOCAB;

function gpt2(name: string, vocabSize: number, contextLength: number, dModel: number, nLayers: number, nHeads: number, dHidden: number): LmConfig {
  return { name, arch: "gpt2", vocabSize, contextLength, dModel, nLayers, nHeads, dHidden, normEps: 1e-5 };
}

function llama(name: string, vocabSize: number, contextLength: number, dModel: number, nLayers: number, nHeads: number, dHidden: number): LmConfig {
  return { name, arch: "llama", vocabSize, contextLength, dModel, nLayers, nHeads, dHidden, normEps: 1e-5, ropeTheta: 10000 };
}

/** The names `lmConfig` knows. */
export function lmConfigNames(): string[] {
  return Object.keys(CONFIGS);
}

/** A validated copy of the named config, optionally with another vocabulary size (the tokenizer's). */
export function lmConfig(name: string, vocabSize?: number): LmConfig {
  const base = CONFIGS[name];
  if (!base) throw new ConfigError("model", `unknown model ${JSON.stringify(name)} (known: ${lmConfigNames().join(", ")})`);
  const config = { ...base };
  if (vocabSize !== undefined) config.vocabSize = checkInt("vocabSize", vocabSize, { min: 2 });
  return validateLmConfig(config);
}

const KNOWN_KEYS = fieldNames<LmConfig>({ name: true, arch: true, vocabSize: true, contextLength: true, dModel: true, nLayers: true, nHeads: true, dHidden: true, normEps: true, ropeTheta: true, positionInitStd: true });

/** Checks every field of a model config (e.g. one read back from a checkpoint); returns a copy. */
export function validateLmConfig(value: unknown, field = "model"): LmConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(field, "expected an object");
  const v = value as Record<string, unknown>;
  checkKnownKeys(field, v, KNOWN_KEYS);
  const f = (k: string) => `${field}.${k}`;
  if (typeof v.name !== "string" || v.name === "") throw new ConfigError(f("name"), "expected a non-empty string");
  const arch = checkOneOf(f("arch"), v.arch, ["gpt2", "llama"] as const);
  const c: LmConfig = {
    name: v.name,
    arch,
    vocabSize: checkInt(f("vocabSize"), v.vocabSize, { min: 2 }),
    contextLength: checkInt(f("contextLength"), v.contextLength, { min: 1 }),
    dModel: checkInt(f("dModel"), v.dModel, { min: 1 }),
    nLayers: checkInt(f("nLayers"), v.nLayers, { min: 1 }),
    nHeads: checkInt(f("nHeads"), v.nHeads, { min: 1 }),
    dHidden: checkInt(f("dHidden"), v.dHidden, { min: 1 }),
    normEps: checkNumber(f("normEps"), v.normEps, { exclusiveMin: 0 }),
  };
  if (c.dModel % c.nHeads !== 0) throw new ConfigError(f("nHeads"), `dModel=${c.dModel} is not divisible by nHeads=${c.nHeads}`);
  if (arch === "llama") {
    c.ropeTheta = checkNumber(f("ropeTheta"), v.ropeTheta ?? 10000, { exclusiveMin: 0 });
    if ((c.dModel / c.nHeads) % 2 !== 0) throw new ConfigError(f("nHeads"), `RoPE needs an even head size, got ${c.dModel / c.nHeads}`);
    if (v.positionInitStd !== undefined) throw new ConfigError(f("positionInitStd"), "only GPT-2 models learn position embeddings");
  } else {
    if (v.ropeTheta !== undefined) throw new ConfigError(f("ropeTheta"), "only Llama models use RoPE");
    if (v.positionInitStd !== undefined) c.positionInitStd = checkNumber(f("positionInitStd"), v.positionInitStd, { min: 0 });
  }
  return c;
}

import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { throwIfInterrupted } from "../interrupt";
import { formatSeconds } from "../progress";
import { loopModifiers } from "./spec";
import { type LoopConfig, type Part, type Pool, checkLoopConfig, keptRealSize, samplesToDraw, trainingParts, trainingScale } from "./strategies";
import type { SequenceEntry } from "./sequenceProtocol";
import type { ModalitySpec, SequenceConfig, SequenceResult } from "./spec";

/*
 * What a run will cost, before it runs. A modality describes the work of each model fit (optimizer
 * steps, units trained on and generated, evaluation, FLOPs, memory, disk) from its config alone, and
 * measures the seconds of one step of each kind on this machine (its real compiled step at the
 * config's shapes, a few times). The plan multiplies the two, and schedules the sequences on the
 * workers the sequence runner would start, in the order it would start them.
 */

/** The work of one model fit and the sampling and evaluation that follow it. */
export interface FitWork {
  iteration: number;
  /** Training-set size, in the modality's units of data (documents, images, conformers). */
  trainSize: number;
  /** Units of computation trained on, all epochs together (tokens, images, conformers). */
  trainUnits: number;
  /** Optimizer steps. */
  steps: number;
  trainFlops: number;
  /** Units generated after the fit: the next synthetic set and the samples the metrics need. */
  sampleUnits: number;
  sampleFlops: number;
  /** Sequential model calls the sampling makes (decoded positions × batches, denoising steps × batches). */
  sampleCalls: number;
  /** Forward-only units of evaluation (test loss, learning curve, metrics). */
  evalUnits: number;
  evalFlops: number;
  /** Bytes this fit adds to the run store: its synthetic set and its model. */
  diskBytes: number;
}

/** One sequence's work, fit by fit, and what it holds in memory. */
export interface SequenceWork {
  parameters: number;
  units: { train: string; sample: string; eval: string };
  fits: FitWork[];
  memory: {
    /** Estimated peak bytes of one fit (parameters, gradients, optimizer moments, activations of one (micro-)batch, runtime). */
    peakBytes: number;
    /** How the estimate is made, in a few words. */
    basis: string;
    /** Sequences per forward/backward pass, where the modality splits batches. */
    microBatch?: number;
  };
  /** Bytes of one mid-fit checkpoint (parameters, two Adam moments and the host state). */
  checkpointBytes: number;
  /** What the work rests on that the config does not say (stated in the plan's text). */
  assumptions: string[];
}

/** Seconds of each kind of work on this machine, measured at the config's shapes. */
export interface Rates {
  /** One optimizer step at the configured batch (compiled path, after its first trace). */
  trainStep: number;
  /** One unit generated. */
  sampleUnit: number;
  /** One unit evaluated. */
  evalUnit: number;
  /** Once per sequence, before its first fit (loading data, a tokenizer, a classifier). */
  setup: number;
  /** Once per fit: tracing a fresh model's step, building the data order. */
  fitOverhead: number;
  /** What was measured, in a line. */
  basis: string;
}

/** How a modality's costs are known: its work from its config, and a short measurement of its steps. */
export interface CostModel<C> {
  work(c: C): SequenceWork;
  /**
   * Times the modality's real steps at `c`'s shapes on the backend selected now (seconds, not minutes);
   * `stepsOnly`: the training step alone (the other rates 0), to time it beside busy processes.
   */
  calibrate(c: C, opts?: { stepsOnly?: boolean; signal?: AbortSignal }): Promise<Rates>;
  /** A line on what to change when a fit of `c` would not fit in `budgetBytes` of memory (null: it fits). */
  advise?(c: C, budgetBytes: number): string | null;
  /** Configs with the same key have the same rates (default: the config without strategy, seed and iterations). */
  rateKey?(c: C): string;
}

/**
 * Seconds per step and per fit of a fit function (`fit(steps)` → seconds of a fresh fit of that many
 * steps): after `warmUp` steps that trace and compile, two fresh fits of k and 2k steps; their
 * difference is k steps, the rest is what every fit pays once. What a fit pays once (tracing, first
 * allocations) varies by seconds for large models, so k grows until the k extra steps take
 * `minSeconds` and at least half as long as the shorter fit: a fast step is timed over many, a slow one
 * over few.
 */
export async function timeSteps(fit: (steps: number) => Promise<number>, opts: { warmUp: number; k?: number; maxK?: number; minSeconds?: number; signal?: AbortSignal }): Promise<{ perStep: number; fitOverhead: number; k: number }> {
  await fit(opts.warmUp);
  const maxK = opts.maxK ?? 1024;
  const enough = opts.minSeconds ?? 1;
  let k = opts.k ?? 1;
  for (;;) {
    // Checked between fits, so that an interrupted plan stops within one short fit.
    throwIfInterrupted(opts.signal, "planning");
    const short = await fit(k);
    throwIfInterrupted(opts.signal, "planning");
    const long = await fit(2 * k);
    const extra = long - short;
    if ((extra >= enough && extra >= 0.5 * short) || 2 * k > maxK) {
      const perStep = Math.max(1e-6, extra / k);
      return { perStep, fitOverhead: Math.max(0, short - k * perStep), k };
    }
    k = Math.min(maxK, extra > 0 ? Math.max(2 * k, Math.ceil((k * Math.max(enough, short)) / extra)) : 2 * k);
  }
}

/** Seconds of extra steps a timing takes: more beside busy processes, whose pace varies from moment to moment. */
export const TIMED_SECONDS = { alone: 1.5, besideLoad: 3 } as const;

/** The rates of a steps-only timing (CostModel.calibrate with `stepsOnly`). */
export function stepsOnly(trainStep: number, fitOverhead: number): Rates {
  return { trainStep, sampleUnit: 0, evalUnit: 0, setup: 0, fitOverhead, basis: "" };
}

/** Per iteration: the training-set size, the training work's scale, and the samples drawn after the fit. */
export interface PlannedIteration {
  iteration: number;
  trainSize: number;
  /** Times its usual training work the fit gets (replace-matched-compute: accumulate's size over its own). */
  scale: number;
  /** Units sampled from this model for later iterations (0 after the last). */
  drawn: number;
  /** Real units in the training set. */
  real: number;
}

/**
 * The sizes of every iteration's training set under a strategy, from the loop's own rules (the data
 * of the pool are its sizes): what the strategies do is written once, in strategies.ts.
 */
export function plannedIterations(loop: LoopConfig): PlannedIteration[] {
  const cfg = checkLoopConfig(loop);
  const pool: Pool<number> = { real: [{ data: cfg.realSize, origin: "real", generation: 1 }], synthetic: [] };
  const kept = keptRealSize(cfg);
  if (kept !== null) pool.realKept = { data: kept, origin: "real", generation: 1 };
  const size = (d: number) => d;
  const total = (parts: Part<number>[]) => parts.reduce((s, p) => s + p.data, 0);
  const out: PlannedIteration[] = [];
  const firstSize = cfg.realSize;
  for (let n = 1; n <= cfg.iterations; n++) {
    if (n >= 2 && cfg.freshRealSize > 0) pool.real.push({ data: cfg.freshRealSize, origin: "real", generation: n });
    const parts = trainingParts(cfg.strategy, n, pool);
    const whole = total(parts);
    const trainSize = cfg.strategy === "accumulate-subsample" ? Math.min(whole, firstSize) : whole;
    const real = total(parts.filter((p) => p.origin === "real")) * (trainSize / whole);
    const added = n < cfg.iterations ? samplesToDraw(cfg, n) : 0;
    // Curation by a share draws size/keep samples; by a threshold, at least size (more is unknown before it runs).
    const keep = cfg.curation?.keep ?? 1;
    const drawn = Math.max(added, Math.ceil(added / keep - 1e-9));
    out.push({ iteration: n, trainSize, scale: trainingScale(cfg.strategy, n, pool, size), drawn, real });
    if (n < cfg.iterations) pool.synthetic.push({ data: added, origin: "synthetic", generation: n });
  }
  return out;
}

/** A named accelerator: dense float32 and TF32 tensor-core peaks (vendor sheets) and its memory. */
export interface Gpu {
  name: string;
  fp32Tflops: number;
  tf32Tflops: number;
  memoryGiB: number;
}

/** Vendors' peak dense throughput; TensorFlow runs float32 matmuls and convolutions as TF32 on Ampere and newer by default. */
export const GPUS: readonly Gpu[] = [
  { name: "h100-sxm", fp32Tflops: 67, tf32Tflops: 494, memoryGiB: 80 },
  { name: "a100-80gb", fp32Tflops: 19.5, tf32Tflops: 156, memoryGiB: 80 },
  { name: "a100-40gb", fp32Tflops: 19.5, tf32Tflops: 156, memoryGiB: 40 },
  { name: "l40s", fp32Tflops: 91.6, tf32Tflops: 183, memoryGiB: 48 },
  { name: "rtx-4090", fp32Tflops: 82.6, tf32Tflops: 82.6, memoryGiB: 24 },
  { name: "rtx-3090", fp32Tflops: 35.6, tf32Tflops: 35.6, memoryGiB: 24 },
  { name: "v100", fp32Tflops: 15.7, tf32Tflops: 15.7, memoryGiB: 32 },
];

/**
 * Shares of a GPU's TF32 peak the plan assumes (ours; not measured: the kit has not run on a GPU).
 * Training small models rarely passes a third of peak; sampling decodes one token (or one diffusion
 * step) per launch and is bound by launches and memory, not arithmetic.
 */
export const GPU_UTILISATION = { train: 0.3, sample: 0.02, eval: 0.2 } as const;

/**
 * The least time a call takes on a GPU however small the model (ours, not measured): a compiled
 * training step, and one sampling call (a decoding position or a denoising step of one batch).
 */
export const GPU_CALL_SECONDS = { trainStep: 3e-3, sampleCall: 1e-3 } as const;

export function gpuNamed(name: string): Gpu {
  const gpu = GPUS.find((g) => g.name === name.toLowerCase());
  if (!gpu) throw new RangeError(`unknown GPU ${JSON.stringify(name)} (known: ${GPUS.map((g) => g.name).join(", ")})`);
  return gpu;
}

export interface PlanOptions {
  /** Measure the steps here (default true); false plans work, memory and disk only. */
  calibrate?: boolean;
  /** Worker processes (default: what the sequence runner would start: one per core on CPU backends). */
  parallel?: number;
  /** A GPU from GPUS to estimate time on. */
  gpu?: string;
  /** Time the steps beside as many busy processes as the run will have workers at once (default true). */
  contention?: boolean;
  /** Memory a fit may take (default: the GPU's with `gpu`, else this machine's). */
  memoryBytes?: number;
  /** Iterations already in the run store, per config (they cost nothing). */
  finished?: (c: SequenceConfig, i: number) => number;
  onStatus?: (message: string) => void;
  /** Stops the timing with an InterruptedError (a notebook's Kernel > Interrupt while it plans). */
  signal?: AbortSignal;
}

export interface SequencePlan {
  label: string;
  config: SequenceConfig;
  work: SequenceWork;
  /** Seconds per fit on this machine (null: not calibrated); a shared first model read from another sequence costs none. */
  fitSeconds: number[] | null;
  setupSeconds: number | null;
  seconds: number | null;
  gpuSeconds: number | null;
  /** This sequence reads model 1 from another sequence of the plan. */
  sharesFirstModel: boolean;
  /** Iterations already finished (not planned). */
  finished: number;
  /** Key of its rates in Plan.rates. */
  rateKey: string;
  /** Its work's seconds when it reads model 1 from another sequence, and the training of model 1 that saves (null: not timed). */
  readerSeconds: number | null;
  firstTrainSeconds: number | null;
  /** How much slower its work runs beside the run's other workers (1: as alone). */
  contention: number;
}

export interface Plan {
  modality: string;
  sequences: SequencePlan[];
  parallel: number;
  rates: { key: string; rates: Rates; contention: number }[];
  totals: { steps: number; trainFlops: number; sampleFlops: number; evalFlops: number; trainUnits: number; sampleUnits: number; diskBytes: number; checkpointBytes: number; peakBytes: number };
  /** Estimated wall time here: the sequences scheduled on `parallel` workers (null: not calibrated). */
  wallSeconds: number | null;
  /** Sum over sequences, one after another. */
  serialSeconds: number | null;
  gpu: { gpu: Gpu; seconds: number; utilisation: typeof GPU_UTILISATION } | null;
  calibrationSeconds: number;
  /** The memory budget the fits were checked against, and what to change where one does not fit. */
  memoryBytes: number;
  advice: string[];
}

/** The rates of a sequence the store holds whole: nothing of it runs. */
const NOTHING_TO_RUN: Rates = { trainStep: 0, sampleUnit: 0, evalUnit: 0, setup: 0, fitOverhead: 0, basis: "" };

const defaultRateKey = (c: SequenceConfig) => {
  const { strategy: _s, seed: _seed, iterations: _i, ...rest } = c as SequenceConfig & Record<string, unknown>;
  return JSON.stringify(rest);
};

/** The plan of `configs` of one modality (which must have a cost model). */
export async function planSequences<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(spec: ModalitySpec<C, R, L, F, X>, configs: readonly C[], opts: PlanOptions = {}): Promise<Plan> {
  const model = spec.plan;
  if (!model) throw new RangeError(`${spec.name} has no cost model (its spec gives no plan)`);
  const started = performance.now();
  const key = (c: C) => (model.rateKey ?? defaultRateKey)(c);
  const rates = new Map<string, Rates>();
  const contention = new Map<string, number>();
  const parallel = opts.parallel ?? Math.max(1, os.availableParallelism());
  if (opts.calibrate !== false) {
    // The steps are timed on the backend a run would use, beside as many busy processes as the run
    // will have workers at once (up to a core each).
    if (spec.tensors) await (await import("../backend")).selectBackend();
    const pending = configs.filter((c, i) => (opts.finished?.(c, i) ?? 0) < c.iterations).length;
    const others = spec.tensors && opts.contention !== false ? Math.min(parallel, pending, os.availableParallelism()) - 1 : 0;
    for (const [i, c] of configs.entries()) {
      const k = key(c);
      if (rates.has(k) || (opts.finished?.(c, i) ?? 0) >= c.iterations) continue;
      throwIfInterrupted(opts.signal, "planning");
      opts.onStatus?.(`timing the steps of ${spec.label(c)} here`);
      const alone = await model.calibrate(c, { signal: opts.signal });
      rates.set(k, alone);
      if (others > 0) {
        // How much slower the same work runs while the run's other workers are busy.
        opts.onStatus?.(`timing them again beside ${others} busy process(es), as the run's workers will be`);
        // Twice, keeping the faster: a few seconds' timing beside busy processes is noisy, and the
        // noise (a moment when both wait on the same cache or core) mostly makes a step look slower.
        const loaded = await besideLoad(spec.entry, c, others, async () => {
          const [a, b] = [await model.calibrate(c, { stepsOnly: true, signal: opts.signal }), await model.calibrate(c, { stepsOnly: true, signal: opts.signal })];
          return a.trainStep <= b.trainStep ? a : b;
        });
        // The training step is timed most carefully (over at least a second of steps) and dominates a fit.
        contention.set(k, loaded ? Math.min(4, Math.max(1, loaded.trainStep / alone.trainStep)) : 1);
      }
    }
  }
  const gpu = opts.gpu ? gpuNamed(opts.gpu) : null;
  const firstKeys = new Set<string>();
  const sequences: SequencePlan[] = configs.map((c, i) => {
    const work = model.work(c);
    const finished = opts.finished?.(c, i) ?? 0;
    const fk = spec.firstModelKey?.(c);
    const sharesFirstModel = fk !== undefined && firstKeys.has(fk);
    if (fk !== undefined) firstKeys.add(fk);
    const r = rates.get(key(c)) ?? (finished >= c.iterations && opts.calibrate !== false ? NOTHING_TO_RUN : null);
    const todo = (f: FitWork) => f.iteration > finished && !(f.iteration === 1 && sharesFirstModel);
    // A sequence that reads model 1 from another still evaluates it and samples from it.
    const fitSeconds = r ? work.fits.map((f) => (todo(f) ? fitSecondsAt(f, r) : f.iteration > finished ? readSecondsAt(f, r) : 0)) : null;
    const setupSeconds = r && finished < c.iterations ? r.setup : r ? 0 : null;
    const seconds = fitSeconds && setupSeconds !== null ? setupSeconds + fitSeconds.reduce((a, b) => a + b, 0) : null;
    const gpuSeconds = gpu ? work.fits.filter((f) => f.iteration > finished).reduce((s, f) => s + gpuFitSeconds(todo(f) ? f : { ...f, steps: 0, trainFlops: 0 }, gpu), 0) : null;
    const reader = r && finished === 0 ? readSecondsAt(work.fits[0], r) : 0;
    const trainer = r && finished === 0 ? fitSecondsAt(work.fits[0], r) : 0;
    const readerSeconds = seconds !== null && fitSeconds ? seconds - fitSeconds[0] + reader : null;
    return { label: spec.label(c), config: c, work, fitSeconds, setupSeconds, seconds, gpuSeconds, sharesFirstModel, finished, rateKey: key(c), readerSeconds, firstTrainSeconds: r ? trainer - reader : null, contention: contention.get(key(c)) ?? 1 };
  });
  const all = sequences.flatMap((s) => s.work.fits.filter((f) => f.iteration > s.finished && !(f.iteration === 1 && s.sharesFirstModel)));
  const sum = (f: (x: FitWork) => number) => all.reduce((s, x) => s + f(x), 0);
  const calibrated = sequences.every((s) => s.seconds !== null);
  const memoryBytes = opts.memoryBytes ?? (gpu ? gpu.memoryGiB * 1024 ** 3 : os.totalmem());
  const advice = [...new Set(configs.map((c) => model.advise?.(c, memoryBytes) ?? null).filter((a): a is string => a !== null))];
  return {
    modality: spec.name,
    sequences,
    parallel,
    rates: [...rates].map(([k, r]) => ({ key: k, rates: r, contention: contention.get(k) ?? 1 })),
    totals: {
      steps: sum((f) => f.steps),
      trainFlops: sum((f) => f.trainFlops),
      sampleFlops: sum((f) => f.sampleFlops),
      evalFlops: sum((f) => f.evalFlops),
      trainUnits: sum((f) => f.trainUnits),
      sampleUnits: sum((f) => f.sampleUnits),
      diskBytes: sum((f) => f.diskBytes),
      checkpointBytes: Math.max(0, ...sequences.map((s) => s.work.checkpointBytes)),
      peakBytes: Math.max(0, ...sequences.map((s) => s.work.memory.peakBytes)),
    },
    wallSeconds: calibrated ? scheduledSeconds(spec, configs, sequences, parallel) : null,
    serialSeconds: calibrated ? sequences.reduce((s, q) => s + (q.seconds ?? 0), 0) : null,
    gpu: gpu ? { gpu, seconds: sequences.reduce((s, q) => s + (q.gpuSeconds ?? 0), 0), utilisation: GPU_UTILISATION } : null,
    calibrationSeconds: (performance.now() - started) / 1000,
    memoryBytes,
    advice,
  };
}

/**
 * `measure()` while `others` processes run the same timing (calibrationLoad.ts); null where they
 * cannot start.
 */
async function besideLoad(entry: SequenceEntry, config: unknown, others: number, measure: () => Promise<Rates>): Promise<Rates | null> {
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < others; i++) children.push(fork(path.join(__dirname, "calibrationLoad.js"), [], { stdio: ["ignore", "ignore", "ignore", "ipc"] }));
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            child.once("message", () => resolve());
            child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
            child.once("error", reject);
            child.send({ entry, config });
          }),
      ),
    );
  } catch {
    for (const child of children) child.kill("SIGKILL");
    return null;
  }
  try {
    return await measure();
  } finally {
    for (const child of children) child.kill("SIGKILL");
  }
}

export function fitSecondsAt(f: FitWork, r: Rates): number {
  return r.fitOverhead + f.steps * r.trainStep + f.sampleUnits * r.sampleUnit + f.evalUnits * r.evalUnit;
}

/** A model read from another sequence's store: evaluated and sampled from, not trained. */
function readSecondsAt(f: FitWork, r: Rates): number {
  return f.sampleUnits * r.sampleUnit + f.evalUnits * r.evalUnit;
}

export function gpuFitSeconds(f: FitWork, gpu: Gpu): number {
  const peak = gpu.tf32Tflops * 1e12;
  return (
    Math.max(f.trainFlops / (peak * GPU_UTILISATION.train), f.steps * GPU_CALL_SECONDS.trainStep) +
    Math.max(f.sampleFlops / (peak * GPU_UTILISATION.sample), f.sampleCalls * GPU_CALL_SECONDS.sampleCall) +
    f.evalFlops / (peak * GPU_UTILISATION.eval)
  );
}

/**
 * The wall time of the sequences on `parallel` workers, started as the sequence runner starts them:
 * longest first; a sequence whose first model another is training waits (the worker takes the next
 * one) and, once that model is stored, reads it instead of training it. While more than one worker
 * is busy, each sequence's work runs `contention` times slower (measured beside busy processes).
 */
function scheduledSeconds(spec: { firstModelKey?(c: never): string }, configs: readonly SequenceConfig[], plans: readonly SequencePlan[], parallel: number): number {
  const keyOf = (i: number) => spec.firstModelKey?.(configs[i] as never) ?? `sequence ${i}`;
  const pending = plans.map((_, i) => i).filter((i) => plans[i].finished < configs[i].iterations);
  pending.sort((a, b) => plans[b].seconds! - plans[a].seconds!);
  const training = new Set<string>();
  const stored = new Set<string>();
  const running: { i: number; left: number; done: number; release: number | null }[] = [];
  let t = 0;
  for (;;) {
    while (running.length < parallel) {
      const at = pending.findIndex((i) => !training.has(keyOf(i)));
      if (at < 0) break;
      const [i] = pending.splice(at, 1);
      const p = plans[i];
      const first = p.finished === 0;
      const trains = first && !stored.has(keyOf(i));
      if (trains) training.add(keyOf(i));
      const work = first ? p.readerSeconds! + (trains ? p.firstTrainSeconds! : 0) : p.seconds!;
      running.push({ i, left: work, done: 0, release: trains ? p.setupSeconds! + p.fitSeconds![0] + (p.sharesFirstModel ? p.firstTrainSeconds! : 0) : null });
    }
    if (running.length === 0) return t;
    const speed = (i: number) => (running.length > 1 ? 1 / plans[i].contention : 1);
    let dt = Infinity;
    for (const r of running) {
      dt = Math.min(dt, r.left / speed(r.i));
      if (r.release !== null) dt = Math.min(dt, Math.max(0, r.release - r.done) / speed(r.i));
    }
    t += dt;
    for (const r of running) {
      const step = dt * speed(r.i);
      r.left -= step;
      r.done += step;
      if (r.release !== null && r.done >= r.release - 1e-9) {
        stored.add(keyOf(r.i));
        training.delete(keyOf(r.i));
        r.release = null;
      }
    }
    for (let k = running.length - 1; k >= 0; k--) {
      if (running[k].left <= 1e-9) {
        training.delete(keyOf(running[k].i));
        running.splice(k, 1);
      }
    }
  }
}

// ---- text -------------------------------------------------------------------------------------

export function formatCount(x: number): string {
  if (x >= 1e15) return `${(x / 1e15).toFixed(2)}P`;
  if (x >= 1e12) return `${(x / 1e12).toFixed(2)}T`;
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

export function formatBytes(b: number): string {
  if (b >= 1024 ** 4) return `${(b / 1024 ** 4).toFixed(2)} TiB`;
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(2)} GiB`;
  if (b >= 1024 ** 2) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024).toFixed(1)} KiB`;
}

/** A duration for plans: hours past one hour, else formatSeconds. */
export const formatDuration = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : formatSeconds(s));

/** The plan as text: one block per sequence (a line per fit), then the totals and time estimates. */
export function planText(plan: Plan, opts: { fits?: boolean } = {}): string {
  const lines: string[] = [];
  for (const s of plan.sequences) {
    const w = s.work;
    lines.push(`${plan.modality} · ${s.label} · seed ${s.config.seed} · ${w.parameters.toLocaleString("en-US")} parameters${s.sharesFirstModel ? " · model 1 read from an earlier sequence" : ""}${s.finished > 0 ? ` · ${s.finished} iteration(s) already in the run store` : ""}`);
    if (opts.fits !== false) {
      lines.push(`  fit  train set   ${w.units.train.padStart(9)}     steps   train FLOPs   ${w.units.sample.padStart(9)} sampled   ${"disk".padStart(9)}   ${s.fitSeconds ? "seconds here" : ""}`);
      for (const [k, f] of w.fits.entries()) {
        lines.push(
          `  ${String(f.iteration).padStart(3)}  ${formatCount(f.trainSize).padStart(9)}   ${formatCount(f.trainUnits).padStart(9)}   ${formatCount(f.steps).padStart(7)}   ${formatCount(f.trainFlops).padStart(11)}   ${formatCount(f.sampleUnits).padStart(17)}   ${formatBytes(f.diskBytes).padStart(9)}   ${s.fitSeconds ? formatSeconds(s.fitSeconds[k]).padStart(12) : ""}`,
        );
      }
    }
    lines.push(`  peak memory ≈ ${formatBytes(w.memory.peakBytes)}${w.memory.microBatch !== undefined ? ` (micro-batch ${w.memory.microBatch})` : ""}; a fit checkpoint ${formatBytes(w.checkpointBytes)}${s.seconds !== null ? `; here ≈ ${formatDuration(s.seconds)}` : ""}${s.gpuSeconds !== null && plan.gpu ? `; on one ${plan.gpu.gpu.name} ≈ ${formatDuration(s.gpuSeconds)}` : ""}`);
  }
  const t = plan.totals;
  lines.push("");
  lines.push(`${plan.sequences.length} sequence(s): ${formatCount(t.steps)} optimizer steps, ${formatCount(t.trainFlops)} training FLOPs, ${formatCount(t.sampleFlops)} sampling FLOPs, ${formatCount(t.evalFlops)} evaluation FLOPs`);
  lines.push(`disk: ${formatBytes(t.diskBytes)} of synthetic sets and models in the run store, plus one fit checkpoint (${formatBytes(t.checkpointBytes)}) per running fit; peak memory of one fit ≈ ${formatBytes(t.peakBytes)}`);
  if (plan.wallSeconds !== null) {
    const slower = plan.rates.filter((r) => r.contention > 1).map((r) => r.contention);
    const contended = slower.length > 0 ? `; beside the other workers its steps ran ${Math.min(...slower).toFixed(2)}–${Math.max(...slower).toFixed(2)}× slower than alone` : "";
    lines.push(`time here ≈ ${formatDuration(plan.wallSeconds)} on ${plan.parallel} worker(s) (${formatDuration(plan.serialSeconds!)} one after another, alone), from the steps timed here (${plan.calibrationSeconds.toFixed(1)} s of timing${contended})`);
  }
  if (plan.gpu) {
    const u = plan.gpu.utilisation;
    lines.push(`on one ${plan.gpu.gpu.name} ≈ ${formatDuration(plan.gpu.seconds)} (FLOPs at ${u.train * 100}% of its ${plan.gpu.gpu.tf32Tflops} TFLOP/s TF32 peak for training, ${u.sample * 100}% for sampling, ${u.eval * 100}% for evaluation, and at least ${GPU_CALL_SECONDS.trainStep * 1000} ms a training step and ${GPU_CALL_SECONDS.sampleCall * 1000} ms a sampling call: assumed, not measured)`);
  }
  const assumptions = [...new Set(plan.sequences.flatMap((s) => s.work.assumptions))];
  const bases = [...new Set([...plan.sequences.map((s) => s.work.memory.basis), ...plan.rates.map((r) => r.rates.basis)])].filter(Boolean);
  for (const a of plan.advice) lines.push(`memory: ${a}`);
  for (const a of [...assumptions, ...bases]) lines.push(`  · ${a}`);
  return lines.join("\n");
}

/** The plan as rows (one per fit), for a DataFrame or --json. */
export function planRows(plan: Plan): Record<string, number | string | boolean | null>[] {
  return plan.sequences.flatMap((s, i) =>
    s.work.fits.map((f, k) => ({
      sequence: i,
      label: s.label,
      strategy: s.config.strategy,
      seed: s.config.seed,
      parameters: s.work.parameters,
      ...f,
      secondsHere: s.fitSeconds ? s.fitSeconds[k] : null,
      sharedFirstModel: s.sharesFirstModel && f.iteration === 1,
    })),
  );
}

/** Strategy-aware loop sizes of a modality config (every sequence config has these). */
export function loopOf(c: Pick<LoopConfig, "strategy" | "iterations" | "curation" | "realShare">, realSize: number, freshRealSize = 0): LoopConfig {
  return { strategy: c.strategy, iterations: c.iterations, realSize: Math.max(1, Math.round(realSize)), freshRealSize: Math.round(freshRealSize), ...loopModifiers(c) };
}

/** Adam's bytes beside float32 parameters: the gradient and two moments. */
export const OPTIMIZER_BYTES_PER_PARAMETER = 12;

/**
 * An ETA from a plan: the time so far, scaled by the planned work left over the planned work done
 * (a fit under way counts by its share of steps). The plan's own time is the estimate until a step is
 * done; after that the measured pace takes over, so a machine slower or faster than the timing shows.
 */
export class PlannedClock {
  private readonly weights: number[][];
  private readonly steps: number[][];
  /** The share of a fit's planned work that is its training steps (the rest: sampling, evaluation). */
  private readonly trainShare: number[][];
  private readonly done: number[][];
  private readonly total: number;

  constructor(
    readonly plan: Plan,
    private readonly started = performance.now(),
  ) {
    const calibrated = plan.sequences.every((s) => s.fitSeconds !== null);
    this.weights = plan.sequences.map((s, i) => s.work.fits.map((f, k) => (calibrated ? s.fitSeconds![k] : f.trainFlops + f.sampleFlops + f.evalFlops) * (plan.sequences[i].finished >= f.iteration ? 0 : 1)));
    this.steps = plan.sequences.map((s) => s.work.fits.map((f) => f.steps));
    const rates = (i: number) => plan.rates.find((r) => r.key === plan.sequences[i].rateKey)?.rates;
    this.trainShare = plan.sequences.map((s, i) =>
      s.work.fits.map((f, k) => {
        const r = rates(i);
        const share = calibrated && r ? (f.steps * r.trainStep) / Math.max(1e-9, s.fitSeconds![k]) : f.trainFlops / Math.max(1, f.trainFlops + f.sampleFlops + f.evalFlops);
        return Math.min(1, share);
      }),
    );
    this.done = this.weights.map((w) => w.map(() => 0));
    this.total = this.weights.flat().reduce((a, b) => a + b, 0);
  }

  /** Model `n` of sequence `i` is at `step`. */
  step(i: number, n: number, step: number): void {
    const w = this.weights[i]?.[n - 1];
    if (w !== undefined) this.done[i][n - 1] = w * this.trainShare[i][n - 1] * Math.min(1, step / Math.max(1, this.steps[i][n - 1]));
  }

  /** Model `n` of sequence `i` is recorded. */
  fitDone(i: number, n: number): void {
    const w = this.weights[i]?.[n - 1];
    if (w !== undefined) this.done[i][n - 1] = w;
  }

  /** Seconds left (null: nothing planned). */
  eta(now = performance.now()): number | null {
    if (this.total <= 0) return null;
    const fraction = this.done.flat().reduce((a, b) => a + b, 0) / this.total;
    const elapsed = (now - this.started) / 1000;
    if (fraction <= 0.02) return this.plan.wallSeconds !== null ? Math.max(0, this.plan.wallSeconds - elapsed) : null;
    return (elapsed * (1 - fraction)) / fraction;
  }
}

/** One line for a notebook or a log: the planned time here (and what it rests on). */
export function planSummary(plan: Plan): string {
  const fits = plan.sequences.reduce((s, q) => s + q.work.fits.filter((f) => f.iteration > q.finished && !(f.iteration === 1 && q.sharesFirstModel)).length, 0);
  if (fits === 0) return `planned: nothing to train (every model is in the run store)`;
  const time = plan.wallSeconds !== null ? `≈ ${formatDuration(plan.wallSeconds)} here on ${plan.parallel} worker(s), from steps timed here in ${plan.calibrationSeconds.toFixed(1)} s` : "not timed";
  return `planned: ${fits} model fits, ${formatCount(plan.totals.steps)} optimizer steps, ${formatCount(plan.totals.trainFlops + plan.totals.sampleFlops + plan.totals.evalFlops)} FLOPs, ${time}; peak memory of a fit ≈ ${formatBytes(plan.totals.peakBytes)}, ${formatBytes(plan.totals.diskBytes)} to the run store`;
}

// The kit's public API (`import * as ck from "collapse-kit"`, or "../dist/src" in the notebooks):
// what the notebooks call, what a researcher needs to run, read and plot sequences, and what a new
// modality is built from. Kernels, layers of one model and graph helpers stay internal.

// Foundations: seeded randomness, errors, statistics, the environment, the backend.
export * from "./random";
export * from "./errors";
export * from "./stats";
export * from "./environment";
export * from "./backend";

// The collapse loop and what a modality plugs into it with.
export * from "./collapse/strategies";
export * from "./collapse/modality";
export * from "./collapse/loop";
export * from "./collapse/profiles";
export * from "./collapse/spec";
export * from "./collapse/runSequence";
export * from "./collapse/sequences";
export * from "./collapse/live";
export * from "./modalities";

// What a run will cost before it runs (collapse plan): ck.plan(ck.LM, configs), planText, an ETA.
export { GPUS, GPU_UTILISATION, PlannedClock, planRows, planSequences, planSequences as plan, planSummary, planText, plannedIterations } from "./collapse/plan";
export type { CostModel, FitWork, Plan, PlanOptions, Rates, SequencePlan, SequenceWork } from "./collapse/plan";

// Results: the run store, its tables and DataFrames, sweeps.
export * from "./store/runStore";
export * from "./store/export";
export * from "./store/frames";
export * from "./sweep/spec";
export * from "./sweep/read";
export * from "./sweep/status";

// Figures and notebook display.
export * from "./progress";
export * from "./plots/plotly";
export * from "./plots/notebook";
export * from "./plots/export";
export * from "./plots/metricFigures";
export * from "./plots/studyFigures";

// The paper's experiments: §2's and the §3.1 appendix's configs, seeds, one builder per figure, reproduce.
export * from "./experiments/linearRegression";
export * from "./experiments/lmAppendix";
export * from "./experiments/paperFigures";
export * from "./experiments/seeds";
export * from "./experiments/registry";
export * from "./experiments/experiment";
// Beyond the paper: curated synthetic data and the real-data proportion, for every modality.
export * from "./experiments/beyond";
// The follow-up's (Kazdan, Schaeffer et al. 2025) linear and Gaussian settings, beside its published values.
export * from "./experiments/thrive";

// Building blocks every neural model shares: parameters, checkpoints, the optimizer, the fit loop.
export * from "./nn/params";
export * from "./nn/layers";
export * from "./nn/safetensors";
export * from "./nn/adamw";
export * from "./nn/fit";

// §2: linear regression.
export * from "./linear/problem";
export * from "./linear/modality";
export * from "./linear/theory";
export * from "./linear/montecarlo";
export * from "./linear/figures";

// §3.1: text data and language models.
export * from "./text";
export * from "./lm/types";
export * from "./lm/configs";
export * from "./lm/model";
export * from "./lm/train";
export * from "./lm/sample";
export * from "./lm/modality";
export * from "./lm/figures";
export * from "./lm/sequence";
export * from "./lm/spec";

// §3.2: molecules.
export * from "./molecules/types";
export * from "./molecules/rmsd";
export * from "./molecules/geom";
export * from "./molecules/embedded";
export * from "./molecules/egnn";
export * from "./molecules/diffusion";
export * from "./molecules/modality";
export * from "./molecules/figures";
export * from "./molecules/sequence";
export * from "./molecules/spec";

// §3.3: images and VAEs.
export * from "./images/types";
export * from "./images/faces";
export * from "./images/celeba";
export * from "./images/grid";
export * from "./metrics/features";
export * from "./vae/model";
export * from "./vae/train";
export * from "./vae/classifier";
export * from "./vae/modality";
export * from "./vae/figures";
export * from "./vae/sequence";
export * from "./vae/spec";

// §5: Gaussians.
export * from "./gaussian/modality";
export * from "./gaussian/spec";

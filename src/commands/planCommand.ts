import * as path from "node:path";
import { type Plan, GPUS, formatBytes, formatDuration, planRows, planSequences, planText } from "../collapse/plan";
import { PROFILES, type Profile, checkProfile, withSeeds } from "../collapse/profiles";
import { storedIterations } from "../collapse/runSequence";
import { type AnyModalitySpec, type SequenceConfig, checkSequence } from "../collapse/spec";
import { EXPERIMENTS, experimentNamed } from "../experiments/registry";
import { modalityNames, modalitySpec } from "../modalities";
import { RunStore } from "../store/runStore";
import { expandSweep, readSweepFile } from "../sweep/spec";
import { sweepModality } from "../sweep/commands";
import { COMMON_FLAGS, type FlagOptions, UsageError, applyBackendFlag, list, num, parse } from "./args";
import { configFromFlags, optionsOf } from "./sequenceCommand";

export const PLAN_HELP = `collapse plan — what a run will cost, before it runs: per model fit and in total the parameters,
units trained on and generated, optimizer steps, FLOPs, peak memory, disk, and the time here (from
its steps timed here at its shapes) and on a named GPU (from its peak and a stated utilisation)

Usage:
  collapse plan NAME [NAME's flags]      what \`collapse NAME\` with the same flags would run
                                         (NAME: ${modalityNames().join(", ")}; see collapse NAME --help)
  collapse plan --sweep FILE             every sequence of a sweep
  collapse plan --reproduce [--only A,B] the sequences of \`collapse reproduce\` (default: all of them)
  collapse plan --profile P              the same as --reproduce --profile P

Flags:
  --profile P            ${PROFILES.join(" | ")} (default quick)
  --gpu NAME             also the time on one such GPU: ${GPUS.map((g) => g.name).join(", ")}
  --memory GIB           the memory a fit may take, for the micro-batch advice (default: the GPU's
                         with --gpu, else this machine's)
  --no-calibrate         no timing here: work, FLOPs, memory and disk only (instant)
  --parallel N           worker processes the sequences share (default: one per core)
  --runs-dir DIR         iterations this run store holds already cost nothing
  --fits                 one line per model fit (default with NAME and --sweep)
  --json                 the plan as JSON: totals, estimates, and one row per fit
  --backend B            the backend whose steps are timed (default: the one a run would use)

Time here is the sum over fits of steps × the timed step, sampled units × the timed sampling, evaluated
units × the timed evaluation and a per-fit overhead, plus the set-up; the sequences are scheduled on
the workers as the sequence runner starts them (longest first; a sequence waits for a first model
another is training, then reads it); while more than one worker is busy, at the pace its training
step kept when timed beside as many busy processes. Timing takes seconds at smoke, up to a minute or
two at quick and minutes at paper.`;

const PLAN_FLAGS = {
  sweep: { type: "string" },
  reproduce: { type: "boolean" },
  only: { type: "string" },
  gpu: { type: "string" },
  memory: { type: "string" },
  "no-calibrate": { type: "boolean" },
  parallel: { type: "string" },
  fits: { type: "boolean" },
} as const satisfies FlagOptions;

interface Batch {
  title: string;
  spec: AnyModalitySpec;
  configs: SequenceConfig[];
}

export async function planCommand(args: string[]): Promise<number> {
  const name = args[0] !== undefined && !args[0].startsWith("-") ? args[0] : undefined;
  const rest = name !== undefined ? args.slice(1) : args;
  const spec = name !== undefined ? modalitySpec(name) : undefined;
  if (name !== undefined && !spec) throw new UsageError(`plan: unknown command ${JSON.stringify(name)} (known: ${modalityNames().join(", ")}; or --sweep FILE, --reproduce)`);
  const options: FlagOptions = { ...(spec ? optionsOf(spec) : { profile: { type: "string" }, json: COMMON_FLAGS.json, help: COMMON_FLAGS.help, backend: { type: "string" }, "runs-dir": COMMON_FLAGS["runs-dir"] }), ...PLAN_FLAGS };
  const given = parse(rest, options) as Record<string, string | boolean | undefined>;
  if (given.help) {
    console.log(PLAN_HELP);
    return 0;
  }
  const text = Object.fromEntries(Object.entries(given).filter((e): e is [string, string] => typeof e[1] === "string"));
  const profile = checkProfile(text.profile ?? "quick", "--profile");
  if (spec && (given.sweep !== undefined || given.reproduce)) throw new UsageError(`plan ${name}: --sweep and --reproduce plan other runs; give them without ${name}`);
  if (given.sweep !== undefined && given.reproduce) throw new UsageError("plan: --sweep or --reproduce, not both");
  if (given.only !== undefined && !given.reproduce && spec === undefined && given.sweep === undefined) given.reproduce = true;

  const batches = spec ? [modalityBatch(spec, text, profile)] : given.sweep !== undefined ? [sweepBatch(String(given.sweep))] : reproduceBatches(profile, text.only);
  const gpu = text.gpu;
  if (gpu !== undefined && !GPUS.some((g) => g.name === gpu.toLowerCase())) throw new UsageError(`--gpu: unknown GPU ${JSON.stringify(gpu)} (known: ${GPUS.map((g) => g.name).join(", ")})`);
  const memory = text.memory !== undefined ? num("memory", text.memory, false) : undefined;
  if (memory !== undefined && memory <= 0) throw new UsageError(`--memory: expected GiB > 0, got ${memory}`);
  const parallel = text.parallel !== undefined ? num("parallel", text.parallel, true) : undefined;
  if (parallel !== undefined && parallel < 1) throw new UsageError(`--parallel: expected an integer ≥ 1, got ${parallel}`);
  const calibrate = given["no-calibrate"] !== true;
  if (calibrate) await applyBackendFlag(text.backend);
  const store = text["runs-dir"] !== undefined ? new RunStore(path.resolve(text["runs-dir"])) : null;
  const fits = given.fits === true || spec !== undefined || given.sweep !== undefined;
  const status = (m: string) => process.stderr.write(`${m}\n`);

  const plans: { title: string; plan: Plan | null; skipped?: string }[] = [];
  for (const b of batches) {
    if (!b.spec.plan) {
      plans.push({ title: b.title, plan: null, skipped: `${b.spec.name} has no cost model (its runs take seconds to minutes at every profile)` });
      continue;
    }
    const plan = await planSequences(b.spec, b.configs, {
      calibrate,
      gpu,
      parallel,
      memoryBytes: memory !== undefined ? memory * 1024 ** 3 : undefined,
      finished: store ? (c) => storedIterations(b.spec, store, c) : undefined,
      onStatus: status,
    });
    plans.push({ title: b.title, plan });
  }
  if (given.json) {
    console.log(
      JSON.stringify(
        {
          profile,
          plans: plans.map(({ title, plan, skipped }) =>
            plan ? { title, modality: plan.modality, parallel: plan.parallel, wallSeconds: plan.wallSeconds, serialSeconds: plan.serialSeconds, gpu: plan.gpu && { name: plan.gpu.gpu.name, seconds: plan.gpu.seconds, utilisation: plan.gpu.utilisation }, totals: plan.totals, memoryBytes: plan.memoryBytes, advice: plan.advice, rates: plan.rates, fits: planRows(plan) } : { title, skipped },
          ),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  for (const { title, plan, skipped } of plans) {
    console.log(`== ${title}`);
    console.log(plan ? planText(plan, { fits }) : skipped);
    console.log("");
  }
  if (plans.length > 1) {
    const timed = plans.filter((p) => p.plan?.wallSeconds != null);
    const parts = [];
    if (timed.length > 0) parts.push(`here ≈ ${formatDuration(timed.reduce((s, p) => s + p.plan!.wallSeconds!, 0))} (one experiment after another)`);
    if (gpu) parts.push(`on one ${gpu} ≈ ${formatDuration(plans.reduce((s, p) => s + (p.plan?.gpu?.seconds ?? 0), 0))}`);
    parts.push(`${formatBytes(plans.reduce((s, p) => s + (p.plan?.totals.diskBytes ?? 0), 0))} in the run store`);
    console.log(`all of it: ${parts.join("; ")}`);
  }
  return 0;
}

function modalityBatch(spec: AnyModalitySpec, text: Record<string, string>, profile: Profile): Batch {
  const config = configFromFlags(spec, text, profile);
  checkSequence(spec, config);
  const seeds = num("seeds", text.seeds ?? "1", true);
  if (seeds < 1) throw new UsageError(`--seeds: must be ≥ 1, got ${seeds}`);
  return { title: `collapse ${spec.name} --profile ${profile}`, spec, configs: withSeeds([config], seeds) };
}

function sweepBatch(file: string): Batch {
  const sweep = readSweepFile(file);
  const entries = expandSweep(sweep);
  return { title: `sweep ${sweep.name} (${entries.length} sequences of ${sweep.command})`, spec: sweepModality(sweep.command), configs: entries.map((e) => e.config) };
}

function reproduceBatches(profile: Profile, only: string | undefined): Batch[] {
  const names = only !== undefined ? list("only", only, "") : Object.keys(EXPERIMENTS);
  const batches: Batch[] = [];
  for (const n of names) {
    const experiment = experimentNamed(n);
    if (!experiment) throw new UsageError(`--only: unknown experiment ${JSON.stringify(n)} (known: ${[...Object.keys(EXPERIMENTS), ...modalityNames().filter((m) => !(m in EXPERIMENTS))].join(", ")})`);
    for (const s of experiment.sequences?.(profile) ?? []) batches.push({ title: `reproduce --only ${n} --profile ${profile}: ${s.configs.length} ${s.spec.name} sequences`, spec: s.spec, configs: s.configs });
  }
  return batches;
}

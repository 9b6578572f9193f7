import * as path from "node:path";
import { probeTensorflow } from "../backend";
import { packageRoot } from "../environment";
import { RUN_EXPORT_FORMATS, type RunExportFormat, exportRuns, storeRuns } from "../store/export";
import { RunStore } from "../store/runStore";
import { UsageError, list, oneOf, parse } from "./args";

export const EXPORT_HELP = `collapse export — write a run store's results as one tidy table (and TensorBoard scalars)

Usage: collapse export [--runs-dir DIR] [--out DIR] [--format F[,F]] [--kind K[,K]] [--run KEY[,KEY]]

One row per (run, record): kind, run (its key), createdAt, finished, config.<field> for every
config field (nested fields dotted: config.train.learningRate), then the record's fields:
iteration, metrics.<name>, trainSize, realInTrain, seconds, ... A record's arrays (learning curves,
a linear run's testError) go to a second, long table, series.csv / series.jsonl: kind, run, record,
iteration, series (curve.metrics.trainLoss, ...), element, step, value. Export only reads the
store; a corrupt run directory is skipped with a warning naming the file.

Flags:
  --runs-dir DIR     run store to read (default $COLLAPSE_RUNS_DIR or runs/)
  --out DIR          where to write (default out/export): runs.csv, series.csv, runs.jsonl,
                     series.jsonl, tensorboard/
  --format F[,F]     ${RUN_EXPORT_FORMATS.join(", ")} (default csv,jsonl); tensorboard writes one log
                     dir per run, tensorboard/<kind>/<label>/, every numeric record field a scalar
                     at step = iteration (needs the native backend: bash scripts/setup-native.sh)
  --kind K[,K]       only runs of these kinds (the store's subdirectories: lm, vae, linear, ...)
  --run KEY[,KEY]    only these runs (their directory names)
  --strict           fail on a corrupt run directory instead of skipping it
  -h, --help         this help`;

export async function exportCommand(args: string[]): Promise<number> {
  const v = parse(args, {
    "runs-dir": { type: "string" },
    out: { type: "string" },
    format: { type: "string" },
    kind: { type: "string" },
    run: { type: "string" },
    strict: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (v.help) {
    console.log(EXPORT_HELP);
    return 0;
  }
  const formats = [...new Set(list("format", v.format, "csv,jsonl").map((f) => oneOf("format", f, RUN_EXPORT_FORMATS, "format")))] as RunExportFormat[];
  if (formats.includes("tensorboard")) {
    // Checked before reading anything, so a long export does not fail at its last step.
    const tf = probeTensorflow();
    if (!tf.available) throw new UsageError(`--format tensorboard needs the native TensorFlow backend (${tf.reason}); set it up with bash scripts/setup-native.sh, or leave tensorboard out`);
  }
  const store = v["runs-dir"] ? new RunStore(path.resolve(v["runs-dir"])) : RunStore.fromEnv();
  const kinds = v.kind === undefined ? undefined : list("kind", v.kind, "");
  const keys = v.run === undefined ? undefined : list("run", v.run, "");
  // A misspelt kind or key would otherwise export an empty table without a word.
  const present = storeRuns(store);
  if (kinds) {
    const known = [...new Set(present.map((r) => r.kind))];
    for (const k of kinds) if (!known.includes(k)) throw new UsageError(`--kind: no runs of kind ${JSON.stringify(k)} in ${store.root} (kinds there: ${known.join(", ") || "none"})`);
  }
  if (keys) {
    const inKinds = present.filter((r) => !kinds || kinds.includes(r.kind)).map((r) => r.key);
    const missing = keys.filter((k) => !inKinds.includes(k));
    if (missing.length > 0) throw new UsageError(`--run: no run ${missing.join(", ")} in ${store.root}${kinds ? ` among kinds ${kinds.join(", ")}` : ""}`);
  }
  const out = path.resolve(v.out ?? path.join(packageRoot(), "out", "export"));
  const { table, files, tensorboard } = await exportRuns(store, { out, formats, kinds, keys, strict: v.strict });
  for (const s of table.skipped) console.error(`collapse export: skipped ${s.path}: ${s.reason}`);
  const finished = table.runs.filter((r) => r.finished).length;
  console.log(`${table.runs.length} runs (${finished} finished) from ${store.root}: ${table.rows.length} rows, ${table.columns.length} columns, ${table.series.rows.length} series rows${table.skipped.length ? `; ${table.skipped.length} corrupt runs skipped` : ""}`);
  for (const f of [files.csv, files.seriesCsv, files.jsonl, files.seriesJsonl]) if (f) console.log(`  ${f}`);
  if (files.tensorboard && tensorboard) console.log(`  ${files.tensorboard}/ (${tensorboard.logdirs.length} log dirs, ${tensorboard.scalars} scalars; tensorboard --logdir ${files.tensorboard})`);
  return 0;
}

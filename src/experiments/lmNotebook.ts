import type { IterationRecord } from "../collapse/loop";
import { type LmCurve, lmCrossEntropyFigure } from "../plots/lmFigures";
import type { NotebookDisplay } from "../plots/notebook";
import type { RunStore } from "../store/runStore";
import type { LmSequenceConfig, LmSequenceResult } from "./languageModels";
import { lmFinishedIterations } from "./languageModels";
import { runLmSequences } from "./lmSequences";

export interface LiveSequencesOptions {
  store: RunStore | null;
  /** Sequences trained at once (see runLmSequences). */
  parallel?: number;
  /** Panel label of a sequence in the live figure (default: its model). */
  label?: (config: LmSequenceConfig) => string;
  /** Title of a live test cross-entropy figure that fills in as models finish; none when omitted. */
  liveFigure?: string;
}

/**
 * runLmSequences with a notebook progress bar (model fits done, and what each worker is doing) and,
 * optionally, a live Figure-3-style plot. What a §3.1 notebook cell calls to train its sequences.
 */
export async function runLmSequencesLive(nb: NotebookDisplay, configs: readonly LmSequenceConfig[], opts: LiveSequencesOptions): Promise<LmSequenceResult[]> {
  const label = opts.label ?? ((c: LmSequenceConfig) => c.model);
  const total = configs.reduce((s, c) => s + c.iterations, 0);
  let done = opts.store ? configs.reduce((s, c) => s + Math.min(c.iterations, lmFinishedIterations(opts.store!, c)), 0) : 0;
  const bar = nb.progress("model fits", total);
  const live = opts.liveFigure ? nb.live() : null;
  const curves: LmCurve[] = configs.map((c) => ({ label: label(c), strategy: c.strategy, records: [] as IterationRecord[] }));
  const activity = new Map<number, string>();
  const name = (i: number) => `${label(configs[i])} · ${configs[i].strategy}`;
  const show = () => bar.update(done, [...activity.values()].join(" | "));
  const results = await runLmSequences(configs, {
    store: opts.store,
    parallel: opts.parallel,
    onStatus: (i, m) => {
      activity.set(i, `${name(i)}: ${m}`);
      show();
    },
    onFitProgress: (i, n, step, m) => {
      activity.set(i, `${name(i)}: model ${n} step ${step} loss ${m.trainLoss.toFixed(2)}`);
      show();
    },
    onIteration: (i, record) => {
      (curves[i].records as IterationRecord[]).push(record);
      activity.delete(i);
      done++; // only models trained now are reported; finished ones were counted up front
      show();
      live?.update(lmCrossEntropyFigure(curves.filter((c) => c.records.length > 0), opts.liveFigure));
    },
  });
  bar.finish();
  live?.done(lmCrossEntropyFigure(results.map((r) => ({ label: label(r.config), strategy: r.config.strategy, records: r.records })), opts.liveFigure));
  return results;
}

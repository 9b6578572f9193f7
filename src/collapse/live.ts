import { InterruptedError, interruptible } from "../interrupt";
import { type SequenceCurve, metricByIterationFigure } from "../plots/metricFigures";
import type { NotebookDisplay } from "../plots/notebook";
import { formatSeconds } from "../progress";
import type { RunStore } from "../store/runStore";
import type { IterationRecord } from "./loop";
import { PlannedClock, planSequences, planSummary } from "./plan";
import { storedIterations } from "./runSequence";
import { defaultParallelism, runSequences, storedFits } from "./sequences";
import type { ModalitySpec, SequenceConfig, SequenceResult } from "./spec";

export interface LiveSequencesOptions<C> {
  store: RunStore | null;
  /** Sequences trained at once (see runSequences). */
  parallel?: number;
  /** Panel label of a sequence in the live figure and the progress line (default: what the kind says). */
  label?: (config: C) => string;
  /**
   * Title of a live figure that fills in as models finish, marked "(running: k of N model fits)"; when
   * the run ends it gives way to a one-line note (the cells after draw the final figures), and on an
   * interrupt it stays, marked "(interrupted …)". None when omitted.
   */
  liveFigure?: string;
  /** Stops the sequences (see runSequences); Kernel > Interrupt does too. */
  signal?: AbortSignal;
  /**
   * Plan the run first (collapse plan: its steps timed here, seconds): prints the planned time, the
   * progress bar's ETA follows the plan's work, and the end line gives the planned time beside the
   * time taken. Needs a spec with a cost model; ignored for others.
   */
  plan?: boolean;
}

/**
 * runSequences with a notebook progress bar (model fits done, and what each worker is doing) and,
 * optionally, a live figure of the per-iteration metric (the spec's live figure, else its first metric
 * by iteration). What a notebook cell calls to train its sequences.
 */
export async function runSequencesLive<C extends SequenceConfig, R extends SequenceResult<C>, L, F, X>(
  nb: NotebookDisplay,
  spec: ModalitySpec<C, R, L, F, X>,
  configs: readonly C[],
  opts: LiveSequencesOptions<C>,
): Promise<R[]> {
  const [metric] = spec.metrics;
  const defaultLabel = spec.live?.label ?? (() => metric.label);
  const figure = spec.live?.figure ?? ((curves: readonly SequenceCurve[], title: string) => metricByIterationFigure(curves, { metric: metric.key, axisTitle: metric.label }, title));
  const label = opts.label ?? defaultLabel;
  const total = configs.reduce((s, c) => s + c.iterations, 0);
  let done = storedFits(spec, configs, opts.store);
  const store = opts.store;
  const planned =
    opts.plan && spec.plan
      ? // Interruptible like the run itself: Kernel > Interrupt while the steps are timed ends the cell in one line.
        await interruptible(undefined, async (signal) =>
          planSequences(spec, configs, { parallel: opts.parallel ?? defaultParallelism(await (await import("../backend")).selectBackend()), finished: (c) => (store ? storedIterations(spec, store, c) : 0), signal }),
        )
      : null;
  if (planned) console.log(planSummary(planned));
  const clock = planned ? new PlannedClock(planned) : null;
  const bar = nb.progress("model fits", total, clock ? { eta: () => clock.eta() } : {});
  const live = opts.liveFigure ? nb.live() : null;
  const curves: SequenceCurve[] = configs.map((c) => ({ label: label(c), strategy: c.strategy, records: [] as IterationRecord[] }));
  const activity = new Map<number, string>();
  const name = (i: number) => `${label(configs[i])} · ${configs[i].strategy}`;
  const show = () => bar.update(done, [...activity.values()].join(" | "));
  const titled = (state: string) => `${opts.liveFigure} (${state}: ${done} of ${total} model fits)`;
  const drawn = () => curves.filter((c) => c.records.length > 0);
  const started = performance.now();
  let results: R[];
  try {
    results = await runSequences(spec, configs, {
      store: opts.store,
      parallel: opts.parallel,
      signal: opts.signal,
      onStatus: (i, m) => {
        activity.set(i, `${name(i)}: ${m}`);
        show();
      },
      onFitProgress: (i, n, step, m) => {
        clock?.step(i, n, step);
        const loss = m.trainLoss ?? m.loss;
        activity.set(i, `${name(i)}: model ${n} step ${step}${loss !== undefined ? ` loss ${loss.toFixed(2)}` : ""}`);
        show();
      },
      onIteration: (i, record) => {
        (curves[i].records as IterationRecord[]).push(record);
        clock?.fitDone(i, record.iteration);
        activity.delete(i);
        done++; // only models trained now are reported; finished ones were counted up front
        show();
        live?.update(figure(drawn(), titled("running")));
      },
    });
  } catch (e) {
    const why = e instanceof InterruptedError ? "interrupted" : "failed";
    bar.stop(why);
    if (drawn().length > 0) live?.stop(figure(drawn(), titled(why)));
    else live?.clear(`${opts.liveFigure}: ${why} before a model finished in this run (${done} of ${total} model fits in the store).`);
    throw e;
  }
  bar.finish();
  const took = (performance.now() - started) / 1000;
  live?.clear(`${opts.liveFigure}: ${configs.length} sequences finished in ${formatSeconds(took)}; the figures follow.`);
  if (planned?.wallSeconds) console.log(`took ${formatSeconds(took)}; planned ${formatSeconds(planned.wallSeconds)} (taken / planned = ${(took / planned.wallSeconds).toFixed(2)})`);
  return results;
}

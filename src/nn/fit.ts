/**
 * What every training loop of the kit shares: the learning-rate schedule, the divergence stop and
 * yielding to the event loop (so that notebooks stay responsive and Ctrl-C works during a fit).
 */

/** The parts of a training config the schedule reads. */
export interface ScheduleConfig {
  learningRate: number;
  minLearningRate: number;
  /** Share of the steps spent warming up linearly from 0 (at least one step). */
  warmupFraction: number;
}

/** Learning rate at `step` (0-based) of `total`: linear warmup, then cosine decay to the minimum. */
export function learningRateAt(c: ScheduleConfig, step: number, total: number): number {
  const warmup = Math.max(1, Math.round(c.warmupFraction * total));
  if (step < warmup) return (c.learningRate * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return c.minLearningRate + 0.5 * (c.learningRate - c.minLearningRate) * (1 + Math.cos(Math.PI * progress));
}

/** A NaN or infinite loss: the fit is stopped and the step is named. */
export class DivergenceError extends Error {
  constructor(
    readonly step: number,
    loss: number,
    what = "training",
  ) {
    super(`${what} diverged at step ${step} (loss ${loss}); lower the learning rate or set/raise gradClip`);
    this.name = "DivergenceError";
  }
}

/** Lets timers, I/O and notebook messages run during a long synchronous computation. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// Stopping a long run from a notebook (Kernel > Interrupt) or any caller's AbortSignal.
//
// Jupyter interrupts a kernel with SIGINT, a process-wide event, so the runs it should stop are kept
// in one process-wide set: the only state of its kind in the kit, because a signal has no other way
// to find them. Everything below the entry points takes an explicit AbortSignal.

/** A run stopped on request. Its stack is its message: a notebook shows one line, not an internal trace. */
export class InterruptedError extends Error {
  constructor(what = "the run") {
    super(`interrupted: ${what} stopped; finished iterations are kept in the run store, so running the cell (or command) again resumes`);
    this.name = "InterruptedError";
    this.stack = `${this.name}: ${this.message}`;
  }
}

const running = new Set<AbortController>();

/**
 * Runs `fn` with a signal that aborts when `outer` does or when interruptRuns() is called (the kit's
 * notebooks call it on Kernel > Interrupt). Nested calls share the outermost registration's fate:
 * each registers its own controller, and interruptRuns() aborts them all.
 */
export async function interruptible<T>(outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const forward = () => controller.abort(outer?.reason);
  if (outer?.aborted) forward();
  outer?.addEventListener("abort", forward, { once: true });
  running.add(controller);
  try {
    return await fn(controller.signal);
  } finally {
    running.delete(controller);
    outer?.removeEventListener("abort", forward);
  }
}

const listeners = new Set<() => void>();

/** Calls `fn` on every interruptRuns() until the returned function unsubscribes it (live displays go quiet). */
export function onInterrupt(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Aborts every run started through interruptible(); returns how many there were. */
export function interruptRuns(): number {
  const n = running.size;
  for (const c of running) c.abort(new InterruptedError());
  for (const fn of [...listeners]) fn();
  return n;
}

/** Runs still registered (started and not yet settled). */
export function runningCount(): number {
  return running.size;
}

/** Throws an InterruptedError if `signal` has been aborted. */
export function throwIfInterrupted(signal: AbortSignal | undefined, what?: string): void {
  if (!signal?.aborted) return;
  throw signal.reason instanceof InterruptedError && what === undefined ? signal.reason : new InterruptedError(what);
}

/**
 * A yield to the event loop at most every `intervalMs`, then an abort check: what a long loop of
 * short awaits calls each round, since awaiting settled promises never lets a signal handler (or a
 * notebook's progress timer) run.
 */
export function pacer(signal: AbortSignal | undefined, intervalMs = 50): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last >= intervalMs) {
      await new Promise((resolve) => setImmediate(resolve));
      last = performance.now();
    }
    throwIfInterrupted(signal);
  };
}

let watching = false;

/**
 * Stops the kit's runs on SIGINT, before tslab's own handler runs. For tslab kernels other than the
 * kit's (bin/collapse-kernel.js, which handles interrupts itself): the runs then stop, though tslab
 * still ends the cell with its own message.
 */
export function watchInterrupts(): void {
  if (watching || process.env.COLLAPSE_KERNEL === "1") return;
  watching = true;
  process.prependListener("SIGINT", () => {
    interruptRuns();
  });
}

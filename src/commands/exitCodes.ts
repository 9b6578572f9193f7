import { SequencesFailedError } from "../collapse/sequences";
import { ConfigError, DataError } from "../errors";
import { InterruptedError } from "../interrupt";
import { RunInUseError } from "../store/runStore";
import { UsageError } from "./args";

/**
 * The CLI's exit codes: every expected condition is one line on stderr and a code a script (or a
 * Slurm epilogue) can act on; only a bug prints a stack trace.
 */
export const EXIT = {
  ok: 0,
  /** A bug: the stack trace follows. */
  unexpected: 1,
  /** Bad flags, config or data: the line names it. */
  usage: 2,
  /** Another live process holds the run (it is training it): wait for it, or stop it. */
  runInUse: 3,
  /** Out of memory: the line says what needs less (a smaller micro-batch, fewer sequences at once). */
  outOfMemory: 4,
  /** Some sequences of several failed (the others finished); each is named. */
  sequencesFailed: 5,
  /** Interrupted (SIGINT, SIGTERM, Kernel > Interrupt): finished work is kept, the same command resumes. */
  interrupted: 130,
} as const;

/** The help's paragraph on exit codes. */
export const EXIT_HELP = `Exit codes: 0 done; 1 a bug (with its stack trace); 2 bad flags, config or data; 3 the run is in
use by another live process; 4 out of memory (the line says what to lower); 5 some of several
sequences failed (each named, the others finished); 130 interrupted (finished work is kept).`;

/** A TensorFlow or V8 allocation failure, or a worker the kernel killed (most often for memory). */
export function isOutOfMemory(e: unknown): boolean {
  const text = e instanceof Error ? e.message : String(e);
  return /\bOOM\b|ResourceExhausted|out[ -]of[ -]memory|Allocation failed|bad_alloc|SIGKILL/i.test(text);
}

const LESS_MEMORY =
  "Finished models are kept in the run store. For less memory: a smaller --micro-batch (language models: gradients are accumulated, the same update), a smaller --batch, or fewer sequences at once (a sweep's maxConcurrent, or --seeds).";

/** Prints `e` as the CLI does (one line for every expected condition) and returns its exit code. */
export function reportError(e: unknown, command: string | undefined): number {
  const say = (line: string) => console.error(`collapse: ${line}`);
  if (e instanceof UsageError || e instanceof ConfigError || e instanceof DataError) {
    say(e.message);
    if (e instanceof UsageError) console.error(`Run \`collapse ${command && !command.startsWith("-") ? command + " " : ""}--help\` for usage.`);
    return EXIT.usage;
  }
  if (e instanceof RunInUseError) {
    say(`${e.message}; the finished iterations it writes are kept, so run this again once it is done`);
    return EXIT.runInUse;
  }
  if (e instanceof InterruptedError) {
    say(e.message);
    return EXIT.interrupted;
  }
  if (e instanceof SequencesFailedError) {
    say(e.message);
    if (e.failures.some((f) => isOutOfMemory(f.error))) console.error(LESS_MEMORY);
    return EXIT.sequencesFailed;
  }
  if (isOutOfMemory(e)) {
    say(`out of memory: ${(e as Error).message.split("\n")[0]}`);
    console.error(LESS_MEMORY);
    return EXIT.outOfMemory;
  }
  console.error(`collapse: ${(e as Error).stack ?? e}`);
  return EXIT.unexpected;
}

import { type AnyCommand } from "../commands/sequenceCommand";
import { SEQUENCE_COMMANDS } from "../commands/modalities";
import { GAUSSIAN_SEQUENCES } from "../experiments/gaussian";
import { lmRunKey } from "../experiments/languageModels";
import { LM_SEQUENCES } from "../experiments/lmSequences";
import { MOLECULE_SEQUENCES, moleculeRunKey } from "../experiments/molecules";
import type { SequenceKind } from "../experiments/sequences";
import { VAE_SEQUENCES, vaeRunKey } from "../experiments/vae";
import type { RunStore } from "../store/runStore";

/**
 * What a sweep needs of each sequence command: the command (profile base, check, metrics, flags), the
 * sequence kind runSequences runs it with, and where the run store keeps a config's records (the same
 * run `collapse <command>` reads and writes, so a sweep and a single command share their results).
 */
export interface SweepCommand {
  name: SweepCommandName;
  command: AnyCommand;
  kind: SequenceKind<any, unknown>;
  /** The run kind in the store and the key a config is stored under. */
  storeKind: string;
  runKey(config: any): Record<string, unknown>;
}

export const SWEEP_COMMAND_NAMES = ["lm", "molecules", "vae", "gaussian"] as const;
export type SweepCommandName = (typeof SWEEP_COMMAND_NAMES)[number];

export const SWEEP_COMMANDS: Record<SweepCommandName, SweepCommand> = {
  lm: { name: "lm", command: SEQUENCE_COMMANDS.lm as AnyCommand, kind: LM_SEQUENCES, storeKind: "lm", runKey: lmRunKey },
  molecules: { name: "molecules", command: SEQUENCE_COMMANDS.molecules as AnyCommand, kind: MOLECULE_SEQUENCES, storeKind: "molecules", runKey: (c) => moleculeRunKey(c) },
  vae: { name: "vae", command: SEQUENCE_COMMANDS.vae as AnyCommand, kind: VAE_SEQUENCES, storeKind: "vae", runKey: (c) => vaeRunKey(c) },
  // `collapse gaussian` stores nothing; a sweep keeps each sequence under its config (GAUSSIAN_SEQUENCES).
  gaussian: { name: "gaussian", command: SEQUENCE_COMMANDS.gaussian as AnyCommand, kind: GAUSSIAN_SEQUENCES, storeKind: "gaussian", runKey: (c) => c },
};

/** The run directory holding `config`'s records, or null while none exists (or its key cannot be computed yet). */
export function sweepRunDir(cmd: SweepCommand, store: RunStore, config: unknown): string | null {
  let key: Record<string, unknown>;
  try {
    key = cmd.runKey(config);
  } catch {
    return null; // e.g. a data set not downloaded yet: no run can hold it
  }
  return store.find(cmd.storeKind, key);
}

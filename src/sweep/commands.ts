import type { AnyModalitySpec, SequenceConfig } from "../collapse/spec";
import { ConfigError } from "../errors";
import { modalityNames, modalitySpec } from "../modalities";
import type { RunStore } from "../store/runStore";

/** The modality a sweep's `command:` names (any registered one); a ConfigError listing them if none. */
export function sweepModality(name: unknown, field = "command"): AnyModalitySpec {
  const spec = typeof name === "string" ? modalitySpec(name) : undefined;
  if (!spec) throw new ConfigError(field, `expected one of ${modalityNames().join(", ")}, got ${JSON.stringify(name)}`);
  return spec;
}

/**
 * The run directory holding `config`'s records (the same run `collapse <command>` reads and writes, so
 * a sweep and a single command share their results), or null while none exists (or its key cannot be
 * computed yet).
 */
export function sweepRunDir(spec: AnyModalitySpec, store: RunStore, config: SequenceConfig): string | null {
  let key: Record<string, unknown>;
  try {
    key = spec.runKey(config);
  } catch {
    return null; // e.g. a data set not downloaded yet: no run can hold it
  }
  return store.find(spec.name, key);
}

import type { AnyModalitySpec } from "../collapse/spec";
import { ConfigError } from "../errors";
import { modalityNames, modalitySpec } from "../modalities";

/** The modality a sweep's `command:` names (any registered one); a ConfigError listing them if none. */
export function sweepModality(name: unknown, field = "command"): AnyModalitySpec {
  const spec = typeof name === "string" ? modalitySpec(name) : undefined;
  if (!spec) throw new ConfigError(field, `expected one of ${modalityNames().join(", ")}, got ${JSON.stringify(name)}`);
  return spec;
}

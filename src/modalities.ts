import type { AnyModalitySpec } from "./collapse/spec";
import { ConfigError } from "./errors";
import { GAUSSIAN } from "./gaussian/spec";
import { KDE } from "./kde/spec";
import { LM } from "./lm/spec";
import { MOLECULES } from "./molecules/spec";
import { VAE } from "./vae/spec";

// The modalities the CLI, sweeps, `collapse reproduce` and the notebooks' live runner know, by name.
// A new modality is a folder of its own with a ModalitySpec, plus one registerModality line below.

const registry = new Map<string, AnyModalitySpec>();

/** Makes `spec` known by its name (a command, a run-store kind and a sweep's `command:`). */
export function registerModality(spec: AnyModalitySpec): void {
  if (!/^[a-z][a-z0-9-]*$/.test(spec.name)) throw new ConfigError("name", `a modality's name must be lowercase letters, digits and '-', got ${JSON.stringify(spec.name)}`);
  const known = registry.get(spec.name);
  if (known && known !== spec) throw new ConfigError("name", `a modality named ${spec.name} is registered already`);
  registry.set(spec.name, spec);
}

/** The registered modality of that name, or undefined. */
export function modalitySpec(name: string): AnyModalitySpec | undefined {
  return registry.get(name);
}

/** The registered modalities' names, in registration order. */
export function modalityNames(): string[] {
  return [...registry.keys()];
}

registerModality(LM);
registerModality(MOLECULES);
registerModality(VAE);
registerModality(GAUSSIAN);
registerModality(KDE);

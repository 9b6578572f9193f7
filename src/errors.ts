/** A bad or contradictory configuration, rejected before any work starts. `field` names the culprit. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    /** What is wrong with it (the message without the field). */
    readonly detail: string,
  ) {
    super(`invalid config: ${field}: ${detail}`);
    this.name = "ConfigError";
  }
}

/** Input data (a file, a run directory) that cannot be used as it is. */
export class DataError extends Error {
  constructor(
    readonly path: string,
    /** What is wrong with it (the message without the path). */
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = "DataError";
  }
}

/** An error as a worker process sends it to its parent, keeping what a ConfigError or DataError names. */
export type SerializedError =
  | { kind: "config"; field: string; detail: string }
  | { kind: "data"; path: string; detail: string }
  | { kind: "other"; message: string };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ConfigError) return { kind: "config", field: e.field, detail: e.detail };
  if (e instanceof DataError) return { kind: "data", path: e.path, detail: e.detail };
  return { kind: "other", message: e instanceof Error ? e.message : String(e) };
}

/** The error a parent process rethrows for a worker's SerializedError (a ConfigError stays one, and so on). */
export function deserializeError(s: SerializedError): Error {
  switch (s.kind) {
    case "config":
      return new ConfigError(s.field, s.detail);
    case "data":
      return new DataError(s.path, s.detail);
    case "other":
      return new Error(s.message);
  }
}

export interface IntRule {
  min?: number;
  max?: number;
}

export function checkInt(field: string, value: unknown, rule: IntRule = {}): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new ConfigError(field, `expected an integer, got ${JSON.stringify(value)}`);
  }
  checkRange(field, value, rule);
  return value;
}

export function checkNumber(field: string, value: unknown, rule: IntRule & { exclusiveMin?: number } = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigError(field, `expected a finite number, got ${JSON.stringify(value)}`);
  }
  if (rule.exclusiveMin !== undefined && !(value > rule.exclusiveMin)) {
    throw new ConfigError(field, `must be > ${rule.exclusiveMin}, got ${value}`);
  }
  checkRange(field, value, rule);
  return value;
}

function checkRange(field: string, value: number, rule: IntRule): void {
  if (rule.min !== undefined && value < rule.min) throw new ConfigError(field, `must be ≥ ${rule.min}, got ${value}`);
  if (rule.max !== undefined && value > rule.max) throw new ConfigError(field, `must be ≤ ${rule.max}, got ${value}`);
}

export function checkOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(field, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Rejects keys the config type does not know: a typo must not silently fall back to a default. */
/**
 * The field names of a config type, from a map that must name every one of them (the compiler checks
 * it against the type, so a field added to the interface cannot be missing from checkKnownKeys' list).
 */
export function fieldNames<C>(fields: { readonly [K in keyof Required<C>]: true }): readonly string[] {
  return Object.keys(fields);
}

export function checkKnownKeys(field: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ConfigError(field ? `${field}.${key}` : key, `unknown field (known: ${known.join(", ")})`);
    }
  }
}

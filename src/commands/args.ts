import { wrap } from "../progress";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { BACKEND_ENV_VAR, BACKEND_NAMES, type BackendName, selectBackend } from "../backend";
import { ConfigError } from "../errors";
import { RunStore } from "../store/runStore";

/** A usage mistake: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {}

/** Flags every command takes: output format, run store, help. */
export const COMMON_FLAGS = {
  json: { type: "boolean" },
  "no-cache": { type: "boolean" },
  "runs-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export type FlagOptions = Record<string, { type: "string" | "boolean"; short?: string }>;

export type FlagValues<T extends FlagOptions> = { [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string };

export function parse<T extends FlagOptions>(args: string[], options: T): FlagValues<T> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as FlagValues<T>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Throws a UsageError: for expressions (`x ?? usageFailure("...")`). */
export function usageFailure(message: string): never {
  throw new UsageError(message);
}

export function list(flag: string, value: string | undefined, fallback: string): string[] {
  const items = (value ?? fallback).split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new UsageError(`--${flag}: empty item in ${JSON.stringify(value)}`);
  return items;
}

export function num(flag: string, text: string, integer: boolean): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`--${flag}: expected ${integer ? "an integer" : "a number"}, got ${JSON.stringify(text)}`);
  }
  return v;
}

export function oneOf<T extends string>(flag: string, value: string, known: readonly T[], what = "value"): T {
  if (!(known as readonly string[]).includes(value)) throw new UsageError(`--${flag}: unknown ${what} ${JSON.stringify(value)} (known: ${known.join(", ")})`);
  return value as T;
}

export function storeFrom(values: { "no-cache"?: boolean; "runs-dir"?: string }): RunStore | null {
  if (values["no-cache"]) return null;
  return values["runs-dir"] ? new RunStore(path.resolve(values["runs-dir"])) : RunStore.fromEnv();
}

/** The help of --backend, its text starting at column `width` after the two-space indent. */
export function backendHelp(width: number): string {
  const pad = " ".repeat(width + 2);
  return [
    `  ${"--backend B".padEnd(width)}${BACKEND_NAMES.join(" | ")} (default: the best available;`,
    `${pad}sets ${BACKEND_ENV_VAR} for this process; tensorflow needs`,
    `${pad}bash scripts/setup-native.sh [--gpu] once)`,
  ].join("\n");
}

/** `--backend B` for every command that runs tensors: checked, exported to workers, selected now. */
export async function applyBackendFlag(value: string | undefined): Promise<void> {
  if (value === undefined) return;
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) throw new UsageError(`--backend: expected one of ${BACKEND_NAMES.join(", ")}, got ${JSON.stringify(value)}`);
  process.env[BACKEND_ENV_VAR] = value as BackendName;
  try {
    await selectBackend();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--backend: ${e.detail}`);
    throw e;
  }
}

export function signed(x: number): string {
  return `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(4)}`;
}

export { wrap };

import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors";
import { compileAvailable, installCompiler } from "./compile";
import { installTensorflowKernels } from "./nativeKernels";
import { patchedKernels } from "./patches";
import { installKernels, installWasmKernels, quietCpu } from "./portableKernels";

/**
 * Picks the tfjs backend for the neural sections. This module is the one place that touches tfjs's
 * global backend (`tf.setBackend` is async and process-wide).
 *
 * Order of preference: `tensorflow` (native libtensorflow through @tensorflow/tfjs-node-gpu, else
 * @tensorflow/tfjs-node), then `wasm` (@tensorflow/tfjs-backend-wasm, XNNPACK with SIMD), then `cpu`
 * (plain JS). `COLLAPSE_BACKEND=tensorflow|wasm|cpu` forces one; an explicit `{backend}` option wins
 * over the variable.
 *
 * The tensorflow probe does not trust `require("@tensorflow/tfjs-node")` succeeding: danfojs-node's
 * dependency on it is mapped by npm `overrides` onto plain @tensorflow/tfjs, so the module exists but
 * registers no native backend until `scripts/setup-native.sh` puts the real package there. It counts
 * as available only once `tensorflow` is registered with the tfjs engine this kit uses. Loading
 * tfjs-node also makes `tensorflow` the current backend as a side effect; the probe undoes that, so
 * probing never switches a process that runs on another backend.
 *
 * The wasm package is loaded lazily, here only: merely importing it registers `wasm` at a higher
 * priority than `cpu` with an asynchronous init, after which any synchronous tfjs call made before
 * `await tf.setBackend(...)` throws. Processes that never call `selectBackend` therefore stay on `cpu`.
 */

export type BackendName = "tensorflow" | "wasm" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];
export const BACKEND_ENV_VAR = "COLLAPSE_BACKEND";

// Read by libtensorflow once, when tfjs-node loads (also through danfojs-node): set before anything can
// load it; a user's value wins. TF_CPP_MIN_LOG_LEVEL hides TensorFlow's C++ start-up banners.
// TF_NUM_INTRAOP_THREADS=1: one TensorFlow thread per process, and one process per core in the
// sequence runner. At the kit's CPU sizes per-op dispatch from JS dominates and a small op split over
// two threads waits for the second one to wake, so this does more work per second (see the README's
// Benchmarks); and a run's numbers do not depend on how many sequences ran beside it (results can
// differ in the last bits between thread counts).
process.env.TF_CPP_MIN_LOG_LEVEL ??= "2";
process.env.TF_NUM_INTRAOP_THREADS ??= "1";

export interface BackendSelection {
  name: BackendName;
  /** Package and version, and for wasm its SIMD / thread support. */
  detail: string;
  /** Whether tensorflow runs on a GPU. */
  gpu?: boolean;
}

export interface BackendAvailability {
  name: BackendName;
  available: boolean;
  /** What was found (package@version, features) when available. */
  detail?: string;
  /** Why not, when unavailable. */
  reason?: string;
}

export interface SelectBackendOptions {
  backend?: BackendName;
}

let current: BackendSelection | null = null;
let forcedBy: string | null = null;
let inFlight: Promise<BackendSelection> | null = null;
let inFlightKey: string | null = null;

/**
 * Selects and initializes the backend (see the module comment for the order). Idempotent: once a
 * backend is selected, asking again for the same one (or for "the best") returns the same selection
 * without touching tfjs. Throws a ConfigError naming COLLAPSE_BACKEND (or `backend`) if the forced
 * backend is unavailable.
 */
export async function selectBackend(opts: SelectBackendOptions = {}): Promise<BackendSelection> {
  const envValue = process.env[BACKEND_ENV_VAR];
  let wanted: BackendName | null = null;
  let field = "backend";
  if (opts.backend !== undefined) {
    wanted = checkBackendName("backend", opts.backend);
  } else if (envValue !== undefined && envValue !== "") {
    wanted = checkBackendName(BACKEND_ENV_VAR, envValue);
    field = BACKEND_ENV_VAR;
  }
  const key = wanted ?? "best";
  if (inFlight && inFlightKey === key) return inFlight;
  if (inFlight) await inFlight.catch(() => undefined);
  if (current && tf.getBackend() === current.name) {
    // Same request as last time: nothing to do. (A "best" request after a forced one re-selects.)
    if (wanted === current.name || (wanted === null && forcedBy === null)) return current;
  }
  inFlightKey = key;
  inFlight = (async () => {
    const selection = wanted ? await useForced(wanted, field) : await useBest();
    current = selection;
    forcedBy = wanted ? field : null;
    return selection;
  })();
  try {
    return await inFlight;
  } finally {
    inFlight = null;
    inFlightKey = null;
  }
}

function checkBackendName(field: string, value: unknown): BackendName {
  if (typeof value !== "string" || !(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new ConfigError(field, `expected one of ${BACKEND_NAMES.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as BackendName;
}

async function useForced(name: BackendName, field: string): Promise<BackendSelection> {
  const avail = await prepare(name);
  if (!avail.available) {
    const hint = name === "tensorflow" ? " (set it up with: bash scripts/setup-native.sh, or --gpu for tfjs-node-gpu)" : "";
    throw new ConfigError(field, `backend "${name}" is not available here: ${avail.reason}${hint}`);
  }
  return activate(name, avail);
}

async function useBest(): Promise<BackendSelection> {
  const reasons: string[] = [];
  for (const name of BACKEND_NAMES) {
    const avail = await prepare(name);
    if (avail.available) {
      try {
        return await activate(name, avail);
      } catch (e) {
        reasons.push(`${name}: ${(e as Error).message}`);
        continue;
      }
    }
    reasons.push(`${name}: ${avail.reason}`);
  }
  throw new Error(`no tfjs backend could be initialized (${reasons.join("; ")})`);
}

async function activate(name: BackendName, avail: BackendAvailability): Promise<BackendSelection> {
  // Each backend's kernel patches, once, when it is selected (never on the forward path).
  if (name !== "tensorflow") installKernels();
  if (name === "cpu") quietCpu();
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend("${name}") failed`);
  let detail = avail.detail ?? name;
  if (name === "wasm") detail = wasmDetail();
  if (name === "tensorflow") {
    for (const k of installTensorflowKernels()) patchedKernels.add(k);
    installCompiler();
    const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
    return { name, detail: tensorflowDetail(detail, gpu), gpu };
  }
  return { name, detail };
}

/** Loads what a backend needs (without making it current) and says whether it can be used. */
async function prepare(name: BackendName): Promise<BackendAvailability> {
  if (name === "tensorflow") return probeTensorflow();
  if (name === "wasm") return prepareWasm();
  if (tf.findBackendFactory("cpu") == null) return { name: "cpu", available: false, reason: "the cpu backend is not registered" };
  return { name: "cpu", available: true, detail: `@tensorflow/tfjs-backend-cpu@${tf.version_core}` };
}

// ---------------------------------------------------------------------------------------------------
// tensorflow (tfjs-node)

/** How the tensorflow probe loads a package; injectable for tests. */
export interface ModuleLoader {
  /** The package.json of `pkg` (name, version), or null if it is not installed. */
  packageJson(pkg: string): { name?: string; version?: string } | null;
  /** Loads the package for its side effects (registering a backend). */
  load(pkg: string): void;
}

const nodeLoader: ModuleLoader = {
  packageJson(pkg) {
    try {
      return JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), "utf8"));
    } catch {
      return null;
    }
  },
  load(pkg) {
    keepingBackend(() => require(pkg));
  },
};

/**
 * Runs `load` (a require of tfjs-node, directly or through danfojs-node) and puts back the backend
 * that was current before, which tfjs-node's import replaces with `tensorflow`.
 */
export function keepingBackend<T>(load: () => T): T {
  const before = safeGetBackend();
  try {
    return load();
  } finally {
    if (before !== null && safeGetBackend() !== before) void tf.setBackend(before); // initialized already: switches synchronously
  }
}

/** The tensorflow backend's libtensorflow version and device, e.g. "… (libtensorflow 2.21.0, CPU)". */
function tensorflowDetail(detail: string, gpu: boolean): string {
  const version = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version ?? "?";
  const threads = process.env.TF_NUM_INTRAOP_THREADS ? `, ${process.env.TF_NUM_INTRAOP_THREADS} intra-op threads` : "";
  return `${detail} (libtensorflow ${version}, ${gpu ? "GPU" : "CPU"}${threads})`;
}

export const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

/**
 * Whether the native `tensorflow` backend can be used: some tfjs-node package loads AND the
 * `tensorflow` backend ends up registered with this kit's tfjs engine. Never sets the backend.
 */
export function probeTensorflow(loader: ModuleLoader = nodeLoader): BackendAvailability {
  const notes: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    const pj = loader.packageJson(pkg);
    if (pj === null) {
      notes.push(`${pkg} is not installed`);
      continue;
    }
    const real = `${pj.name ?? "?"}@${pj.version ?? "?"}`;
    const alias = pj.name !== pkg ? ` (an npm alias of ${real})` : "";
    try {
      loader.load(pkg);
    } catch (e) {
      notes.push(`${pkg}${alias} failed to load: ${firstLine((e as Error).message)}`);
      continue;
    }
    if (tf.findBackendFactory("tensorflow") != null) {
      return { name: "tensorflow", available: true, detail: `${pkg}${alias ? ` -> ${real}` : `@${pj.version}`}` };
    }
    notes.push(`${pkg}${alias} loads but registers no "tensorflow" backend`);
  }
  return { name: "tensorflow", available: false, reason: notes.join("; ") };
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

// ---------------------------------------------------------------------------------------------------
// wasm

type WasmModule = typeof import("@tensorflow/tfjs-backend-wasm");
let wasmModule: WasmModule | null = null;
let wasmLoadError: string | null = null;

function loadWasm(): WasmModule | null {
  if (wasmModule || wasmLoadError) return wasmModule;
  try {
    const dist = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
    const wasmDir = path.join(dist, "dist");
    const mod = require("@tensorflow/tfjs-backend-wasm") as WasmModule;
    for (const f of ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"]) {
      if (!fs.existsSync(path.join(wasmDir, f))) throw new Error(`${f} is missing from ${wasmDir}`);
    }
    // In Node the binaries are read from the file system (no fetch): point at the package's dist dir.
    mod.setWasmPaths(wasmDir + path.sep);
    wasmModule = mod;
  } catch (e) {
    wasmLoadError = firstLine((e as Error).message);
  }
  return wasmModule;
}

async function prepareWasm(): Promise<BackendAvailability> {
  const mod = loadWasm();
  if (!mod) return { name: "wasm", available: false, reason: `@tensorflow/tfjs-backend-wasm did not load: ${wasmLoadError}` };
  installWasmKernels();
  return { name: "wasm", available: true, detail: `@tensorflow/tfjs-backend-wasm@${mod.version_wasm}` };
}

function wasmDetail(): string {
  const mod = wasmModule;
  if (!mod) return "wasm";
  const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
  const threadsSupported = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
  let threads = 1;
  try {
    threads = mod.getThreadsCount();
  } catch {
    // not initialized
  }
  return `@tensorflow/tfjs-backend-wasm@${mod.version_wasm} (${simd ? "simd" : "no simd"}, ${
    threadsSupported ? `${threads} threads` : "single-threaded"
  })`;
}

/** What a run records about its tensor backend. */
export function backendInfo(): Record<string, unknown> {
  const name = current && tf.getBackend() === current.name ? current.name : safeGetBackend();
  const info: Record<string, unknown> = {
    backend: name,
    detail: current && current.name === name ? current.detail : name,
    tfjs: tf.version_core,
    forcedBy,
    // Only the patches of the backend that ran: the portable backends' patches never touch tensorflow.
    kernelPatches: [...patchedKernels].filter((k) => k.startsWith(`${name}:`)).sort(),
  };
  if (name === "tensorflow") info.compiledSteps = compileAvailable();
  if (name === "wasm") {
    info.wasmSimd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    info.wasmThreads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
  }
  return info;
}

function safeGetBackend(): string | null {
  try {
    // getBackend() initializes the best registered backend if none is set: only ask once one is.
    return (tf.engine() as unknown as { backendName: string | null }).backendName ?? null;
  } catch {
    return null;
  }
}

/** Each backend's availability, without changing the current backend (loads wasm's package). */
export async function availableBackends(): Promise<BackendAvailability[]> {
  return Promise.all(BACKEND_NAMES.map((n) => prepare(n)));
}

export { installKernels, wasmMissingKernels } from "./portableKernels";

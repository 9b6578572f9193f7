import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { installTensorflowKernels } from "./backendNative";
import { ConfigError } from "./errors";

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
  installKernels();
  if (name === "cpu") quietCpu();
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend("${name}") failed`);
  let detail = avail.detail ?? name;
  if (name === "wasm") detail = wasmDetail();
  if (name === "tensorflow") {
    for (const k of installTensorflowKernels()) patchedKernels.add(k);
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

/** The cpu backend's first write logs advice to install tfjs-node, which cannot be followed here. */
function quietCpu(): void {
  const cpu = tf.engine().findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu && "firstUse" in cpu) cpu.firstUse = false;
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

// ---------------------------------------------------------------------------------------------------
// Kernels the portable backends lack or implement badly

const patchedKernels = new Set<string>();

/**
 * `UnsortedSegmentSum` (the gradient of `gather`, i.e. of every embedding lookup): the wasm backend has
 * no kernel, and the cpu one loops over segments (numSegments passes over the input: 8000 × B·T·d for a
 * vocab-8000 embedding, seconds per step). This scatter-add is O(B·T·d) and is registered for both.
 * Out-of-range segment ids are dropped, as in TensorFlow.
 */
function unsortedSegmentSumKernel(backendName: "cpu" | "wasm"): tf.KernelConfig {
  return {
    kernelName: "UnsortedSegmentSum",
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as unknown as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
      const b = backend as unknown as RawBackend;
      const xv = b.readSync(x.dataId) as Float32Array | Int32Array;
      const ids = b.readSync(segmentIds.dataId) as Int32Array;
      const nIds = ids.length;
      const rest = x.shape.slice(segmentIds.shape.length);
      const inner = rest.reduce((p, q) => p * q, 1);
      const outShape = [numSegments, ...rest];
      const out = x.dtype === "int32" ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
      for (let i = 0; i < nIds; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue;
        const src = i * inner;
        const dst = s * inner;
        for (let j = 0; j < inner; j++) out[dst + j] += xv[src + j];
      }
      return makeOutput(b, backendName, outShape, x.dtype, out);
    },
  };
}

type TypedArray = Float32Array | Int32Array | Uint8Array;

interface RawBackend {
  readSync(dataId: object): TypedArray;
  write(values: TypedArray, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput?(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: TypedArray): tf.TensorInfo;
  makeTensorInfo?(shape: number[], dtype: tf.DataType, values?: TypedArray): tf.TensorInfo;
}

function makeOutput(b: RawBackend, backendName: string, shape: number[], dtype: tf.DataType, values: TypedArray): tf.TensorInfo {
  if (backendName === "wasm") return b.makeOutput!(shape, dtype, undefined, values);
  return b.makeTensorInfo!(shape, dtype, values);
}

/** Numeric kernels the cpu backend has and wasm lacks, run on wasm by delegating to the cpu kernel. */
const WASM_DELEGATED = ["Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter", "DepthwiseConv2dNativeBackpropInput", "Einsum"];

/**
 * A wasm kernel that copies its inputs to the cpu backend, runs the cpu kernel there and copies the
 * outputs back. Correct for any numeric kernel; as fast as the cpu kernel plus two copies.
 */
function cpuDelegateKernel(kernelName: string): tf.KernelConfig | null {
  const cpuKernel = tf.getKernel(kernelName, "cpu");
  if (!cpuKernel) return null;
  return {
    kernelName,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as RawBackend;
      quietCpu();
      const cpu = tf.engine().findBackend("cpu") as unknown as RawBackend;
      const owned: object[] = [];
      const copyIn = (t: tf.TensorInfo): tf.TensorInfo => {
        const dataId = cpu.write(wasm.readSync(t.dataId), t.shape, t.dtype);
        owned.push(dataId);
        return { dataId, shape: t.shape, dtype: t.dtype };
      };
      const cpuInputs: unknown = Array.isArray(inputs)
        ? (inputs as tf.TensorInfo[]).map(copyIn)
        : Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, copyIn(t as tf.TensorInfo)]));
      try {
        const result = cpuKernel.kernelFunc({
          inputs: cpuInputs as tf.NamedTensorInfoMap,
          backend: cpu as unknown as tf.KernelBackend,
          attrs,
        });
        const outs = Array.isArray(result) ? result : [result];
        const back = outs.map((o) => {
          owned.push(o.dataId);
          return wasm.makeOutput!(o.shape, o.dtype, undefined, cpu.readSync(o.dataId));
        });
        return Array.isArray(result) ? back : back[0];
      } finally {
        for (const id of owned) cpu.disposeData(id);
      }
    },
  };
}

interface WasmBackendLike extends RawBackend {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: TypedArray): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

/** Below this many multiply-adds per batch entry, the per-entry loop costs more than it saves. */
const LOOP_MIN_MACS = 16384;

/**
 * wasm's BatchMatMul reaches XNNPACK only when neither operand is transposed and both have batch 1;
 * every other case runs a naive triple loop, 10-40× slower (and the gradient of every matMul uses
 * the transposed forms). This wrapper makes those cases fast: transposed operands are transposed
 * physically (a cheap copy), a batched `a` times an unbatched `b` becomes one [batch·m, k] × [k, n]
 * product, and a batched product becomes one XNNPACK call per batch entry on fresh copies (XNNPACK
 * caches its packed weights by the id of `b`, so `b` must never be a reused buffer). Broadcasts it
 * does not cover fall back to the original kernel.
 */
function fastWasmBatchMatMul(original: tf.KernelFunc): tf.KernelConfig {
  return {
    kernelName: "BatchMatMul",
    backendName: "wasm",
    kernelFunc: (args) => {
      const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
      const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const w = args.backend as unknown as WasmBackendLike;
      if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return original(args);
      const outerA = a.shape.slice(0, -2);
      const outerB = b.shape.slice(0, -2);
      const batchA = outerA.reduce((x, y) => x * y, 1);
      const batchB = outerB.reduce((x, y) => x * y, 1);
      const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
      const batch = outer.reduce((x, y) => x * y, 1);
      const ra = a.shape.length;
      const rb = b.shape.length;
      const m = attrs.transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
      const k = attrs.transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
      const n = attrs.transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
      const elementwise = batchA === batchB && batch === batchA;
      const looped = batchB > 1 && (elementwise || batchA === 1) && m * k * n >= LOOP_MIN_MACS;
      if (m * k * n === 0 || (batchB > 1 && !looped)) return original(args);
      const plain = { ...args.attrs, transposeA: false, transposeB: false };
      const call = (x: tf.TensorInfo, y: tf.TensorInfo) => original({ inputs: { a: x, b: y }, backend: args.backend, attrs: plain }) as tf.TensorInfo;
      const temps: tf.TensorInfo[] = [];
      try {
        // A plain product needs its transposed operands copied. For two matrices, Cᵀ = op(B)ᵀ·op(A)ᵀ
        // needs the other operands copied plus C itself: take whichever moves fewer elements (the
        // gradient of a tied output head, dLogitsᵀ·h, copies m·n + |h| instead of all of dLogits).
        if (batchA === 1 && batchB === 1) {
          const direct = (attrs.transposeA ? m * k : 0) + (attrs.transposeB ? k * n : 0);
          const flipped = (attrs.transposeA ? 0 : m * k) + (attrs.transposeB ? 0 : k * n) + m * n;
          if (flipped < direct) {
            const X = attrs.transposeB ? b : transposeLast2(w, b, temps);
            const Y = attrs.transposeA ? a : transposeLast2(w, a, temps);
            const outT = call({ ...X, shape: [1, n, k] }, { ...Y, shape: [1, k, m] });
            temps.push(outT);
            const out = transposeLast2(w, { ...outT, shape: [n, m] }, []);
            out.shape = [...outer, m, n];
            return out;
          }
        }
        const A = attrs.transposeA ? transposeLast2(w, a, temps) : a;
        const B = attrs.transposeB ? transposeLast2(w, b, temps) : b;
        if (batchB === 1) {
          const out = call({ ...A, shape: [1, batchA * m, k] }, { ...B, shape: [1, k, n] });
          out.shape = [...outer, m, n];
          return out;
        }
        const out = w.makeOutput([...outer, m, n], "float32");
        for (let i = 0; i < batch; i++) {
          const ai = batchA === 1 ? { ...A, shape: [1, m, k] } : w.makeOutput([1, m, k], "float32");
          const bi = w.makeOutput([1, k, n], "float32");
          if (batchA !== 1) w.typedArrayFromHeap(ai).set(w.typedArrayFromHeap(A).subarray(i * m * k, (i + 1) * m * k));
          w.typedArrayFromHeap(bi).set(w.typedArrayFromHeap(B).subarray(i * k * n, (i + 1) * k * n));
          const oi = call(ai, bi);
          w.typedArrayFromHeap({ ...out, shape: [batch * m * n] }).set(w.typedArrayFromHeap({ ...oi, shape: [m * n] }), i * m * n);
          w.disposeData(oi.dataId);
          w.disposeData(bi.dataId);
          if (batchA !== 1) w.disposeData(ai.dataId);
        }
        return out;
      } finally {
        for (const t of temps) w.disposeData(t.dataId);
      }
    },
  };
}

function transposeLast2(w: WasmBackendLike, x: tf.TensorInfo, temps: tf.TensorInfo[]): tf.TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  const t = tf.getKernel("Transpose", "wasm")!.kernelFunc({ inputs: { x }, backend: w as unknown as tf.KernelBackend, attrs: { perm } }) as tf.TensorInfo;
  temps.push(t);
  return t;
}

let cpuKernelsInstalled = false;

/**
 * Registers the kernel patches: the fast `UnsortedSegmentSum` for cpu, and for wasm (once its package
 * is loaded, by whomever) the missing kernels and the BatchMatMul wrapper. Idempotent and cheap; the
 * models call it on every forward, so they train on either backend even if something other than
 * `selectBackend` set it up.
 */
export function installKernels(): void {
  if (!cpuKernelsInstalled) {
    cpuKernelsInstalled = true;
    if (tf.getKernel("UnsortedSegmentSum", "cpu")) tf.unregisterKernel("UnsortedSegmentSum", "cpu");
    tf.registerKernel(unsortedSegmentSumKernel("cpu"));
    patchedKernels.add("cpu:UnsortedSegmentSum(scatter-add)");
  }
  if (!wasmKernelsInstalled) installWasmKernels();
}

let wasmKernelsInstalled = false;

function installWasmKernels(): void {
  // The wasm package registers its kernels when it is imported; patch only after that.
  if (wasmKernelsInstalled || !tf.getKernel("BatchMatMul", "wasm")) return;
  wasmKernelsInstalled = true;
  if (!tf.getKernel("UnsortedSegmentSum", "wasm")) {
    tf.registerKernel(unsortedSegmentSumKernel("wasm"));
    patchedKernels.add("wasm:UnsortedSegmentSum(scatter-add)");
  }
  const mm = tf.getKernel("BatchMatMul", "wasm");
  if (mm) {
    tf.unregisterKernel("BatchMatMul", "wasm");
    tf.registerKernel({ ...fastWasmBatchMatMul(mm.kernelFunc), setupFunc: mm.setupFunc, disposeFunc: mm.disposeFunc });
    patchedKernels.add("wasm:BatchMatMul(transposes and batches through XNNPACK)");
  }
  for (const name of WASM_DELEGATED) {
    if (tf.getKernel(name, "wasm")) continue;
    const k = cpuDelegateKernel(name);
    if (k) {
      tf.registerKernel(k);
      patchedKernels.add(`wasm:${name}(cpu delegate)`);
    }
  }
}

/** Kernels registered for cpu but not for wasm (after this module's patches); for tests and reports. */
export function wasmMissingKernels(): string[] {
  const wasm = new Set(tf.getKernelsForBackend("wasm").map((k) => k.kernelName));
  return tf
    .getKernelsForBackend("cpu")
    .map((k) => k.kernelName)
    .filter((k) => !wasm.has(k))
    .sort();
}

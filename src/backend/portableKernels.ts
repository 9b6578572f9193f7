import * as tf from "@tensorflow/tfjs";
import { patchedKernels } from "./patches";

/**
 * Kernel patches for the portable backends (cpu, wasm): kernels tfjs lacks there or implements too
 * slowly for training. They are registered for those backends only, when one is selected, and never
 * touch the native backend.
 */

/** The cpu backend's first write logs advice to install tfjs-node, which cannot be followed here. */
export function quietCpu(): void {
  const cpu = tf.engine().findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu && "firstUse" in cpu) cpu.firstUse = false;
}

// ---------------------------------------------------------------------------------------------------
// Kernels the portable backends lack or implement badly


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
 * is loaded) the missing kernels and the BatchMatMul wrapper. Idempotent; `selectBackend` calls it once,
 * when it makes a portable backend current (tests that build a backend by hand may call it too).
 */
export function installKernels(): void {
  if (!cpuKernelsInstalled) {
    cpuKernelsInstalled = true;
    if (tf.getKernel("UnsortedSegmentSum", "cpu")) tf.unregisterKernel("UnsortedSegmentSum", "cpu");
    tf.registerKernel(unsortedSegmentSumKernel("cpu"));
    tf.registerKernel(gatherRowsKernel("cpu"));
    patchedKernels.add("cpu:UnsortedSegmentSum(scatter-add)");
    patchedKernels.add(`cpu:${GATHER_ROWS}(row copy)`);
  }
  if (!wasmKernelsInstalled) installWasmKernels();
}

let wasmKernelsInstalled = false;

export function installWasmKernels(): void {
  // The wasm package registers its kernels when it is imported; patch only after that.
  if (wasmKernelsInstalled || !tf.getKernel("BatchMatMul", "wasm")) return;
  wasmKernelsInstalled = true;
  tf.registerKernel(gatherRowsKernel("wasm"));
  patchedKernels.add(`wasm:${GATHER_ROWS}(row copy)`);
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

/**
 * Row gather for message passing (molecules/graphOps): tf.gather on wasm copies element by element,
 * about 10 ms for 6,500 rows of 32 floats, eight times a matMul of the same rows; this is a plain row copy.
 */
export const GATHER_ROWS = "CollapseGatherRows";

function gatherRowsKernel(backendName: "cpu" | "wasm"): tf.KernelConfig {
  return {
    kernelName: GATHER_ROWS,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { x, indices } = inputs as unknown as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const b = backend as unknown as RawBackend;
      const xv = b.readSync(x.dataId) as Float32Array;
      const ids = b.readSync(indices.dataId) as Int32Array;
      const rows = x.shape[0];
      const width = x.shape.slice(1).reduce((p, q) => p * q, 1);
      const out = new Float32Array(ids.length * width);
      for (let k = 0; k < ids.length; k++) {
        const i = ids[k];
        if (i < 0 || i >= rows) throw new RangeError(`gatherRows: index ${i} out of range [0, ${rows})`);
        out.set(xv.subarray(i * width, (i + 1) * width), k * width);
      }
      const shape = [ids.length, ...x.shape.slice(1)];
      return backendName === "wasm" ? b.makeOutput!(shape, "float32", undefined, out) : b.makeTensorInfo!(shape, "float32", out);
    },
  };
}


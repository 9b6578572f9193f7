import * as tf from "@tensorflow/tfjs";

/**
 * Cheaper versions of a few tfjs-node kernels, registered for the `tensorflow` backend only.
 *
 * On the native backend every tfjs op is a round trip from JS into libtensorflow, and at the quick
 * models' sizes that dispatch costs more than the arithmetic. tfjs-node's own Reshape, Mean and Sum
 * kernels make it worse: each creates (and frees) a fresh int32 tensor for the target shape or axes,
 * and Mean casts its input to float32 even when it already is. tfjs's matMul alone reshapes its
 * operands and result (three Reshapes per product), so these kernels run hundreds of times per
 * decoded token. Here a reshape to the same shape and a cast to the same dtype share the input's data
 * (reference-counted, like on the cpu backend), and shape / axis tensors are created once and kept.
 * They compute exactly what the originals do; the parity suite checks every model against cpu.
 */

interface Binding {
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_ATTR_TYPE: number;
  TF_INT32: number;
  TF_FLOAT: number;
  createTensor(shape: number[], dtype: number, values: Int32Array | Float32Array): number;
  executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): { id: number; shape: number[]; dtype: number }[];
}

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

interface NodeBackend {
  binding: Binding;
  incRef(dataId: object): void;
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  getDTypeInteger(dtype: tf.DataType): number;
  createOutputTensor(meta: { id: number; shape: number[]; dtype: number }): tf.Tensor;
}

/** Kept int32 constants (shapes, axes) by value; a model uses a few dozen distinct ones. */
const constants = new Map<string, number>();
const constantsById = new Map<number, { dtype: number; shape: number[]; values: Int32Array }>();
const MAX_CONSTANTS = 4096;

/** A kept int32 vector (or, with `scalar`, the 0-D tensor of its one value). */
function int32Constant(b: NodeBackend, values: readonly number[], scalar = false): number {
  const shape = scalar ? [] : [values.length];
  const key = `${scalar ? "s" : "v"}${values.join(",")}`;
  let id = constants.get(key);
  if (id === undefined) {
    // Beyond the cap (shapes that keep changing) new constants are not kept: still correct, as slow as before.
    const data = Int32Array.from(values);
    id = b.binding.createTensor(shape, b.binding.TF_INT32, data);
    if (constants.size < MAX_CONSTANTS) {
      constants.set(key, id);
      constantsById.set(id, { dtype: b.binding.TF_INT32, shape, values: data });
    }
  }
  return id;
}

/** The values of a kept constant, by its binding id (a compiled step's trace makes them graph constants). */
export function constantValues(id: number): { dtype: number; shape: number[]; values: Int32Array } | undefined {
  return constantsById.get(id);
}

function typeAttr(b: NodeBackend, name: string, dtype: tf.DataType): OpAttr {
  return { name, type: b.binding.TF_ATTR_TYPE, value: b.getDTypeInteger(dtype) };
}

function run(b: NodeBackend, op: string, attrs: OpAttr[], ids: number[]): tf.TensorInfo {
  return b.createOutputTensor(b.binding.executeOp(op, attrs, ids, 1)[0]);
}

/** The input itself, under a second reference (what the cpu backend does for a no-op reshape). */
function shared(b: NodeBackend, x: tf.TensorInfo, shape: number[], dtype: tf.DataType = x.dtype): tf.TensorInfo {
  b.incRef(x.dataId);
  return { dataId: x.dataId, shape, dtype };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function reduction(name: "Mean" | "Sum" | "Max", castToFloat: boolean): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: "tensorflow",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      const { x } = inputs as unknown as { x: tf.TensorInfo };
      const a = attrs as unknown as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
      const keepDims = a.keepDims;
      const axes = tf.util.parseAxisParam((name === "Max" ? a.reductionIndices : a.axis)!, x.shape);
      // tfjs-node's Mean casts to float32 first (tfjs's mean of int32 is a float): do the same, but only then.
      const cast = castToFloat && x.dtype !== "float32" ? (tf.cast(x as tf.Tensor, "float32") as tf.Tensor) : null;
      const input = cast ?? x;
      try {
        const opAttrs: OpAttr[] = [{ name: "keep_dims", type: b.binding.TF_ATTR_BOOL, value: keepDims }, typeAttr(b, "T", input.dtype), typeAttr(b, "Tidx", "int32")];
        return run(b, name, opAttrs, [...b.getInputTensorIds([input]), int32Constant(b, axes)]);
      } finally {
        cast?.dispose();
      }
    },
  };
}

const KERNELS: tf.KernelConfig[] = [
  {
    kernelName: "Reshape",
    backendName: "tensorflow",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      const { x } = inputs as unknown as { x: tf.TensorInfo };
      const shape = tf.util.inferFromImplicitShape((attrs as unknown as { shape: number[] }).shape, tf.util.sizeFromShape(x.shape));
      if (sameShape(shape, x.shape)) return shared(b, x, shape);
      return run(b, "Reshape", [typeAttr(b, "T", x.dtype), typeAttr(b, "Tshape", "int32")], [...b.getInputTensorIds([x]), int32Constant(b, shape)]);
    },
  },
  {
    kernelName: "Cast",
    backendName: "tensorflow",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      const { x } = inputs as unknown as { x: tf.TensorInfo };
      const { dtype } = attrs as unknown as { dtype: tf.DataType };
      if (dtype === x.dtype) return shared(b, x, x.shape);
      return original("Cast")!({ inputs, backend, attrs });
    },
  },
  {
    // tfjs-node's GatherV2 first reads every index to the host to check its bounds: a device sync per
    // gather, and a host read that keeps a step from being compiled. TensorFlow's own kernel checks
    // the bounds on the CPU and names the bad index.
    kernelName: "GatherV2",
    backendName: "tensorflow",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as NodeBackend;
      const { x, indices } = inputs as unknown as { x: tf.TensorInfo; indices: tf.TensorInfo };
      const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
      const a = tf.util.parseAxisParam(axis, x.shape)[0];
      tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, a, batchDims);
      const opAttrs: OpAttr[] = [
        { name: "batch_dims", type: b.binding.TF_ATTR_INT, value: batchDims },
        typeAttr(b, "Tparams", x.dtype),
        typeAttr(b, "Tindices", indices.dtype),
        typeAttr(b, "Taxis", "int32"),
      ];
      return run(b, "GatherV2", opAttrs, [...b.getInputTensorIds([x, indices]), int32Constant(b, [a], true)]);
    },
  },
  reduction("Mean", true),
  reduction("Sum", false),
  reduction("Max", false),
];

/**
 * TensorFlow's InplaceUpdate: rows `rows` (int32 [n]) of `x` (float32, rows along axis 0) become
 * `values` [n, ...], in x's own buffer, which the returned tensor shares. x is changed: only for a
 * tensor that nothing else reads, such as a KV cache written one position per decoding step (a
 * functional update copies the whole cache every step).
 */
export function nativeInplaceUpdate(x: tf.Tensor, rows: tf.Tensor, values: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== "tensorflow") throw new Error("nativeInplaceUpdate needs the tensorflow backend");
  const b = tf.backend() as unknown as NodeBackend;
  return b.createOutputTensor(b.binding.executeOp("InplaceUpdate", [typeAttr(b, "T", x.dtype)], b.getInputTensorIds([x, rows, values]), 1)[0]);
}

const originals = new Map<string, tf.KernelFunc>();

function original(name: string): tf.KernelFunc | undefined {
  return originals.get(name);
}

let installed = false;

/** Registers the kernels above for `tensorflow` (once tfjs-node has registered its own); idempotent. */
export function installTensorflowKernels(): string[] {
  if (installed || !tf.getKernel("Reshape", "tensorflow")) return [];
  installed = true;
  const names: string[] = [];
  for (const k of KERNELS) {
    const prior = tf.getKernel(k.kernelName, "tensorflow");
    if (!prior) continue;
    originals.set(k.kernelName, prior.kernelFunc);
    tf.unregisterKernel(k.kernelName, "tensorflow");
    tf.registerKernel(k);
    names.push(`tensorflow:${k.kernelName}(${k.kernelName === "GatherV2" ? "no host read of the indices" : "kept shape/axis constants, no-op reshapes and casts share data"})`);
  }
  return names;
}

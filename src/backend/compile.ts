import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { constantValues } from "./nativeKernels";

/**
 * Compiled steps: a function of tensors run as one TensorFlow graph function on the native backend.
 *
 * On `tensorflow` every tfjs op is a call from JS into libtensorflow's eager runtime: the tfjs engine,
 * its gradient tape, the N-API binding, TensorFlow's op construction. At the kit's sizes that costs
 * more than most kernels. `compileStep(name, fn)` removes it for functions that run many times with
 * the same shapes (a training step, a decoding step):
 *
 * 1. The first call with given input shapes runs `fn` eagerly and records every op tfjs-node executes
 *    (op name, attributes, inputs), every constant it creates and what `fn` returns: a trace. The
 *    trace becomes a graph function (native/compiled_functions.cc: TF_GraphToFunction +
 *    TFE_ContextAddFunction), and the call returns what that graph computes.
 * 2. The second call with those shapes traces again and compares. Only if both traces are identical
 *    (ops, attributes, and the values of every constant) is the graph kept: so a value that changes
 *    from call to call but was not passed as an input (a learning rate baked into a `tf.mul`) makes
 *    the function eager for those shapes instead of freezing the first value into a graph.
 * 3. Later calls run the graph as one eager op (`binding.executeOp(functionName, ...)`) on the same
 *    device tensors, where TensorFlow's graph optimizer and oneDNN fuse across ops; on a GPU the whole
 *    step stays on the device. A graph that two traces agreed on is shared: a new step function (the
 *    next model fit) whose first trace is the same graph uses it after that one trace.
 *
 * A function that passes everything that changes between calls as inputs thus always gets the
 * graph's results, whatever ran before in the process: a resumed run, or a worker process, computes
 * exactly what an uninterrupted one does. (The graph and the eager ops agree only up to float32
 * rounding: TensorFlow fuses and reorders.)
 *
 * Inputs are matched by identity: whatever `fn` reads must be among `inputs` (tf.Variables too), or
 * be created inside `fn` from host values that are the same on every call (shapes, masks, constants).
 * A trace that reads a tensor it was not given, or reads tensor values on the host (`dataSync`), is
 * not compiled: that function stays eager for those shapes, and `compileStats()` says why
 * (`COLLAPSE_COMPILE_STRICT=1` makes it an error, for tests). Every other backend, and
 * `COLLAPSE_COMPILE=0`, runs `fn` eagerly every time: the same ops in the same order, so results
 * there do not change.
 */

interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

interface TensorMeta {
  id: number;
  shape: number[];
  dtype: number;
}

type HostValues = Float32Array | Int32Array | Uint8Array;

interface ConstValue {
  dtype: number;
  shape: number[];
  values: HostValues;
}

interface GraphSpec {
  inputs: Int32Array;
  consts: ConstValue[];
  nodes: { op: string; attrs: OpAttr[]; inputs: Int32Array; numOutputs: number }[];
  outputs: Int32Array;
}

interface Binding {
  TF_ATTR_TYPE: number;
  TF_RESOURCE: number;
  createTensor(shape: number[], dtype: number, values: unknown): number;
  deleteTensor(id: number): void;
  tensorDataSync(id: number): unknown;
  executeOp(name: string, attrs: OpAttr[], ids: number[], numOutputs: number): TensorMeta[];
  compileFunction?(name: string, spec: GraphSpec): void;
  removeFunction?(name: string): void;
}

interface NodeBackend {
  binding: Binding;
  tensorMap: { get(dataId: object): { dtype: unknown } | undefined };
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  getDTypeInteger(dtype: tf.DataType): number;
  createOutputTensor(meta: TensorMeta): tf.Tensor;
}

// ---------------------------------------------------------------------------------------------------
// Recording

/** A recorded value: a graph input, a constant, or output `out` of node `node`. */
type Ref = { kind: "input"; index: number } | { kind: "const"; index: number } | { kind: "node"; index: number; out: number };

interface RecordedNode {
  op: string;
  attrs: OpAttr[];
  /** attrs, canonically, for comparing traces. */
  attrKey: string;
  inputs: Ref[];
  numOutputs: number;
  outDtypes: number[];
}

class Trace {
  readonly consts: ConstValue[] = [];
  readonly nodes: RecordedNode[] = [];
  outputs: Ref[] = [];
  /** Why this trace cannot be compiled (the first reason), or null. */
  failure: string | null = null;
  /** Binding tensor id → the value it holds in this trace. */
  readonly values = new Map<number, Ref>();

  constructor(readonly inputDtypes: number[]) {}

  fail(reason: string): void {
    this.failure ??= reason;
  }

  dtypeOf(ref: Ref): number {
    if (ref.kind === "input") return this.inputDtypes[ref.index];
    if (ref.kind === "const") return this.consts[ref.index].dtype;
    return this.nodes[ref.index].outDtypes[ref.out];
  }

  /** The value a tensor id holds, adding host-created constants on first use. */
  resolve(id: number, op: string): Ref | null {
    const known = this.values.get(id);
    if (known) return known;
    const host = pendingConstants.get(id) ?? constantValues(id);
    if (host) {
      const ref: Ref = { kind: "const", index: this.consts.length };
      this.consts.push(host);
      this.values.set(id, ref);
      return ref;
    }
    this.fail(`${op} read a tensor that is neither an input nor created inside the step (pass it in the inputs)`);
    return null;
  }
}

/** Counts the ops dispatched while `observeOps` runs (for profiling). */
let observer: { ops: number; nanoseconds: bigint } | null = null;

/**
 * Runs `f` (eagerly, on the native backend) and counts the ops it dispatches to libtensorflow: how
 * many, and the seconds spent inside the binding's executeOp (TensorFlow's eager runtime and the
 * kernels), the rest of `seconds` being tfjs's side (engine, gradient tape, kernel functions).
 */
export function observeOps<T>(f: () => T): { value: T; ops: number; bindingSeconds: number; seconds: number } {
  if (observer !== null) throw new Error("observeOps does not nest");
  observer = { ops: 0, nanoseconds: 0n };
  const t0 = process.hrtime.bigint();
  try {
    const value = f();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { value, ops: observer.ops, bindingSeconds: Number(observer.nanoseconds) / 1e9, seconds };
  } finally {
    observer = null;
  }
}

/** Tensors created from host values during any trace (still alive): the constants a trace may use. */
const pendingConstants = new Map<number, ConstValue>();
let activeTrace: Trace | null = null;

function copyValues(values: unknown, dtype: number, b: Binding & Record<string, unknown>): HostValues | null {
  if (values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array) return values.slice();
  if (Array.isArray(values) && values.every((v) => typeof v === "number")) {
    if (dtype === b.TF_FLOAT) return Float32Array.from(values);
    if (dtype === b.TF_INT32) return Int32Array.from(values);
    if (dtype === b.TF_BOOL) return Uint8Array.from(values);
  }
  return null;
}

/** The backend's binding, wrapped once so that traces see every op, constant and host read. */
function wrapBinding(backend: NodeBackend): void {
  const inner = backend.binding;
  if ((inner as unknown as { __collapseTracing?: boolean }).__collapseTracing) return;
  // The binding's own properties are read-only: the wrapper inherits them and defines its four.
  const wrapped = Object.create(inner) as Binding & Record<string, unknown>;
  const define = <K extends keyof Binding>(key: K, value: Binding[K]) => Object.defineProperty(wrapped, key, { value, writable: false });
  define("__collapseTracing" as keyof Binding, true as never);
  const observed: Binding["executeOp"] = (name, attrs, ids, numOutputs) => {
    const t0 = process.hrtime.bigint();
    try {
      return inner.executeOp(name, attrs, ids, numOutputs);
    } finally {
      observer!.ops++;
      observer!.nanoseconds += process.hrtime.bigint() - t0;
    }
  };
  define("executeOp", (name, attrs, ids, numOutputs) => {
    const trace = activeTrace;
    if (trace === null) return observer === null ? inner.executeOp(name, attrs, ids, numOutputs) : observed(name, attrs, ids, numOutputs);
    const inputs = ids.map((id) => trace.resolve(id, name));
    // Ops on a resource (a variable) are ordered by their side effects, which a graph built from
    // data dependencies alone would not keep.
    if (inputs.some((r) => r !== null && trace.dtypeOf(r) === inner.TF_RESOURCE)) trace.fail(`${name} takes a resource (variable) handle, which compiled steps do not order`);
    const metas = inner.executeOp(name, attrs, ids, numOutputs);
    if (inputs.every((r): r is Ref => r !== null)) {
      const index = trace.nodes.length;
      const copied = attrs.map((a) => ({ name: a.name, type: a.type, value: Array.isArray(a.value) ? [...a.value] : a.value }));
      trace.nodes.push({ op: name, attrs: copied, attrKey: JSON.stringify(copied), inputs, numOutputs, outDtypes: metas.map((m) => m.dtype) });
      metas.forEach((m, out) => trace.values.set(m.id, { kind: "node", index, out }));
    }
    return metas;
  });
  define("createTensor", (shape, dtype, values) => {
    const id = inner.createTensor(shape, dtype, values);
    if (activeTrace !== null) {
      const copy = copyValues(values, dtype, wrapped);
      if (copy) pendingConstants.set(id, { dtype, shape: [...shape], values: copy });
      else activeTrace.fail(`a tensor of dtype ${dtype} was created from values that cannot be a graph constant`);
    }
    return id;
  });
  define("deleteTensor", (id) => {
    pendingConstants.delete(id);
    return inner.deleteTensor(id);
  });
  define("tensorDataSync", (id) => {
    activeTrace?.fail("the step reads tensor values on the host (dataSync/arraySync); return them as outputs instead");
    return inner.tensorDataSync(id);
  });
  backend.binding = wrapped;
}

// ---------------------------------------------------------------------------------------------------
// Comparing and compiling traces

function sameRef(a: Ref, b: Ref): boolean {
  return a.kind === b.kind && a.index === b.index && (a.kind !== "node" || a.out === (b as typeof a).out);
}

function sameValues(a: ConstValue, b: ConstValue): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.values.length !== b.values.length || a.values.constructor !== b.values.constructor) return false;
  const x = new Uint8Array(a.values.buffer, a.values.byteOffset, a.values.byteLength);
  const y = new Uint8Array(b.values.buffer, b.values.byteOffset, b.values.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Null if the traces are the same graph, else what differs. */
function difference(a: Trace, b: Trace): string | null {
  if (a.nodes.length !== b.nodes.length) return `the two traces ran ${a.nodes.length} and ${b.nodes.length} ops`;
  for (let i = 0; i < a.nodes.length; i++) {
    const x = a.nodes[i];
    const y = b.nodes[i];
    if (x.op !== y.op || x.attrKey !== y.attrKey || x.numOutputs !== y.numOutputs || x.inputs.length !== y.inputs.length || x.inputs.some((r, k) => !sameRef(r, y.inputs[k]))) {
      return `op ${i} differs between the two traces (${x.op} / ${y.op})`;
    }
  }
  if (a.consts.length !== b.consts.length) return "the two traces created different constants";
  for (let i = 0; i < a.consts.length; i++) {
    if (!sameValues(a.consts[i], b.consts[i])) {
      return `a value created inside the step changed between calls (constant ${i}, shape [${a.consts[i].shape}]): pass it in the inputs`;
    }
  }
  if (a.outputs.length !== b.outputs.length || a.outputs.some((r, k) => !sameRef(r, b.outputs[k]))) return "the two traces returned different outputs";
  return null;
}

/** A digest of everything that makes up the graph: equal digests, the same function. */
function fingerprint(t: Trace): string {
  const h = createHash("sha256");
  h.update(JSON.stringify(t.inputDtypes));
  for (const n of t.nodes) h.update(`${n.op}|${n.attrKey}|${JSON.stringify(n.inputs)}|${n.numOutputs}\n`);
  for (const c of t.consts) {
    h.update(`c${c.dtype}[${c.shape}]`);
    h.update(new Uint8Array(c.values.buffer, c.values.byteOffset, c.values.byteLength));
  }
  h.update(JSON.stringify(t.outputs));
  return h.digest("hex");
}

/**
 * Graphs compiled in this process, by fingerprint: those that two traces agreed on, which a later step
 * function (the next model fit of the same architecture) uses after one trace; and those compiled from
 * one trace, awaiting a second.
 */
const verifiedGraphs = new Map<string, CompiledGraph>();
const pendingGraphs = new Map<string, CompiledGraph>();

/** The trace as the native side takes it (values numbered: inputs, constants, node outputs). */
function graphSpec(t: Trace, identityOp: (dtype: number) => OpAttr[]): GraphSpec {
  const nodes = [...t.nodes];
  // A function output that is an input, or the same value twice, goes through an Identity.
  const seen = new Set<string>();
  const outputs = t.outputs.map((ref) => {
    const key = JSON.stringify(ref);
    if (ref.kind === "node" && !seen.has(key)) {
      seen.add(key);
      return ref;
    }
    const dtype = t.dtypeOf(ref);
    nodes.push({ op: "Identity", attrs: identityOp(dtype), attrKey: "", inputs: [ref], numOutputs: 1, outDtypes: [dtype] });
    return { kind: "node", index: nodes.length - 1, out: 0 } as Ref;
  });
  const firstOutput: number[] = [];
  let next = t.inputDtypes.length + t.consts.length;
  for (const n of nodes) {
    firstOutput.push(next);
    next += n.numOutputs;
  }
  const number = (r: Ref) => (r.kind === "input" ? r.index : r.kind === "const" ? t.inputDtypes.length + r.index : firstOutput[r.index] + r.out);
  return {
    inputs: Int32Array.from(t.inputDtypes),
    consts: t.consts,
    nodes: nodes.map((n) => ({ op: n.op, attrs: n.attrs, inputs: Int32Array.from(n.inputs, number), numOutputs: n.numOutputs })),
    outputs: Int32Array.from(outputs, number),
  };
}

// ---------------------------------------------------------------------------------------------------
// The public mechanism

/** What happened to the compiled steps of this process (for tests, the profile and run records). */
export interface CompileStats {
  /** Calls that ran as one compiled graph. */
  compiledCalls: number;
  /** Calls that ran eagerly (traces, other backends, fallbacks). */
  eagerCalls: number;
  traces: number;
  /** Graphs compiled, and the ops they hold in all. */
  compiled: number;
  compiledOps: number;
  /** "name [shapes]: why" for each function and shape that stays eager. */
  fallbacks: string[];
}

const stats: CompileStats = { compiledCalls: 0, eagerCalls: 0, traces: 0, compiled: 0, compiledOps: 0, fallbacks: [] };

export function compileStats(): CompileStats {
  return { ...stats, fallbacks: [...stats.fallbacks] };
}

/** Whether compiled steps can run here: the native backend with the kit's graph extension. */
export function compileAvailable(): boolean {
  if (tf.getBackend() !== "tensorflow" || process.env.COLLAPSE_COMPILE === "0") return false;
  return typeof (tf.backend() as unknown as NodeBackend).binding.compileFunction === "function";
}

/** Installs the tracing hooks on the tensorflow backend (idempotent; called when it is selected). */
export function installCompiler(): void {
  if (tf.getBackend() !== "tensorflow") return;
  wrapBinding(tf.backend() as unknown as NodeBackend);
}

interface CompiledGraph {
  fn: string;
  numOutputs: number;
}

/** A step function's state for one set of input shapes: compiled from one trace (checked at the next call), compiled, or eager. */
type Entry = ({ state: "pending"; trace: Trace; digest: string } & CompiledGraph) | ({ state: "compiled" } & CompiledGraph) | { state: "eager" };

let functionCounter = 0;

export type TensorFunction = (inputs: readonly tf.Tensor[]) => tf.Tensor[];

/**
 * `fn` as a compiled step (see the module comment). The returned function takes the same inputs and
 * returns new tensors the caller owns, the same values as `fn` up to floating-point rounding.
 * `name` appears in `compileStats()` and errors.
 */
export function compileStep(name: string, fn: TensorFunction): TensorFunction {
  const entries = new Map<string, Entry>();
  const strict = () => process.env.COLLAPSE_COMPILE_STRICT === "1";

  const eager = (inputs: readonly tf.Tensor[]) => {
    stats.eagerCalls++;
    return fn(inputs);
  };

  const fallBack = (key: string, reason: string) => {
    entries.set(key, { state: "eager" });
    const line = `${name} [${key}]: ${reason}`;
    stats.fallbacks.push(line);
    if (strict()) throw new Error(`compiled step ${line}`);
  };

  const traced = (inputs: readonly tf.Tensor[], backend: NodeBackend): { trace: Trace; outputs: tf.Tensor[] } => {
    const ids = backend.getInputTensorIds([...inputs]);
    const trace = new Trace(inputs.map((t) => dtypeNumber(t, backend)));
    ids.forEach((id, index) => {
      if (!trace.values.has(id)) trace.values.set(id, { kind: "input", index });
    });
    stats.traces++;
    activeTrace = trace;
    let outputs: tf.Tensor[];
    try {
      outputs = eager(inputs);
    } finally {
      activeTrace = null;
    }
    // Outputs whose values are still on the host become constants of the graph.
    activeTrace = trace;
    let outIds: number[];
    try {
      outIds = backend.getInputTensorIds(outputs);
    } finally {
      activeTrace = null;
    }
    trace.outputs = outIds.map((id) => trace.resolve(id, "an output") ?? { kind: "input", index: 0 });
    return { trace, outputs };
  };

  const run = (key: string, graph: CompiledGraph, inputs: readonly tf.Tensor[], backend: NodeBackend): tf.Tensor[] | null => {
    let metas: TensorMeta[];
    try {
      metas = backend.binding.executeOp(graph.fn, [], backend.getInputTensorIds([...inputs]), graph.numOutputs);
    } catch (e) {
      fallBack(key, `the compiled graph failed to run: ${(e as Error).message.split("\n")[0]}`);
      return null;
    }
    stats.compiledCalls++;
    return metas.map((m) => backend.createOutputTensor(m));
  };

  return (inputs) => {
    if (!compileAvailable() || activeTrace !== null || isTapeOn()) return eager(inputs);
    const backend = tf.backend() as unknown as NodeBackend;
    const key = inputs.map((t) => `${t.dtype}[${t.shape.join(",")}]`).join(" ");
    const entry = entries.get(key);
    if (entry?.state === "eager") return eager(inputs);
    if (entry?.state === "compiled") return run(key, entry, inputs, backend) ?? eager(inputs);
    // No graph for these shapes yet, or one compiled from a single trace: trace (eagerly) to build it
    // or to check it against a second call. Even then the results returned are the graph's, so that
    // they do not depend on what this process ran before (a resumed run computes what the first did).
    const { trace, outputs } = traced(inputs, backend);
    if (trace.failure !== null) {
      fallBack(key, trace.failure);
      return outputs;
    }
    const digest = fingerprint(trace);
    let graph: CompiledGraph;
    if (entry?.state === "pending") {
      if (entry.digest !== digest) {
        fallBack(key, difference(entry.trace, trace) ?? "the two traces differ");
        return outputs;
      }
      graph = { fn: entry.fn, numOutputs: entry.numOutputs };
      verifiedGraphs.set(digest, graph);
      entries.set(key, { state: "compiled", ...graph });
    } else if (verifiedGraphs.has(digest)) {
      graph = verifiedGraphs.get(digest)!;
      entries.set(key, { state: "compiled", ...graph });
    } else {
      const existing = pendingGraphs.get(digest);
      if (existing) graph = existing;
      else {
        const fnName = `collapse_${name.replace(/[^A-Za-z0-9_]/g, "_")}_${functionCounter++}`;
        try {
          backend.binding.compileFunction!(fnName, graphSpec(trace, (dtype) => [{ name: "T", type: backend.binding.TF_ATTR_TYPE, value: dtype }]));
        } catch (e) {
          fallBack(key, (e as Error).message.split("\n")[0]);
          return outputs;
        }
        stats.compiled++;
        stats.compiledOps += trace.nodes.length;
        graph = { fn: fnName, numOutputs: trace.outputs.length };
        pendingGraphs.set(digest, graph);
      }
      entries.set(key, { state: "pending", trace, digest, ...graph });
    }
    const result = run(key, graph, inputs, backend);
    if (result === null) return outputs;
    for (const o of outputs) if (!inputs.includes(o) && !o.isDisposed) o.dispose();
    return result;
  };
}

/** The TensorFlow dtype of a tensor as the binding holds it (a resource handle is "string" to tfjs). */
function dtypeNumber(t: tf.Tensor, backend: NodeBackend): number {
  const held = backend.tensorMap.get(t.dataId)?.dtype;
  return typeof held === "number" ? held : backend.getDTypeInteger(t.dtype);
}

function isTapeOn(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/**
 * The smallest size ≥ n of the form k·2^e with perOctave ≤ k < 2·perOctave (exact below perOctave):
 * a few sizes per doubling. Padding a varying dimension (atoms in a batch, documents still decoding)
 * up to it lets a compiled step see few shapes, at most 1/perOctave of the work wasted on padding.
 */
export function shapeBucket(n: number, perOctave = 4): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`shapeBucket: expected a non-negative integer, got ${n}`);
  if (n <= perOctave) return n;
  let step = 1;
  while (n > 2 * perOctave * step) step *= 2;
  return Math.ceil(n / step) * step;
}

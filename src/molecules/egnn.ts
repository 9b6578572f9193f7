import * as tf from "@tensorflow/tfjs";
import { ConfigError, checkInt, checkKnownKeys, checkNumber } from "../errors";
import type { Rng } from "../random";
import { gatherRows, segmentSum } from "./graphOps";
import type { MoleculeGraph } from "./types";
import { shapeBucket } from "../backend/compile";
import { linear, silu } from "../nn/layers";
import { type ParamSpec, materialize, normal, zeros } from "../nn/params";
import type { Params } from "../nn/params";

/**
 * An E(n)-equivariant graph network (EGNN, Satorras, Hoogeboom & Welling 2021) that predicts the noise
 * on atom coordinates. Each layer l, on edges (i ← j) of the graph:
 *   m_ij  = φ_e(h_i, h_j, rbf(‖x_i − x_j‖), bond_ij)
 *   x_i  += mean_j (x_i − x_j) / (‖x_i − x_j‖ + 1) · φ_x(m_ij)
 *   h_i  += φ_h(h_i, mean_j m_ij)
 * Node features start as atom-type embedding + noise-level embedding. The predicted noise is the total
 * coordinate displacement x_L − x_0 with each molecule's mean removed: rotating the input rotates it,
 * translating the input leaves it unchanged. Edges are every bond plus every pair of atoms of one
 * molecule closer than `radius` in the input coordinates (a rotation- and translation-invariant set);
 * bond edges carry their order, radius-only edges the type "none".
 *
 * Several molecules are batched by concatenating their atoms; edges never cross molecules.
 */
export interface EgnnConfig {
  /** Width of node features and messages. */
  hidden: number;
  layers: number;
  /** Width of the bond-type embedding. */
  bondEmbedding: number;
  /** Sinusoidal features of the diffusion step. */
  timeFeatures: number;
  /** Gaussian radial basis functions of the distance, centred on 0..rbfMax Å. */
  rbf: number;
  rbfMax: number;
  /** Radius edges between atoms closer than this (Å) in the input; 0 = bonds only; Infinity not allowed (use a large number). */
  radius: number;
}

export const EGNN_DEFAULTS: EgnnConfig = { hidden: 64, layers: 4, bondEmbedding: 16, timeFeatures: 16, rbf: 16, rbfMax: 10, radius: 10 };
const KEYS = Object.keys(EGNN_DEFAULTS);

export function checkEgnnConfig(partial: Partial<EgnnConfig>, field = "model"): EgnnConfig {
  if (typeof partial !== "object" || partial === null) throw new ConfigError(field, "expected an object");
  checkKnownKeys(field, partial, KEYS);
  const c = { ...EGNN_DEFAULTS, ...partial };
  checkInt(`${field}.hidden`, c.hidden, { min: 1, max: 4096 });
  checkInt(`${field}.layers`, c.layers, { min: 1, max: 64 });
  checkInt(`${field}.bondEmbedding`, c.bondEmbedding, { min: 1, max: 1024 });
  checkInt(`${field}.timeFeatures`, c.timeFeatures, { min: 2, max: 1024 });
  if (c.timeFeatures % 2 !== 0) throw new ConfigError(`${field}.timeFeatures`, `must be even (sin and cos pairs), got ${c.timeFeatures}`);
  checkInt(`${field}.rbf`, c.rbf, { min: 1, max: 1024 });
  checkNumber(`${field}.rbfMax`, c.rbfMax, { exclusiveMin: 0 });
  checkNumber(`${field}.radius`, c.radius, { min: 0, max: 1e6 });
  return c;
}

/** Atom types the embedding distinguishes; anything else shares the last slot. */
export const ATOM_TYPES = [1, 6, 7, 8, 9, 15, 16, 17, 35, 53] as const;
export const NUM_ATOM_TYPES = ATOM_TYPES.length + 1;
/** Edge types: 0 = no bond (radius edge), 1-4 = bond order (see BondOrder). */
export const NUM_EDGE_TYPES = 5;

export function atomTypeIndex(z: number): number {
  const i = (ATOM_TYPES as readonly number[]).indexOf(z);
  return i < 0 ? ATOM_TYPES.length : i;
}

export function egnnParamSpecs(c: EgnnConfig): Record<string, ParamSpec> {
  const h = c.hidden;
  const glorot = (fanIn: number) => normal(1 / Math.sqrt(fanIn));
  const specs: Record<string, ParamSpec> = {
    "atom.embed": { shape: [NUM_ATOM_TYPES, h], init: normal(1) },
    "bond.embed": { shape: [NUM_EDGE_TYPES, c.bondEmbedding], init: normal(1) },
    "time.w": { shape: [c.timeFeatures, h], init: glorot(c.timeFeatures) },
    "time.b": { shape: [h], init: zeros },
  };
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    const edgeIn = 2 * h + c.rbf + c.bondEmbedding;
    Object.assign(specs, {
      [`${p}.edge.wi`]: { shape: [h, h], init: glorot(edgeIn) },
      [`${p}.edge.wj`]: { shape: [h, h], init: glorot(edgeIn) },
      [`${p}.edge.wd`]: { shape: [c.rbf, h], init: glorot(edgeIn) },
      [`${p}.edge.we`]: { shape: [c.bondEmbedding, h], init: glorot(edgeIn) },
      [`${p}.edge.b1`]: { shape: [h], init: zeros },
      [`${p}.edge.w2`]: { shape: [h, h], init: glorot(h) },
      [`${p}.edge.b2`]: { shape: [h], init: zeros },
      [`${p}.coord.w1`]: { shape: [h, h], init: glorot(h) },
      [`${p}.coord.b1`]: { shape: [h], init: zeros },
      // Small last layer: the first updates are gentle, the initial prediction is near zero.
      [`${p}.coord.w2`]: { shape: [h, 1], init: normal(1e-3) },
    });
    // The last layer's node update would not reach the output (only coordinates do): it has none.
    if (l < c.layers - 1) {
      Object.assign(specs, {
        [`${p}.node.w1`]: { shape: [2 * h, h], init: glorot(2 * h) },
        [`${p}.node.b1`]: { shape: [h], init: zeros },
        [`${p}.node.w2`]: { shape: [h, h], init: normal(0.1 / Math.sqrt(h)) },
        [`${p}.node.b2`]: { shape: [h], init: zeros },
      });
    }
  }
  return specs;
}

export function egnnParameterCount(c: EgnnConfig): number {
  return Object.values(egnnParamSpecs(c)).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Fresh seeded parameters. */
export function initEgnn(c: EgnnConfig, rng: Rng): Params {
  return materialize(egnnParamSpecs(c), rng);
}

/**
 * Several molecular graphs as one: atoms concatenated, per-atom graph index, edges (receiver i ← sender
 * j). A padded batch (`padGraphBatch`) has extra nodes after the real ones, in one extra graph, joined
 * only to each other.
 */
export interface GraphBatch {
  readonly numNodes: number;
  readonly numGraphs: number;
  /** The nodes and graphs of the molecules (the first ones); the rest is padding. */
  readonly realNodes: number;
  readonly realGraphs: number;
  /** Atom-type index (see atomTypeIndex) per node. */
  readonly atomTypes: Int32Array;
  /** Which graph (0..numGraphs-1) each node belongs to. */
  readonly nodeGraph: Int32Array;
  /** Atoms per graph. */
  readonly graphSizes: Int32Array;
  /** Edge receivers (i) and senders (j), and edge type (0 none, 1-4 bond order). */
  readonly receivers: Int32Array;
  readonly senders: Int32Array;
  readonly edgeTypes: Int32Array;
  /** Edges arriving at each node (≥ 1 where the node has any). */
  readonly inDegree: Float32Array;
}

/**
 * The batch graph of `molecules` (one entry per graph, repeats allowed) at coordinates `xyz` (the
 * concatenated input coordinates, 3 per atom), with bond edges and radius edges.
 */
export function buildGraphBatch(molecules: readonly MoleculeGraph[], xyz: ArrayLike<number>, radius: number): GraphBatch {
  const numNodes = molecules.reduce((s, m) => s + m.atomicNumbers.length, 0);
  if (xyz.length !== 3 * numNodes) throw new RangeError(`buildGraphBatch: ${xyz.length / 3} coordinates for ${numNodes} atoms`);
  const atomTypes = new Int32Array(numNodes);
  const nodeGraph = new Int32Array(numNodes);
  const graphSizes = new Int32Array(molecules.length);
  const recv: number[] = [];
  const send: number[] = [];
  const types: number[] = [];
  const r2 = radius * radius;
  let offset = 0;
  molecules.forEach((m, g) => {
    const n = m.atomicNumbers.length;
    graphSizes[g] = n;
    for (let a = 0; a < n; a++) {
      atomTypes[offset + a] = atomTypeIndex(m.atomicNumbers[a]);
      nodeGraph[offset + a] = g;
    }
    const order = new Map<number, number>();
    for (let k = 0; k < m.bondOrders.length; k++) {
      const a = m.bonds[2 * k];
      const b = m.bonds[2 * k + 1];
      order.set(a * n + b, m.bondOrders[k]);
      order.set(b * n + a, m.bondOrders[k]);
    }
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (a === b) continue;
        const bond = order.get(a * n + b);
        let near = false;
        if (bond === undefined && r2 > 0) {
          const ia = 3 * (offset + a);
          const ib = 3 * (offset + b);
          const dx = xyz[ia] - xyz[ib];
          const dy = xyz[ia + 1] - xyz[ib + 1];
          const dz = xyz[ia + 2] - xyz[ib + 2];
          near = dx * dx + dy * dy + dz * dz < r2;
        }
        if (bond !== undefined || near) {
          recv.push(offset + a);
          send.push(offset + b);
          types.push(bond ?? 0);
        }
      }
    }
    offset += n;
  });
  const inDegree = new Float32Array(numNodes);
  for (const i of recv) inDegree[i]++;
  for (let i = 0; i < numNodes; i++) inDegree[i] = Math.max(1, inDegree[i]);
  return {
    numNodes,
    numGraphs: molecules.length,
    realNodes: numNodes,
    realGraphs: molecules.length,
    atomTypes,
    nodeGraph,
    graphSizes,
    receivers: Int32Array.from(recv),
    senders: Int32Array.from(send),
    edgeTypes: Int32Array.from(types),
    inDegree,
  };
}

/**
 * `g` padded to `shapeBucket` sizes, so that a compiled training or sampling step sees few shapes: at
 * least one extra node (in an extra graph of its own), and self-loops on the first extra node for the
 * extra edges. The padding exchanges messages only with itself, so the molecules' predictions are
 * those of the unpadded batch; losses mask it out (see diffusion `denoisingLoss`).
 */
export function padGraphBatch(g: GraphBatch): GraphBatch {
  const nodes = shapeBucket(g.numNodes + 1);
  const edges = shapeBucket(g.receivers.length);
  const pad = (a: Int32Array, length: number, value: number) => {
    const out = new Int32Array(length).fill(value);
    out.set(a);
    return out;
  };
  const first = g.numNodes;
  const inDegree = new Float32Array(nodes).fill(1);
  inDegree.set(g.inDegree);
  if (edges > g.receivers.length) inDegree[first] = edges - g.receivers.length;
  const graphSizes = new Int32Array(g.numGraphs + 1);
  graphSizes.set(g.graphSizes);
  graphSizes[g.numGraphs] = nodes - g.numNodes;
  return {
    numNodes: nodes,
    numGraphs: g.numGraphs + 1,
    realNodes: g.realNodes,
    realGraphs: g.realGraphs,
    atomTypes: pad(g.atomTypes, nodes, 0),
    nodeGraph: pad(g.nodeGraph, nodes, g.numGraphs),
    graphSizes,
    receivers: pad(g.receivers, edges, first),
    senders: pad(g.senders, edges, first),
    edgeTypes: pad(g.edgeTypes, edges, 0),
    inDegree,
  };
}

/** Sinusoidal features [numNodes, timeFeatures] of each node's diffusion step (as a fraction of the schedule). */
export function timeFeatures(c: EgnnConfig, stepFraction: ArrayLike<number>): Float32Array {
  const half = c.timeFeatures / 2;
  const out = new Float32Array(stepFraction.length * c.timeFeatures);
  for (let i = 0; i < stepFraction.length; i++) {
    const t = 1000 * stepFraction[i];
    for (let k = 0; k < half; k++) {
      const freq = Math.exp((-Math.log(10000) * k) / half);
      out[i * c.timeFeatures + k] = Math.sin(t * freq);
      out[i * c.timeFeatures + half + k] = Math.cos(t * freq);
    }
  }
  return out;
}

/** Tensors of a batch that do not change during one forward pass (created once, disposed by the caller). */
export interface BatchTensors {
  atomTypes: tf.Tensor1D;
  nodeGraph: tf.Tensor1D;
  receivers: tf.Tensor1D;
  senders: tf.Tensor1D;
  edgeTypes: tf.Tensor1D;
  inDegree: tf.Tensor2D;
  graphSizes: tf.Tensor2D;
  /** [numNodes, timeFeatures] */
  time: tf.Tensor2D;
}

/** `stepFractionPerNode` covers the real nodes (or all of them); padding nodes get step 0. */
export function batchTensors(c: EgnnConfig, b: GraphBatch, stepFractionPerNode: ArrayLike<number>): BatchTensors {
  if (stepFractionPerNode.length !== b.numNodes) {
    const all = new Float32Array(b.numNodes);
    all.set(Array.from(stepFractionPerNode).slice(0, b.numNodes));
    stepFractionPerNode = all;
  }
  return {
    atomTypes: tf.tensor1d(b.atomTypes, "int32"),
    nodeGraph: tf.tensor1d(b.nodeGraph, "int32"),
    receivers: tf.tensor1d(b.receivers, "int32"),
    senders: tf.tensor1d(b.senders, "int32"),
    edgeTypes: tf.tensor1d(b.edgeTypes, "int32"),
    inDegree: tf.tensor2d(b.inDegree, [b.numNodes, 1]),
    graphSizes: tf.tensor2d(Float32Array.from(b.graphSizes), [b.numGraphs, 1]),
    time: tf.tensor2d(timeFeatures(c, stepFractionPerNode), [b.numNodes, c.timeFeatures]),
  };
}

export function disposeBatchTensors(t: BatchTensors): void {
  for (const v of Object.values(t)) (v as tf.Tensor).dispose();
}

const BATCH_TENSOR_KEYS = ["atomTypes", "nodeGraph", "receivers", "senders", "edgeTypes", "inDegree", "graphSizes", "time"] as const;

/** The batch tensors in a fixed order (the inputs of a compiled step), and back. */
export function batchTensorList(t: BatchTensors): tf.Tensor[] {
  return BATCH_TENSOR_KEYS.map((k) => t[k]);
}

export function batchTensorsFromList(list: readonly tf.Tensor[]): BatchTensors {
  return Object.fromEntries(BATCH_TENSOR_KEYS.map((k, i) => [k, list[i]])) as unknown as BatchTensors;
}

export const BATCH_TENSOR_COUNT = BATCH_TENSOR_KEYS.length;

/** Each graph's mean subtracted from its nodes' rows: x [N, d]. */
export function removeGraphMean(x: tf.Tensor2D, nodeGraph: tf.Tensor1D, graphSizes: tf.Tensor2D): tf.Tensor2D {
  const sums = segmentSum(x, nodeGraph, graphSizes.shape[0]);
  const means = tf.div(sums, graphSizes);
  return tf.sub(x, gatherRows(means, nodeGraph)) as tf.Tensor2D;
}

/** The predicted noise [N, 3] on coordinates `x` [N, 3] of the batch graph `t`. Wrap in tf.tidy. */
export function egnnForward(c: EgnnConfig, p: Params, t: BatchTensors, x: tf.Tensor2D): tf.Tensor2D {
  const n = x.shape[0];
  let h = tf.add(gatherRows(p["atom.embed"], t.atomTypes), silu(linear(t.time, p["time.w"], p["time.b"]))) as tf.Tensor2D;
  const bond = gatherRows(p["bond.embed"], t.edgeTypes) as tf.Tensor2D;
  const centers = tf.tensor2d(Array.from({ length: c.rbf }, (_, k) => (c.rbf === 1 ? 0 : (c.rbfMax * k) / (c.rbf - 1))), [1, c.rbf]);
  const width = c.rbf === 1 ? c.rbfMax : c.rbfMax / (c.rbf - 1);
  let pos = x;
  for (let l = 0; l < c.layers; l++) {
    const q = (name: string) => p[`layers.${l}.${name}`];
    const diff = tf.sub(gatherRows(pos, t.receivers), gatherRows(pos, t.senders)) as tf.Tensor2D; // x_i − x_j
    const dist = tf.sqrt(tf.add(tf.sum(tf.square(diff), -1, true), 1e-8)) as tf.Tensor2D; // [E, 1]
    const rbf = tf.exp(tf.mul(-0.5 / (width * width), tf.square(tf.sub(dist, centers))));
    const hi = gatherRows(tf.matMul(h, q("edge.wi") as tf.Tensor2D), t.receivers);
    const hj = gatherRows(tf.matMul(h, q("edge.wj") as tf.Tensor2D), t.senders);
    const pre = tf.add(tf.add(tf.add(hi, hj), tf.add(linear(rbf, q("edge.wd")), linear(bond, q("edge.we")))), q("edge.b1"));
    const m = silu(linear(silu(pre), q("edge.w2"), q("edge.b2"))) as tf.Tensor2D; // [E, h]
    const weight = linear(silu(linear(m, q("coord.w1"), q("coord.b1"))), q("coord.w2")); // [E, 1]
    const shift = tf.div(segmentSum(tf.mul(tf.div(diff, tf.add(dist, 1)), weight), t.receivers, n), t.inDegree);
    pos = tf.add(pos, shift) as tf.Tensor2D;
    if (l === c.layers - 1) break;
    const agg = tf.div(segmentSum(m, t.receivers, n), t.inDegree);
    const upd = linear(silu(linear(tf.concat([h, agg], 1), q("node.w1"), q("node.b1"))), q("node.w2"), q("node.b2"));
    h = tf.add(h, upd) as tf.Tensor2D;
  }
  return removeGraphMean(tf.sub(pos, x) as tf.Tensor2D, t.nodeGraph, t.graphSizes);
}

import { centered, kabschRotation } from "./rmsd";
import type { MoleculeGraph } from "./types";
import type { Figure } from "../plots/plotly";

/** CPK-style colours of the heavy atoms the kit meets; anything else is drawn in pink. */
const ELEMENT_COLORS: Record<number, [string, string]> = {
  6: ["C", "#404040"],
  7: ["N", "#3050f8"],
  8: ["O", "#ff0d0d"],
  9: ["F", "#90e050"],
  15: ["P", "#ff8000"],
  16: ["S", "#e0c000"],
  17: ["Cl", "#1ff01f"],
  35: ["Br", "#a62929"],
  53: ["I", "#940094"],
};

export interface ConformerView {
  /** Panel title, e.g. "reference" or "replace, model 4". */
  label: string;
  xyz: ArrayLike<number>;
}

/**
 * Conformations of one molecule side by side as 3D ball-and-stick scatters, each panel rotated onto the
 * first (Kabsch) so that differences in shape, not orientation, are what the eye sees.
 */
export function conformersFigure(molecule: MoleculeGraph, views: readonly ConformerView[], title: string): Figure {
  if (views.length === 0) throw new Error("conformersFigure: no conformations to draw");
  const reference = centered(views[0].xyz);
  const data: Record<string, unknown>[] = [];
  const n = molecule.atomicNumbers.length;
  views.forEach((view, k) => {
    const q = centered(view.xyz);
    const r = k === 0 ? null : kabschRotation(q, reference);
    const at = (i: number): [number, number, number] => {
      const p = [q[3 * i], q[3 * i + 1], q[3 * i + 2]];
      if (!r) return p as [number, number, number];
      return [0, 1, 2].map((row) => r[row][0] * p[0] + r[row][1] * p[1] + r[row][2] * p[2]) as [number, number, number];
    };
    const atoms = Array.from({ length: n }, (_, i) => at(i));
    const scene = k === 0 ? "scene" : `scene${k + 1}`;
    const bx: (number | null)[] = [];
    const by: (number | null)[] = [];
    const bz: (number | null)[] = [];
    for (let b = 0; b < molecule.bonds.length; b += 2) {
      const [a, c] = [atoms[molecule.bonds[b]], atoms[molecule.bonds[b + 1]]];
      bx.push(a[0], c[0], null);
      by.push(a[1], c[1], null);
      bz.push(a[2], c[2], null);
    }
    data.push({ type: "scatter3d", mode: "lines", x: bx, y: by, z: bz, line: { color: "#888", width: 6 }, hoverinfo: "skip", showlegend: false, scene });
    data.push({
      type: "scatter3d",
      mode: "markers",
      x: atoms.map((p) => p[0]),
      y: atoms.map((p) => p[1]),
      z: atoms.map((p) => p[2]),
      marker: { size: 6, color: Array.from(molecule.atomicNumbers, (z) => (ELEMENT_COLORS[z] ?? ["?", "#ff69b4"])[1]) },
      text: Array.from(molecule.atomicNumbers, (z, i) => `${(ELEMENT_COLORS[z] ?? [`Z=${z}`])[0]}${i}`),
      hovertemplate: "%{text}<extra></extra>",
      showlegend: false,
      scene,
    });
  });
  const layout: Record<string, unknown> = { title: { text: title }, height: 420, margin: { l: 0, r: 0, t: 60, b: 0 }, annotations: [] as unknown[] };
  const width = 1 / views.length;
  views.forEach((view, k) => {
    const axis = { visible: false };
    layout[k === 0 ? "scene" : `scene${k + 1}`] = { domain: { x: [k * width, (k + 1) * width], y: [0, 0.92] }, xaxis: axis, yaxis: axis, zaxis: axis, aspectmode: "data" };
    (layout.annotations as unknown[]).push({ text: `<b>${view.label}</b>`, x: (k + 0.5) * width, y: 0.98, xref: "paper", yref: "paper", showarrow: false });
  });
  return { data, layout };
}

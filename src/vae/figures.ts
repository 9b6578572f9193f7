import * as fs from "node:fs";
import * as path from "node:path";
import type { IterationRecord } from "../collapse/loop";
import type { Strategy } from "../collapse/strategies";
import { encodePng, imageGrid } from "../images/grid";
import type { ImageSet } from "../images/types";
import { writeFileAtomic } from "../store/runStore";
import { metricsPanelsFigure } from "../plots/metricFigures";
import { type Figure, escapeHtml } from "../plots/plotly";

export interface ImagePanel {
  /** Caption, e.g. "replace, model 5". */
  label: string;
  images: ImageSet;
}

export interface ImagePanelOptions {
  columns?: number;
  /** Images per panel (default: all, at most 64). */
  count?: number;
  /** Pixel magnification (nearest neighbour), so 32×32 images are visible. */
  zoom?: number;
}

/** Image grids side by side with captions, as notebook HTML (PNG data URLs): Figures 7 and 12. */
export async function imagePanelsHtml(panels: readonly ImagePanel[], opts: ImagePanelOptions = {}): Promise<string> {
  const cells = await Promise.all(
    panels.map(async (p) => {
      const png = await encodePng(imageGrid(p.images, { columns: opts.columns ?? 8, count: Math.min(opts.count ?? p.images.n, 64) }), opts.zoom ?? 2);
      return `<figure style="display:inline-block;margin:0 12px 12px 0;text-align:center"><img src="data:image/png;base64,${png.toString("base64")}" style="image-rendering:pixelated"/><figcaption>${escapeHtml(p.label)}</figcaption></figure>`;
    }),
  );
  return `<div>${cells.join("")}</div>`;
}

/** Writes each panel as `<name>-<k>-<label>.png` into `dir` (a notebook's figure directory); returns the files. */
export async function saveImagePanels(dir: string, name: string, panels: readonly ImagePanel[], opts: ImagePanelOptions = {}): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const [k, p] of panels.entries()) {
    const slug = p.label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    const file = path.join(dir, `${name}-${k + 1}-${slug}.png`);
    writeFileAtomic(file, await encodePng(imageGrid(p.images, { columns: opts.columns ?? 8, count: Math.min(opts.count ?? p.images.n, 64) }), opts.zoom ?? 2));
    files.push(file);
  }
  return files;
}

/**
 * How often each attribute appears among generated images per iteration (the classifier's verdict), one
 * panel per attribute, one line per strategy, with the attribute's frequency among real images dashed.
 */
export function attributeFrequencyFigure(
  curves: readonly { strategy: Strategy; records: readonly IterationRecord[] }[],
  realFrequencies: Readonly<Record<string, number>>,
  title = "Attribute frequencies among generated images",
): Figure {
  const attributes = Object.keys(realFrequencies).filter((a) => curves.some((c) => c.records.some((r) => r.metrics[`freq_${a}`] !== undefined)));
  const fig = metricsPanelsFigure(curves, attributes.map((a) => ({ metric: `freq_${a}`, axisTitle: a })), title);
  const last = Math.max(1, ...curves.flatMap((c) => c.records.map((r) => r.iteration)));
  attributes.forEach((a, k) => {
    fig.data.push({
      type: "scatter",
      mode: "lines",
      name: "real images",
      legendgroup: "real",
      showlegend: k === 0,
      x: [1, last],
      y: [realFrequencies[a], realFrequencies[a]],
      line: { color: "#555", dash: "dash", width: 1.5 },
      hovertemplate: `${a} among real images: %{y:.3f}<extra></extra>`,
      xaxis: k === 0 ? "x" : `x${k + 1}`,
      yaxis: k === 0 ? "y" : `y${k + 1}`,
    });
  });
  return fig;
}

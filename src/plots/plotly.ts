import * as fs from "node:fs";
import * as path from "node:path";
import { packageRoot } from "../environment";
import { writeFileAtomic } from "../store/runStore";

/**
 * A Plotly figure as plain JSON: the same object renders in JupyterLab, in the HTML report, in a
 * standalone HTML file and in the static exporter (kaleido). Only attributes that plotly.js 2.x and
 * 3.x agree on are used, since the exporter bundles 2.x.
 */
export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** The minified plotly.js built by `npm run build` (falls back to the unminified bundle). */
export function plotlyJsSource(): string {
  const minified = path.join(packageRoot(), "dist", "vendor", "plotly.min.js");
  const file = fs.existsSync(minified) ? minified : require.resolve("plotly.js-dist/plotly.js");
  return fs.readFileSync(file, "utf8");
}

/** JSON safe to embed in an HTML <script> (no `</script>` or `<!--` can appear in it). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The element that defines window.Plotly; the report builder keeps one copy of it by this id. */
export const PLOTLY_SCRIPT_ID = "collapse-kit-plotlyjs";

export function plotlyLibraryHtml(): string {
  return (
    `<script id="${PLOTLY_SCRIPT_ID}">${plotlyJsSource()}\n` +
    `;(window.__collapseKitQueue||[]).splice(0).forEach(function(f){f()});</script>`
  );
}

/**
 * A div plus a script that draws the figure once plotly.js is available: immediately if it is, else when
 * the library script (emitted once per notebook, maybe later in page order) runs.
 */
export function figureHtml(fig: Figure, divId: string): string {
  const height = typeof fig.layout.height === "number" ? fig.layout.height : 500;
  return (
    `<div id="${divId}" class="collapse-kit-figure" style="width:100%;height:${height}px"></div>\n` +
    `<script>(function(){var fig=${scriptJson(fig)};` +
    `function draw(){var el=document.getElementById(${scriptJson(divId)});if(el)window.Plotly.react(el,fig.data,fig.layout,{responsive:true,displaylogo:false});}` +
    `if(window.Plotly)draw();else(window.__collapseKitQueue=window.__collapseKitQueue||[]).push(draw);})();</script>`
  );
}

/** A self-contained HTML page of one or more figures (works offline). */
export function standaloneHtml(figs: readonly Figure[], title: string): string {
  const body = figs.map((f, i) => figureHtml(f, `fig-${i}`)).join("\n");
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>${plotlyLibraryHtml()}</head><body>${body}</body></html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** Figure names become file names: keep them to letters, digits, '-', '_' and '.'. */
export function checkFigureName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`figure name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-'`);
  return name;
}

/** Writes `<dir>/<name>.json`, the figure as the static exporter reads it. */
export function saveFigure(fig: Figure, dir: string, name: string): string {
  checkFigureName(name);
  const json = path.join(dir, `${name}.json`);
  writeFileAtomic(json, JSON.stringify(fig));
  return json;
}

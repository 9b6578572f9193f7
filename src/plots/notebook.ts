import * as path from "node:path";
import { type Figure, checkFigureName, escapeHtml, figureHtml, plotlyLibraryHtml, saveFigure } from "./plotly";
import { type Progress, progressBar } from "../progress";

/** The part of tslab's API the kit uses; pass `import * as tslab from "tslab"` in. */
export interface TslabLike {
  display: { html(s: string): void };
  newDisplay(): { html(s: string): void };
}

export interface LiveFigure {
  /** Redraws in place (throttled, so a fast loop does not flood the notebook). */
  update(fig: Figure): void;
  /** Final draw, always shown; saves the figure under its name if the notebook has a figure directory. */
  done(fig: Figure): void;
}

export interface NotebookDisplay {
  /** Shows an interactive figure; with a name, also saves `<name>.json` for the static exporter. */
  show(fig: Figure, name?: string): void;
  /** A figure that updates in place while a run progresses. */
  live(name?: string, minIntervalMs?: number): LiveFigure;
  /** A progress bar drawn in the cell's output, updated in place. */
  progress(label: string, total: number): Progress;
  /** Shows rows of plain values as an HTML table. */
  table(rows: readonly Record<string, unknown>[]): void;
  /** Where named figures are saved (COLLAPSE_FIGURE_DIR), or null. */
  readonly figureDir: string | null;
}

/**
 * Notebook output helpers bound to a tslab instance. Creating it emits plotly.js once, as its own
 * (invisible) output of the setup cell, so every later figure renders offline — in JupyterLab and in
 * the exported HTML — without reaching a CDN.
 */
export function notebookDisplay(tslab: TslabLike, opts: { figureDir?: string | null } = {}): NotebookDisplay {
  const figureDir = opts.figureDir !== undefined ? opts.figureDir : process.env.COLLAPSE_FIGURE_DIR ? path.resolve(process.env.COLLAPSE_FIGURE_DIR) : null;
  tslab.display.html(plotlyLibraryHtml());
  // Div ids must be unique across cells and re-runs within one page.
  const session = process.pid.toString(36) + Date.now().toString(36);
  let counter = 0;
  const nextId = () => `ck-fig-${session}-${counter++}`;
  const save = (fig: Figure, name?: string) => {
    if (name !== undefined) checkFigureName(name);
    if (name && figureDir) saveFigure(fig, figureDir, name);
  };
  return {
    figureDir,
    show(fig, name) {
      save(fig, name);
      tslab.display.html(figureHtml(fig, nextId()));
    },
    live(name, minIntervalMs = 1000) {
      if (name !== undefined) checkFigureName(name);
      const handle = tslab.newDisplay();
      const id = nextId();
      let last = 0;
      return {
        update(fig) {
          const now = Date.now();
          if (now - last < minIntervalMs) return;
          last = now;
          handle.html(figureHtml(fig, id));
        },
        done(fig) {
          save(fig, name);
          handle.html(figureHtml(fig, id));
        },
      };
    },
    table(rows) {
      tslab.display.html(tableHtml(rows));
    },
    progress(label, total) {
      const handle = tslab.newDisplay();
      return progressBar(label, total, {
        render: (text, fraction) =>
          handle.html(`<div style="font-family:monospace"><progress value="${fraction.toFixed(4)}" max="1" style="width:40%"></progress> ${text.replace(/</g, "&lt;")}</div>`),
      });
    },
  };
}

/** A plain HTML table; the columns are the keys of the first row. */
export function tableHtml(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return "<p><i>(no rows)</i></p>";
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => escapeHtml(v === null || v === undefined ? "—" : String(v));
  const head = cols.map((c) => `<th>${cell(c)}</th>`).join("");
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${cell(r[c])}</td>`).join("")}</tr>`).join("");
  return `<table class="collapse-kit-table"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

import * as path from "node:path";
import { type Figure, checkFigureName, escapeHtml, figureHtml, plotlyLibraryHtml, saveFigure } from "./plotly";
import { backendInfo } from "../backend";
import { onInterrupt, watchInterrupts } from "../interrupt";
import { type Progress, type ProgressOptions, progressBar } from "../progress";

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
  /**
   * Replaces the figure by a one-line note, at once: for a live view whose final figures a later
   * cell draws (so the notebook shows each figure once, under its final title).
   */
  clear(note: string): void;
  /** Last draw of a run that stopped early (not saved). */
  stop(fig: Figure): void;
}

export interface NotebookDisplay {
  /** Shows an interactive figure; with a name, also saves `<name>.json` for the static exporter. */
  show(fig: Figure, name?: string): void;
  /** A figure that updates in place while a run progresses. */
  live(name?: string, minIntervalMs?: number): LiveFigure;
  /** A progress bar drawn in the cell's output, updated in place. */
  progress(label: string, total: number, opts?: Pick<ProgressOptions, "eta">): Progress;
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
  watchInterrupts();
  // Div ids must be unique across cells and re-runs within one page.
  const session = process.pid.toString(36) + Date.now().toString(36);
  let counter = 0;
  const nextId = () => `ck-fig-${session}-${counter++}`;
  const save = (fig: Figure, name?: string) => {
    if (name !== undefined) checkFigureName(name);
    if (name && figureDir) saveFigure(withBackend(fig), figureDir, name);
  };
  return {
    figureDir,
    show(fig, name) {
      save(fig, name);
      tslab.display.html(figureHtml(fig, nextId()));
    },
    live(name, minIntervalMs = 1000) {
      if (name !== undefined) checkFigureName(name);
      const send = coalesced(tslab.newDisplay(), minIntervalMs);
      const id = nextId();
      return {
        update: (fig) => send(figureHtml(fig, id)),
        done(fig) {
          save(fig, name);
          send(figureHtml(fig, id), true);
        },
        clear: (note) => send(`<div style="font-family:monospace;color:#666">${escapeHtml(note)}</div>`, true),
        stop: (fig) => send(figureHtml(fig, id), true),
      };
    },
    progress(label, total, opts) {
      const send = coalesced(tslab.newDisplay(), 250);
      return progressBar(label, total, {
        ...opts,
        minIntervalMs: 0,
        render: (text, fraction, final) =>
          send(`<div style="font-family:monospace"><progress value="${fraction.toFixed(4)}" max="1" style="width:40%"></progress> ${escapeHtml(text)}</div>`, final),
      });
    },
    table(rows) {
      tslab.display.html(tableHtml(rows));
    },
  };
}

/**
 * The figure with the tensor backend that computed it in `layout.meta.backend` (its saved JSON says
 * which backend produced it, as every run record does); unchanged where no tensor backend ran.
 */
function withBackend(fig: Figure): Figure {
  const info = backendInfo();
  if (!info.backend) return fig;
  const layout = (fig.layout ?? {}) as Record<string, unknown>;
  const meta = (layout.meta ?? {}) as Record<string, unknown>;
  return { ...fig, layout: { ...layout, meta: { ...meta, backend: info.detail } } } as Figure;
}

/**
 * Updates of one display, coalesced: the latest content is sent from a later event-loop turn, at
 * most once per interval (a `final` update goes out at once). tslab sends each display message on a zeromq socket that allows one send
 * in flight; a burst of updates from code that blocks the event loop (a training loop) would make
 * overlapping sends and crash the kernel. After an interrupt only a final update is sent: a run being
 * stopped may still report, and a late update would land in whatever cell runs next.
 */
function coalesced(handle: { html(s: string): void }, minIntervalMs: number): (html: string, final?: boolean) => void {
  let pending: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let last = 0;
  let finished = false;
  const unsubscribe = onInterrupt(() => {
    finished = true;
    pending = null;
    if (timer) clearTimeout(timer);
    timer = null;
  });
  const flush = () => {
    timer = null;
    if (pending === null) return;
    last = Date.now();
    const html = pending;
    pending = null;
    handle.html(html);
  };
  return (html, final = false) => {
    if (finished && !final) return;
    pending = html;
    if (final) {
      // Sent now: a timer could fire after the cell has finished, when the output has no cell to go to.
      if (timer) clearTimeout(timer);
      finished = true;
      unsubscribe();
      flush();
      return;
    }
    if (!timer) timer = setTimeout(flush, Math.max(0, minIntervalMs - (Date.now() - last)));
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

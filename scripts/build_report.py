#!/usr/bin/env python3
"""Assemble ONE self-contained HTML report from the executed notebooks.

    build_report.py --out OUT_DIR

Reads OUT_DIR/notebooks/*.ipynb (sorted) and OUT_DIR/notebooks/summary.json,
writes OUT_DIR/report.html: a title page with a table of contents (status, wall
time, figures per notebook), then every notebook rendered by nbconvert's lab
template. Viewable offline: require.js (a CDN script the lab template adds) is
left out, MathJax is inlined from the npm `mathjax` package (tex-svg-full: every TeX
extension, no further downloads), and the inlined plotly.js (<script id="collapse-kit-plotlyjs">, present in the first figure
output of every notebook) is kept once, at the top of <body>, before any figure.
"""
from __future__ import annotations

import argparse
import datetime
import html
import json
import re
import sys
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import PLOTLYJS_ID, figure_div_ids  # noqa: E402

# Two tiny templates on top of nbconvert's lab template: one renders only the
# <head> (CSS; no require.js: it is not needed, is fetched from a CDN, and when it
# does load, plotly.js registers as an AMD module instead of window.Plotly), one
# renders only the cells.
TEMPLATES = {
    "ck_head.j2": """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock -%}
{%- block html_head_js_mathjax -%}{%- endblock -%}
{%- block body -%}{%- endblock -%}
{%- block footer -%}{%- endblock -%}""",
    "ck_body.j2": """{%- extends 'index.html.j2' -%}
{%- block header -%}{%- endblock -%}
{%- block body_header -%}{%- endblock -%}
{%- block body_footer -%}{%- endblock -%}
{%- block footer -%}{%- endblock -%}""",
}

# Non-greedy up to the first </script>: exactly where an HTML parser ends the element.
PLOTLYJS_RE = re.compile(
    r"<script\b[^>]*\bid\s*=\s*[\"']%s[\"'][^>]*>.*?</script\s*>" % re.escape(PLOTLYJS_ID),
    re.DOTALL | re.IGNORECASE,
)

ROOT = Path(__file__).resolve().parent.parent
MATHJAX_JS = ROOT / "node_modules" / "mathjax" / "es5" / "tex-svg-full.js"
# Typeset $...$ and $$...$$ as the notebooks' markdown uses them (as JupyterLab does).
MATHJAX_CONFIG = """<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']],
  displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true}, svg: {fontCache: 'global'}};</script>
"""


def mathjax_html() -> str:
    """MathJax inlined, so the report typesets math with no network."""
    if not MATHJAX_JS.exists():
        raise SystemExit(f"build_report: {MATHJAX_JS} missing: run `npm ci` (mathjax is an npm dependency)")
    return MATHJAX_CONFIG + "<script>" + MATHJAX_JS.read_text(encoding="utf-8") + "</script>\n"


EXTRA_CSS = """<style type="text/css">
.ck-toc { max-width: 60rem; margin: 2rem auto; font-family: var(--jp-ui-font-family, sans-serif); }
.ck-toc table { border-collapse: collapse; width: 100%; }
.ck-toc th, .ck-toc td { border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left; }
.ck-ok { color: #1a7f37; font-weight: 600; } .ck-bad { color: #cf222e; font-weight: 600; }
.ck-notebook { border-top: 4px solid #888; margin-top: 3rem; padding-top: 1rem; }
.ck-banner { background: #ffebe9; border: 1px solid #cf222e; padding: .6rem 1rem; margin: 1rem 0; }
</style>
"""


def exporter(name: str) -> HTMLExporter:
    exp = HTMLExporter(template_name="lab", template_file=name, embed_images=True,
                       extra_loaders=[DictLoader(TEMPLATES)])
    # Merge split stream outputs and apply "\r" (progress lines), as JupyterLab shows them.
    exp.register_preprocessor(CoalesceStreamsPreprocessor, enabled=True)
    return exp


def build_report(out_dir: Path, log=print) -> list[str]:
    """Write out_dir/report.html; returns the list of problems found (empty = ok)."""
    nb_dir = out_dir / "notebooks"
    paths = sorted(nb_dir.glob("*.ipynb"))
    summary_path = nb_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    entries = summary.get("notebooks", {})
    problems: list[str] = []

    head, plotlyjs, sections, rows, all_fig_ids = None, None, [], [], []
    body_exp = exporter("ck_body.j2")
    for i, path in enumerate(paths):
        nb = nbformat.read(path, as_version=4)
        info = entries.get(path.name, {})
        # Resolve relative images (embed_images) against the notebook's source folder.
        src_dir = Path(info.get("source", path)).parent
        res = {"metadata": {"name": path.stem, "path": str(src_dir if src_dir.is_dir() else nb_dir)}}
        if head is None:
            nb.metadata["title"] = "collapse-kit report"
            head, _ = exporter("ck_head.j2").from_notebook_node(nb, resources=res)
        body, _ = body_exp.from_notebook_node(nb, resources=res)

        # Keep the first inlined plotly.js (moved to the top of <body>), drop the rest.
        found = PLOTLYJS_RE.findall(body)
        if found and plotlyjs is None:
            plotlyjs = found[0]
        body = PLOTLYJS_RE.sub("", body)

        fig_ids = figure_div_ids(nb)
        all_fig_ids += fig_ids
        anchor = f"nb-{i}"
        status = info.get("status", "not run")
        secs = info.get("seconds")
        ok = status == "ok"
        rows.append(
            f'<tr><td><a href="#{anchor}">{html.escape(path.stem)}</a></td>'
            f'<td class="{"ck-ok" if ok else "ck-bad"}">{html.escape(status)}</td>'
            f'<td>{"" if secs is None else f"{secs:.1f} s"}</td><td>{len(fig_ids)}</td></tr>'
        )
        banner = ""
        if not ok:
            err = info.get("error") or {}
            banner = (f'<div class="ck-banner"><b>This notebook did not run to completion</b> '
                      f'({html.escape(status)}): cell {err.get("cell")}: '
                      f'{html.escape(str(err.get("ename", "")))}: {html.escape(str(err.get("evalue", "")))}.'
                      f' Cells after it were not executed.</div>')
        sections.append(f'<section class="ck-notebook" id="{anchor}">\n'
                        f'<h1>{html.escape(path.stem)}</h1>\n{banner}\n{body}\n</section>')

    # --- checks a browser would otherwise reveal ------------------------------------
    if all_fig_ids and plotlyjs is None:
        problems.append(f'figures present but no <script id="{PLOTLYJS_ID}"> found: they will not render')
    dups = sorted({x for x in all_fig_ids if all_fig_ids.count(x) > 1})
    if dups:
        problems.append(f"figure div ids used more than once (only the first would be drawn): {dups[:10]}")

    figures = sorted(p.name for p in (out_dir / "figures").glob("*.png")) if (out_dir / "figures").is_dir() else []
    fig_links = ", ".join(f'<a href="figures/{html.escape(f)}">{html.escape(f[:-4])}</a>' for f in figures)
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    toc = (
        '<section class="ck-toc" id="contents">\n<h1>collapse-kit report</h1>\n'
        f'<p>Profile <code>{html.escape(str(summary.get("profile", "?")))}</code>, generated {generated}, '
        f'{len(paths)} notebooks.</p>\n'
        '<table><tr><th>Notebook</th><th>Status</th><th>Wall time</th><th>Figures</th></tr>\n'
        + "\n".join(rows) + "\n</table>\n"
        + (f"<p>Static figures (png/svg/pdf in <code>figures/</code>): {fig_links}</p>\n" if figures else "")
        + "</section>"
    )
    if head is None:  # no notebooks at all: still produce a page saying so
        head = '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>collapse-kit report</title></head>'
        problems.append(f"no executed notebooks in {nb_dir}")
    page = "\n".join([
        head.replace("</head>", EXTRA_CSS + mathjax_html() + "</head>"),
        '<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">',
        "<main>",
        plotlyjs or "",
        toc,
        *sections,
        "</main>\n</body>\n</html>\n",
    ])

    n = len(PLOTLYJS_RE.findall(page))  # real elements only, not escaped source code
    if plotlyjs and n != 1:
        problems.append(f'expected exactly one id="{PLOTLYJS_ID}" in the report, found {n}')
    first_div = min((m.start() for x in all_fig_ids for m in [re.search(r'<div[^>]*\bid="%s"' % re.escape(x), page)] if m),
                    default=None)
    m = PLOTLYJS_RE.search(page)
    if m and first_div is not None and m.start() > first_div:
        problems.append("plotly.js script comes after the first figure div")
    missing = [x for x in all_fig_ids if not re.search(r'<div[^>]*\bid="%s"' % re.escape(x), page)]
    if missing:
        problems.append(f"figure divs missing from the report: {missing[:10]}")
    external = re.findall(r"<script[^>]*\bsrc=[\"'](https?:[^\"']+)", page)
    if external:
        problems.append(f"report loads scripts from the network: {external}")

    report = out_dir / "report.html"
    tmp = report.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(report)
    log(f"build_report: {report} ({len(page) / 1e6:.1f} MB, {len(paths)} notebooks, "
        f"{len(all_fig_ids)} figures, plotly.js {'inlined once' if plotlyjs else 'absent'})")
    for p in problems:
        log(f"  PROBLEM {p}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="the OUT_DIR given to run_notebooks.py")
    args = ap.parse_args(argv)
    return 1 if build_report(args.out.resolve()) else 0


if __name__ == "__main__":
    sys.exit(main())

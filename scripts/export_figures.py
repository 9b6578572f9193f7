#!/usr/bin/env python3
"""Export the Plotly figure JSONs written by the notebooks to static images.

    export_figures.py FIG_DIR [--formats png,svg,pdf] [--dpi 300] [--print-width 7] [--force]

For every FIG_DIR/NAME.json ({"data": [...], "layout": {...}}) writes NAME.png,
NAME.svg, NAME.pdf next to it with kaleido 0.2.1 (its wheel bundles a headless
Chromium: no browser, no network). PNGs are rendered for print: a figure printed
--print-width inches wide (default 7, a paper's full text width) gets --dpi pixels
per inch (default 300), and the PNG says so (its pHYs chunk), so a word processor
or LaTeX places it at that size. SVG and PDF are vector. Everything runs in this one process, so
Chromium starts once. Up-to-date outputs (newer than the JSON) are skipped.
Also importable: `from export_figures import export_figures`.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Render with the same plotly.js the notebooks use (plotly.js-dist from
# node_modules) rather than the 2.x copy inside plotly.py, so exported images
# match what the notebook shows. Falls back to plotly.py's copy if absent.
REPO_PLOTLYJS = [ROOT / "dist" / "vendor" / "plotly.min.js",  # minified by scripts/vendor-plotly.js
                 ROOT / "node_modules" / "plotly.js-dist-min" / "plotly.min.js",
                 ROOT / "node_modules" / "plotly.js-dist" / "plotly.js"]
DEFAULT_SIZE = (1000, 600)
RASTER = ("png", "jpeg", "webp")  # --scale only multiplies pixels; svg/pdf keep layout size


DEFAULT_DPI = 300
DEFAULT_PRINT_WIDTH_IN = 7.0


def set_png_dpi(path: Path, dpi: float) -> None:
    """Writes (or replaces) the PNG's pHYs chunk: its pixels per metre, from dots per inch."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    ppm = round(dpi / 0.0254)
    body = struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", len(body)) + b"pHYs" + body + struct.pack(">I", zlib.crc32(b"pHYs" + body))
    out, at = [data[:8]], 8
    while at < len(data):
        length = struct.unpack(">I", data[at:at + 4])[0]
        kind = data[at + 4:at + 8]
        end = at + 12 + length
        if kind != b"pHYs":
            out.append(data[at:end])
        if kind == b"IHDR":
            out.append(chunk)  # pHYs must precede the image data
        at = end
    path.write_bytes(b"".join(out))


def png_info(path: Path) -> tuple[int, int, float | None]:
    """(width px, height px, dpi or None) of a PNG."""
    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    at, dpi = 8, None
    while at < len(data):
        length = struct.unpack(">I", data[at:at + 4])[0]
        if data[at + 4:at + 8] == b"pHYs":
            ppm, _, unit = struct.unpack(">IIB", data[at + 8:at + 17])
            dpi = ppm * 0.0254 if unit == 1 else None
        at += 12 + length
    return width, height, dpi


def _scope():
    import plotly.io as pio

    scope = pio.kaleido.scope
    for js in REPO_PLOTLYJS:
        if js.exists():
            scope.plotlyjs = str(js)
            break
    # MathJax would be fetched from a CDN: keep exports offline and deterministic.
    scope.mathjax = False
    # Chromium refuses to run as root with its sandbox, and there is no GPU in CI
    # or containers. kaleido's plotly scope already passes both; make it explicit.
    args = list(scope.chromium_args)
    for flag in ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        if flag not in args:
            args.append(flag)
    scope.chromium_args = tuple(args)
    return pio


def export_figures(fig_dir, formats=("png", "svg", "pdf"), scale=None, force=False, log=print, only=None,
                   dpi=DEFAULT_DPI, print_width=DEFAULT_PRINT_WIDTH_IN) -> list[str]:
    """Export every FIG_DIR/*.json (or only the names in `only`); returns the list of error
    messages (empty = ok). A bad figure is reported and skipped; the others are still exported.
    PNGs are `dpi` × `print_width` pixels wide unless `scale` fixes the pixel multiplier."""
    fig_dir = Path(fig_dir)
    jsons = sorted(fig_dir.glob("*.json"))
    if only is not None:
        missing = [n for n in only if not (fig_dir / f"{n}.json").exists()]
        if missing:
            return [f"{fig_dir}: no figure named {', '.join(missing)}"]
        jsons = [fig_dir / f"{n}.json" for n in only]
    if not jsons:
        log(f"export_figures: no *.json in {fig_dir}")
        return []
    pio = None
    errors, done, skipped, t_start = [], 0, 0, time.monotonic()
    for src in jsons:
        outs = [src.with_suffix("." + fmt) for fmt in formats]
        mtime = src.stat().st_mtime
        if not force and all(o.exists() and o.stat().st_mtime >= mtime for o in outs):
            skipped += 1
            continue
        try:
            fig = json.loads(src.read_text(encoding="utf-8"))
        except ValueError as e:
            errors.append(f"{src}: invalid JSON: {e}")
            continue
        if not isinstance(fig, dict) or not isinstance(fig.get("data"), list):
            errors.append(f'{src}: not a Plotly figure (expected {{"data": [...], "layout": {{...}}}})')
            continue
        layout = fig.get("layout") or {}
        width = layout.get("width") or DEFAULT_SIZE[0]
        height = layout.get("height") or DEFAULT_SIZE[1]
        pio = pio or _scope()
        raster_scale = scale if scale is not None else dpi * print_width / width
        t0 = time.monotonic()
        try:
            for out in outs:
                # validate=False: the JSON targets plotly.js 3 (node_modules), which
                # plotly.py 5's schema may not know; plotly.js itself validates.
                # Write to a temp name so a failed export never looks up to date.
                tmp = out.with_name(out.stem + ".tmp" + out.suffix)
                fmt = out.suffix[1:]
                pio.write_image(fig, str(tmp), format=fmt, width=width, height=height,
                                scale=raster_scale if fmt in RASTER else 1, validate=False)
                if fmt == "png":
                    # Printed at print_width inches: the pixels per inch that gives.
                    set_png_dpi(tmp, dpi if scale is None else raster_scale * width / print_width)
                tmp.replace(out)
        except Exception as e:  # kaleido reports plotly.js errors as ValueError
            errors.append(f"{src}: export failed: {e}")
            continue
        done += 1
        log(f"  {src.name} -> {','.join(formats)} ({time.monotonic() - t0:.2f}s)")
    log(f"export_figures: {done} exported, {skipped} up to date, {len(errors)} failed"
        f" in {time.monotonic() - t_start:.1f}s ({fig_dir})")
    for e in errors:
        log(f"  ERROR {e}")
    return errors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fig_dir", type=Path)
    ap.add_argument("--formats", default="png,svg,pdf", help="comma-separated (default png,svg,pdf)")
    ap.add_argument("--dpi", type=float, default=DEFAULT_DPI, help=f"PNG pixels per printed inch (default {DEFAULT_DPI})")
    ap.add_argument("--print-width", type=float, default=DEFAULT_PRINT_WIDTH_IN,
                    help=f"printed width of a figure in inches (default {DEFAULT_PRINT_WIDTH_IN}: a paper's text width)")
    ap.add_argument("--scale", type=float, default=None, help="fixed raster scale factor instead of --dpi/--print-width")
    ap.add_argument("--force", action="store_true", help="re-export even when outputs are up to date")
    ap.add_argument("--only", help="comma-separated figure names (default: every *.json)")
    args = ap.parse_args(argv)
    if not args.fig_dir.is_dir():
        print(f"export_figures: {args.fig_dir} is not a directory", file=sys.stderr)
        return 1
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg", "pdf", "jpeg", "webp")]
    if bad:
        print(f"export_figures: unsupported format(s): {', '.join(bad)}", file=sys.stderr)
        return 1
    only = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else None
    if args.dpi <= 0 or args.print_width <= 0 or (args.scale is not None and args.scale <= 0):
        print("export_figures: --dpi, --print-width and --scale must be > 0", file=sys.stderr)
        return 1
    return 1 if export_figures(args.fig_dir, formats, args.scale, args.force, only=only,
                               dpi=args.dpi, print_width=args.print_width) else 0


if __name__ == "__main__":
    sys.exit(main())

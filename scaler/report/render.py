"""Render a run's report: refresh its figures, embed them as SVG data URIs and fill the Jinja2 template into one
self-contained ``report.html`` (no external URL: it opens offline, mailed or copied alone)."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

from scaler.analysis.plots import plot_results
from scaler.analysis.study_plot import study_plot
from scaler.errors import ScalerError
from scaler.report.context import run_context
from scaler.results import environment
from scaler.storage import write_atomic

# (file stem in plots/, title, what it answers)
FIGURES = (
    ("pareto", "Accuracy against real FLOPs", "Every network at the final budget, the Pareto front as a step line."),
    ("coefficients", "Coefficient map", "Validation accuracy over (β, γ) on the constraint; α follows."),
    ("curves", "Training curves", "Do the kinds converge differently? Mean and ±1 std per kind, runs faint."),
    ("study", "Scaling strategies", "The fitted family against single-dimension scaling at equal FLOPs factors, "
     "with the forecast beyond the measured φ."),
)


def draw_figures(run_dir: Path) -> list[Path]:
    """(Re)draw the run's figures into ``run_dir/plots`` as PNG and SVG; the study's too when it has one."""
    paths = plot_results([run_dir / "results.csv"], run_dir / "plots", ("png", "svg"))
    if (run_dir / "study.csv").exists():
        paths += study_plot(run_dir / "study.csv", run_dir / "plots", ["png", "svg"])
    return paths


def figures(plots: Path) -> list[dict[str, str]]:
    """The figures the report embeds, in reading order, as base64 SVG data URIs."""
    out = []
    for stem, title, caption in FIGURES:
        svg = plots / f"{stem}.svg"
        if svg.exists():
            data = base64.b64encode(svg.read_bytes()).decode("ascii")
            out.append({"id": stem, "title": title, "caption": caption, "src": f"data:image/svg+xml;base64,{data}"})
    return out


def render(context: dict[str, Any]) -> str:
    """The HTML of the report for a :func:`scaler.report.context.run_context` plus figures."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("scaler.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(pct=_pct, num=_num, signed=_signed)
    try:
        return env.get_template("report.html.j2").render(**context)
    except jinja2.TemplateError as e:  # a run directory the template does not know how to show
        raise ScalerError(f"cannot render the report: {type(e).__name__}: {e}") from None


def write_report(run_dir: str | Path, *, draw: bool = True) -> Path:
    """``run_dir/report.html``, with the figures redrawn first (``draw``; none while no trial has succeeded, so
    nothing to draw); written atomically."""
    run_dir = Path(run_dir)
    context = run_context(run_dir)
    if draw and context["results"]:
        try:
            draw_figures(run_dir)
        except OSError as e:
            raise ScalerError(f"cannot draw the figures: {e.strerror or e}", where=run_dir / "plots") from None
    context.update(figures=figures(run_dir / "plots"), software=environment(),
                   written=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    path = run_dir / "report.html"
    try:
        write_atomic(path, render(context))
    except OSError as e:
        raise ScalerError(f"cannot write the report: {e.strerror}", where=path) from None
    return path


def _pct(v: Any, digits: int = 2) -> str:
    """0.88494 -> 88.49%."""
    return "–" if v is None else f"{100 * float(v):.{digits}f}%"


def _num(v: Any, fmt: str = ".3f") -> str:
    return "–" if v is None else format(float(v), fmt)


def _signed(v: Any, digits: int = 2) -> str:
    """A difference of accuracies in points: 0.0042 -> +0.42."""
    return "–" if v is None else f"{100 * float(v):+.{digits}f}"

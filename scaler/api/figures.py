"""The figures of a run, drawn (matplotlib Figures for the API) or written (files for the CLI). No torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.errors import ScalerError

KINDS = ("pareto", "coefficients", "curves", "study")


def figure(run_dir: str | Path, kind: str) -> Any:
    """One figure of the grid in ``run_dir``, closed in pyplot (shown once when a notebook displays it)."""
    from scaler.analysis.curves import curves_figure
    from scaler.analysis.figure import setup
    from scaler.analysis.plots import coefficient_figure, pareto_figure
    from scaler.analysis.rungs import final_rung
    from scaler.analysis.study_plot import study_figure
    from scaler.results import read_results

    run_dir = Path(run_dir)
    if kind not in KINDS:
        raise ScalerError(f"unknown figure {kind!r}: one of {', '.join(KINDS)}")
    if kind == "study":
        if not (run_dir / "study.csv").exists():
            raise ScalerError("no study yet: study.csv is missing (run a study first)", where=run_dir)
        fig = study_figure(run_dir / "study.csv")
    else:
        df = final_rung(read_results(run_dir / "results.csv"))
        draw = {"pareto": lambda: pareto_figure([(run_dir.name, df)]),
                "coefficients": lambda: coefficient_figure(run_dir.name, df),
                "curves": lambda: curves_figure(run_dir.name, df)}[kind]
        fig = draw()
        if fig is None:
            raise ScalerError(f"nothing to draw as {kind}: no {'candidate' if kind == 'coefficients' else 'curve'} "
                              "in this run", where=run_dir)
    setup().close(fig)
    return fig


def plot_files(csv_paths: list[Path], out: Path | None = None, formats: tuple[str, ...] = ("png", "svg"),
               x: str = "flops") -> list[Path]:
    """Every figure of one or more results CSVs, written (``scaler plot``); returns the files."""
    from scaler.analysis.plots import plot_results

    return plot_results(csv_paths, out, formats, x=x)


def study_files(study_csv: Path, out: Path, formats: list[str]) -> list[Path]:
    """The study's figure, written."""
    from scaler.analysis.study_plot import study_plot

    return study_plot(study_csv, out, formats)


def report(run_dir: str | Path, draw: bool = True) -> Path:
    """Write ``run_dir/report.html`` (``scaler report``): the answer, its figures (redrawn unless ``draw`` is
    False), every table, the settings, in one offline file; returns its path."""
    from scaler.report.render import write_report

    return write_report(Path(run_dir), draw=draw)


def refresh_report(run_dir: str | Path) -> tuple[Path | None, str | None]:
    """Rewrite the run's figures and report at the end of a grid or study: (its path, None), or (None, why not). A
    report that cannot be written is a warning there, whatever the reason, not a failure: the results it would show
    are already safe on disk."""
    try:
        return report(run_dir), None
    except ScalerError as e:
        return None, f"no report: {e}"
    except Exception as e:  # a bug here must not end hours of training in a traceback
        return None, (f"no report ({type(e).__name__}: {e}); the results are safe: run `scaler report {run_dir}` "
                      "to retry")

"""``scaler report``: one self-contained HTML page of a grid (and its study) for the people who review it."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("run_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--no-draw", is_flag=True, help="Embed the figures already in DIR/plots instead of redrawing them.")
def command(run_dir: Path, no_draw: bool) -> None:
    """Write DIR/report.html: the answer with its intervals and tie set, the figures, every table, the settings.

    One file with the figures embedded as SVG and no external URL, so it opens offline in any browser, mailed or
    copied alone. It redraws DIR/plots/ first (PNG and SVG). It reads: results.csv, run.yaml and
    coefficients.yaml (from `scaler grid`), and study.csv, study.yaml and forecast.csv (from `scaler study`)
    when present. A grid not fitted yet (cut short by --limit, still running) gets its tables and figures so far
    and, in place of the answer, how many trials finished and what is missing. `scaler grid` and `scaler study`
    write it at their end; this command refreshes it, e.g. after `scaler fit` or while a grid runs.

    \b
      scaler report results/quickstart      # then open results/quickstart/report.html
    """
    from scaler.api.figures import report

    click.echo(str(report(run_dir, draw=not no_draw)))


def refresh(run_dir: Path) -> None:
    """Rewrite the run's figures and report at the end of a study, and say so (:func:`announce`)."""
    from scaler.api.figures import refresh_report

    announce(run_dir, *refresh_report(run_dir))


def announce(run_dir: Path, path: Path | None, warning: str | None) -> None:
    """Where the report went, or the warning that there is none (on standard error)."""
    if path is None:
        click.echo(f"warning: {warning}", err=True)
    else:
        click.echo(f"report: {path}  (figures in {run_dir / 'plots'}/)")

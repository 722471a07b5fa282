"""``scaler study``: the fitted compound family against single-dimension (or other) scaling at equal FLOPs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scaler.api.specs import SINGLE_DIMENSIONS
from scaler.cli.execution import EXECUTION_FLAGS, execution, executor_options
from scaler.cli.options import LIMIT_HELP, TRIAL_TIMEOUT_HELP, console, formats
from scaler.cli.report import refresh

STRATEGY_HELP = ("Comma-separated strategies beside compound: depth, width, resolution, uniform (d1_w1_r1), fast "
                 "(d1_w8_r1, pycls's width-heavy scaling) or any pycls-style weights such as d1_w2_r1.")


@click.command("study")
@click.argument("grid_dirs", metavar="GRID_DIR [DOWN_GRID_DIR]", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@click.option("--max-phi", type=click.IntRange(min=1), default=3, show_default=True,
              help="Train phi = 0..K of every strategy (-K..K with an upward and a downward grid; 0..-K with a "
              "downward one alone).")
@click.option("--strategies", default=",".join(SINGLE_DIMENSIONS), show_default=True, help=STRATEGY_HELP)
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs per proxy (default: the grid's).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Training batch size (default: the grid's).")
@click.option("--subset", type=click.IntRange(min=1), help="Use at most N training images.")
@click.option("--seeds", type=click.IntRange(min=1), help="Seeds per network [default: 2]; study seeds start at "
              "1000, so they never repeat a grid run.")
@click.option("--limit", type=click.IntRange(min=0), help=LIMIT_HELP)
@click.option("--forecast", "ahead", type=click.IntRange(min=0), default=3, show_default=True,
              help="Forecast accuracy at phi = K+1..K+N from the measured phi = 0..K (error = a + b "
              "(FLOPs/FLOPs_0)^-c, the exponent shared by the strategies; 90% intervals by a bootstrap over seeds) "
              "and back-test it on phi = K; written to GRID_DIR/forecast.csv. Needs K >= 2 (3 to back-test); "
              "0: no forecast.")
@click.option("--trial-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help=TRIAL_TIMEOUT_HELP)
@executor_options
@click.option("--format", "fmt", default="png,svg", show_default=True, help="Figure formats.")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of live bars.")
def command(grid_dirs: tuple[Path, ...], max_phi: int, strategies: str, limit: int | None, ahead: int, fmt: str,
            quiet: bool, **flags: Any) -> None:
    """Does the fitted compound family beat width-, depth- and resolution-only scaling at equal FLOPs?

    Trains phi = 0..K of the compound family (the grid's coefficients) and of each strategy with the grid's
    proxy and training settings, on seeds disjoint from the grid's (2 per network by default); resumable like
    grid. Given two grids of one base and proxy, one searched upward (--phi 1) and one downward (--phi -1), it
    trains phi = -K..K, each direction's compound members with that direction's coefficients, into the upward
    grid's directory. Writes GRID_DIR/study.csv and GRID_DIR/plots/study.png|svg, and says at each FLOPs level which
    strategies tie for best and whether compound is better, worse or tied with each other strategy (pooled seed
    noise, 95% intervals). Validation accuracy decides; test accuracy is reported beside it. With --forecast N
    (default 3) it also predicts phi = K+1..K+N of every strategy, back-tests the prediction on phi = K, and
    writes GRID_DIR/forecast.csv, which the plot draws as a fan and `scaler emit` prints beside its members.
    At the end it refreshes GRID_DIR/report.html (scaler report).
    """
    from scaler.api.studies import study

    how = execution(**{k: flags.pop(k) for k in EXECUTION_FLAGS})
    result = study(list(grid_dirs), max_phi=max_phi, strategies=strategies.split(","), forecast=ahead, limit=limit,
                   formats=formats(fmt), progress=not quiet, console=None if quiet else console(), execution=how,
                   **flags)
    for line in result.messages:
        click.echo(line, err=line.startswith("warning:"))
    if not result.verdicts:
        return
    for row in result.verdicts:
        click.echo(_line(row))
    if result.forecast is not None:
        _print_forecast(result.forecast, result.path.parent / "forecast.csv", result.native)
    refresh(result.path.parent)


def _print_forecast(result: Any, path: Path, native: int) -> None:
    """The forecast and its back-test, as lines a reviewer can check."""
    from scaler.api.specs import human

    made = result.of("forecast")
    if made:
        click.echo(f"forecast (error = a + b (FLOPs/FLOPs_0)^-c per strategy, c = {made[0].exponent:.3f} shared; "
                   f"{made[0].level:.0%} intervals of the mean, bootstrap over seeds; the short-trained proxy's "
                   "accuracy, not the full model's):")
    for r in made:
        up = f"; upsampled beyond the data's {native} px" if native and (r.resolution or 0) > native else ""
        click.echo(f"  {r.strategy} phi {r.phi:g}: {r.accuracy:.4f} ({r.low:.4f}..{r.high:.4f}) at "
                   f"{human(r.flops or 0)} FLOPs (x{r.flops_ratio:.2f}), {r.resolution} px{up}")
    for r in result.of("skipped"):
        click.echo(f"  {r.strategy}: no forecast: {r.note}")
    for r in result.of("back-test"):
        if r.note:
            click.echo(f"back-test {r.strategy}: {r.note}")
            continue
        inside = "inside" if r.covered else "outside"  # the interval of the measured mean: fit and seed noise
        click.echo(f"back-test {r.strategy} phi {r.phi:g} (fitted without it): predicted {r.accuracy:.4f} "
                   f"({r.low:.4f}..{r.high:.4f}), measured {r.measured:.4f}: off by "
                   f"{(r.accuracy or 0) - (r.measured or 0):+.4f}, {inside} the interval")
    click.echo(str(path))


def _line(row: dict[str, Any]) -> str:
    """One phi of the study: validation (test) accuracy per strategy, the tie set, and compound's verdicts."""
    tests = row.get("test_accuracies", {})
    accs = "  ".join(f"{k} {v:.4f}" + (f" (test {tests[k]:.4f})" if k in tests else "")
                     for k, v in row["accuracies"].items())
    if "verdict" in row:
        return f"phi {row['phi']:g}: {accs}; {row['verdict']}"
    versus = "; ".join(_versus(k, v) for k, v in row.get("compound_vs", {}).items())
    return (f"phi {row['phi']:g}: {accs}\n  tie set: {', '.join(row['tie_set'])}"
            + (f"\n  compound: {versus}" if versus else ""))


def _versus(strategy: str, v: dict[str, Any]) -> str:
    interval = f"{v['interval'][0]:+.4f}..{v['interval'][1]:+.4f}"
    if v["verdict"] == "same network":
        return f"the same network as {strategy} (trained once)"
    if v["verdict"] == "tie":
        return f"tie with {strategy} ({v['difference']:+.4f}, interval {interval})"
    return f"{v['verdict']} than {strategy} ({v['difference']:+.4f}, 95% interval {interval})"

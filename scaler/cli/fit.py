"""``scaler fit``: fit alpha, beta, gamma from a grid's results.csv and write coefficients.yaml (no torch)."""

from __future__ import annotations

from pathlib import Path

import click

from scaler.cli.options import console
from scaler.cli.verdict import print_fit


@click.command("fit")
@click.argument("results", metavar="RESULTS_CSV", type=click.Path(path_type=Path))
@click.option("--use", type=click.Choice(["best", "fit"]), help="Which coefficients emit uses: the candidate "
              "chosen inside the tie set, or the smooth fit's optimum where the fit earns its use (default: the "
              "grid's search.use).")
@click.option("--form", type=click.Choice(["real", "nominal"]), default="real", show_default=True,
              help="Coefficients emit uses: the real multipliers of the rounded proxies, or the nominal ones the "
              "candidates asked for. Both are written either way.")
@click.option("--objective", type=click.Choice(["accuracy", "flops", "training", "latency"]), default="accuracy",
              show_default=True, help="What best means. accuracy; flops: accuracy x (FLOPs/target)^w (the "
              "EfficientNet reward); training: accuracy x step_time^w x params^v, both relative to the base "
              "(EfficientNetV2's training-aware objective); latency: accuracy x (latency/budget)^w, MnasNet's soft "
              "constraint on the batch-1 latency each trial measured (needs --latency-budget-ms).")
@click.option("--latency-budget-ms", "budget_ms", type=click.FloatRange(min=0, min_open=True),
              help="The batch-1 latency (ms, on the trials' device) --objective latency scores against.")
@click.option("--w", "w", type=float, help="Exponent of FLOPs, step time or latency [default: -0.07].")
@click.option("--v", "v", type=float, help="Exponent of params under --objective training [default: -0.05].")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Where to write [default: "
              "coefficients.yaml beside the CSV].")
def command(results: Path, use: str | None, form: str, objective: str, budget_ms: float | None, w: float | None,
            v: float | None, out_path: Path | None) -> None:
    """Fit alpha, beta, gamma from a grid's results.csv (or its directory) and write coefficients.yaml.

    Ranks the candidates on validation accuracy (the objective's score) and names the tie set: every candidate
    not separable from the best under the pooled seed noise (Hsu's comparisons with the best, alpha 0.05).
    Chooses the tie set's cheapest member (fewest real FLOPs; shortest step under --objective training, lowest
    latency under --objective latency),
    whatever the row order. Records every difference with its p-value and 95% interval, a bootstrap of the
    choice (share of wins, interval of the coefficients), the test accuracies beside the validation ones, and
    two quadratic surfaces with their leave-one-out R² (used only where they earn it).
    """
    from scaler.api.runs import fit_results

    print_fit(fit_results(results, use=use, form=form, objective=objective, w=w, v=v, out=out_path,
                          latency_budget_ms=budget_ms), console())

"""``scaler fit``: fit alpha, beta, gamma from a grid's results.csv and write coefficients.yaml (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scaler.cli.options import console


@click.command("fit")
@click.argument("results", metavar="RESULTS_CSV", type=click.Path(path_type=Path))
@click.option("--use", type=click.Choice(["best", "fit"]), help="Which coefficients emit uses: the best "
              "measured candidate or the smooth fit's optimum (default: the grid's search.use).")
@click.option("--form", type=click.Choice(["real", "nominal"]), default="real", show_default=True,
              help="Coefficients emit uses: the real multipliers of the rounded proxies, or the nominal ones the "
              "candidates asked for. Both are written either way.")
@click.option("--objective", type=click.Choice(["accuracy", "flops", "training"]), default="accuracy",
              show_default=True, help="What best means. accuracy; flops: accuracy x (FLOPs/target)^w (the "
              "EfficientNet reward); training: accuracy x step_time^w x params^v, both relative to the base "
              "(EfficientNetV2's training-aware objective).")
@click.option("--w", "w", type=float, help="Exponent of FLOPs or step time [default: -0.07].")
@click.option("--v", "v", type=float, help="Exponent of params under --objective training [default: -0.05].")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Where to write [default: "
              "coefficients.yaml beside the CSV].")
def command(results: Path, use: str | None, form: str, objective: str, w: float | None, v: float | None,
            out_path: Path | None) -> None:
    """Fit alpha, beta, gamma from a grid's results.csv (or its directory) and write coefficients.yaml.

    Reports the best measured candidate (nominal and after rounding), a quadratic fit over nominal (log beta,
    log gamma) on the constraint surface, a quadratic fit over the real (log depth, log width, log resolution)
    of the trained networks, the seed noise and whether the winner beats the runner-up by more than twice it.
    """
    from scaler.analysis.fit import fit_run

    path, data = fit_run(results, use=use, form=form, objective=objective, w=w, v=v, out=out_path)
    print_fit(path, data, console())


def print_fit(path: Path | None, fit: dict[str, Any], out: Any) -> None:
    """The fit's verdict as a panel (rich console ``out``) or plain lines (``out`` None)."""
    best, noise = fit["best"], fit.get("noise", {})
    lines = [
        f"best measured: alpha {best['alpha']:.3f}  beta {best['beta']:.3f}  gamma {best['gamma']:.3f}  "
        f"accuracy {best['accuracy']:.4f}  ({best['seeds']} seed(s), FLOPs x{best.get('flops_ratio', 0):.2f})",
    ]
    if best.get("real"):
        r = best["real"]
        lines.append(f"  after rounding: alpha {r['alpha']:.3f}  beta {r['beta']:.3f}  gamma {r['gamma']:.3f}  "
                     "(real depth, width, resolution multipliers of the trained network)")
    f = fit.get("fit", {})
    if f.get("ok"):
        edge = " (on the search boundary: widen the range)" if f["on_boundary"] else ""
        lines.append(f"smooth fit:    alpha {f['alpha']:.3f}  beta {f['beta']:.3f}  gamma {f['gamma']:.3f}  "
                     f"predicted {f['predicted_accuracy']:.4f}  R² {f['r2']:.2f} over {f['points']} points{edge}")
    else:
        lines.append(f"smooth fit:    not fitted ({f.get('reason', 'n/a')})")
    fr = fit.get("fit_real", {})
    if fr.get("ok"):
        edge = " (on the boundary of the measured multipliers)" if fr["on_boundary"] else ""
        lines.append(f"real fit:      alpha {fr['alpha']:.3f}  beta {fr['beta']:.3f}  gamma {fr['gamma']:.3f}  "
                     f"predicted {fr['predicted_accuracy']:.4f}  R² {fr['r2']:.2f} on the real multipliers{edge}")
    elif fr:
        lines.append(f"real fit:      not fitted ({fr.get('reason', 'n/a')})")
    if fit.get("baselines"):
        lines.append("baselines:     " + "  ".join(f"{k} {v:.4f}" for k, v in fit["baselines"].items()))
    if "compound_minus_best_single" in fit:
        lines.append(f"compound - best single-dimension baseline: {fit['compound_minus_best_single']:+.4f}")
    obj = fit.get("objective") or {}
    if obj.get("name", "accuracy") != "accuracy":
        exps = ", ".join(f"{k} = {obj[k]:g}" for k in ("w", "v") if k in obj)
        lines.append(f"objective:     {obj['name']} ({exps}); best and fits maximize it, ranking is on it")
    if noise.get("verdict"):
        lines.append(f"ranking:       {noise['verdict']}")
    lines.append(f"chosen ({fit['source']}, {fit.get('form', 'nominal')} form): alpha {fit['alpha']}, "
                 f"beta {fit['beta']}, gamma {fit['gamma']} -> {path}")
    lines.append(f"next:          scaler emit --coefficients {path} --phi 0..4")
    text = "\n".join(lines)
    if out is not None:
        from rich.panel import Panel

        out.print(Panel(text, title="coefficients", expand=False))
    else:
        click.echo(text)

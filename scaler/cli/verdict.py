"""What grid and fit print about the coefficients they wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def print_fit(path: Path | None, fit: dict[str, Any], out: Any) -> None:
    """The fit's verdict as a panel (rich console ``out``) or plain lines (``out`` None)."""
    best, sel = fit["best"], fit.get("selection", {})
    split = fit.get("selected_on", "validation")
    lines = [f"chosen:        {best.get('candidate', '')}  alpha {best['alpha']:.3f}  beta {best['beta']:.3f}  "
             f"gamma {best['gamma']:.3f}  {split} {best['accuracy']:.4f}{_test(best)}  ({best['seeds']} seed(s), "
             f"FLOPs x{best.get('flops_ratio', 0):.2f})"]
    if best.get("aliases"):
        lines.append(f"  same network as: {best['aliases']}")
    if best.get("real"):
        r = best["real"]
        lines.append(f"  after rounding: alpha {r['alpha']:.3f}  beta {r['beta']:.3f}  gamma {r['gamma']:.3f}  "
                     "(real depth, width, resolution multipliers of the trained network)")
    lines += _selection(sel)
    lines += _bootstrap(fit.get("bootstrap"))
    lines.append(_surface("smooth fit:", fit.get("fit", {}), "over {points} points",
                          " (on the search boundary: widen the range)"))
    if fit.get("fit_real"):
        lines.append(_surface("real fit:", fit["fit_real"], "on the real multipliers",
                              " (on the boundary of the measured multipliers)"))
    if fit.get("baselines"):
        lines.append("baselines:     " + "  ".join(f"{k} {v['accuracy']:.4f}{_test(v)}"
                                                   for k, v in fit["baselines"].items()))
    if "compound_minus_best_single" in fit:
        vs = fit.get("compound_vs_best_single")
        judged = (f" ({vs['compound']} - {vs['single']}: {vs['difference']:+.4f}, 95% interval "
                  f"{vs['interval'][0]:+.4f}..{vs['interval'][1]:+.4f}, p {vs['p']:.2g})") if vs else \
            " (one seed each: no standard error)"
        lines.append(f"best compound - best single-dimension baseline: {fit['compound_minus_best_single']:+.4f}"
                     + judged)
    obj = fit.get("objective") or {}
    if obj.get("name", "accuracy") != "accuracy":
        exps = ", ".join(f"{k} = {obj[k]:g}" for k in ("w", "v") if k in obj)
        if "budget_ms" in obj:
            exps += f"; budget {obj['budget_ms']:g} ms at batch 1 on {obj.get('device', 'the trials device')}"
        lines.append(f"objective:     {obj['name']} ({exps}); the ranking, tie set and fits are on it")
    if split != "validation":
        lines.append(f"warning:       these results were ranked on the {split} split (written before scaler carved "
                     "a validation set): rerun the grid to get an unbiased test accuracy")
    lines += _rungs(fit.get("rungs"))
    if fit.get("partial"):
        lines.append(f"warning:       {fit['partial']}")
    if fit.get("fallback"):
        lines.append(f"fit not used:  {fit['fallback']}")
    lines.append(f"coefficients ({fit['source']}, {fit.get('form', 'nominal')} form): alpha {fit['alpha']}, "
                 f"beta {fit['beta']}, gamma {fit['gamma']} -> {path}")
    phis = "-2..0" if float(fit.get("phi", 1) or 1) < 0 else "0..4"  # a downward set scales below the base
    lines.append(f"next:          scaler emit --coefficients {path} --phi {phis}")
    text = "\n".join(lines)
    if out is not None:
        from rich.panel import Panel

        out.print(Panel(text, title="coefficients", expand=False))
    else:
        click.echo(text)


def _test(measured: dict[str, Any]) -> str:
    return f" (test {measured['test_accuracy']:.4f})" if "test_accuracy" in measured else ""


def _selection(sel: dict[str, Any]) -> list[str]:
    """How the choice was made, and what it could not be told apart from."""
    lines = [f"rule:          {sel.get('rule', 'highest score')}"]
    noise = sel.get("noise")
    if noise:
        ties = sel.get("tie_set", [])
        lines.append(f"seed noise:    std {noise['seed_std']:.4f} ({noise['df']} degrees of freedom)")
        shown = ", ".join(ties[:6]) + (f", ... ({len(ties)} in all)" if len(ties) > 6 else "")
        lines.append(f"tie set:       {shown}")
    return lines


def _bootstrap(boot: dict[str, Any] | None) -> list[str]:
    """How often each candidate wins under the measured noise, and the interval of the winners' coefficients."""
    if not boot:
        return []
    wins = ", ".join(f"{k} {v:.0%}" for k, v in list(boot["wins"].items())[:4])
    more = len(boot["wins"]) - 4
    ranges = "  ".join(f"{k} {lo:.3f}..{hi:.3f}" for k, (lo, hi) in boot["winner_interval"].items())
    return [f"bootstrap:     wins {wins}" + (f", {more} more" if more > 0 else "") + f" ({boot['resamples']} "
            "resamples)", f"  {boot['level']:.0%} interval of the winner: {ranges}"]


def _surface(label: str, f: dict[str, Any], basis: str, boundary: str) -> str:
    """One fitted surface: its optimum, prediction and R² (in sample and leave-one-out), or why it was not fitted."""
    if not f.get("ok"):
        return f"{label:<15}not fitted ({f.get('reason', 'n/a')})"
    return (f"{label:<15}alpha {f['alpha']:.3f}  beta {f['beta']:.3f}  gamma {f['gamma']:.3f}  predicted "
            f"{f['predicted_accuracy']:.4f}  R² {f['r2']:.2f}{_loo(f)} {basis.format(points=f.get('points'))}"
            f"{boundary if f['on_boundary'] else ''}")


def _loo(fit: dict[str, Any]) -> str:
    """The leave-one-out R² beside the in-sample one: below 0 the surface predicts an unseen point worse than
    the mean does."""
    loo = fit.get("loo_r2")
    return "" if loo is None else f" (leave-one-out {loo:.2f})"


def _rungs(rungs: list[dict[str, Any]] | None) -> list[str]:
    """Successive halving: did each cheap rung rank the candidates as the next one did?"""
    out = []
    for r in rungs or []:
        lo, hi = r["interval"]
        ci = f", 95% interval {lo:+.2f}..{hi:+.2f}" if lo is not None and hi is not None else ""
        tau = "n/a" if r["tau"] is None else f"{r['tau']:+.2f}"
        budgets = " -> ".join(f"{b:.3g}" for b in r.get("budgets", []))
        out.append(f"rungs {r['rungs'][0]}->{r['rungs'][1]} ({budgets} epochs): Kendall tau {tau} over "
                   f"{r['candidates']} candidates{ci}")
        if not r["trusted"]:
            out.append(f"warning:       rung {r['rungs'][0]} ranked unlike rung {r['rungs'][1]} (the whole interval "
                       "is below 0.5): its cuts may have dropped the winner; short proxies favour fast-converging "
                       "(shallow) networks; raise proxy.epochs or lower search.rungs, or run --strategy grid")
    return out

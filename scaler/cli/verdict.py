"""What grid and fit print about the coefficients they wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from scaler.analysis.outcome import Bootstrap, FitOutcome, Measured, RungAgreement, SurfaceFit
    from scaler.evidence.selection import Selection


def print_fit(fit: FitOutcome, out: Any) -> None:
    """The fit's verdict as a panel (rich console ``out``) or plain lines (``out`` None)."""
    best, split = fit.best, fit.selected_on
    lines = [f"chosen:        {best.candidate}  alpha {best.alpha:.3f}  beta {best.beta:.3f}  "
             f"gamma {best.gamma:.3f}  {split} {best.accuracy:.4f}{_test(best.measured)}  ({best.seeds} seed(s), "
             f"FLOPs x{best.flops_ratio or 0:.2f})"]
    if best.aliases:
        lines.append(f"  same network as: {best.aliases}")
    if best.real is not None:
        r = best.real
        lines.append(f"  after rounding: alpha {r.alpha:.3f}  beta {r.beta:.3f}  gamma {r.gamma:.3f}  "
                     "(real depth, width, resolution multipliers of the trained network)")
    lines += _selection(fit.selection)
    lines += _bootstrap(fit.bootstrap)
    lines.append(_surface("smooth fit:", fit.fit, "over {points} points", " (on the search boundary: widen the range)"))
    lines.append(_surface("real fit:", fit.fit_real, "on the real multipliers",
                          " (on the boundary of the measured multipliers)"))
    if fit.baselines:
        lines.append("baselines:     " + "  ".join(f"{k} {v.accuracy:.4f}{_test(v)}" for k, v in fit.baselines.items()))
    lines += _compound(fit)
    lines += _objective(fit)
    if split != "validation":
        lines.append(f"warning:       these results were ranked on the {split} split (written before scaler carved "
                     "a validation set): rerun the grid to get an unbiased test accuracy")
    lines += _rungs(fit.rungs)
    if fit.partial:
        lines.append(f"warning:       {fit.partial}")
    if fit.fallback:
        lines.append(f"fit not used:  {fit.fallback}")
    lines.append(f"coefficients ({fit.source}, {fit.form} form): alpha {fit.alpha}, beta {fit.beta}, "
                 f"gamma {fit.gamma} -> {fit.path}")
    phis = "-2..0" if fit.phi < 0 else "0..4"  # a downward set scales below the base
    lines.append(f"next:          scaler emit --coefficients {fit.path} --phi {phis}")
    text = "\n".join(lines)
    if out is not None:
        from rich.panel import Panel

        out.print(Panel(text, title="coefficients", expand=False))
    else:
        click.echo(text)


def _test(measured: Measured) -> str:
    return "" if measured.test_accuracy is None else f" (test {measured.test_accuracy:.4f})"


def _compound(fit: FitOutcome) -> list[str]:
    """The best compound candidate against the best single-dimension baseline, when there is one."""
    if fit.compound_minus_best_single is None:
        return []
    vs = fit.compound_vs_best_single
    judged = (f" ({vs.compound} - {vs.single}: {vs.difference:+.4f}, 95% interval "
              f"{vs.interval[0]:+.4f}..{vs.interval[1]:+.4f}, p {vs.p:.2g})") if vs else \
        " (one seed each: no standard error)"
    return [f"best compound - best single-dimension baseline: {fit.compound_minus_best_single:+.4f}" + judged]


def _objective(fit: FitOutcome) -> list[str]:
    """What the ranking was on, when not the accuracy."""
    obj = fit.objective
    if obj.name == "accuracy":
        return []
    exps = ", ".join(f"{k} = {value:g}" for k, value in (("w", obj.w), ("v", obj.v)) if value is not None)
    if obj.budget_ms is not None:
        exps += f"; budget {obj.budget_ms:g} ms at batch 1 on {obj.device or 'the trials device'}"
    return [f"objective:     {obj.name} ({exps}); the ranking, tie set and fits are on it"]


def _selection(sel: Selection) -> list[str]:
    """How the choice was made, and what it could not be told apart from."""
    lines = [f"rule:          {sel.rule}"]
    if sel.noise is not None:
        ties = sel.tie_set
        lines.append(f"seed noise:    std {sel.noise.seed_std:.4f} ({sel.noise.df} degrees of freedom)")
        shown = ", ".join(ties[:6]) + (f", ... ({len(ties)} in all)" if len(ties) > 6 else "")
        lines.append(f"tie set:       {shown}")
    return lines


def _bootstrap(boot: Bootstrap | None) -> list[str]:
    """How often each candidate wins under the measured noise, and the interval of the winners' coefficients."""
    if boot is None:
        return []
    wins = ", ".join(f"{k} {v:.0%}" for k, v in list(boot.wins.items())[:4])
    more = len(boot.wins) - 4
    ranges = "  ".join(f"{k} {lo:.3f}..{hi:.3f}" for k, (lo, hi) in boot.winner_interval.items())
    return [f"bootstrap:     wins {wins}" + (f", {more} more" if more > 0 else "") + f" ({boot.resamples} "
            "resamples)", f"  {boot.level:.0%} interval of the winner: {ranges}"]


def _surface(label: str, f: SurfaceFit, basis: str, boundary: str) -> str:
    """One fitted surface: its optimum, prediction and R² (in sample and leave-one-out), or why it was not fitted."""
    if not f.ok:
        return f"{label:<15}not fitted ({f.reason or 'n/a'})"
    return (f"{label:<15}alpha {f.alpha:.3f}  beta {f.beta:.3f}  gamma {f.gamma:.3f}  predicted "
            f"{f.predicted_accuracy:.4f}  R² {f.r2:.2f}{_loo(f)} {basis.format(points=f.points)}"
            f"{boundary if f.on_boundary else ''}")


def _loo(fit: SurfaceFit) -> str:
    """The leave-one-out R² beside the in-sample one: below 0 the surface predicts an unseen point worse than
    the mean does."""
    return "" if fit.loo_r2 is None else f" (leave-one-out {fit.loo_r2:.2f})"


def _rungs(rungs: tuple[RungAgreement, ...]) -> list[str]:
    """Successive halving: did each cheap rung rank the candidates as the next one did?"""
    out = []
    for r in rungs:
        lo, hi = r.interval
        ci = f", 95% interval {lo:+.2f}..{hi:+.2f}" if lo is not None and hi is not None else ""
        tau = "n/a" if r.tau is None else f"{r.tau:+.2f}"
        budgets = " -> ".join(f"{b:.3g}" for b in r.budgets)
        out.append(f"rungs {r.rungs[0]}->{r.rungs[1]} ({budgets} epochs): Kendall tau {tau} over "
                   f"{r.candidates} candidates{ci}")
        if not r.trusted:
            out.append(f"warning:       rung {r.rungs[0]} ranked unlike rung {r.rungs[1]} (the whole interval "
                       "is below 0.5): its cuts may have dropped the winner; short proxies favour fast-converging "
                       "(shallow) networks; raise proxy.epochs or lower search.rungs, or run --strategy grid")
    return out

"""Fitting alpha, beta, gamma from a grid's results into the coefficients file that `scaler emit` reads. No torch."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from scaler.analysis import surface
from scaler.analysis.bootstrap import bootstrap
from scaler.analysis.outcome import (
    Bootstrap,
    Candidate,
    Difference,
    FitOutcome,
    Measured,
    Multipliers,
    Objective,
    RungAgreement,
    SurfaceFit,
    Written,
)
from scaler.analysis.rungs import final_rung, rung_agreement
from scaler.analysis.score import add_score, cost_column
from scaler.errors import ScalerError
from scaler.evidence.selection import REAL, choose, network_noise, summarize
from scaler.evidence.stats import Group, Noise, difference
from scaler.results import SCHEMA_SPLITS, read_results, read_run_yaml
from scaler.scaling import SINGLE_DIMENSIONS
from scaler.spec import parse_spec
from scaler.storage import write_atomic

# A surface earns its use only with at least this many distinct networks per parameter.
POINTS_PER_PARAMETER = 3


def quadratic_fit(points: Any, factor: float, beta_range: tuple[float, float], gamma_range: tuple[float, float],
                  alpha_range: tuple[float, float]) -> SurfaceFit:
    """Fit the score as a quadratic in (log beta, log gamma) over distinct networks on the constraint surface
    (alpha is solved from it) and maximize the fit on the searched box. Needs 6 points spread over beta and
    gamma; earns its use (:func:`_eligibility`) with 18."""
    import numpy as np

    y = _target(points)
    u, v = np.log(points["beta"].to_numpy(dtype=float)), np.log(points["gamma"].to_numpy(dtype=float))
    fitted = surface.fit([u, v], y)
    if fitted is None:
        return SurfaceFit.failed(f"needs 6 candidates spread over beta and gamma, has {len(y)}")
    coef = fitted.coef
    bs = np.linspace(*beta_range, 201)
    gs = np.linspace(*gamma_range, 201)
    B, G = np.meshgrid(bs, gs, indexing="ij")
    A = factor / (B * B * G * G)
    Z = surface.evaluate(coef, [np.log(B), np.log(G)])
    Z = np.where((alpha_range[0] - 1e-9 <= A) & (alpha_range[1] + 1e-9 >= A), Z, -np.inf)
    i, j = np.unravel_index(int(np.argmax(Z)), Z.shape)
    on_edge = bool(i in (0, len(bs) - 1) or j in (0, len(gs) - 1))
    return SurfaceFit(True, None, round(float(A[i, j]), 4), round(float(bs[i]), 4), round(float(gs[j]), 4),
                      round(float(Z[i, j]), 5), *_quality(fitted), len(y), on_edge,
                      *_eligibility(fitted, len(y), surface.terms(2), on_edge),
                      surface=tuple(round(float(c), 6) for c in coef))


def _quality(fitted: surface.Fit) -> tuple[float, float | None]:
    """In-sample and leave-one-out R² of a surface, as the coefficients file records them."""
    return round(fitted.r2, 4), None if fitted.loo_r2 is None else round(fitted.loo_r2, 4)


def _eligibility(fitted: surface.Fit, points: int, parameters: int, on_edge: bool) -> tuple[bool, str | None]:
    """Whether emit may use a surface: a third as many parameters as distinct networks at most, a positive
    leave-one-out R² (it predicts an unseen network better than the mean does), and an interior optimum."""
    needed = POINTS_PER_PARAMETER * parameters
    if points < needed:
        why = f"{parameters} parameters need {needed} distinct networks, the grid has {points}"
    elif fitted.loo_r2 is None or fitted.loo_r2 <= 0:
        why = "its leave-one-out R² is not positive: it predicts an unseen network no better than the mean"
    elif on_edge:
        why = "its optimum lies on the boundary of the searched region"
    else:
        return True, None
    return False, why


def _target(points: Any) -> Any:
    """What the fits model: the objective's score."""
    return points["score"].to_numpy(dtype=float)


def real_quadratic_fit(points: Any, target: float, phi: float) -> SurfaceFit:
    """Fit the score as a full quadratic in the real (log depth, log width, log resolution) of the trained
    networks, and maximize it where their real FLOPs ratio is ``target``, inside the box the points span. The
    real FLOPs ratio is modelled from the measured ones as a power law in the three multipliers (depth x width^2
    x resolution^2 misses it by up to a fifth). Returns coefficients per unit of phi (real multiplier ** (1 /
    phi)). Needs 12 distinct points (10 terms + 2 degrees of freedom)."""
    import numpy as np

    if any(c not in points.columns for c in REAL) or points[list(REAL)].isna().any().any():
        return SurfaceFit.failed("the results have no real multipliers (written by an older scaler)")
    t, u, v = (np.log(points[c].to_numpy(dtype=float)) for c in REAL[:3])
    y = _target(points)
    fitted = surface.fit([t, u, v], y) if len(y) >= surface.terms(3) + 2 else None
    if fitted is None:
        return SurfaceFit.failed(f"needs 12 distinct real (depth, width, resolution) points, has {len(y)}")
    # log(real FLOPs ratio) ~ a t + b u + c v: the measured cost of each real multiplier
    cost, *_ = np.linalg.lstsq(np.stack([t, u, v], axis=1), np.log(points["flops_ratio"].to_numpy(dtype=float)),
                               rcond=None)
    U, V = np.meshgrid(np.linspace(u.min(), u.max(), 201), np.linspace(v.min(), v.max(), 201), indexing="ij")
    T = (np.log(target) - cost[1] * U - cost[2] * V) / cost[0] if abs(cost[0]) > 1e-9 else np.full_like(U, np.nan)
    Z = surface.evaluate(fitted.coef, [T, U, V])
    Z = np.where((t.min() - 1e-9 <= T) & (t.max() + 1e-9 >= T), Z, -np.inf)
    if not np.isfinite(Z).any():
        return SurfaceFit.failed("the real FLOPs target misses the box of measured real multipliers")
    i, j = np.unravel_index(int(np.argmax(Z)), Z.shape)
    on_edge = bool(i in (0, U.shape[0] - 1) or j in (0, U.shape[1] - 1))
    return SurfaceFit(True, None, round(float(np.exp(T[i, j] / phi)), 4), round(float(np.exp(U[i, j] / phi)), 4),
                      round(float(np.exp(V[i, j] / phi)), 4), round(float(Z[i, j]), 5), *_quality(fitted), len(y),
                      on_edge, *_eligibility(fitted, len(y), surface.terms(3), on_edge),
                      flops_exponents=tuple(round(float(c), 4) for c in cost))


def fit_results(df: Any, *, factor: float, phi: float, alpha_range: tuple[float, float],
                beta_range: tuple[float, float], gamma_range: tuple[float, float], use: str = "best",
                form: str = "real", objective: str = "accuracy", w: float | None = None,
                v: float | None = None, alpha: float = 0.05, budget_ms: float | None = None) -> FitOutcome:
    """The coefficients a grid's results support: the candidate chosen inside the tie set (``best``), the
    evidence for it (``selection``: seed noise, tie set, every difference with its p-value and interval), the
    smooth fits with their leave-one-out R² and whether they earn their use, and the baselines.

    Both forms are reported: ``nominal`` (the alpha, beta, gamma the candidate was asked for) and ``real`` (the
    multipliers its rounded network really has, per unit of phi). ``form`` picks which the top-level
    coefficients (the ones emit uses) take. ``objective`` (see :func:`add_score`) decides what the ranking, the
    tie set and the fits are on."""
    agreement = tuple(RungAgreement.of(r) for r in rung_agreement(df))
    df = final_rung(df).copy()  # a halving run decides on its last rung (earlier rungs only ranked)
    objective_info = Objective(**add_score(df, objective, w=w, v=v, target=factor**phi, budget_ms=budget_ms))
    table = summarize(df)  # trials without a score (no step time under objective training) are left out
    if table[table["kind"] == "compound"].empty:
        raise ScalerError("no successful compound trial: nothing to fit (run more of the grid)",
                          where=df.attrs.get("path"))
    noise = network_noise(table)
    selection = choose(table, cost_column(objective), alpha, noise)
    on_surface = table[table["kind"] != "base"]
    fits = {"fit": quadratic_fit(on_surface, factor, beta_range, gamma_range, alpha_range),
            "fit_real": real_quadratic_fit(on_surface, factor**phi, phi)}
    best = _candidate(table.set_index("candidate").loc[selection.chosen])
    # the real form is per unit of phi (real multiplier ** (1 / phi)): on the constraint of one unit, factor
    chosen, source, form, fallback, best = _choose(best, fits, use, form, factor)
    boot = None
    if noise is not None:
        def refit(t: Any) -> SurfaceFit:
            return quadratic_fit(t, factor, beta_range, gamma_range, alpha_range)

        used = [_emitted(r, form, factor, phi) for _, r in on_surface.iterrows()]
        boot = Bootstrap.of(bootstrap(on_surface, noise, used, refit if fits["fit"].ok else None))
    gap, versus = _compound_vs_single(table, noise, alpha)
    return FitOutcome(chosen.alpha, chosen.beta, chosen.gamma, source, form, objective_info, best, selection,
                      fits["fit"], fits["fit_real"],
                      {str(r["kind"]): _measured(r) for _, r in table[table["kind"] != "compound"].iterrows()},
                      phi, factor, rungs=agreement, partial=_partial(df), compound_minus_best_single=gap,
                      compound_vs_best_single=versus, fallback=fallback, bootstrap=boot)


def _partial(df: Any) -> str | None:
    """What a halving run decided on when it has not reached the full budget (None once it has)."""
    if "budget" in df.columns and "epochs" in df.columns and (df["budget"] < df["epochs"]).all():
        return (f"decided on rung {int(df['rung'].max())} ({df['budget'].max():g} of {df['epochs'].max():g} "
                "epochs): the run has not reached the full budget; rerun the same command to continue it")
    return None


def _compound_vs_single(table: Any, noise: Noise | None, alpha: float) -> tuple[float | None, Difference | None]:
    """The best compound candidate against the best single-dimension baseline: their accuracy difference, and
    with a measured noise the difference of scores with its standard error, p-value and interval."""
    compound = table[table["kind"] == "compound"].iloc[0]  # the table is sorted by score
    single = table[table["kind"].isin(SINGLE_DIMENSIONS)]
    if single.empty:
        return None, None
    gap = round(float(table[table["kind"] == "compound"]["accuracy"].max() - single["accuracy"].max()), 5)
    if noise is None:
        return gap, None
    a, b = (Group(str(r["candidate"]), float(r["score"]), int(r["seeds"])) for r in (compound, single.iloc[0]))
    d = difference(a, b, noise, alpha)
    return gap, Difference(a.key, b.key, round(d.diff, 5), round(d.se, 5), float(f"{d.p:.3g}"),
                           (round(d.low, 5), round(d.high, 5)))


def _emitted(r: Any, form: str, target: float, phi: float) -> tuple[float, float, float]:
    """The coefficients emit would get if candidate ``r`` were chosen, in ``form``."""
    if form == "real" and all(c in r and r[c] == r[c] for c in REAL[:3]):
        real = {k: float(r[c]) ** (1 / phi) for k, c in zip(("alpha", "beta", "gamma"), REAL[:3], strict=True)}
        placed = on_constraint(real, target)
        if placed is not None:
            return placed["alpha"], placed["beta"], placed["gamma"]
    return float(r["alpha"]), float(r["beta"]), float(r["gamma"])


def on_constraint(real: dict[str, float], target: float) -> dict[str, float] | None:
    """Real multipliers rescaled onto alpha * beta^2 * gamma^2 = ``target``: every log multiplied by the same
    power, so the direction the measured network took is kept and the family still grows ``target`` x per phi.
    None when the real multipliers did not grow the network at all."""
    grown = real["alpha"] * real["beta"] ** 2 * real["gamma"] ** 2
    if grown <= 1 + 1e-6:
        return None
    k = math.log(target) / math.log(grown)
    return {key: round(real[key] ** k, 6) for key in ("alpha", "beta", "gamma")}


def _choose(best: Candidate, fits: dict[str, SurfaceFit], use: str, form: str, target: float
            ) -> tuple[Multipliers, str, str, str | None, Candidate]:
    """(coefficients for emit, source, form, why no fit was used, the choice) under ``use`` (best | fit) and
    ``form`` (real | nominal).

    A fit is used only where it earns its use (``usable``), the real-multiplier fit first under the real form;
    otherwise the tie-set choice, and the fallback says why. The choice's real form is its real multipliers put
    back on the constraint (:func:`on_constraint`), which the choice then records."""
    fallback = None
    if use == "fit":
        order = ("fit_real", "fit") if form == "real" else ("fit",)
        for key in order:
            f = fits[key]
            if f.usable:
                return Multipliers(f.alpha, f.beta, f.gamma), "fit", "real" if key == "fit_real" else "nominal", \
                    None, best
        fallback = "; ".join(f"{key}: {fits[key].why_not or fits[key].reason}" for key in order)
    if form == "real" and best.real is not None:
        placed = on_constraint(best.real.to_dict(), target)
        if placed is not None:
            on = Multipliers(**placed)
            return on, "best", "real", fallback, replace(best, real_on_constraint=on)
    return Multipliers(best.alpha, best.beta, best.gamma), "best", "nominal", fallback, best


def _measured(r: Any) -> Measured:
    """A network's validation accuracy (mean over its seeds) beside its test accuracy and seed count."""
    test = r.get("test_accuracy")
    return Measured(round(float(r["accuracy"]), 5), int(r["seeds"]),
                    round(float(test), 5) if test is not None and test == test else None)


def _candidate(r: Any) -> Candidate:
    """The chosen network's row of the summary, as the coefficients file records it (``best:``)."""
    real = None
    if all(c in r and r[c] == r[c] for c in REAL[:3]):
        phi = float(r["phi"]) if r.get("phi") else 1.0
        real = Multipliers(*(round(float(r[c]) ** (1 / phi), 6) for c in REAL[:3]))
    std = r.get("accuracy_std")
    return Candidate(str(r.name), round(float(r["alpha"]), 6), round(float(r["beta"]), 6), round(float(r["gamma"]), 6),
                     _measured(r), int(r["flops"]),
                     score=round(float(r["score"]), 5) if r["score"] != r["accuracy"] else None,
                     accuracy_std=round(float(std), 5) if std == std and std is not None else None,
                     flops_ratio=round(float(r["flops_ratio"]), 4) if "flops_ratio" in r else None,
                     aliases=str(r["aliases"]) if r.get("aliases") else None, real=real)


def fit_run(results_csv: str | Path, *, use: str | None = None, form: str = "real", objective: str = "accuracy",
            w: float | None = None, v: float | None = None, out: str | Path | None = None,
            budget_ms: float | None = None) -> FitOutcome:
    """Fit the results of a grid directory and write its ``coefficients.yaml`` (``out``); returns the outcome,
    which names the file it wrote."""
    import yaml

    df = read_results(results_csv)
    run_dir = Path(df.attrs["path"]).parent
    run_yaml = run_dir / "run.yaml"
    if not run_yaml.exists():
        raise ScalerError("no run.yaml beside the results (it records the base spec and search settings); "
                          "fit the results.csv of a `scaler grid` directory", where=run_yaml)
    settings = read_run_yaml(run_yaml)["settings"]
    search = settings.get("search", {})
    rng = {k: (search[k]["min"], search[k]["max"]) for k in ("alpha", "beta", "gamma")}
    result = fit_results(df, factor=search["flops_factor"], phi=search["phi"], alpha_range=rng["alpha"],
                         beta_range=rng["beta"], gamma_range=rng["gamma"], use=use or search.get("use", "best"),
                         form=form, objective=objective, w=w, v=v, budget_ms=budget_ms)
    path = Path(out) if out else run_dir / "coefficients.yaml"
    written = Written(SCHEMA_SPLITS.get(df.attrs.get("schema_version"), "unknown"), str(df.attrs["path"]),
                      parse_spec(settings["base"], run_dir), settings.get("base_path"), path)
    result = replace(result, alpha=round(result.alpha, 6), beta=round(result.beta, 6), gamma=round(result.gamma, 6),
                     written=written)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, yaml.safe_dump(result.to_dict(), sort_keys=False, width=110))
    except OSError as e:
        raise ScalerError(f"cannot write the coefficients: {e.strerror}", where=path) from None
    return result

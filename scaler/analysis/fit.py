"""Fitting alpha, beta, gamma from a grid's results into the coefficients file that `scaler emit` reads. No torch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from scaler.analysis import surface
from scaler.analysis.bootstrap import bootstrap
from scaler.analysis.rungs import final_rung, rung_agreement
from scaler.analysis.score import add_score, cost_column
from scaler.coefficients import coefficients_document
from scaler.errors import ScalerError
from scaler.evidence.selection import REAL, network_noise, select, summarize
from scaler.evidence.stats import Group, Noise, difference
from scaler.results import SCHEMA_SPLITS, read_results, read_run_yaml
from scaler.scaling import SINGLE_DIMENSIONS
from scaler.spec import parse_spec
from scaler.storage import write_atomic

# A surface earns its use only with at least this many distinct networks per parameter.
POINTS_PER_PARAMETER = 3


def quadratic_fit(points: Any, factor: float, beta_range: tuple[float, float], gamma_range: tuple[float, float],
                  alpha_range: tuple[float, float]) -> dict[str, Any]:
    """Fit the score as a quadratic in (log beta, log gamma) over distinct networks on the constraint surface
    (alpha is solved from it) and maximize the fit on the searched box. Needs 6 points spread over beta and
    gamma; earns its use (:func:`_eligibility`) with 18."""
    import numpy as np

    y = _target(points)
    u, v = np.log(points["beta"].to_numpy(dtype=float)), np.log(points["gamma"].to_numpy(dtype=float))
    fitted = surface.fit([u, v], y)
    if fitted is None:
        return {"ok": False, "reason": f"needs 6 candidates spread over beta and gamma, has {len(y)}"}
    coef = fitted.coef
    bs = np.linspace(*beta_range, 201)
    gs = np.linspace(*gamma_range, 201)
    B, G = np.meshgrid(bs, gs, indexing="ij")
    A = factor / (B * B * G * G)
    Z = surface.evaluate(coef, [np.log(B), np.log(G)])
    Z = np.where((alpha_range[0] - 1e-9 <= A) & (alpha_range[1] + 1e-9 >= A), Z, -np.inf)
    i, j = np.unravel_index(int(np.argmax(Z)), Z.shape)
    on_edge = bool(i in (0, len(bs) - 1) or j in (0, len(gs) - 1))
    return {"ok": True, "alpha": round(float(A[i, j]), 4), "beta": round(float(bs[i]), 4),
            "gamma": round(float(gs[j]), 4), "predicted_accuracy": round(float(Z[i, j]), 5),
            **_quality(fitted), "points": len(y), "on_boundary": on_edge,
            **_eligibility(fitted, len(y), surface.terms(2), on_edge),
            "surface": [round(float(c), 6) for c in coef]}


def _quality(fitted: surface.Fit) -> dict[str, float | None]:
    """In-sample and leave-one-out R² of a surface, as the coefficients file records them."""
    return {"r2": round(fitted.r2, 4), "loo_r2": None if fitted.loo_r2 is None else round(fitted.loo_r2, 4)}


def _eligibility(fitted: surface.Fit, points: int, parameters: int, on_edge: bool) -> dict[str, Any]:
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
        return {"usable": True}
    return {"usable": False, "why_not": why}


def _target(points: Any) -> Any:
    """What the fits model: the objective's score."""
    return points["score"].to_numpy(dtype=float)


def real_quadratic_fit(points: Any, target: float, phi: float) -> dict[str, Any]:
    """Fit the score as a full quadratic in the real (log depth, log width, log resolution) of the trained
    networks, and maximize it where their real FLOPs ratio is ``target``, inside the box the points span. The
    real FLOPs ratio is modelled from the measured ones as a power law in the three multipliers (depth x width^2
    x resolution^2 misses it by up to a fifth). Returns coefficients per unit of phi (real multiplier ** (1 /
    phi)). Needs 12 distinct points (10 terms + 2 degrees of freedom)."""
    import numpy as np

    if any(c not in points.columns for c in REAL) or points[list(REAL)].isna().any().any():
        return {"ok": False, "reason": "the results have no real multipliers (written by an older scaler)"}
    t, u, v = (np.log(points[c].to_numpy(dtype=float)) for c in REAL[:3])
    y = _target(points)
    fitted = surface.fit([t, u, v], y) if len(y) >= surface.terms(3) + 2 else None
    if fitted is None:
        return {"ok": False, "reason": f"needs 12 distinct real (depth, width, resolution) points, has {len(y)}"}
    # log(real FLOPs ratio) ~ a t + b u + c v: the measured cost of each real multiplier
    cost, *_ = np.linalg.lstsq(np.stack([t, u, v], axis=1), np.log(points["flops_ratio"].to_numpy(dtype=float)),
                               rcond=None)
    U, V = np.meshgrid(np.linspace(u.min(), u.max(), 201), np.linspace(v.min(), v.max(), 201), indexing="ij")
    T = (np.log(target) - cost[1] * U - cost[2] * V) / cost[0] if abs(cost[0]) > 1e-9 else np.full_like(U, np.nan)
    Z = surface.evaluate(fitted.coef, [T, U, V])
    Z = np.where((t.min() - 1e-9 <= T) & (t.max() + 1e-9 >= T), Z, -np.inf)
    if not np.isfinite(Z).any():
        return {"ok": False, "reason": "the real FLOPs target misses the box of measured real multipliers"}
    i, j = np.unravel_index(int(np.argmax(Z)), Z.shape)
    on_edge = bool(i in (0, U.shape[0] - 1) or j in (0, U.shape[1] - 1))
    return {"ok": True, "alpha": round(float(np.exp(T[i, j] / phi)), 4),
            "beta": round(float(np.exp(U[i, j] / phi)), 4), "gamma": round(float(np.exp(V[i, j] / phi)), 4),
            "predicted_accuracy": round(float(Z[i, j]), 5), **_quality(fitted), "points": len(y),
            "on_boundary": on_edge, **_eligibility(fitted, len(y), surface.terms(3), on_edge),
            "flops_exponents": [round(float(c), 4) for c in cost]}


def fit_results(df: Any, *, factor: float, phi: float, alpha_range: tuple[float, float],
                beta_range: tuple[float, float], gamma_range: tuple[float, float], use: str = "best",
                form: str = "real", objective: str = "accuracy", w: float | None = None,
                v: float | None = None, alpha: float = 0.05, budget_ms: float | None = None) -> dict[str, Any]:
    """The coefficients a grid's results support: the candidate chosen inside the tie set (``best``), the
    evidence for it (``selection``: seed noise, tie set, every difference with its p-value and interval), the
    smooth fits with their leave-one-out R² and whether they earn their use, and the baselines.

    Both forms are reported: ``nominal`` (the alpha, beta, gamma the candidate was asked for) and ``real`` (the
    multipliers its rounded network really has, per unit of phi). ``form`` picks which the top-level
    coefficients (the ones emit uses) take. ``objective`` (see :func:`add_score`) decides what the ranking, the
    tie set and the fits are on."""
    agreement = rung_agreement(df)
    df = final_rung(df).copy()  # a halving run decides on its last rung (earlier rungs only ranked)
    objective_info = add_score(df, objective, w=w, v=v, target=factor**phi, budget_ms=budget_ms)
    table = summarize(df)  # trials without a score (no step time under objective training) are left out
    if table[table["kind"] == "compound"].empty:
        raise ScalerError("no successful compound trial: nothing to fit (run more of the grid)",
                          where=df.attrs.get("path"))
    noise = network_noise(table)
    selection = select(table, cost_column(objective), alpha, noise)
    by_key = table.set_index("candidate")
    out: dict[str, Any] = {"objective": objective_info, "best": _candidate(by_key.loc[selection["chosen"]]),
                           "selection": selection}
    if agreement:
        out["rungs"] = agreement
    if "budget" in df.columns and "epochs" in df.columns and (df["budget"] < df["epochs"]).all():
        out["partial"] = (f"decided on rung {int(df['rung'].max())} ({df['budget'].max():g} of "
                          f"{df['epochs'].max():g} epochs): the run has not reached the full budget; rerun the same "
                          "command to continue it")
    on_surface = table[table["kind"] != "base"]
    out["fit"] = quadratic_fit(on_surface, factor, beta_range, gamma_range, alpha_range)
    out["fit_real"] = real_quadratic_fit(on_surface, factor**phi, phi)
    out["baselines"] = {str(r["kind"]): _measured(r) for _, r in table[table["kind"] != "compound"].iterrows()}
    out.update(_compound_vs_single(table, noise, alpha))
    # the real form is per unit of phi (real multiplier ** (1 / phi)): on the constraint of one unit, factor
    chosen, out["source"], out["form"] = _choose(out, use, form, factor)
    out["alpha"], out["beta"], out["gamma"] = chosen["alpha"], chosen["beta"], chosen["gamma"]
    out["phi"], out["flops_factor"] = phi, factor
    if noise is not None:
        def refit(t: Any) -> dict[str, Any]:
            return quadratic_fit(t, factor, beta_range, gamma_range, alpha_range)

        used = [_emitted(r, out["form"], factor, phi) for _, r in on_surface.iterrows()]
        out["bootstrap"] = bootstrap(on_surface, noise, used, refit if out["fit"].get("ok") else None)
    return out


def _compound_vs_single(table: Any, noise: Noise | None, alpha: float) -> dict[str, Any]:
    """The best compound candidate against the best single-dimension baseline: their accuracy difference, and
    with a measured noise the difference of scores with its standard error, p-value and interval."""
    compound = table[table["kind"] == "compound"].iloc[0]  # the table is sorted by score
    single = table[table["kind"].isin(SINGLE_DIMENSIONS)]
    if single.empty:
        return {}
    out: dict[str, Any] = {"compound_minus_best_single": round(float(
        table[table["kind"] == "compound"]["accuracy"].max() - single["accuracy"].max()), 5)}
    if noise is not None:
        a, b = (Group(str(r["candidate"]), float(r["score"]), int(r["seeds"])) for r in (compound, single.iloc[0]))
        d = difference(a, b, noise, alpha)
        out["compound_vs_best_single"] = {"compound": a.key, "single": b.key, "difference": round(d.diff, 5),
                                          "se": round(d.se, 5), "p": float(f"{d.p:.3g}"),
                                          "interval": [round(d.low, 5), round(d.high, 5)]}
    return out


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


def _choose(out: dict[str, Any], use: str, form: str, target: float) -> tuple[dict[str, Any], str, str]:
    """(coefficients for emit, source, form) under ``use`` (best | fit) and ``form`` (real | nominal).

    A fit is used only where it earns its use (``usable``), the real-multiplier fit first under the real form;
    otherwise the tie-set choice, and ``out["fallback"]`` says why. The choice's real form is its real
    multipliers put back on the constraint (:func:`on_constraint`)."""
    if use == "fit":
        order = ("fit_real", "fit") if form == "real" else ("fit",)
        for key in order:
            if out[key].get("usable"):
                return out[key], "fit", "real" if key == "fit_real" else "nominal"
        out["fallback"] = "; ".join(f"{key}: {out[key].get('why_not') or out[key].get('reason')}" for key in order)
    best = out["best"]
    if form == "real" and best.get("real"):
        placed = on_constraint(best["real"], target)
        if placed is not None:
            best["real_on_constraint"] = placed
            return placed, "best", "real"
    return best, "best", "nominal"


def _measured(r: Any) -> dict[str, Any]:
    """A network's validation accuracy (mean over its seeds) beside its test accuracy and seed count."""
    d: dict[str, Any] = {"accuracy": round(float(r["accuracy"]), 5), "seeds": int(r["seeds"])}
    if "test_accuracy" in r and r["test_accuracy"] == r["test_accuracy"]:
        d["test_accuracy"] = round(float(r["test_accuracy"]), 5)
    return d


def _candidate(r: Any) -> dict[str, Any]:
    d = {"candidate": str(r.name), "alpha": round(float(r["alpha"]), 6), "beta": round(float(r["beta"]), 6),
         "gamma": round(float(r["gamma"]), 6), **_measured(r), "flops": int(r["flops"])}
    if r["score"] != r["accuracy"]:
        d["score"] = round(float(r["score"]), 5)
    if r.get("accuracy_std") == r.get("accuracy_std"):  # not NaN
        d["accuracy_std"] = round(float(r["accuracy_std"]), 5)
    if "flops_ratio" in r:
        d["flops_ratio"] = round(float(r["flops_ratio"]), 4)
    if r.get("aliases"):
        d["aliases"] = str(r["aliases"])
    if all(c in r and r[c] == r[c] for c in REAL[:3]):
        phi = float(r["phi"]) if r.get("phi") else 1.0
        d["real"] = {k: round(float(r[c]) ** (1 / phi), 6)
                     for k, c in zip(("alpha", "beta", "gamma"), REAL[:3], strict=False)}
    return d


def fit_run(results_csv: str | Path, *, use: str | None = None, form: str = "real", objective: str = "accuracy",
            w: float | None = None, v: float | None = None, out: str | Path | None = None,
            budget_ms: float | None = None) -> tuple[Path, dict]:
    """Fit the results of a grid directory and write its ``coefficients.yaml``; returns (path, data)."""
    import yaml

    df = read_results(results_csv)
    run_dir = Path(df.attrs["path"]).parent
    run_yaml = run_dir / "run.yaml"
    if not run_yaml.exists():
        raise ScalerError("no run.yaml beside the results (it records the base spec and search settings); "
                          "fit the results.csv of a `scaler grid` directory", where=run_yaml)
    settings = read_run_yaml(run_yaml)["settings"]
    search = settings.get("search", {})
    base = parse_spec(settings["base"], run_dir)
    rng = {k: (search[k]["min"], search[k]["max"]) for k in ("alpha", "beta", "gamma")}
    result = fit_results(df, factor=search["flops_factor"], phi=search["phi"], alpha_range=rng["alpha"],
                         beta_range=rng["beta"], gamma_range=rng["gamma"], use=use or search.get("use", "best"),
                         form=form, objective=objective, w=w, v=v, budget_ms=budget_ms)
    version = df.attrs.get("schema_version")
    result = {"selected_on": SCHEMA_SPLITS.get(version, "unknown"), **result}
    path = Path(out) if out else run_dir / "coefficients.yaml"
    data = coefficients_document(result.pop("alpha"), result.pop("beta"), result.pop("gamma"), base, path.parent,
                                 source=result.pop("source"), form=result.pop("form"), **result,
                                 results=str(df.attrs["path"]), base_path=settings.get("base_path"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, yaml.safe_dump(data, sort_keys=False, width=110))
    except OSError as e:
        raise ScalerError(f"cannot write the coefficients: {e.strerror}", where=path) from None
    return path, data

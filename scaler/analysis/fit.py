"""Fitting alpha, beta, gamma from a grid's results into the coefficients file that `scaler emit` reads. No torch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from scaler.analysis import surface
from scaler.coefficients import coefficients_document
from scaler.errors import ScalerError
from scaler.results import read_results, read_run_yaml, write_atomic
from scaler.spec import Spec

_KEYS = ["kind", "alpha", "beta", "gamma"]
# The real multipliers of each trial's rounded network (scaler.arch.cost), and its real FLOPs over the base's.
REAL = ("depth_real", "width_real", "resolution_real", "flops_ratio")
COST = ("params", "train_step_ms", "latency_ms", "latency_batch_ms")

OBJECTIVES = ("accuracy", "flops", "training")
# Default exponents: the MnasNet/EfficientNet FLOPs reward, and EfficientNetV2's step time and parameters.
DEFAULT_EXPONENTS = {"accuracy": {}, "flops": {"w": -0.07}, "training": {"w": -0.07, "v": -0.05}}


def add_score(df: Any, objective: str = "accuracy", *, w: float | None = None, v: float | None = None,
              target: float | None = None) -> dict[str, Any]:
    """Add a ``score`` column to ``df`` (in place) and return how it was computed.

    - ``accuracy``: the accuracy;
    - ``flops``: accuracy x (FLOPs / target)^w, target = the base's FLOPs x ``target`` (default factor**phi);
    - ``training``: accuracy x (train_step_ms / base's)^w x (params / base's)^v.
    Base values are the mean over the base trials' seeds."""
    if objective not in OBJECTIVES:
        raise ScalerError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    exps = dict(DEFAULT_EXPONENTS[objective])
    for name, value in (("w", w), ("v", v)):
        if value is not None:
            if name not in exps:
                raise ScalerError(f"--{name} has no meaning under objective {objective} (w: flops, training; "
                                  "v: training)")
            exps[name] = value
    where = df.attrs.get("path")
    info: dict[str, Any] = {"name": objective, **exps}
    if objective == "accuracy":
        df["score"] = df["accuracy"]
        return info
    ok = df[df["status"] == "ok"]
    base = ok[ok["kind"] == "base"]
    if objective == "flops":
        if not base.empty:
            base_flops = float(base["flops"].mean())
        elif "flops_ratio" in ok.columns and ok["flops_ratio"].notna().any():
            base_flops = float((ok["flops"] / ok["flops_ratio"]).median())
        else:
            raise ScalerError("objective flops needs the base trial (or a flops_ratio column) to set the target",
                              where=where)
        target_flops = base_flops * (target if target is not None else 1.0)
        df["score"] = df["accuracy"] * (df["flops"] / target_flops) ** exps["w"]
        info["target_flops"] = round(target_flops)
        return info
    missing = [c for c in ("train_step_ms", "params") if c not in df.columns or not ok[c].notna().any()]
    if missing:
        raise ScalerError(f"objective training needs the column(s) {', '.join(missing)} (written by scaler grid "
                          "since it records step times)", where=where)
    if base.empty or base["train_step_ms"].isna().all():
        raise ScalerError("objective training normalises by the base trial's step time; the results have none",
                          where=where)
    step0, params0 = float(base["train_step_ms"].mean()), float(base["params"].mean())
    df["score"] = (df["accuracy"] * (df["train_step_ms"] / step0) ** exps["w"]
                   * (df["params"] / params0) ** exps["v"])
    info.update(base_train_step_ms=round(step0, 3), base_params=int(params0))
    return info


def summarize(df: Any) -> Any:
    """One row per candidate over its successful seeds: mean/std accuracy, seeds, mean FLOPs."""
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise ScalerError("no successful trial to fit", where=df.attrs.get("path"))
    agg: dict[str, Any] = {"accuracy": ["mean", "std", "count"], "flops": "mean"}
    extra = [c for c in ("phi", *REAL, *COST, "score") if c in ok.columns]
    for c in extra:
        agg[c] = "mean"
    g = ok.groupby(_KEYS, sort=False).agg(agg)
    g.columns = ["accuracy", "accuracy_std", "seeds", "flops", *extra]
    rank = "score" if "score" in extra else "accuracy"
    return g.reset_index().sort_values(rank, ascending=False, kind="stable").reset_index(drop=True)


def seed_noise(df: Any, column: str = "accuracy", keys: list[str] | None = None) -> float | None:
    """Pooled standard deviation of ``column`` across seeds of the same network (rows sharing ``keys``; None:
    one seed each)."""
    ok = df[df["status"] == "ok"]
    var = ok.groupby(keys or _KEYS)[column].var(ddof=1).dropna()
    return float(var.mean() ** 0.5) if len(var) else None


def quadratic_fit(points: Any, factor: float, beta_range: tuple[float, float], gamma_range: tuple[float, float],
                  alpha_range: tuple[float, float]) -> dict[str, Any]:
    """Fit accuracy as a quadratic in (log beta, log gamma) over candidates on the constraint surface (alpha is
    solved from it) and maximize the fit on the searched box. Needs 6 distinct points."""
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
    on_edge = i in (0, len(bs) - 1) or j in (0, len(gs) - 1)
    return {"ok": True, "alpha": round(float(A[i, j]), 4), "beta": round(float(bs[i]), 4),
            "gamma": round(float(gs[j]), 4), "predicted_accuracy": round(float(Z[i, j]), 5),
            **_quality(fitted), "points": len(y), "on_boundary": bool(on_edge),
            "surface": [round(float(c), 6) for c in coef]}


def _quality(fitted: surface.Fit) -> dict[str, float | None]:
    """In-sample and leave-one-out R² of a surface, as the coefficients file records them."""
    return {"r2": round(fitted.r2, 4), "loo_r2": None if fitted.loo_r2 is None else round(fitted.loo_r2, 4)}


def _target(points: Any) -> Any:
    """What the fits model: the objective's score when there is one, else accuracy."""
    return points["score" if "score" in points.columns else "accuracy"].to_numpy(dtype=float)


def real_quadratic_fit(points: Any, target: float, phi: float) -> dict[str, Any]:
    """Fit accuracy as a full quadratic in the real (log depth, log width, log resolution) of the trained
    networks, and maximize it on the surface depth * width^2 * resolution^2 = ``target`` inside the box the
    points span. Returns coefficients per unit of phi (real multiplier ** (1 / phi)). Needs 12 distinct
    points (10 terms + 2 degrees of freedom)."""
    import numpy as np

    if any(c not in points.columns for c in REAL[:3]) or points[list(REAL[:3])].isna().any().any():
        return {"ok": False, "reason": "the results have no real multipliers (written by an older scaler)"}
    t, u, v = (np.log(points[c].to_numpy(dtype=float)) for c in REAL[:3])
    y = _target(points)
    distinct = len({(round(a, 6), round(b, 6), round(c, 6)) for a, b, c in zip(t, u, v, strict=True)})
    fitted = surface.fit([t, u, v], y) if distinct >= surface.terms(3) + 2 else None
    if fitted is None:
        return {"ok": False, "reason": f"needs 12 distinct real (depth, width, resolution) points, has {distinct}"}
    coef = fitted.coef
    U, V = np.meshgrid(np.linspace(u.min(), u.max(), 201), np.linspace(v.min(), v.max(), 201), indexing="ij")
    T = np.log(target) - 2 * U - 2 * V
    Z = surface.evaluate(coef, [T, U, V])
    Z = np.where((t.min() - 1e-9 <= T) & (t.max() + 1e-9 >= T), Z, -np.inf)
    if not np.isfinite(Z).any():
        return {"ok": False, "reason": "the constraint surface misses the box of measured real multipliers"}
    i, j = np.unravel_index(int(np.argmax(Z)), Z.shape)
    return {"ok": True, "alpha": round(float(np.exp(T[i, j] / phi)), 4),
            "beta": round(float(np.exp(U[i, j] / phi)), 4), "gamma": round(float(np.exp(V[i, j] / phi)), 4),
            "predicted_accuracy": round(float(Z[i, j]), 5), **_quality(fitted), "points": len(y),
            "on_boundary": bool(i in (0, U.shape[0] - 1) or j in (0, U.shape[1] - 1))}


def fit_results(df: Any, *, factor: float, phi: float, alpha_range: tuple[float, float],
                beta_range: tuple[float, float], gamma_range: tuple[float, float], use: str = "best",
                form: str = "real", objective: str = "accuracy", w: float | None = None,
                v: float | None = None) -> dict[str, Any]:
    """The coefficients a grid's results support: best measured compound candidate, the smooth fits, the seed
    noise and whether the winner is separated from the runner-up.

    Both forms are reported: ``nominal`` (the alpha, beta, gamma the candidate was asked for) and ``real`` (the
    multipliers its rounded network really has, per unit of phi). ``form`` picks which the top-level
    coefficients (the ones emit uses) take; the fits are ``fit`` (nominal beta, gamma on the constraint) and
    ``fit_real`` (real depth, width, resolution).

    ``objective`` (see :func:`add_score`) decides what "best" and the fits maximize; the seed noise and the
    separation verdict are on that score."""
    df = df.copy()
    df.attrs = dict(df.attrs)
    objective_info = add_score(df, objective, w=w, v=v, target=factor**phi)
    table = summarize(df)
    table = table[table["score"].notna()]  # e.g. a trial without a step time under objective training
    comp = table[table["kind"] == "compound"]
    if comp.empty:
        raise ScalerError("no successful compound trial: nothing to fit (run more of the grid)",
                          where=df.attrs.get("path"))
    best = comp.iloc[0]
    noise = seed_noise(df, "score")
    out: dict[str, Any] = {
        "objective": objective_info,
        "best": _candidate(best),
        "noise": {"seed_std": None if noise is None else round(noise, 5)},
    }
    if len(comp) > 1:
        runner = comp.iloc[1]
        margin = float(best["score"] - runner["score"])
        out["noise"]["runner_up"] = _candidate(runner)
        out["noise"]["margin"] = round(margin, 5)
        if noise is None:
            verdict = "unverified: one seed per candidate, so the seed noise is unknown (rerun with --seeds 3)"
        elif margin > 2 * noise:
            verdict = f"verified: the winner beats the runner-up by {margin:.4f} > 2 x seed std {noise:.4f}"
        else:
            verdict = (f"not separated: the winner beats the runner-up by {margin:.4f} <= 2 x seed std "
                       f"{noise:.4f}; treat the top candidates as tied")
        out["noise"]["verdict"] = verdict
    on_surface = table[table["kind"] != "base"]
    out["fit"] = quadratic_fit(on_surface, factor, beta_range, gamma_range, alpha_range)
    out["fit_real"] = real_quadratic_fit(on_surface, factor**phi, phi)
    out["baselines"] = {str(r["kind"]): round(float(r["accuracy"]), 5)
                        for _, r in table[table["kind"] != "compound"].iterrows()}
    single = [v for k, v in out["baselines"].items() if k != "base"]
    if single:
        out["compound_minus_best_single"] = round(float(best["accuracy"]) - max(single), 5)
    chosen, out["source"], out["form"] = _choose(out, use, form, factor**phi)
    out["alpha"], out["beta"], out["gamma"] = chosen["alpha"], chosen["beta"], chosen["gamma"]
    out["phi"], out["flops_factor"] = phi, factor
    return out


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

    The fit prefers the real-multiplier fit under the real form, else the nominal one; the best candidate's
    real form is its real multipliers put back on the constraint (:func:`on_constraint`)."""
    if use == "fit":
        order = ("fit_real", "fit") if form == "real" else ("fit",)
        for key in order:
            if out[key].get("ok"):
                return out[key], "fit", "real" if key == "fit_real" else "nominal"
    best = out["best"]
    if form == "real" and best.get("real"):
        placed = on_constraint(best["real"], target)
        if placed is not None:
            best["real_on_constraint"] = placed
            return placed, "best", "real"
    return best, "best", "nominal"


def _candidate(r: Any) -> dict[str, Any]:
    d = {"alpha": round(float(r["alpha"]), 6), "beta": round(float(r["beta"]), 6),
         "gamma": round(float(r["gamma"]), 6), "accuracy": round(float(r["accuracy"]), 5),
         "seeds": int(r["seeds"]), "flops": int(r["flops"])}
    if "score" in r and r["score"] != r["accuracy"]:
        d["score"] = round(float(r["score"]), 5)
    if r.get("accuracy_std") == r.get("accuracy_std"):  # not NaN
        d["accuracy_std"] = round(float(r["accuracy_std"]), 5)
    if "flops_ratio" in r:
        d["flops_ratio"] = round(float(r["flops_ratio"]), 4)
    if all(c in r and r[c] == r[c] for c in REAL[:3]):
        phi = float(r["phi"]) if r.get("phi") else 1.0
        d["real"] = {k: round(float(r[c]) ** (1 / phi), 6)
                     for k, c in zip(("alpha", "beta", "gamma"), REAL[:3], strict=False)}
    return d


def fit_run(results_csv: str | Path, *, use: str | None = None, form: str = "real", objective: str = "accuracy",
            w: float | None = None, v: float | None = None, out: str | Path | None = None) -> tuple[Path, dict]:
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
    base = Spec.model_validate(settings["base"])
    rng = {k: (search[k]["min"], search[k]["max"]) for k in ("alpha", "beta", "gamma")}
    result = fit_results(df, factor=search["flops_factor"], phi=search["phi"], alpha_range=rng["alpha"],
                         beta_range=rng["beta"], gamma_range=rng["gamma"], use=use or search.get("use", "best"),
                         form=form, objective=objective, w=w, v=v)
    data = coefficients_document(result.pop("alpha"), result.pop("beta"), result.pop("gamma"), base,
                                 source=result.pop("source"), form=result.pop("form"), **result,
                                 results=str(df.attrs["path"]), base_path=settings.get("base_path"))
    path = Path(out) if out else run_dir / "coefficients.yaml"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, yaml.safe_dump(data, sort_keys=False, width=110))
    except OSError as e:
        raise ScalerError(f"cannot write the coefficients: {e.strerror}", where=path) from None
    return path, data

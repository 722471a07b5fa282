"""Fitting alpha, beta, gamma from a grid's results, and the coefficients file that `scaler emit` reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.spec import Document, Spec, read_yaml, spec_from_document


@dataclass
class Coefficients:
    alpha: float
    beta: float
    gamma: float
    base: Spec
    source: str = ""


def read_coefficients(path: str | Path) -> Coefficients:
    """Read ``coefficients.yaml``: alpha, beta, gamma, and the full base spec they apply to."""
    doc = read_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "expected a mapping with alpha, beta, gamma and base")
    values: dict[str, float] = {}
    for key in ("alpha", "beta", "gamma"):
        v = data.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
            raise doc.error((key,), "required positive number" if v is None else f"must be a positive number, "
                            f"got {v!r}")
        values[key] = float(v)
    base = data.get("base")
    if not isinstance(base, dict) or not isinstance(base.get("spec"), dict):
        raise doc.error(("base",), "required: base.spec, the full base spec the coefficients apply to")
    sub = Document(data=base["spec"], path=doc.path,
                   positions={k[2:]: v for k, v in doc.positions.items() if k[:2] == ("base", "spec")},
                   key_positions={k[2:]: v for k, v in doc.key_positions.items() if k[:2] == ("base", "spec")})
    return Coefficients(base=spec_from_document(sub), source=str(data.get("source", "")), **values)


def coefficients_document(alpha: float, beta: float, gamma: float, base: Spec, **extra: Any) -> dict[str, Any]:
    """The data of a coefficients file."""
    return {"alpha": round(alpha, 6), "beta": round(beta, 6), "gamma": round(gamma, 6), **extra,
            "base": {"name": base.name, "spec": base.to_dict()}}


# --- fitting ---------------------------------------------------------------------------------------------------

_KEYS = ["kind", "alpha", "beta", "gamma"]


def summarize(df: Any) -> Any:
    """One row per candidate over its successful seeds: mean/std accuracy, seeds, mean FLOPs."""
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise ScalerError("no successful trial to fit", where=df.attrs.get("path"))
    agg: dict[str, Any] = {"accuracy": ["mean", "std", "count"], "flops": "mean"}
    if "flops_ratio" in ok.columns:
        agg["flops_ratio"] = "mean"
    g = ok.groupby(_KEYS, sort=False).agg(agg)
    g.columns = ["accuracy", "accuracy_std", "seeds", "flops", *(["flops_ratio"] if "flops_ratio" in agg else [])]
    return g.reset_index().sort_values("accuracy", ascending=False, kind="stable").reset_index(drop=True)


def seed_noise(df: Any) -> float | None:
    """Pooled standard deviation of accuracy across seeds of the same candidate (None: one seed each)."""
    ok = df[df["status"] == "ok"]
    var = ok.groupby(_KEYS)["accuracy"].var(ddof=1).dropna()
    return float(var.mean() ** 0.5) if len(var) else None


def quadratic_fit(points: Any, factor: float, beta_range: tuple[float, float], gamma_range: tuple[float, float],
                  alpha_range: tuple[float, float]) -> dict[str, Any]:
    """Fit accuracy as a quadratic in (log beta, log gamma) over candidates on the constraint surface (alpha is
    solved from it) and maximize the fit on the searched box. Needs 6 distinct points."""
    import numpy as np

    u, v, y = np.log(points["beta"].to_numpy()), np.log(points["gamma"].to_numpy()), points["accuracy"].to_numpy()
    X = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    if len(y) < 6 or np.linalg.matrix_rank(X) < 6:
        return {"ok": False, "reason": f"needs 6 candidates spread over beta and gamma, has {len(y)}"}
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ coef
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0
    bs = np.linspace(*beta_range, 201)
    gs = np.linspace(*gamma_range, 201)
    B, G = np.meshgrid(bs, gs, indexing="ij")
    A = factor / (B * B * G * G)
    U, V = np.log(B), np.log(G)
    Z = coef[0] + coef[1] * U + coef[2] * V + coef[3] * U * U + coef[4] * U * V + coef[5] * V * V
    Z = np.where((alpha_range[0] - 1e-9 <= A) & (alpha_range[1] + 1e-9 >= A), Z, -np.inf)
    i, j = np.unravel_index(int(np.argmax(Z)), Z.shape)
    on_edge = i in (0, len(bs) - 1) or j in (0, len(gs) - 1)
    return {"ok": True, "alpha": round(float(A[i, j]), 4), "beta": round(float(bs[i]), 4),
            "gamma": round(float(gs[j]), 4), "predicted_accuracy": round(float(Z[i, j]), 5), "r2": round(r2, 4),
            "points": len(y), "on_boundary": bool(on_edge),
            "surface": [round(float(c), 6) for c in coef]}


def fit_results(df: Any, *, factor: float, phi: float, alpha_range: tuple[float, float],
                beta_range: tuple[float, float], gamma_range: tuple[float, float], use: str = "best") -> dict[str, Any]:
    """The coefficients a grid's results support: best measured compound candidate, the smooth fit, the seed
    noise and whether the winner is separated from the runner-up."""
    table = summarize(df)
    comp = table[table["kind"] == "compound"]
    if comp.empty:
        raise ScalerError("no successful compound trial: nothing to fit (run more of the grid)",
                          where=df.attrs.get("path"))
    best = comp.iloc[0]
    noise = seed_noise(df)
    out: dict[str, Any] = {
        "best": _candidate(best),
        "noise": {"seed_std": None if noise is None else round(noise, 5)},
    }
    if len(comp) > 1:
        runner = comp.iloc[1]
        margin = float(best["accuracy"] - runner["accuracy"])
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
    out["baselines"] = {str(r["kind"]): round(float(r["accuracy"]), 5)
                        for _, r in table[table["kind"] != "compound"].iterrows()}
    single = [v for k, v in out["baselines"].items() if k != "base"]
    if single:
        out["compound_minus_best_single"] = round(float(best["accuracy"]) - max(single), 5)
    chosen = out["fit"] if use == "fit" and out["fit"].get("ok") else out["best"]
    out["source"] = "fit" if chosen is out["fit"] else "best"
    out["alpha"], out["beta"], out["gamma"] = chosen["alpha"], chosen["beta"], chosen["gamma"]
    out["phi"], out["flops_factor"] = phi, factor
    return out


def _candidate(r: Any) -> dict[str, Any]:
    d = {"alpha": round(float(r["alpha"]), 6), "beta": round(float(r["beta"]), 6),
         "gamma": round(float(r["gamma"]), 6), "accuracy": round(float(r["accuracy"]), 5),
         "seeds": int(r["seeds"]), "flops": int(r["flops"])}
    if r.get("accuracy_std") == r.get("accuracy_std"):  # not NaN
        d["accuracy_std"] = round(float(r["accuracy_std"]), 5)
    if "flops_ratio" in r:
        d["flops_ratio"] = round(float(r["flops_ratio"]), 4)
    return d


def fit_run(results_csv: str | Path, *, use: str | None = None, out: str | Path | None = None) -> tuple[Path, dict]:
    """Fit the results of a grid directory and write its ``coefficients.yaml``; returns (path, data)."""
    import yaml

    from scaler.results import read_results
    from scaler.spec import Spec

    df = read_results(results_csv)
    run_dir = Path(df.attrs["path"]).parent
    run_yaml = run_dir / "run.yaml"
    if not run_yaml.exists():
        raise ScalerError("no run.yaml beside the results (it records the base spec and search settings); "
                          "fit the results.csv of a `scaler grid` directory", where=run_yaml)
    run = yaml.safe_load(run_yaml.read_text(encoding="utf-8")) or {}
    settings = run.get("settings", {})
    search = settings.get("search", {})
    base = Spec.model_validate(settings["base"])
    rng = {k: (search[k]["min"], search[k]["max"]) for k in ("alpha", "beta", "gamma")}
    result = fit_results(df, factor=search["flops_factor"], phi=search["phi"], alpha_range=rng["alpha"],
                         beta_range=rng["beta"], gamma_range=rng["gamma"], use=use or search.get("use", "best"))
    data = coefficients_document(result.pop("alpha"), result.pop("beta"), result.pop("gamma"), base,
                                 source=result.pop("source"), **result,
                                 results=str(df.attrs["path"]), base_path=settings.get("base_path"))
    path = Path(out) if out else run_dir / "coefficients.yaml"
    from scaler.results import write_atomic

    write_atomic(path, yaml.safe_dump(data, sort_keys=False, width=110))
    return path, data

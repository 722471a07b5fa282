"""`scaler study`: the fitted compound family against width-, depth- and resolution-only families at equal
FLOPs factors -- the EfficientNet paper's Figure 8, on the user's own data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scaler.errors import ScalerError
from scaler.results import COLUMNS

STRATEGIES = ("compound", "width", "depth", "resolution")
STUDY_COLUMNS = (*COLUMNS, "strategy")


@dataclass
class StudyOutcome:
    csv: Path
    ran: int
    failed: int
    summary: list[dict[str, Any]]


def strategy_coefficients(alpha: float, beta: float, gamma: float, factor: float) -> dict[str, tuple]:
    """(alpha, beta, gamma) of each strategy; all grow FLOPs by ``factor`` per unit of phi."""
    root = math.sqrt(factor)
    return {"compound": (alpha, beta, gamma), "width": (1.0, root, 1.0), "depth": (factor, 1.0, 1.0),
            "resolution": (1.0, 1.0, root)}


def run_study(grid_dir: str | Path, *, max_phi: int = 3, overrides: dict[str, Any] | None = None,
              limit: int | None = None, workers: int = 1, device: str = "auto", quiet: bool = False,
              console: Any = None) -> StudyOutcome:
    """Train phi = 0..max_phi of every strategy with the grid's proxy settings; write ``study.csv``."""
    from scaler.data import load_dataset
    from scaler.fit import read_coefficients
    from scaler.results import RunDir
    from scaler.search import Candidate, ProxyConfig, candidate_spec, make_trials, proxy_spec, run_planned
    from scaler.spec import Spec
    from scaler.train import resolve_device

    grid_dir = Path(grid_dir)
    run_yaml, coef_path = grid_dir / "run.yaml", grid_dir / "coefficients.yaml"
    for needed in (run_yaml, coef_path):
        if not needed.exists():
            raise ScalerError(f"not a finished grid directory: {needed.name} is missing (run `scaler grid` first)",
                              where=grid_dir)
    recorded = (yaml.safe_load(run_yaml.read_text(encoding="utf-8")) or {}).get("settings") or {}
    coef = read_coefficients(coef_path)
    proxy_data = dict(recorded.get("proxy") or {})
    for key, value in (overrides or {}).items():
        proxy_data[key] = value
    proxy = ProxyConfig.model_validate(proxy_data)
    factor = float((recorded.get("search") or {}).get("flops_factor", 2.0))
    full_base = Spec.model_validate(recorded["base"])
    match = bool((recorded.get("search") or {}).get("match_flops", False))
    say = (lambda msg: print(msg, flush=True)) if console is None else console.print
    run = RunDir(grid_dir, csv_name="study.csv", settings_name="study.yaml", columns=STUDY_COLUMNS)
    run.lock()
    try:
        study_settings = {"max_phi": max_phi, "flops_factor": factor,
                          "match_flops": match,
                          "coefficients": {"alpha": coef.alpha, "beta": coef.beta, "gamma": coef.gamma},
                          "proxy": proxy.model_dump(mode="json"), "base": full_base.to_dict()}
        run.check_settings(study_settings, ignore=("proxy.seeds", "max_phi"))
        dev = str(resolve_device(device))
        data = load_dataset(proxy.dataset, val_fraction=proxy.val_fraction, subset=proxy.subset)
        base = proxy_spec(full_base, proxy, data.num_classes, data.channels)
        cands = [Candidate("base", 1.0, 1.0, 1.0, 0.0)]
        for phi in range(1, max_phi + 1):
            for strategy, (a, b, g) in strategy_coefficients(coef.alpha, coef.beta, coef.gamma, factor).items():
                cands.append(Candidate(strategy, a, b, g, float(phi)))
        members = [(c, candidate_spec(base, c, match_flops=match, factor=factor), f"{c.kind}-phi{c.phi:g}")
                   for c in cands]
        trials = make_trials(base, members, proxy)
        ran, failed = run_planned(run, trials, study_settings, limit=limit, workers=workers, device=dev,
                                  quiet=quiet, console=console, epochs=proxy.epochs, what="study", say=say)
        summary = summarize_study(run.csv) if run.csv.exists() else []
        return StudyOutcome(csv=run.csv, ran=ran, failed=failed, summary=summary)
    finally:
        run.unlock()


def study_table(csv_path: str | Path) -> Any:
    """study.csv as one row per (strategy, phi): accuracy mean/std over seeds, FLOPs; phi 0 under every
    strategy (the shared base)."""
    import pandas as pd

    from scaler.results import read_results

    df = read_results(csv_path)
    ok = df[df["status"] == "ok"]
    g = ok.groupby(["kind", "phi"]).agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                                        seeds=("accuracy", "count"), flops=("flops", "mean")).reset_index()
    base = g[g["kind"] == "base"]
    parts = [g[g["kind"] != "base"]]
    for s in STRATEGIES:
        if not base.empty:
            parts.append(base.assign(kind=s))
    table = pd.concat(parts, ignore_index=True).rename(columns={"kind": "strategy"})
    return table.sort_values(["strategy", "phi"]).reset_index(drop=True), df


def summarize_study(csv_path: str | Path) -> list[dict[str, Any]]:
    """At each phi (equal FLOPs factor): the winning strategy, its margin over the runner-up, and the verdict
    against the seed noise (pooled std across seeds). With one seed per network the noise comes from the grid's
    own multi-seed trials beside ``study.csv`` (same proxy, data and training), when it has some."""
    from scaler.fit import seed_noise
    from scaler.results import read_results

    table, df = study_table(csv_path)
    noise = seed_noise(df, keys=["kind", "phi"])
    source = "this study's seeds"
    grid_csv = Path(csv_path).with_name("results.csv")
    if noise is None and grid_csv.exists():
        try:
            noise = seed_noise(read_results(grid_csv))
        except ScalerError:
            noise = None
        source = "the grid's seeds"
    out = []
    for phi, group in table[table["phi"] > 0].groupby("phi"):
        ranked = group.sort_values("accuracy", ascending=False)
        top = ranked.iloc[0]
        row: dict[str, Any] = {"phi": float(phi), "winner": str(top["strategy"]),
                               "accuracy": round(float(top["accuracy"]), 5),
                               "flops": {str(r["strategy"]): int(r["flops"]) for _, r in group.iterrows()},
                               "accuracies": {str(r["strategy"]): round(float(r["accuracy"]), 5)
                                              for _, r in group.iterrows()}}
        if len(ranked) > 1:
            margin = float(top["accuracy"] - ranked.iloc[1]["accuracy"])
            row["runner_up"], row["margin"] = str(ranked.iloc[1]["strategy"]), round(margin, 5)
            if noise is None:
                row["verdict"] = "unverified (one seed; use --seeds 3)"
            else:
                row["verdict"] = ("beyond noise" if margin > 2 * noise else "within noise") + \
                    f" (2 x seed std = {2 * noise:.4f}, from {source})"
        out.append(row)
    return out


def study_plot(csv_path: str | Path, out: Path, formats: list[str]) -> list[Path]:
    """Accuracy against FLOPs, one line per strategy (the paper's Figure 8)."""
    from scaler.plot import FLOPS_LABEL, KIND_STYLE, _save, _setup, log_axis

    plt = _setup()
    table, _ = study_table(csv_path)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for strategy in STRATEGIES:
        sub = table[table["strategy"] == strategy].sort_values("phi")
        if sub.empty:
            continue
        colour, marker, name = KIND_STYLE[strategy]
        yerr = sub["accuracy_std"].fillna(0).to_numpy() if (sub["seeds"] > 1).any() else None
        ax.errorbar(sub["flops"], sub["accuracy"], yerr=yerr, color=colour, marker=marker, ms=7, lw=1.8,
                    capsize=3, label=f"{name} scaling" if strategy != "compound" else "compound scaling (fitted)")
    log_axis(ax, table["flops"].tolist())
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel("validation accuracy (top-1)")
    ax.set_title("Scaling strategies at equal FLOPs factors (φ = 0, 1, 2, …)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    out.mkdir(parents=True, exist_ok=True)
    paths = _save(fig, out, "study", formats)
    plt.close(fig)
    return paths

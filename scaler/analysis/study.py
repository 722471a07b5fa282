"""`scaler study`'s verdicts: the compound family against the single-dimension families at equal FLOPs factors
(the EfficientNet paper's Figure 8, on the user's own data). No torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.analysis.selection import seed_noise
from scaler.errors import ScalerError
from scaler.results import read_results


def study_table(csv_path: str | Path) -> Any:
    """study.csv as one row per (strategy, phi): accuracy mean/std over seeds, FLOPs; phi 0 under every
    strategy (the shared base)."""
    import pandas as pd

    df = read_results(csv_path)
    ok = df[df["status"] == "ok"]
    g = ok.groupby(["kind", "phi"]).agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                                        seeds=("accuracy", "count"), flops=("flops", "mean")).reset_index()
    base = g[g["kind"] == "base"]
    parts = [g[g["kind"] != "base"]]
    for s in sorted(set(g["kind"]) - {"base"}):
        if not base.empty:
            parts.append(base.assign(kind=s))
    table = pd.concat(parts, ignore_index=True).rename(columns={"kind": "strategy"})
    return table.sort_values(["strategy", "phi"]).reset_index(drop=True), df


def summarize_study(csv_path: str | Path) -> list[dict[str, Any]]:
    """At each phi (equal FLOPs factor): the winning strategy, its margin over the runner-up, and the verdict
    against the seed noise (pooled std across seeds). With one seed per network the noise comes from the grid's
    own multi-seed trials beside ``study.csv`` (same proxy, data and training), when it has some."""
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

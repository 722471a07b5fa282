"""`scaler study`'s verdicts: the compound family against the single-dimension families at equal FLOPs factors
(the EfficientNet paper's Figure 8, on the user's own data), judged with the grid's statistics. No torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.analysis.rungs import final_rung
from scaler.errors import ScalerError
from scaler.evidence.selection import noise_of
from scaler.evidence.stats import ALPHA, Group, Noise, difference, tie_set
from scaler.results import read_results


def study_table(csv_path: str | Path) -> Any:
    """study.csv as one row per (strategy, phi): accuracy mean/std over seeds, FLOPs; phi 0 under every
    strategy (the shared base)."""
    import pandas as pd

    df = read_results(csv_path)
    ok = with_aliases(df[df["status"] == "ok"])
    if "test_accuracy" not in ok.columns:
        ok = ok.assign(test_accuracy=float("nan"))
    g = ok.groupby(["kind", "phi"]).agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                                        seeds=("accuracy", "count"), flops=("flops", "mean"),
                                        test_accuracy=("test_accuracy", "mean")).reset_index()
    base = g[g["kind"] == "base"]
    parts = [g[g["kind"] != "base"]]
    for s in sorted(set(g["kind"]) - {"base"}):
        if not base.empty:
            parts.append(base.assign(kind=s))
    table = pd.concat(parts, ignore_index=True).rename(columns={"kind": "strategy"})
    return table.sort_values(["strategy", "phi"]).reset_index(drop=True), df


def with_aliases(df: Any) -> Any:
    """Study rows with every compound trial that is another strategy's network too (its ``aliases``: the study
    trained it once) repeated under that strategy's name. Seed noise is pooled on the rows as trained, not these."""
    import pandas as pd

    copies = _alias_copies(df)
    return df if copies.empty else pd.concat([df, copies], ignore_index=True)


def aliased(df: Any) -> set[tuple[str, float]]:
    """(strategy, phi) that the study measured as the compound network itself."""
    copies = _alias_copies(df)
    return {(str(k), float(p)) for k, p in zip(copies["kind"], copies["phi"], strict=True)}


def _alias_copies(df: Any) -> Any:
    """Compound's rows once more under each alias, except where the strategy has rows of its own (an older study
    that trained it under its name)."""
    if "aliases" not in df.columns:
        return df.iloc[0:0]
    names = df["aliases"].fillna("").astype(str).str.split()
    named = df[(df["kind"] == "compound") & (names.str.len() > 0)]
    if named.empty:
        return named
    copies = named.assign(kind=names[named.index]).explode("kind").assign(aliases="")
    own = set(zip(df["kind"], df["phi"], strict=True))
    return copies[[(k, p) not in own for k, p in zip(copies["kind"], copies["phi"], strict=True)]]


def study_noise(df: Any, csv_path: str | Path) -> tuple[Noise | None, str]:
    """The seed noise of a study: pooled over its own (strategy, phi) networks with two or more seeds, else the
    grid's beside it (same proxy, data and training)."""
    noise = noise_of(df, ["kind", "phi"])
    if noise is not None:
        return noise, "this study's seeds"
    grid_csv = Path(csv_path).with_name("results.csv")
    if grid_csv.exists():
        try:
            return noise_of(final_rung(read_results(grid_csv))), "the grid's seeds"  # halving: its last rung
        except ScalerError:
            return None, ""
    return None, "the grid's seeds"


def summarize_study(csv_path: str | Path, alpha: float = ALPHA) -> list[dict[str, Any]]:
    """At each phi but the base (equal FLOPs factor; below the base too when the study searched down): every
    strategy's validation and test accuracy, the strategies not separable from the best (Hsu's tie set), and
    compound against each other strategy: the difference of means with its 1 - alpha interval and p-value, and
    the verdict ``better``, ``worse`` or ``tie``."""
    table, df = study_table(csv_path)
    noise, source = study_noise(df, csv_path)
    ok = with_aliases(df[df["status"] == "ok"])
    same = aliased(df)
    out = []
    for phi, group in table[table["phi"] != 0].groupby("phi"):
        ranked = group.sort_values(["accuracy", "flops", "strategy"], ascending=[False, True, True])
        values = {str(k): v.tolist() for k, v in ok[ok["phi"] == phi].groupby("kind")["accuracy"]}
        row: dict[str, Any] = {
            "phi": float(phi), "winner": str(ranked.iloc[0]["strategy"]),
            "accuracy": round(float(ranked.iloc[0]["accuracy"]), 5),
            "accuracies": {str(r["strategy"]): round(float(r["accuracy"]), 5) for _, r in ranked.iterrows()},
            "seeds": {str(r["strategy"]): int(r["seeds"]) for _, r in ranked.iterrows()},
            "flops": {str(r["strategy"]): int(r["flops"]) for _, r in ranked.iterrows()}}
        if ranked["test_accuracy"].notna().any():
            row["test_accuracies"] = {str(r["strategy"]): round(float(r["test_accuracy"]), 5)
                                      for _, r in ranked.iterrows() if r["test_accuracy"] == r["test_accuracy"]}
        if noise is None:
            row["verdict"] = "unverified: one seed per network, so the seed noise is unknown (use --seeds 2)"
        else:
            row.update(_judged(values, noise, alpha, {k for k, p in same if p == phi}),
                       noise={"seed_std": round(noise.sigma, 5), "df": noise.df, "source": source})
        out.append(row)
    return out


def _judged(values: dict[str, list[float]], noise: Noise, alpha: float, same: set[str]) -> dict[str, Any]:
    """The tie set of one phi, and compound against every other strategy (``same``: the compound network itself,
    verdict ``same network``)."""
    groups = {k: Group.of(k, v) for k, v in values.items()}
    judged: dict[str, Any] = {"tie_set": list(tie_set(list(groups.values()), noise, alpha).members)}
    if "compound" in groups:
        versus = {}
        for k, g in groups.items():
            if k == "compound":
                continue
            d = difference(groups["compound"], g, noise, alpha)
            verdict = "same network" if k in same else "better" if d.low > 0 else "worse" if d.high < 0 else "tie"
            versus[k] = {"difference": round(d.diff, 5), "interval": [round(d.low, 5), round(d.high, 5)],
                         "p": float(f"{d.p:.3g}"), "verdict": verdict}
        judged["compound_vs"] = versus
    return judged

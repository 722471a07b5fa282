"""A successive-halving run's rungs, read back: which rows decide (the last rung's), whether the cheap rungs
ranked the candidates as the next rung did (Kendall's tau with a bootstrap interval), and which networks the
racing round raced (decided in :mod:`scaler.search.halving`). No torch."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scaler.evidence.selection import KEYS
from scaler.results import candidate_name

TAU_WARNING = 0.5  # a rung whose whole interval lies below this did not rank like the next one
BOOTSTRAP_DRAWS = 2000


def final_rung(df: Any) -> Any:
    """The rows that decide: a halving run's last rung reached (full budget, racing seeds included); every row of
    a grid (one rung)."""
    if "rung" not in df.columns or df["rung"].isna().all():
        return df
    rung = df["rung"].fillna(0)
    out = df[rung == rung[df["status"] == "ok"].max()] if (df["status"] == "ok").any() else df
    out.attrs = dict(df.attrs)
    return out


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two rankings of the same items (NaN when either is constant)."""
    from scipy.stats import kendalltau

    if len(x) < 2:
        return math.nan
    return float(kendalltau(x, y).statistic)


def tau_interval(x: Sequence[float], y: Sequence[float], draws: int = BOOTSTRAP_DRAWS, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`kendall_tau`, resampling the items (pairs) with replacement."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(draws):
        i = rng.integers(0, len(xs), len(xs))
        t = kendall_tau(xs[i], ys[i])
        if math.isfinite(t):
            taus.append(t)
    if not taus:
        return math.nan, math.nan
    lo, hi = np.quantile(taus, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def rung_agreement(df: Any, draws: int = BOOTSTRAP_DRAWS) -> list[dict[str, Any]]:
    """For each rung and the next: the candidates both trained (on the rungs' own seed), Kendall's tau between
    their validation accuracies, its 95% bootstrap interval, and ``trusted: False`` when the whole interval lies
    below :data:`TAU_WARNING`. Empty for a grid."""
    if "rung" not in df.columns:
        return []
    ok = df[(df["status"] == "ok") & df["rung"].notna()].copy()
    if ok.empty or ok["rung"].nunique() < 2:
        return []
    ok = ok[ok["seed"] == ok[ok["rung"] == ok["rung"].min()]["seed"].min()]  # the seed every rung trains
    ok["_candidate"] = [candidate_name(*r) for r in ok[KEYS].itertuples(index=False, name=None)]
    out = []
    rungs = sorted(int(r) for r in ok["rung"].unique())
    for a, b in itertools.pairwise(rungs):
        acc_a = ok[ok["rung"] == a].set_index("_candidate")["accuracy"]
        acc_b = ok[ok["rung"] == b].set_index("_candidate")["accuracy"]
        shared = sorted(set(acc_a.index) & set(acc_b.index))
        x, y = acc_a[shared].tolist(), acc_b[shared].tolist()
        tau = kendall_tau(x, y)
        lo, hi = tau_interval(x, y, draws) if len(shared) >= 3 else (math.nan, math.nan)
        budgets = [float(ok[ok["rung"] == r]["budget"].iloc[0]) for r in (a, b)] if "budget" in ok else []
        out.append({"rungs": [a, b], "budgets": [round(v, 4) for v in budgets], "candidates": len(shared),
                    "tau": _round(tau), "interval": [_round(lo), _round(hi)],
                    "trusted": not (math.isfinite(hi) and hi < TAU_WARNING)})
    return out


def _round(x: float) -> float | None:
    return round(x, 4) if math.isfinite(x) else None

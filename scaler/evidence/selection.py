"""Which candidate the evidence supports. One group per distinct network (candidates whose rounding produced the
same network are one group, the others named as its aliases), the pooled seed noise, Hsu's tie set, the
documented choice inside it, and every candidate's difference from the choice with its standard error. The
result never depends on the order of the rows. No torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scaler.errors import ScalerError
from scaler.evidence.stats import ALPHA, Group, Noise, TieSet, difference, pooled_noise, tie_set
from scaler.results import candidate_name
from scaler.scaling import SINGLE_DIMENSIONS

KEYS = ["kind", "alpha", "beta", "gamma"]
# Two trials are of the same network when all of these agree (same rounded architecture and input size).
IDENTITY = ("params", "flops", "resolution", "blocks")
KIND_ORDER = {"base": 0, **{k: i for i, k in enumerate(SINGLE_DIMENSIONS, 1)}}  # everything else (compound) after
REAL = ("depth_real", "width_real", "resolution_real", "flops_ratio")
# Inside the tie set, costs within this share of the cheapest member's count as equal (then the higher score
# wins): every candidate targets the same FLOPs, so a 1% difference is rounding, not a reason to take the lower
# mean. (Measured: benchmarks/halving.py, seed offset 200, picked width-only, 0.7% cheaper than resolution-only
# and outside the 3-seed reference's tie set, by "fewest FLOPs" alone.)
COST_TIE = 0.05
COST = ("params", "activations", "train_step_ms", "latency_ms", "latency_batch_ms")


def _canonical(ok: Any) -> Any:
    """``ok`` in a fixed order (kind, alpha, beta, gamma, seed) with each row's ``candidate`` and the
    ``network`` it counts for: the first candidate with the same identity columns."""
    ok = ok.copy()
    ok["candidate"] = [candidate_name(*r) for r in ok[KEYS].itertuples(index=False, name=None)]
    ok["_kind_order"] = ok["kind"].map(lambda k: KIND_ORDER.get(k, len(KIND_ORDER)))
    if "seed" not in ok.columns:  # a hand-made table: its repeated rows of a candidate are its seeds
        ok = ok.sort_values(["_kind_order", "alpha", "beta", "gamma"], kind="stable")
        ok["seed"] = ok.groupby("candidate").cumcount()
    ok = ok.sort_values(["_kind_order", "alpha", "beta", "gamma", "seed"], kind="stable")
    if all(c in ok.columns for c in IDENTITY) and ok[list(IDENTITY)].notna().all().all():
        ok["network"] = ok.groupby(list(IDENTITY), sort=False)["candidate"].transform("first")
    else:  # a hand-made or truncated table: every candidate is its own network
        ok["network"] = ok["candidate"]
    return ok.drop(columns="_kind_order")


def summarize(df: Any) -> Any:
    """One row per distinct network over its successful seeds: ``accuracy`` (mean), ``accuracy_std``,
    ``seeds``, ``test_accuracy`` (mean, when recorded), the objective's ``score`` (mean), ``score_var`` and
    ``aliases`` (the other candidates that are the same network). A seed trained under two aliases counts once.
    Sorted by score (accuracy without one), then fewer FLOPs, then name: the same for rows in any order."""
    import pandas as pd

    score = "score" if "score" in df.columns else "accuracy"
    ok = df[(df["status"] == "ok") & df[score].notna()]  # e.g. no step time under objective training
    if ok.empty:
        raise ScalerError("no successful trial to fit", where=df.attrs.get("path"))
    ok = _canonical(ok)
    named = [(n, c) for n, c in zip(ok["network"], ok["candidate"], strict=True) if c != n]
    if "aliases" in ok.columns:  # planned once, trained under the first name (scaler.search.trial)
        named += [(n, a) for n, text in zip(ok["network"], ok["aliases"].fillna(""), strict=True) for a in text.split()]
    aliases = pd.Series({n: ", ".join(sorted({a for m, a in named if m == n})) for n, _ in named}, dtype=object)
    ok = ok.drop_duplicates(["network", "seed"])  # the canonical candidate's row comes first
    agg: dict[str, Any] = {"kind": "first", "alpha": "first", "beta": "first", "gamma": "first",
                           "accuracy": ["mean", "std", "count"], "flops": "mean"}
    extra = [c for c in ("phi", "test_accuracy", *REAL, *COST) if c in ok.columns]
    for c in extra:
        agg[c] = "mean"
    g = ok.groupby("network", sort=False).agg(agg)
    g.columns = ["kind", "alpha", "beta", "gamma", "accuracy", "accuracy_std", "seeds", "flops", *extra]
    g["score"] = ok.groupby("network", sort=False)[score].mean()
    g["score_var"] = ok.groupby("network", sort=False)[score].var(ddof=1)
    g["aliases"] = aliases.reindex(g.index).fillna("")
    g = g.rename_axis("candidate").reset_index()
    return g.sort_values(["score", "flops", "candidate"], ascending=[False, True, True],
                         kind="stable").reset_index(drop=True)


def groups(table: Any) -> list[Group]:
    """The candidates of a summary as :class:`Group` s of their score."""
    return [Group(str(r["candidate"]), float(r["score"]), int(r["seeds"]), float(r["score_var"]))
            for _, r in table.iterrows()]


def noise_of(df: Any, keys: list[str] | None = None, column: str = "accuracy") -> Noise | None:
    """The seed noise of a results table: ``column`` pooled over the successful rows sharing ``keys`` (one group
    per network); None when no network has two seeds."""
    ok = df[df["status"] == "ok"]
    return pooled_noise([Group.of(str(k), v.tolist()) for k, v in ok.groupby(keys or KEYS)[column]])


def seed_noise(df: Any, column: str = "accuracy", keys: list[str] | None = None) -> float | None:
    """The pooled standard deviation of :func:`noise_of` (None: one seed each)."""
    noise = noise_of(df, keys, column)
    return None if noise is None else noise.sigma


def network_noise(table: Any) -> Noise | None:
    """The seed noise of a :func:`summarize` table: its score pooled over every network with two or more seeds."""
    noise = pooled_noise(groups(table))
    if noise is not None and not math.isfinite(noise.sigma):
        raise ScalerError("the seed noise is not finite (a score is missing or infinite)")
    return noise


@dataclass(frozen=True)
class SeedNoise:
    """The pooled seed noise a choice was made under: its standard deviation and degrees of freedom."""

    seed_std: float
    df: int

    def to_dict(self) -> dict[str, Any]:
        return {"seed_std": self.seed_std, "df": self.df}


@dataclass(frozen=True)
class Comparison:
    """One network against the choice: the difference of mean scores (chosen - other), its standard error,
    two-sided p-value and 1 - alpha interval."""

    candidate: str
    kind: str
    score: float
    seeds: int
    difference: float
    se: float
    p: float
    interval: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "kind": self.kind, "score": self.score, "seeds": self.seeds,
                "difference": self.difference, "se": self.se, "p": self.p, "interval": list(self.interval)}


@dataclass(frozen=True)
class Selection:
    """The choice and the evidence for it. Without repeated seeds (``noise`` None) there is no tie set, critical
    value or comparison: the choice is the highest score, unverified."""

    chosen: str
    highest: str
    rule: str
    alpha: float
    noise: SeedNoise | None = None
    critical: float | None = None
    tie_set: tuple[str, ...] = ()
    comparisons: tuple[Comparison, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As the coefficients file records it (``selection:``)."""
        out: dict[str, Any] = {"chosen": self.chosen, "highest": self.highest, "rule": self.rule, "alpha": self.alpha,
                               "noise": None if self.noise is None else self.noise.to_dict()}
        if self.noise is not None:
            out["critical"] = self.critical
            out["tie_set"] = list(self.tie_set)
            out["comparisons"] = [c.to_dict() for c in self.comparisons]
        return out


def choose(table: Any, cost: str = "flops", alpha: float = ALPHA, noise: Noise | None = None) -> Selection:
    """The choice among the candidates of ``table`` (a :func:`summarize`; the base is not a candidate) and the
    evidence for it.

    The tie set holds every candidate not separable from the highest score (Hsu's MCB at level ``alpha``, seed
    noise pooled over every network with two or more seeds, the base included). The choice is its member with
    the lowest ``cost``, costs within :data:`COST_TIE` of the lowest counting as equal (among those: the higher
    score, then the lower cost, then the name). Without repeated seeds the noise is unknown: the
    choice is the highest score, and the result says it is unverified. ``noise``: :func:`network_noise` of the
    table, when the caller has it."""
    pool = table[table["kind"] != "base"]
    if pool.empty:
        raise ScalerError("no successful candidate to choose from (only the base trained)")
    noise = noise if noise is not None else network_noise(table)
    ties = tie_set(groups(pool), noise, alpha) if noise is not None else None
    members = pool[pool["candidate"].isin(ties.members)] if ties is not None else pool.iloc[:1]
    if cost not in members.columns or members[cost].isna().any():
        cost = "flops"
    cheap = members[members[cost] <= members[cost].min() * (1 + COST_TIE)]
    chosen = cheap.sort_values(["score", cost, "candidate"], ascending=[False, True, True], kind="stable").iloc[0]
    picked = Selection(str(chosen["candidate"]), str(pool.iloc[0]["candidate"]), _rule(ties, cost, alpha), alpha)
    if noise is None or ties is None:
        return picked
    return Selection(picked.chosen, picked.highest, picked.rule, alpha, SeedNoise(round(noise.sigma, 5), noise.df),
                     round(ties.critical, 4), tuple(ties.members), tuple(comparisons(table, chosen, noise, alpha)))


def select(table: Any, cost: str = "flops", alpha: float = ALPHA, noise: Noise | None = None) -> dict[str, Any]:
    """:func:`choose` as the coefficients file records it (a mapping)."""
    return choose(table, cost, alpha, noise).to_dict()


def _rule(ties: TieSet | None, cost: str, alpha: float) -> str:
    what = "fewest real FLOPs" if cost == "flops" else f"lowest {cost}"
    if ties is None:
        return ("highest score; unverified: one seed per candidate, so the seed noise is unknown (rerun with "
                "search.confirm > 0 or --seeds 2)")
    size = len(ties.members)
    return (f"{what} inside the tie set (within {COST_TIE:.0%} counts as equal: then the higher score): {size} "
            f"candidate(s) not separable from the highest score (Hsu's multiple comparisons with the best, alpha = "
            f"{alpha:g})")


def comparisons(table: Any, chosen: Any, noise: Noise, alpha: float) -> list[Comparison]:
    """Every other network against the choice: the difference of mean scores (chosen - other), its standard
    error, two-sided p-value (pooled-variance t) and 1 - alpha interval."""
    g = {x.key: x for x in groups(table)}
    mine = g[str(chosen["candidate"])]
    out = []
    for _, r in table.iterrows():
        key = str(r["candidate"])
        if key == mine.key:
            continue
        d = difference(mine, g[key], noise, alpha)
        out.append(Comparison(key, str(r["kind"]), round(float(r["score"]), 5), int(r["seeds"]), round(d.diff, 5),
                              round(d.se, 5), _p(d.p), (round(d.low, 5), round(d.high, 5))))
    return out


def _p(p: float) -> float:
    return float(f"{p:.3g}") if math.isfinite(p) else p

"""Statistics of repeated trials (no torch): the pooled seed noise with its degrees of freedom, a difference of two
means with its standard error, and the set of candidates that cannot be told apart from the best.

The tie set is Hsu's multiple comparisons with the best (MCB): candidate i stays in it unless some other candidate
beats it by more than ``c * sigma * sqrt(1/n_i + 1/n_j)``. Hsu's constant c is the one-sided Dunnett quantile for
k - 1 comparisons; here it is bounded by the Bonferroni t quantile t(1 - alpha / (k - 1), df), which is never
smaller, so the set holds the true best with probability at least 1 - alpha (slightly larger sets, never smaller
coverage). Everything uses one pooled sigma, so df = sum(n - 1) over every candidate with two or more seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.05


@dataclass(frozen=True)
class Group:
    """The seeds of one candidate: their mean, count and sample variance (NaN with one seed)."""

    key: str
    mean: float
    n: int
    var: float = math.nan

    @classmethod
    def of(cls, key: str, values: Sequence[float]) -> Group:
        n = len(values)
        if n == 0:
            raise ValueError(f"{key}: no values")
        mean = math.fsum(values) / n
        var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else math.nan
        return cls(key, mean, n, var)


@dataclass(frozen=True)
class Noise:
    sigma: float  # pooled standard deviation of one run
    df: int  # its degrees of freedom: sum(n - 1)


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) judged by the pooled-variance t statistic."""

    diff: float
    se: float  # sigma * sqrt(1/n_a + 1/n_b)
    t: float
    df: int
    p: float  # two-sided
    low: float  # 1 - alpha confidence interval of the difference
    high: float


@dataclass(frozen=True)
class TieSet:
    best: str  # highest mean
    members: tuple[str, ...]  # not separable from the best at level alpha, best first, then by mean
    critical: float  # the constant c of the comparisons
    alpha: float


def pooled_noise(groups: Sequence[Group]) -> Noise | None:
    """Pooled seed noise over every group with two or more seeds; None when no group has two."""
    repeated = [g for g in groups if g.n > 1]
    df = sum(g.n - 1 for g in repeated)
    if df == 0:
        return None
    return Noise(math.sqrt(math.fsum((g.n - 1) * g.var for g in repeated) / df), df)


def difference(a: Group, b: Group, noise: Noise, alpha: float = ALPHA) -> Difference:
    """The difference of two means with its standard error, t, two-sided p and 1 - alpha interval."""
    from scipy import stats

    diff = a.mean - b.mean
    se = noise.sigma * math.sqrt(1 / a.n + 1 / b.n)
    t = diff / se if se > 0 else math.copysign(math.inf, diff) if diff else 0.0
    p = float(2 * stats.t.sf(abs(t), noise.df))
    half = float(stats.t.ppf(1 - alpha / 2, noise.df)) * se
    return Difference(diff, se, t, noise.df, p, diff - half, diff + half)


def tie_set(groups: Sequence[Group], noise: Noise, alpha: float = ALPHA) -> TieSet:
    """Hsu's MCB subset of candidates that may be the best (see the module docstring)."""
    from scipy import stats

    if not groups:
        raise ValueError("no candidates")
    ranked = sorted(groups, key=lambda g: (-g.mean, g.key))
    k = len(ranked)
    c = float(stats.t.ppf(1 - alpha / max(1, k - 1), noise.df)) if k > 1 else 0.0
    members = []
    for g in ranked:
        rivals = [h.mean - c * noise.sigma * math.sqrt(1 / g.n + 1 / h.n) for h in ranked if h is not g]
        if not rivals or g.mean >= max(rivals):
            members.append(g.key)
    return TieSet(best=ranked[0].key, members=tuple(members), critical=c, alpha=alpha)

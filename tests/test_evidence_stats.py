"""Statistics of repeated trials: pooled noise, differences of means, Hsu's tie set (checked against scipy and
by simulation)."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from scaler.evidence.stats import Group, Noise, difference, pooled_noise, tie_set


def test_pooled_noise_weights_by_degrees_of_freedom():
    a, b, c = Group.of("a", [0.80, 0.82, 0.84]), Group.of("b", [0.70, 0.71]), Group.of("c", [0.9])
    noise = pooled_noise([a, b, c])
    # (2 * 0.0004 + 1 * 0.00005) / 3; the one-seed candidate adds nothing
    assert noise.df == 3 and noise.sigma == pytest.approx(math.sqrt((2 * 0.0004 + 0.00005) / 3), rel=1e-12)
    assert pooled_noise([c, Group.of("d", [0.5])]) is None


@pytest.mark.parametrize(("xa", "xb"), [
    ([0.871, 0.876, 0.868], [0.861, 0.866, 0.860]),
    ([0.80, 0.82, 0.81, 0.83], [0.79, 0.80]),
    ([0.5, 0.6], [0.55, 0.56, 0.57]),
])
def test_difference_equals_scipys_pooled_t_test(xa, xb):
    a, b = Group.of("a", xa), Group.of("b", xb)
    d = difference(a, b, pooled_noise([a, b]))
    ref = stats.ttest_ind(xa, xb, equal_var=True)
    assert d.t == pytest.approx(ref.statistic, rel=1e-10) and d.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert d.df == len(xa) + len(xb) - 2
    ci = ref.confidence_interval(0.95)
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_the_tie_set_keeps_exact_ties_and_drops_the_clearly_worse():
    noise = Noise(sigma=0.004, df=20)
    groups = [Group("a", 0.876, 3), Group("b", 0.876, 3), Group("c", 0.874, 3), Group("d", 0.850, 3)]
    ties = tie_set(groups, noise)
    assert ties.best == "a" and ties.members == ("a", "b", "c")  # d is 6.5 sigma below: out
    # the constant: Bonferroni over k - 1 = 3 comparisons, one-sided
    assert ties.critical == pytest.approx(stats.t.ppf(1 - 0.05 / 3, 20))
    assert tie_set(list(reversed(groups)), noise) == ties  # row order never matters


def test_the_tie_set_holds_the_true_best_at_the_stated_rate():
    """200 simulated grids: 14 candidates, 3 seeds each, seed noise 0.0045 (the quickstart's), the true best ahead
    of the next by gaps of 0 to 3 sigma."""
    rng = random.Random(12)
    sigma, misses, sizes, worst_kept = 0.0045, 0, 0, 0
    for trial in range(200):
        gap = (trial % 4) * sigma
        truth = [0.87 - gap - 0.002 * i for i in range(13)] + [0.87]
        groups = [Group.of(f"c{i}", [rng.gauss(mu, sigma) for _ in range(3)]) for i, mu in enumerate(truth)]
        members = tie_set(groups, pooled_noise(groups)).members
        misses += "c13" not in members
        sizes += len(members)
        worst_kept += "c12" in members  # 5.3 to 8.3 sigma below the best
    assert misses <= 10  # the true best in at least 95% of the grids, as stated (measured: 2 misses)
    assert sizes / 200 < 5 and worst_kept == 0  # and the set is not everything (measured: 3.55 on average)

"""A halving run read back: Kendall's tau between rungs on hand-made rankings, its bootstrap interval and the
warning, which rows decide, and who races."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from scaler.analysis.rungs import final_rung, kendall_tau, rung_agreement, tau_interval
from scaler.results import candidate_name
from scaler.search.halving import race_members


def test_kendall_tau_on_hand_made_rankings():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1
    # one swapped neighbour among 4 items: 5 concordant, 1 discordant pair of 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # tau-b with a tie in one ranking: (5 - 0) / sqrt(6 * 5)
    assert kendall_tau([1, 2, 3, 4], [1, 2, 2, 4]) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(kendall_tau([1, 2, 3], [5, 5, 5]))
    assert math.isnan(kendall_tau([1], [1]))


def test_tau_interval_is_degenerate_for_perfect_rankings_and_wide_for_few_candidates():
    assert tau_interval([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx((1.0, 1.0))
    assert tau_interval([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx((-1.0, -1.0))
    lo, hi = tau_interval([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert -1 <= lo < kendall_tau([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) < hi <= 1 and hi - lo > 0.5
    assert tau_interval([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == (lo, hi)  # seeded: the same every time


def name(short: str) -> str:
    """``a3`` -> the compound candidate alpha 1.3, beta 1.1, gamma 1.1; a kind stays itself."""
    return candidate_name("compound", *coefficients(short)) if short.startswith("a") else short


def coefficients(short: str) -> tuple[float, float, float]:
    return (1 + int(short[1:]) / 10, 1.1, 1.1) if short.startswith("a") else (1.0, 1.0, 1.0)


def rows(spec: dict[int, dict[str, float]], seed: int = 0) -> pd.DataFrame:
    """Hand-made rows: {rung: {candidate: accuracy}}, budgets 1, 3, 9 epochs."""
    out = []
    for rung, accs in spec.items():
        for short, acc in accs.items():
            a, b, g = coefficients(short)
            out.append({"trial_id": f"{name(short)}-s{seed}-r{rung}",
                        "kind": "compound" if short.startswith("a") else short, "alpha": a, "beta": b, "gamma": g,
                        "flops": 1, "accuracy": acc, "status": "ok", "seed": seed, "rung": rung,
                        "budget": 3.0**rung})
    return pd.DataFrame(out)


def test_rung_agreement_compares_each_rung_with_the_next_on_shared_candidates_and_warns_below_half():
    df = rows({0: {"a1": 0.1, "a2": 0.2, "a3": 0.3, "a4": 0.4, "a5": 0.5, "a6": 0.6},
               1: {"a1": 0.6, "a2": 0.5, "a3": 0.4, "a4": 0.3, "a5": 0.2},  # the reverse of rung 0
               2: {"a1": 0.1, "a2": 0.2, "a3": 0.3, "a4": 0.4, "a5": 0.5}})
    first, second = rung_agreement(df)
    assert first["rungs"] == [0, 1] and first["budgets"] == [1.0, 3.0] and first["candidates"] == 5
    assert first["tau"] == -1 and first["interval"] == [-1, -1] and first["trusted"] is False
    assert second["rungs"] == [1, 2] and second["tau"] == -1 and second["trusted"] is False
    agree = rows({0: {"a1": 0.1, "a2": 0.2, "a3": 0.3}, 1: {"a1": 0.2, "a2": 0.3, "a3": 0.4}})
    (only,) = rung_agreement(agree)
    assert only["tau"] == 1 and only["trusted"] is True
    # racing seeds at the last rung do not enter the comparison: the rungs' own seed does
    raced = pd.concat([agree, rows({1: {"a1": 0.9, "a2": 0.1, "a3": 0.1}}, seed=1)])
    assert rung_agreement(raced) == [only]
    assert rung_agreement(rows({0: {"a1": 0.1, "a2": 0.2}})) == []  # one rung: a grid


def test_final_rung_keeps_the_highest_rung_reached():
    df = rows({0: {"a1": 0.1, "a2": 0.2, "a3": 0.3}, 1: {"a2": 0.3, "a3": 0.4}})
    assert final_rung(df)["trial_id"].tolist() == [f"{name('a2')}-s0-r1", f"{name('a3')}-s0-r1"]
    grid = df.drop(columns=["rung"])
    assert final_rung(grid) is grid


def test_race_members_are_the_tie_set_at_the_last_rung_and_the_base():
    spec = {2: {"base": 0.80, "a1": 0.900, "a2": 0.899, "a3": 0.85, "depth": 0.70}}
    df = pd.concat([rows(spec), rows({2: {"base": 0.801}}, seed=1), rows({2: {"base": 0.799}}, seed=2)])
    ids = df["trial_id"].tolist()
    assert race_members(df, ids) == ["base", name("a1"), name("a2")]  # a3 and depth are separable from a1
    assert race_members(df, [i for i in ids if "-s0-" in i]) == []  # one base seed: the noise is unknown

    only_base = pd.concat([rows({2: {"base": 0.80}}, seed=k) for k in range(3)] + [rows({2: {"a1": 0.9}})])
    only_base.loc[only_base["kind"] == "compound", "status"] = "failed"
    assert race_members(only_base, only_base["trial_id"].tolist()) == []  # nothing to race, and no error

"""The choice and its evidence on hand-made result tables whose answers are known: p-values equal scipy's
pooled-variance t test, the row order never matters, exact ties resolve by the documented rule, and candidates
that are one network are counted once."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from scipy import stats

from scaler.analysis.fit import fit_results
from scaler.analysis.outcome import FitOutcome, Measured
from scaler.analysis.score import add_score
from scaler.evidence.selection import select, summarize

RANGES = {"alpha_range": (1.0, 2.0), "beta_range": (1.0, 1.4), "gamma_range": (1.0, 1.4)}

# base: one seed; two compound candidates with 3 and 4 seeds, c2 the cheaper network.
CSV = """\
trial_id,kind,alpha,beta,gamma,accuracy,test_accuracy,status,seed,flops,params,resolution,blocks
base-s0,base,1,1,1,0.80,0.79,ok,0,1000,10,16,4
a1.210-b1.100-g1.160-s0,compound,1.21,1.1,1.16,0.871,0.86,ok,0,2100,13,18,5
a1.210-b1.100-g1.160-s1,compound,1.21,1.1,1.16,0.860,0.85,ok,1,2100,13,18,5
a1.210-b1.100-g1.160-s2,compound,1.21,1.1,1.16,0.878,0.87,ok,2,2100,13,18,5
a1.653-b1.100-g1.000-s0,compound,1.653,1.1,1.0,0.860,0.85,ok,0,1900,14,16,6
a1.653-b1.100-g1.000-s1,compound,1.653,1.1,1.0,0.868,0.86,ok,1,1900,14,16,6
a1.653-b1.100-g1.000-s2,compound,1.653,1.1,1.0,0.863,0.85,ok,2,1900,14,16,6
a1.653-b1.100-g1.000-s3,compound,1.653,1.1,1.0,0.865,0.86,ok,3,1900,14,16,6
"""
C1, C2 = "a1.210-b1.100-g1.160", "a1.653-b1.100-g1.000"


def table(text: str = CSV) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def chosen(df: pd.DataFrame) -> dict:
    df = df.copy()
    add_score(df)
    return select(summarize(df))


def test_p_values_and_intervals_are_scipys_pooled_t_test():
    df = table()
    a = df[df["trial_id"].str.startswith(C1)]["accuracy"].to_numpy()
    b = df[df["trial_id"].str.startswith(C2)]["accuracy"].to_numpy()
    out = chosen(df)
    # only the two candidates have two or more seeds: the pooled noise is theirs, with 2 + 3 degrees of freedom
    assert out["noise"]["df"] == 5
    (vs_c1,) = [c for c in out["comparisons"] if c["candidate"] == C1]
    expected = stats.ttest_ind(b, a, equal_var=True)
    assert vs_c1["p"] == pytest.approx(expected.pvalue, rel=1e-2)
    ci = expected.confidence_interval(0.95)
    assert vs_c1["interval"] == pytest.approx([ci.low, ci.high], abs=1e-5)
    assert vs_c1["difference"] == pytest.approx(b.mean() - a.mean(), abs=1e-5)


def test_the_cheaper_of_two_tied_candidates_is_chosen_and_both_are_named():
    out = chosen(table())
    assert out["highest"] == C1 and out["tie_set"] == [C1, C2]
    assert out["chosen"] == C2  # 1900 real FLOPs against 2100: the documented rule, fewest real FLOPs
    assert out["rule"].startswith("fewest real FLOPs inside the tie set (within 5% counts as equal")
    assert "2 candidate(s) not separable" in out["rule"]


def test_costs_within_five_percent_are_equal_and_the_higher_score_is_chosen():
    # c2 is 4.5% cheaper than c1 (2010 against 2100 FLOPs): not a reason to take its lower mean
    near = table().assign(flops=lambda d: d["flops"].where(~d["trial_id"].str.startswith(C2), 2010))
    out = chosen(near)
    assert out["tie_set"] == [C1, C2] and out["chosen"] == C1
    # 5.5% cheaper (1990): the cheaper one, as before
    assert chosen(near.assign(flops=lambda d: d["flops"].where(d["flops"] != 2010, 1990)))["chosen"] == C2


def test_any_row_order_gives_the_same_answer():
    df = table()
    first = fit_results(df, factor=2.0, phi=1.0, **RANGES)
    for seed in range(5):
        shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        assert fit_results(shuffled, factor=2.0, phi=1.0, **RANGES) == first


def test_an_exact_tie_resolves_by_flops_then_name_whatever_the_order():
    # two candidates with identical accuracies at every seed: fewer FLOPs wins; at equal FLOPs, the name
    df = table()
    df = df[df["seed"] < 3].copy()
    df.loc[df["trial_id"].str.startswith(C2), "accuracy"] = df[df["trial_id"].str.startswith(C1)]["accuracy"].values
    for order in (df, df.iloc[::-1]):
        assert chosen(order)["chosen"] == C2
    same_cost = df.assign(flops=2000)
    for order in (same_cost, same_cost.iloc[::-1]):
        assert chosen(order)["chosen"] == C1 and chosen(order)["tie_set"] == sorted([C1, C2])


def test_one_network_under_two_names_is_one_candidate_with_an_alias():
    # resolution-only and a1.020-b1.000-g1.400 round to the same network: the same seed trained twice
    extra = ("resolution-s0,resolution,1,1,1.414,0.85,0.84,ok,0,1980,10,22,4\n"
             "a1.020-b1.000-g1.400-s0,compound,1.02,1.0,1.4,0.85,0.84,ok,0,1980,10,22,4\n"
             "a1.020-b1.000-g1.400-s1,compound,1.02,1.0,1.4,0.84,0.83,ok,1,1980,10,22,4\n")
    df = table(CSV + extra)
    add_score(df)
    t = summarize(df).set_index("candidate")
    assert "a1.020-b1.000-g1.400" not in t.index
    assert t.loc["resolution", "aliases"] == "a1.020-b1.000-g1.400"
    # seed 0 once (not twice), seed 1 from the alias: two seeds of one network
    assert t.loc["resolution", "seeds"] == 2 and t.loc["resolution", "accuracy"] == pytest.approx(0.845)


def test_the_test_split_is_reported_and_never_decides():
    df = table()
    perturbed = df.assign(test_accuracy=1.0 - df["test_accuracy"])
    a, b = fit_results(df, factor=2.0, phi=1.0, **RANGES), fit_results(perturbed, factor=2.0, phi=1.0, **RANGES)
    assert a.best.test_accuracy == pytest.approx(0.855) and b.best.test_accuracy == pytest.approx(0.145)
    assert a.baselines["base"] == Measured(accuracy=0.8, seeds=1, test_accuracy=0.79)

    def decisions(out: FitOutcome) -> tuple:
        return out.alpha, out.beta, out.gamma, out.selection.tie_set, out.selection.chosen

    assert decisions(a) == decisions(b)


def test_without_repeated_seeds_the_choice_is_the_highest_and_says_unverified():
    df = table()
    out = chosen(df[df["seed"] == 0])
    assert out["chosen"] == out["highest"] == C1 and out["noise"] is None
    assert "unverified" in out["rule"]


def test_a_trial_without_a_score_is_left_out_not_counted_as_a_seed():
    # under objective training a trial without a step time has no score: it must not become a NaN seed
    df = table().assign(train_step_ms=10.0, params=10)
    df.loc[df["trial_id"] == f"{C1}-s1", "train_step_ms"] = float("nan")
    out = fit_results(df, factor=2.0, phi=1.0, objective="training", **RANGES)
    assert out.selection.noise is not None and out.selection.noise.df == 1 + 3  # c1 keeps 2 seeds, c2 its 4
    seeds = {c.candidate: c.seeds for c in out.selection.comparisons}
    seeds[out.best.candidate] = out.best.seeds
    assert seeds[C1] == 2


def test_repeated_rows_without_a_seed_column_are_still_seeds():
    df = table().drop(columns=["seed"])
    assert chosen(df)["noise"]["df"] == 5


def test_compound_against_the_best_single_dimension_baseline_carries_its_standard_error():
    df = table()
    df.loc[df["trial_id"].str.startswith(C2), "kind"] = "width"
    out = fit_results(df, factor=2.0, phi=1.0, **RANGES)
    a = df[df["kind"] == "compound"]["accuracy"].to_numpy()
    b = df[df["kind"] == "width"]["accuracy"].to_numpy()
    vs = out.compound_vs_best_single
    assert vs is not None and (vs.compound, vs.single) == (C1, "width")
    assert vs.p == pytest.approx(stats.ttest_ind(a, b, equal_var=True).pvalue, rel=1e-2)
    assert vs.difference == out.compound_minus_best_single == pytest.approx(a.mean() - b.mean(), abs=1e-5)

"""Fitting coefficients from a results table, and the coefficients file."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scaler.analysis.fit import fit_results, on_constraint, quadratic_fit
from scaler.analysis.score import add_score
from scaler.catalog import preset
from scaler.coefficients import coefficients_document, read_coefficients
from scaler.config import SearchConfig
from scaler.errors import ScalerError
from scaler.evidence.selection import SeedNoise, seed_noise, summarize
from scaler.search.candidates import candidates


def _table(acc, seeds=(0,), noise=0.0):
    rows = []
    for c in candidates(SearchConfig(step=0.1)):
        for s in seeds:
            rows.append({"trial_id": f"{c.key}-s{s}", "kind": c.kind, "alpha": c.alpha, "beta": c.beta,
                         "gamma": c.gamma, "flops": 1000, "accuracy": acc(c) + noise * (s - (len(seeds) - 1) / 2),
                         "status": "ok", "seed": s})
    return pd.DataFrame(rows)


def _peak(c):  # a smooth surface with its optimum at beta 1.1, gamma 1.15 on the constraint
    return 0.9 - (math.log(c.beta) - math.log(1.1)) ** 2 - (math.log(c.gamma) - math.log(1.15)) ** 2


RANGES = {"alpha_range": (1.0, 2.0), "beta_range": (1.0, 1.4), "gamma_range": (1.0, 1.4)}


def test_quadratic_fit_recovers_a_known_optimum():
    df = _table(_peak)
    add_score(df)
    table = summarize(df)
    fit = quadratic_fit(table[table["kind"] != "base"], 2.0, (1.0, 1.4), (1.0, 1.4), (1.0, 2.0))
    assert fit.ok and fit.r2 == pytest.approx(1.0, abs=1e-6)
    assert fit.beta == pytest.approx(1.1, abs=0.003) and fit.gamma == pytest.approx(1.15, abs=0.003)
    assert fit.alpha == pytest.approx(2 / (1.1**2 * 1.15**2), abs=0.01)
    assert not fit.on_boundary


def test_best_measured_and_unverified_ranking_with_one_seed():
    out = fit_results(_table(_peak), factor=2.0, phi=1.0, **RANGES)
    assert (out.best.beta, out.best.gamma) == (1.1, 1.2)  # the grid point nearest the peak (in logs)
    assert out.source == "best" and out.alpha == out.best.alpha
    assert out.selection.noise is None and out.selection.tie_set == ()
    assert out.selection.rule.startswith("highest score; unverified")
    assert set(out.baselines) == {"base", "depth", "width", "resolution"}


def test_seed_noise_decides_how_many_candidates_tie():
    noisy = _table(_peak, seeds=(0, 1, 2), noise=0.01)
    assert seed_noise(noisy) == pytest.approx(0.01)
    out = fit_results(noisy, factor=2.0, phi=1.0, **RANGES)
    assert out.selection.noise == SeedNoise(0.01, 2 * len(candidates(SearchConfig(step=0.1))))
    assert len(out.selection.tie_set) > 3  # neighbours of the peak differ by far less than the noise
    sharp = _table(lambda c: 0.95 if (c.beta, c.gamma) == (1.1, 1.1) else 0.5, seeds=(0, 1, 2), noise=0.001)
    out = fit_results(sharp, factor=2.0, phi=1.0, use="fit", **RANGES)
    assert out.selection.tie_set == ("a1.366-b1.100-g1.100",) == (out.best.candidate,)
    assert all(c.p < 1e-6 and c.difference == pytest.approx(0.45) for c in out.selection.comparisons)


def test_failed_trials_are_left_out_and_no_compound_is_an_error():
    df = _table(_peak)
    df.loc[df["kind"] == "compound", "status"] = "diverged"
    with pytest.raises(ScalerError, match="no successful compound trial"):
        fit_results(df, factor=2.0, phi=1.0, **RANGES)


def test_coefficients_file_round_trip_and_errors(tmp_path: Path):

    base = preset("efficientnet-b0")
    path = tmp_path / "coefficients.yaml"
    path.write_text(yaml.safe_dump(coefficients_document(1.2, 1.1, 1.15, base, source="best")))
    coef = read_coefficients(path)
    assert (coef.alpha, coef.beta, coef.gamma, coef.base) == (1.2, 1.1, 1.15, base)
    assert coef.interval is None and coef.describe_interval().startswith("no bootstrap interval recorded")
    path.write_text(yaml.safe_dump(coefficients_document(1.2, 1.1, 1.15, base, source="best", bootstrap={
        "winner_interval": {"alpha": [1.1, 1.3], "beta": [1.0, 1.2], "gamma": [1.1, 1.2]}})))
    assert read_coefficients(path).describe_interval() == (
        "95% bootstrap interval of the winner: alpha 1.200 (1.100..1.300), beta 1.100 (1.000..1.200), gamma 1.150 "
        "(1.100..1.200); the chosen candidate wins 0% of the resamples")
    path.write_text("alpha: 1.2\nbeta: x\ngamma: 1.15\n")
    with pytest.raises(ScalerError, match=r"coefficients.yaml:2:7: beta: must be a positive number"):
        read_coefficients(path)


def _real_table():
    """Candidates whose trained networks were rounded (as a 9-block, 28 px proxy rounds them), with accuracy a
    smooth function of the REAL multipliers peaking on the constraint at (2 / (1.1^2 1.15^2), 1.1, 1.15)."""
    peak = (math.log(2 / (1.1**2 * 1.15**2)), math.log(1.1), math.log(1.15))
    rows = []
    for c in candidates(SearchConfig(step=0.1)):
        d = round(9 * c.alpha) / 9 if c.kind != "base" else 1.0
        w = round(16 * c.beta / 8) * 8 / 16 * 0.5 + c.beta * 0.5  # half the knobs round to 8, half are wide
        r = round(28 * c.gamma / 2) * 2 / 28
        acc = 0.9 - sum((math.log(m) - p) ** 2 for m, p in zip((d, w, r), peak, strict=True))
        rows.append({"trial_id": f"{c.key}-s0", "kind": c.kind, "alpha": c.alpha, "beta": c.beta, "gamma": c.gamma,
                     "phi": c.phi, "flops": 1000, "accuracy": acc, "status": "ok", "seed": 0, "depth_real": d,
                     "width_real": w, "resolution_real": r, "flops_ratio": d * w * w * r * r})
    return pd.DataFrame(rows)


def test_fit_uses_the_real_multipliers_and_reports_both_forms():
    df = _real_table()
    out = fit_results(df, factor=2.0, phi=1.0, **RANGES)
    real = out.fit_real
    assert real.ok and real.r2 == pytest.approx(1.0, abs=1e-9)
    assert real.beta == pytest.approx(1.1, abs=0.004) and real.gamma == pytest.approx(1.15, abs=0.004)
    assert real.alpha == pytest.approx(2 / (1.1**2 * 1.15**2), abs=0.01)
    best = df[df["kind"] == "compound"].sort_values("accuracy").iloc[-1]
    # the default (real) form hands emit the direction the winner's network really took, on the constraint
    assert out.form == "real"
    d, w, r = best["depth_real"], best["width_real"], best["resolution_real"]
    assert out.best.real.to_dict() == pytest.approx({"alpha": d, "beta": w, "gamma": r})
    k = math.log(2) / math.log(d * w * w * r * r)
    assert (out.alpha, out.beta, out.gamma) == pytest.approx((d**k, w**k, r**k), abs=1e-5)
    assert (out.best.alpha, out.best.beta) == pytest.approx((best["alpha"], best["beta"]))
    nominal = fit_results(df, factor=2.0, phi=1.0, form="nominal", **RANGES)
    assert (nominal.alpha, nominal.gamma) == pytest.approx((best["alpha"], best["gamma"]))
    # 15 networks are too few for a 10-parameter surface: use=fit falls back on the choice and says why
    assert not real.usable and real.why_not == "10 parameters need 30 distinct networks, the grid has 14"
    fallback = fit_results(df, factor=2.0, phi=1.0, use="fit", **RANGES)
    assert fallback.source == "best" and fallback.beta == out.beta
    assert fallback.fallback.startswith("fit_real: 10 parameters need 30 distinct networks")


def _costly():
    """Base and three candidates: c1 most accurate, c2 cheapest to train, c3 nearest the FLOPs target."""
    rows = [("base", 1.0, 1.0, 0.80, 1000, 100, 10.0), ("c1", 1.2, 1.1, 0.900, 4000, 400, 40.0),
            ("c2", 1.0, 1.2, 0.890, 2000, 300, 12.0), ("c3", 1.4, 1.0, 0.895, 2100, 150, 30.0)]
    return pd.DataFrame([{"trial_id": f"{k}-s0", "kind": "base" if k == "base" else "compound", "alpha": a,
                          "beta": b, "gamma": 1.0, "accuracy": acc, "flops": f, "params": p, "train_step_ms": t,
                          "status": "ok", "seed": 0} for k, a, b, acc, f, p, t in rows])


@pytest.mark.parametrize(("objective", "kw", "winner"), [
    ("accuracy", {}, (1.2, 1.1)),
    ("flops", {}, (1.4, 1.0)),  # 0.895 x 1.05^-0.07 = 0.8919 beats 0.89 x 1 and 0.9 x 2^-0.07 = 0.857
    ("flops", {"w": 0.0}, (1.2, 1.1)),
    ("training", {}, (1.0, 1.2)),  # 0.89 x 1.2^-0.07 x 3^-0.05 = 0.832 > 0.812 (c3) > 0.762 (c1)
])
def test_each_objective_ranks_a_hand_made_table(objective: str, kw: dict, winner: tuple):
    out = fit_results(_costly(), factor=2.0, phi=1.0, objective=objective, **kw, **RANGES)
    assert (out.best.alpha, out.best.beta) == winner
    assert out.objective.name == objective
    if objective == "training":
        assert (out.objective.w, out.objective.v) == (-0.07, -0.05)
        assert out.best.score == pytest.approx(0.89 * 1.2**-0.07 * 3**-0.05, abs=1e-5)


def test_real_form_falls_back_when_rounding_grew_nothing():

    assert on_constraint({"alpha": 1.0, "beta": 1.0, "gamma": 1.0}, 2.0) is None
    placed = on_constraint({"alpha": 1.0, "beta": 1.1, "gamma": 1.2}, 2.0)
    assert placed["alpha"] == 1.0 and placed["beta"] * 1.0 > 1.1
    assert placed["beta"] ** 2 * placed["gamma"] ** 2 == pytest.approx(2.0, abs=1e-4)


def test_exponents_only_where_the_objective_has_them():
    with pytest.raises(ScalerError, match="--v has no meaning under objective flops"):
        fit_results(_costly(), factor=2.0, phi=1.0, objective="flops", v=-0.1, **RANGES)


def test_training_objective_needs_step_times():
    df = _costly().drop(columns=["train_step_ms"])
    with pytest.raises(ScalerError, match="objective training needs the column"):
        fit_results(df, factor=2.0, phi=1.0, objective="training", **RANGES)


def test_leave_one_out_r2_is_what_refitting_without_each_point_gives():
    import numpy as np

    from scaler.analysis import surface

    rng = np.random.default_rng(3)
    u, v = rng.uniform(0, 0.3, 12), rng.uniform(0, 0.3, 12)
    y = 0.8 + 0.3 * u - 0.5 * u * u + 0.2 * v + rng.normal(0, 0.01, 12)
    fitted = surface.fit([u, v], y)
    X = surface.features([u, v])
    held_out = []
    for i in range(12):
        keep = np.arange(12) != i
        coef, *_ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
        held_out.append(y[i] - X[i] @ coef)
    expected = 1 - (np.array(held_out) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert fitted.loo_r2 == pytest.approx(expected, rel=1e-9) and fitted.loo_r2 < fitted.r2
    # six points for six coefficients: every point is needed to fit itself, nothing is predicted
    assert surface.fit([u[:6], v[:6]], y[:6]).loo_r2 is None


def test_the_quickstart_surfaces_do_not_earn_their_use():
    """The committed quickstart grid (--strategy grid; 14 px proxy, 12 distinct networks at phi = 1): the nominal
    quadratic predicts unseen networks a little (leave-one-out R² 0.22) but has 6 parameters for 12 networks and
    its optimum on the boundary; the real one fits in sample (0.99) and predicts nothing (-3.2)."""
    from _runs import RUNS

    from scaler.results import read_results

    csv = RUNS / "quickstart-grid" / "results.csv"
    out = fit_results(read_results(csv), factor=2.0, phi=1.0, alpha_range=(1.0, 2.0), beta_range=(1.0, 1.4),
                      gamma_range=(1.0, 1.4))
    assert (out.fit.r2, out.fit.loo_r2, out.fit.points) == (0.8059, 0.2161, 12)
    assert (out.fit_real.r2, out.fit_real.loo_r2) == (0.9945, -3.1672)
    assert out.fit.why_not == "6 parameters need 18 distinct networks, the grid has 12"
    assert out.fit.on_boundary and not out.fit_real.usable


@pytest.mark.parametrize("name", ["quickstart", "quickstart-grid"])
def test_the_coefficients_file_is_byte_identical_to_the_committed_one(name: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    """The typed outcome serializes to exactly the file the dict-based fit wrote (committed with the fixture runs:
    a halving run with rungs and a grid), from the same relative path; in memory it holds what the file says."""
    from _runs import RUNS, copy_run

    from scaler.analysis.fit import fit_run
    from scaler.coefficients import read_coefficients

    copy_run(name, tmp_path / "results" / name, ("results.csv", "run.yaml"))
    monkeypatch.chdir(tmp_path)
    outcome = fit_run(f"results/{name}/results.csv")
    written = (tmp_path / "results" / name / "coefficients.yaml").read_bytes()
    assert written == (RUNS / name / "coefficients.yaml").read_bytes()
    assert outcome.path == Path(f"results/{name}/coefficients.yaml") and outcome.selected_on == "validation"
    assert outcome.coefficients == read_coefficients(outcome.path)  # no round trip needed for the same answer
    if name == "quickstart":  # the README's main job: resolution-only, tied with one compound candidate
        assert (outcome.best.candidate, outcome.selection.tie_set) == ("resolution", ("resolution",
                                                                                      "a1.389-b1.000-g1.200"))
        assert (outcome.alpha, outcome.beta, outcome.gamma) == (1.0, 1.0, 1.414214)
        assert outcome.selection.noise is not None and outcome.selection.noise.seed_std == pytest.approx(0.0037,
                                                                                                         abs=1e-4)
        assert outcome.bootstrap is not None and outcome.bootstrap.wins["resolution"] == pytest.approx(0.92,
                                                                                                      abs=0.005)

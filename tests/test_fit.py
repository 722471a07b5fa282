"""Fitting coefficients from a results table, and the coefficients file."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from scaler.errors import ScalerError
from scaler.fit import fit_results, quadratic_fit, read_coefficients, seed_noise, summarize
from scaler.presets import preset
from scaler.search import SearchConfig, candidates


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
    table = summarize(df)
    fit = quadratic_fit(table[table["kind"] != "base"], 2.0, (1.0, 1.4), (1.0, 1.4), (1.0, 2.0))
    assert fit["ok"] and fit["r2"] == pytest.approx(1.0, abs=1e-6)
    assert fit["beta"] == pytest.approx(1.1, abs=0.003) and fit["gamma"] == pytest.approx(1.15, abs=0.003)
    assert fit["alpha"] == pytest.approx(2 / (1.1**2 * 1.15**2), abs=0.01)
    assert not fit["on_boundary"]


def test_best_measured_and_unverified_ranking_with_one_seed():
    out = fit_results(_table(_peak), factor=2.0, phi=1.0, **RANGES)
    assert (out["best"]["beta"], out["best"]["gamma"]) == (1.1, 1.2)  # the grid point nearest the peak (in logs)
    assert out["source"] == "best" and out["alpha"] == out["best"]["alpha"]
    assert out["noise"]["seed_std"] is None
    assert out["noise"]["verdict"].startswith("unverified")
    assert set(out["baselines"]) == {"base", "depth", "width", "resolution"}


def test_seed_noise_decides_whether_the_winner_is_separated():
    noisy = _table(_peak, seeds=(0, 1, 2), noise=0.01)
    assert seed_noise(noisy) == pytest.approx(0.01)
    out = fit_results(noisy, factor=2.0, phi=1.0, **RANGES)
    assert out["noise"]["verdict"].startswith("not separated")
    sharp = _table(lambda c: 0.95 if (c.beta, c.gamma) == (1.1, 1.1) else 0.5, seeds=(0, 1, 2), noise=0.001)
    out = fit_results(sharp, factor=2.0, phi=1.0, use="fit", **RANGES)
    assert out["noise"]["verdict"].startswith("verified")
    assert out["noise"]["margin"] == pytest.approx(0.45)


def test_failed_trials_are_left_out_and_no_compound_is_an_error():
    df = _table(_peak)
    df.loc[df["kind"] == "compound", "status"] = "diverged"
    with pytest.raises(ScalerError, match="no successful compound trial"):
        fit_results(df, factor=2.0, phi=1.0, **RANGES)


def test_coefficients_file_round_trip_and_errors(tmp_path: Path):
    from scaler.fit import coefficients_document

    base = preset("efficientnet-b0")
    path = tmp_path / "coefficients.yaml"
    path.write_text(yaml.safe_dump(coefficients_document(1.2, 1.1, 1.15, base, source="best")))
    coef = read_coefficients(path)
    assert (coef.alpha, coef.beta, coef.gamma, coef.base) == (1.2, 1.1, 1.15, base)
    path.write_text("alpha: 1.2\nbeta: x\ngamma: 1.15\n")
    with pytest.raises(ScalerError, match=r"coefficients.yaml:2:7: beta: must be a positive number"):
        read_coefficients(path)

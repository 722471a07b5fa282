"""The bootstrap of a grid's choice on hand-made tables: a clear winner always wins, two identical candidates
split the wins, every mean is redrawn with the pooled noise over the root of its seeds, and the numbers repeat."""

from __future__ import annotations

import pandas as pd
import pytest

from scaler.analysis.bootstrap import bootstrap, resampled_means
from scaler.analysis.fit import fit_results
from scaler.evidence.stats import Noise

RANGES = {"alpha_range": (1.0, 2.0), "beta_range": (1.0, 1.4), "gamma_range": (1.0, 1.4)}


def table(rows: list[tuple[str, float, float, float, tuple[float, ...]]]) -> pd.DataFrame:
    return pd.DataFrame([{"candidate": k, "alpha": a, "beta": b, "gamma": g, "seeds": len(v),
                          "score": sum(v) / len(v)} for k, a, b, g, v in rows])


def coefficients(t: pd.DataFrame) -> list[tuple[float, float, float]]:
    return list(t[["alpha", "beta", "gamma"]].itertuples(index=False, name=None))


def test_a_clear_winner_wins_every_resample_and_its_interval_is_a_point():
    t = table([("c1", 1.2, 1.1, 1.15, (0.90, 0.91, 0.90)), ("c2", 2.0, 1.0, 1.0, (0.80, 0.81, 0.80))])
    out = bootstrap(t, Noise(0.005, 4), coefficients(t))
    assert out["wins"] == {"c1": 1.0}
    assert out["winner_interval"] == {"alpha": [1.2, 1.2], "beta": [1.1, 1.1], "gamma": [1.15, 1.15]}


def test_identical_candidates_split_the_wins_and_the_interval_spans_both():
    t = table([("c1", 1.2, 1.1, 1.15, (0.90, 0.92, 0.91)), ("c2", 2.0, 1.0, 1.0, (0.90, 0.92, 0.91))])
    out = bootstrap(t, Noise(0.01, 4), coefficients(t))
    assert out["wins"]["c1"] == pytest.approx(0.5, abs=0.04)
    assert sum(out["wins"].values()) == pytest.approx(1.0, abs=2e-3)
    assert out["winner_interval"]["alpha"] == [1.2, 2.0] and out["winner_interval"]["beta"] == [1.0, 1.1]
    assert bootstrap(t, Noise(0.01, 4), coefficients(t)) == out  # seeded


def test_every_mean_is_redrawn_with_the_pooled_noise_over_the_root_of_its_seeds():
    import numpy as np

    # two seeds that agree still carry the pooled noise: resampling them would give no spread at all
    t = table([("c1", 1.2, 1.1, 1.15, (0.90,)), ("c2", 2.0, 1.0, 1.0, (0.88, 0.88))])
    means = resampled_means(t, Noise(0.02, 10), resamples=20000, rng=np.random.default_rng(1))
    assert means[:, 0].mean() == pytest.approx(0.90, abs=1e-3) and means[:, 0].std() == pytest.approx(0.02, rel=0.03)
    assert means[:, 1].mean() == pytest.approx(0.88, abs=1e-3)
    assert means[:, 1].std() == pytest.approx(0.02 / 2**0.5, rel=0.03)


def test_fit_records_the_bootstrap_only_when_the_noise_is_measured():
    rows = []
    for key, a, b, g, values in (("a1.210-b1.100-g1.160", 1.21, 1.1, 1.16, (0.871, 0.860, 0.878)),
                                 ("a1.653-b1.100-g1.000", 1.653, 1.1, 1.0, (0.860, 0.868, 0.863))):
        rows += [{"trial_id": f"{key}-s{s}", "kind": "compound", "alpha": a, "beta": b, "gamma": g, "accuracy": v,
                  "status": "ok", "seed": s, "flops": 1000} for s, v in enumerate(values)]
    df = pd.DataFrame(rows)
    out = fit_results(df, factor=2.0, phi=1.0, form="nominal", **RANGES)
    boot = out.bootstrap
    assert boot is not None and boot.resamples == 1000
    assert set(boot.wins) == {"a1.210-b1.100-g1.160", "a1.653-b1.100-g1.000"}
    assert boot.winner_interval["alpha"] == (1.21, 1.653)
    assert fit_results(df[df["seed"] == 0], factor=2.0, phi=1.0, **RANGES).bootstrap is None

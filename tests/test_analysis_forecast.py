"""The forecast's saturating power law on synthetic data: it recovers known parameters, its bootstrap interval
covers the truth at about its stated rate, and it refuses to forecast what the data cannot support."""

from __future__ import annotations

import numpy as np
import pytest

from scaler.analysis.forecast import Point, fit, forecast

TRUE = {"width": (0.10, 0.20), "depth": (0.12, 0.15)}  # a, b of error = a + b * (FLOPs / 1e6)^-c
C = 0.6
FLOPS = [1e6 * 2**k for k in range(4)]  # phi = 0..3, each doubling FLOPs


def truth(strategy: str, flops: float) -> float:
    a, b = TRUE[strategy]
    return a + b * (flops / 1e6) ** -C


def draw(rng: np.random.Generator | None, sigma: float = 0.004, seeds: int = 3) -> dict[str, list[Point]]:
    noise = (lambda: rng.normal(0, sigma, seeds)) if rng is not None else (lambda: np.zeros(seeds))
    return {s: [Point(f, tuple(truth(s, f) + noise())) for f in FLOPS] for s in TRUE}


def test_noise_free_data_gives_back_the_parameters():
    law = fit(draw(None))
    assert law.c == pytest.approx(C, abs=1e-4)
    for s, (a, b) in TRUE.items():
        assert (law.a[s], law.b[s]) == pytest.approx((a, b), abs=1e-4)
    without_last = fit({s: p[:-1] for s, p in draw(None).items()})  # phi = 0..2 predict phi = 3
    for s in TRUE:
        assert without_last.predict(s, 8e6) == pytest.approx(truth(s, 8e6), abs=1e-4)


def test_noisy_data_recover_the_exponent_and_the_next_phi():
    # seed noise of 0.4 points, as measured on Fashion-MNIST: c within 0.15, phi = 4 within half a point
    law = fit(draw(np.random.default_rng(1)))
    assert law.c == pytest.approx(C, abs=0.15)
    for s in TRUE:
        assert law.predict(s, 16e6) == pytest.approx(truth(s, 16e6), abs=0.005)


def test_the_90_percent_interval_covers_the_truth_at_about_that_rate():
    hits = []
    for i in range(20):
        found, skipped = forecast(draw(np.random.default_rng(100 + i)), {s: [16e6] for s in TRUE}, level=0.9,
                                  resamples=100, seed=i)
        assert not skipped and len(found) == 2
        hits += [f.low <= truth(f.strategy, f.flops) <= f.high for f in found]
    assert 0.75 <= np.mean(hits) <= 1.0  # 40 intervals; measured 0.85 with these seeds


def test_what_cannot_be_forecast_says_why():
    data = draw(None)
    data["few"] = data["width"][:2]
    data["flat"] = [Point(f, (0.2, 0.21, 0.2)) for f in FLOPS[:3]] + [Point(FLOPS[3], (0.22, 0.23, 0.22))]
    found, skipped = forecast(data, {s: [16e6] for s in data}, resamples=10)
    assert skipped == {"few": "2 measured phi (needs 3)", "flat": "accuracy does not rise with FLOPs"}
    assert sorted(f.strategy for f in found) == ["depth", "width"]
    assert forecast({"flat": data["flat"]}, {"flat": [16e6]}) == ([], {"flat": "accuracy does not rise with FLOPs"})

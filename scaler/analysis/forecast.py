"""Forecast accuracy at larger phi from a study's measured phi = 0..K: a saturating power law in real FLOPs,
error = a + b * (FLOPs / FLOPs_0)^(-c), per strategy with the exponent c shared by all of them (so that three
measured phi per strategy identify it), prediction intervals by a bootstrap over seeds, and a back-test that
refits without each strategy's largest phi and predicts it. No torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_POINTS = 3  # measured phi per strategy: a and b per strategy, c shared
C_BOUNDS = (0.01, 5.0)


@dataclass(frozen=True)
class Point:
    """One measured network of a strategy: its real FLOPs and the error of each seed."""

    flops: float
    errors: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.errors))


@dataclass(frozen=True)
class PowerLaw:
    """error = a[s] + b[s] * (flops / flops0)^(-c), per strategy s."""

    a: dict[str, float]
    b: dict[str, float]
    c: float
    flops0: float

    def predict(self, strategy: str, flops: float) -> float:
        return self.a[strategy] + self.b[strategy] * (flops / self.flops0) ** -self.c


def rising(points: Sequence[Point]) -> bool:
    """Whether accuracy rises with FLOPs: the least-squares slope of mean error over log FLOPs is negative."""
    x = np.log([p.flops for p in points])
    y = np.array([p.mean for p in points])
    return len(points) >= 2 and float(np.polyfit(x, y, 1)[0]) < 0


def fit(data: Mapping[str, Sequence[Point]]) -> PowerLaw:
    """Least squares on every seed's error, the exponent shared. Needs :data:`MIN_POINTS` per strategy."""
    from scipy.optimize import least_squares

    names = sorted(data)
    flops0 = min(p.flops for pts in data.values() for p in pts)
    rows = [(i, p.flops / flops0, e) for i, s in enumerate(names) for p in data[s] for e in p.errors]
    idx = np.array([r[0] for r in rows])
    x = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows])

    def residuals(theta: np.ndarray) -> np.ndarray:
        a, b, c = theta[: len(names)], theta[len(names): 2 * len(names)], theta[-1]
        return a[idx] + b[idx] * x ** -c - y

    start = np.concatenate([[min(p.mean for p in data[s]) * 0.9 for s in names],
                            [max(p.mean for p in data[s]) - min(p.mean for p in data[s]) + 1e-3 for s in names],
                            [0.5]])
    lower = np.concatenate([np.zeros(2 * len(names)), [C_BOUNDS[0]]])
    upper = np.concatenate([np.full(len(names), 1.0), np.full(len(names), np.inf), [C_BOUNDS[1]]])
    sol = least_squares(residuals, np.clip(start, lower, upper - 1e-9), bounds=(lower, upper))
    n = len(names)
    return PowerLaw(dict(zip(names, sol.x[:n].tolist(), strict=True)),
                    dict(zip(names, sol.x[n: 2 * n].tolist(), strict=True)), float(sol.x[-1]), flops0)


@dataclass(frozen=True)
class Forecast:
    strategy: str
    flops: float
    error: float  # the fit's prediction
    low: float  # bootstrap percentile interval of the prediction
    high: float
    exponent: float  # the shared c of the fit on all measured points


def forecast(data: Mapping[str, Sequence[Point]], targets: Mapping[str, Sequence[float]], *, level: float = 0.9,
             resamples: int = 200, seed: int = 0) -> tuple[list[Forecast], dict[str, str]]:
    """Predicted error at each strategy's target FLOPs, with a ``level`` interval from refits on seeds resampled
    within every measured point. Strategies with too few points, or whose accuracy does not rise with FLOPs, get
    no forecast: the second value says why, by strategy."""
    skipped = {s: f"{len(p)} measured phi (needs {MIN_POINTS})" for s, p in data.items() if len(p) < MIN_POINTS}
    skipped |= {s: "a measured phi with one seed: no interval (train 2 seeds per network)" for s, p in
                data.items() if s not in skipped and min(len(q.errors) for q in p) < 2}
    skipped |= {s: "accuracy does not rise with FLOPs" for s, p in data.items() if s not in skipped and not
                rising(p)}
    usable = {s: p for s, p in data.items() if s not in skipped}
    if not usable:
        return [], skipped
    law = fit(usable)
    rng = np.random.default_rng(seed)
    draws: dict[tuple[str, float], list[float]] = {(s, f): [] for s in usable for f in targets.get(s, ())}
    for _ in range(resamples):
        refit = fit(_resampled(usable, rng))
        for s, f in draws:
            draws[s, f].append(refit.predict(s, f))
    tail = (1 - level) / 2 * 100
    out = [Forecast(s, f, law.predict(s, f), float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail)),
                    law.c) for (s, f), v in draws.items()]
    return out, skipped


def _resampled(data: Mapping[str, Sequence[Point]], rng: np.random.Generator) -> dict[str, list[Point]]:
    """One bootstrap draw: every measured network's seeds resampled with replacement, once per network (a point
    shared by several strategies, such as the base, is the same draw in all of them)."""
    drawn: dict[int, Point] = {}
    for pts in data.values():
        for p in pts:
            if id(p) not in drawn:
                drawn[id(p)] = Point(p.flops, tuple(rng.choice(p.errors, size=len(p.errors))))
    return {s: [drawn[id(p)] for p in pts] for s, pts in data.items()}

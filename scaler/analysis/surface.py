"""The quadratic response surface that the fits and the coefficient map share: accuracy as a full quadratic in
log multipliers. Features are ordered 1, x_1..x_n, then x_i * x_j for i <= j (for two variables: 1, u, v, u², uv,
v², the order ``coefficients.yaml`` stores its ``surface`` in)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def terms(n: int) -> int:
    """Number of coefficients of a full quadratic in ``n`` variables."""
    return 1 + n + n * (n + 1) // 2


def features(xs: Sequence[Any]) -> Any:
    """The quadratic features of variables ``xs`` (arrays of one shape), stacked on a new last axis."""
    import numpy as np

    cols = [np.ones_like(xs[0]), *xs]
    cols += [xs[i] * xs[j] for i in range(len(xs)) for j in range(i, len(xs))]
    return np.stack(cols, axis=-1)


def evaluate(coef: Sequence[float], xs: Sequence[Any]) -> Any:
    """The surface with coefficients ``coef`` at ``xs``."""
    import numpy as np

    return features(xs) @ np.asarray(coef, dtype=float)


@dataclass(frozen=True)
class Fit:
    coef: Any
    r2: float  # in-sample
    loo_r2: float | None  # leave-one-out: how well the surface predicts a point it was not fitted on


def fit(xs: Sequence[Any], y: Any) -> Fit | None:
    """Least squares, its in-sample R² and leave-one-out R²; None when the points do not determine the surface.

    The leave-one-out residual of point i is r_i / (1 - h_ii), h the hat matrix (exact for least squares); it is
    None when a point alone determines a coefficient (h_ii = 1: it cannot be predicted without itself)."""
    import numpy as np

    X = features(xs)
    if len(y) < X.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
        return None
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    residual = y - X @ coef
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0:
        return Fit(coef, 0.0, None)
    leverage = np.einsum("ij,ji->i", X, np.linalg.pinv(X))
    loo = None if leverage.max() > 1 - 1e-9 else 1 - float(((residual / (1 - leverage)) ** 2).sum()) / ss_tot
    return Fit(coef, 1 - float((residual**2).sum()) / ss_tot, loo)

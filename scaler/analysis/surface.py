"""The quadratic response surface that the fits and the coefficient map share: accuracy as a full quadratic in
log multipliers. Features are ordered 1, x_1..x_n, then x_i * x_j for i <= j (for two variables: 1, u, v, u², uv,
v², the order ``coefficients.yaml`` stores its ``surface`` in)."""

from __future__ import annotations

from collections.abc import Sequence
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


def fit(xs: Sequence[Any], y: Any) -> tuple[Any, float] | None:
    """Least-squares coefficients and the in-sample R²; None when the points do not determine the surface."""
    import numpy as np

    X = features(xs)
    if len(y) < X.shape[1] or np.linalg.matrix_rank(X) < X.shape[1]:
        return None
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return coef, 1 - float(((y - X @ coef) ** 2).sum()) / ss_tot if ss_tot > 0 else 0.0

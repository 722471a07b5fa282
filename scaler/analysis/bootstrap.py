"""How sure the coefficients are: a bootstrap of the grid under its measured seed noise. No torch.

Each resample redraws every network's mean score from a normal around its measured mean with the pooled seed std
over the square root of its seeds: the same noise model as the tie set (resampling two or three seeds of a network
would understate its spread, and give none when they agree). The resample's winner is its highest mean; the nominal
fit is refitted on it. Percentiles of the winners' coefficients and of the
refitted optima are the intervals; the share of resamples each candidate wins says how often the ranking would
flip under the noise the grid measured. Seeded: the same table gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scaler.evidence.stats import Noise

if TYPE_CHECKING:
    from scaler.analysis.outcome import SurfaceFit

RESAMPLES = 1000
LEVEL = 0.95
COEFFICIENTS = ("alpha", "beta", "gamma")


def resampled_means(table: Any, noise: Noise, resamples: int = RESAMPLES, rng: Any = None) -> Any:
    """A ``resamples`` x networks array of resampled mean scores (columns in ``table`` order)."""
    import numpy as np

    rng = rng if rng is not None else np.random.default_rng(0)
    means = table["score"].to_numpy(dtype=float)
    se = noise.sigma / np.sqrt(table["seeds"].to_numpy(dtype=float))
    return means + rng.normal(size=(resamples, len(means))) * se


def bootstrap(table: Any, noise: Noise, coefficients: Any, refit: Callable[[Any], SurfaceFit] | None = None,
              resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Intervals of the winners' coefficients (row i of ``coefficients``: what emit would use if candidate i
    won) and of ``refit``'s optimum (a function of the resampled table), and each candidate's share of wins.
    ``table`` holds the candidates (no base), with their mean ``score`` and ``seeds``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    means = resampled_means(table, noise, resamples, rng)
    # Identical draws are rare but possible (equal means, a zero noise): tied candidates share the win, and the
    # interval takes one of them at random.
    top = means >= means.max(axis=1, keepdims=True) - 1e-12
    wins = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
    winners = (rng.random(means.shape) * top).argmax(axis=1)
    keys = table["candidate"].tolist()
    lo, hi = 100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2
    coef = np.asarray(coefficients, dtype=float)[winners]
    out: dict[str, Any] = {
        "resamples": resamples, "level": LEVEL,
        "wins": {k: round(float(w), 3) for k, w in sorted(zip(keys, wins, strict=True), key=lambda kw: -kw[1])
                 if w > 0},
        "winner_interval": {c: [round(float(np.percentile(coef[:, i], lo)), 4),
                                round(float(np.percentile(coef[:, i], hi)), 4)] for i, c in enumerate(COEFFICIENTS)},
    }
    if refit is not None:
        optima = [refit(table.assign(score=means[b])) for b in range(min(resamples, 200))]
        optima = [o for o in optima if o.ok]
        if optima:
            out["fit_interval"] = {c: [round(float(np.percentile([getattr(o, c) for o in optima], lo)), 4),
                                       round(float(np.percentile([getattr(o, c) for o in optima], hi)), 4)]
                                   for c in COEFFICIENTS}
            out["fit_resamples"] = len(optima)
    return out

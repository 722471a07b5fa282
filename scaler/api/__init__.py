"""scaler's Python API: what the command line does, as functions that return data, for notebooks and scripts.

    import scaler
    run = scaler.grid("specs/quickstart.yaml", epochs=1, subset=2000)   # -> Run (results/quickstart/)
    run.results                    # pandas DataFrame, one typed row per trial
    coef = run.fit()               # Coefficients: alpha, beta, gamma, interval, tie_set
    study = run.study(max_phi=2)   # Study: verdicts per phi, its table, its forecast
    run.plot("pareto")             # a matplotlib Figure
    scaler.emit(coef, phi=range(5))  # the family, as specs

The CLI is a layer over these functions and imports nothing else of scaler's: the other commands' work is in
:mod:`scaler.api.specs` (info, emit's files), :mod:`scaler.api.family`, :mod:`scaler.api.budget`,
:mod:`scaler.api.deploy` (export, bench) and :mod:`scaler.api.figures` (plot, report). Errors are
:class:`scaler.ScalerError` (one line naming the file, line and field), never ``SystemExit``. Importing this package
loads nothing heavy: each name is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scaler.errors import ScalerError

if TYPE_CHECKING:
    from scaler.api.family import emit
    from scaler.api.grids import grid
    from scaler.api.runs import Run, open_run
    from scaler.api.studies import Study, study

_HOME = {"Run": "runs", "Study": "studies", "open_run": "runs", "grid": "grids", "study": "studies", "emit": "family"}
__all__ = ["Run", "ScalerError", "Study", "emit", "grid", "open_run", "study"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"scaler.api.{_HOME[name]}"), name)
    raise AttributeError(f"module 'scaler.api' has no attribute {name!r}")

"""A grid's results directory as an object: its trials, its fit, its study, its figures (no torch)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaler.coefficients import Coefficients, read_coefficients
from scaler.errors import ScalerError

if TYPE_CHECKING:
    from scaler.analysis.outcome import FitOutcome
    from scaler.api.studies import Study

FIGURES = ("pareto", "coefficients", "curves", "study")


@dataclass
class Run:
    """A grid's directory (``results/<name>/``). ``ran`` and ``failed`` count the trials of the call that
    returned it; ``fitted`` is the fit that call made (it names the coefficients file it wrote), if any;
    ``reported`` the report.html it wrote (None: not written, ``warnings`` say why)."""

    path: Path
    ran: int = 0
    failed: int = 0
    fitted: FitOutcome | None = None
    reported: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def results(self) -> Any:
        """results.csv as a pandas DataFrame, one row per trial, one dtype per column (text ``string``, counts
        ``Int64``, measurements ``float64``). A halving run holds every rung (column ``rung``)."""
        from scaler.results import read_results, typed

        return typed(read_results(self.path / "results.csv"))

    @property
    def coefficients(self) -> Coefficients | None:
        """The fitted coefficients (coefficients.yaml), or None before the grid has fitted any."""
        path = self.path / "coefficients.yaml"
        return read_coefficients(path) if path.exists() else None

    def fit(self, objective: str = "accuracy", *, use: str | None = None, form: str = "real", w: float | None = None,
            v: float | None = None, latency_budget_ms: float | None = None,
            out: str | Path | None = None) -> Coefficients:
        """Fit again (as ``scaler fit``): rank on validation accuracy by ``objective`` (accuracy, flops, training,
        latency), name the tie set, choose in it; writes coefficients.yaml (or ``out``) and returns its coefficients
        (the whole outcome is ``fitted``)."""
        self.fitted = fit_results(self.path / "results.csv", objective=objective, use=use, form=form, w=w, v=v,
                                  latency_budget_ms=latency_budget_ms, out=out)
        return self.fitted.coefficients

    def study(self, down: str | Path | Run | None = None, **options: Any) -> Study:
        """Train the fitted family against single-dimension scaling (``scaler study``); ``down``: the grid
        searched downward from the same base, for phi = -K..K. Options as :func:`scaler.api.studies.study`."""
        from scaler.api.studies import study  # here: torch loads only when a study runs (pyproject.toml)

        dirs = [self.path] + ([Path(down.path if isinstance(down, Run) else down)] if down is not None else [])
        return study(dirs, **options)

    def plot(self, kind: str = "pareto") -> Any:
        """One figure of the run as a matplotlib Figure: ``pareto`` (accuracy against FLOPs, the front),
        ``coefficients`` (accuracy on the constraint), ``curves`` (validation accuracy per epoch) or ``study``."""
        from scaler.api.figures import figure

        return figure(self.path, kind)

    def report(self) -> Path:
        """Write report.html (as ``scaler report``) and return its path."""
        from scaler.api.figures import report

        return report(self.path)


def fit_results(results: str | Path, objective: str = "accuracy", *, use: str | None = None, form: str = "real",
                w: float | None = None, v: float | None = None, latency_budget_ms: float | None = None,
                out: str | Path | None = None) -> FitOutcome:
    """Fit a results CSV (or its directory) and write the coefficients file; the outcome names it."""
    from scaler.analysis.fit import fit_run

    return fit_run(results, use=use, form=form, objective=objective, w=w, v=v, out=Path(out) if out else None,
                   budget_ms=latency_budget_ms)


def open_run(path: str | Path) -> Run:
    """The grid in ``path`` (a directory ``scaler grid`` wrote), or a one-line error."""
    path = Path(path)
    if not (path / "results.csv").exists():
        raise ScalerError("not a grid directory: results.csv is missing (run `scaler grid` first)", where=path)
    return Run(path)


def __getattr__(name: str) -> Any:
    """``scaler.api.runs.Study``, deprecated: :class:`Study` lives in :mod:`scaler.api.studies` (``scaler.Study``)."""
    if name == "Study":
        from scaler.api.studies import Study

        warnings.warn("scaler.api.runs.Study is deprecated: use scaler.Study (scaler.api.studies.Study)",
                      DeprecationWarning, stacklevel=2)
        return Study
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

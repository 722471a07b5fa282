"""``scaler.study``: the fitted compound family against single-dimension scaling at equal FLOPs, trained for real:
what ``scaler study`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.api.execution import Execution, make_executor, observer
from scaler.errors import ScalerError
from scaler.scaling import SINGLE_DIMENSIONS

DEFAULT_STRATEGIES = SINGLE_DIMENSIONS


@dataclass
class Study:
    """What a study found: the verdicts per phi (tie set, compound against each strategy with its interval),
    one row per (strategy, phi) of accuracy over seeds, and the forecast beyond (None without one)."""

    path: Path  # study.csv
    verdicts: list[dict[str, Any]]
    table: Any  # pandas DataFrame: strategy, phi, accuracy, accuracy_std, seeds, flops, test_accuracy
    forecast: Any = None  # scaler.analysis.study_forecast.StudyForecast
    ran: int = 0  # trials trained by this call
    failed: int = 0
    native: int = 0  # the data's own image size (beyond it, resolution scaling upsamples)
    messages: list[str] = field(default_factory=list)  # what a reader should know (no forecast, and why)


def study(grid_dirs: str | Path | Sequence[str | Path], *, max_phi: int = 3,
          strategies: Sequence[str] = DEFAULT_STRATEGIES, forecast: int = 3, limit: int | None = None,
          epochs: int | None = None, batch_size: int | None = None, subset: int | None = None,
          seeds: int | None = None, trial_timeout: float | None = None, formats: Sequence[str] = ("png", "svg"),
          progress: bool = True, console: Any = None, execution: Execution | None = None) -> Study:
    """Train phi = 0..``max_phi`` of the compound family and of each strategy (-K..K given an upward and a
    downward grid), on seeds disjoint from the grid's; write study.csv and plots/study.*; with ``forecast`` N,
    predict phi = K+1..K+N, back-test it on phi = K and write forecast.csv (0: no forecast, an old one removed).
    Resumable: calling again trains only what is missing."""
    from scaler.analysis.study import study_table, summarize_study
    from scaler.scaling import strategy_factors
    from scaler.search.study import run_study, study_grids

    chosen = tuple(s for s in (x.strip() for x in strategies) if s and s != "compound")
    for s in chosen:
        strategy_factors(s, 2.0)  # a bad name is a one-line error before any work
    overrides = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size), ("subset", subset),
                                   ("seeds", seeds), ("trial_timeout", trial_timeout)) if v is not None}
    dirs = [grid_dirs] if isinstance(grid_dirs, str | Path) else list(grid_dirs)
    study_grids(dirs)  # a missing or mismatched grid is named before any device or executor work
    with make_executor(execution or Execution()) as executor:
        outcome = run_study(dirs, executor, observer(progress, console), max_phi=max_phi, overrides=overrides,
                            strategies=("compound", *chosen), limit=limit, forecast=forecast,
                            attempts=(execution or Execution()).attempts())
    home = outcome.csv.parent
    result = Study(path=outcome.csv, verdicts=[], table=None, ran=outcome.ran, failed=outcome.failed,
                   native=outcome.native)
    result.verdicts = summarize_study(outcome.csv) if outcome.csv.exists() else []
    if not result.verdicts:
        result.messages.append("no finished study trials yet")
        return result
    result.table = study_table(outcome.csv)[0]
    if forecast and not outcome.targets:
        result.messages.append("no forecast: it extrapolates the upward family, and this study has none")
    if forecast and outcome.targets:
        result.forecast = _forecast(outcome, home / "forecast.csv", result.messages)
    else:
        _drop(home / "forecast.csv", result.messages)
    from scaler.api.figures import study_files

    result.messages += [str(p) for p in study_files(outcome.csv, home / "plots", list(formats))]
    return result


def _forecast(outcome: Any, path: Path, messages: list[str]) -> Any:
    """Fit, forecast and back-test the study; write forecast.csv. A study that cannot be forecast (its base
    failed) says why: its verdicts, plot and report still follow."""
    from scaler.analysis.study_forecast import Target, read_forecast, study_forecast, write_forecast

    same = {s: "builds the compound family's very networks at every phi: see compound" for s in outcome.same}
    try:
        write_forecast(path, study_forecast(outcome.csv, [Target(*t) for t in outcome.targets], same=same))
    except ScalerError as e:
        messages.append(f"warning: no forecast: {e}")
        _drop(path, messages)
        return None
    return read_forecast(path)


def _drop(path: Path, messages: list[str]) -> None:
    """No forecast this time: an older forecast.csv would describe another state of the study."""
    if path.exists():
        path.unlink()
        messages.append(f"removed {path} (no forecast this time)")

"""The driver: plans a grid, hands the trials not yet recorded to an executor, and is the only writer of the
results directory (:class:`scaler.results.RunDir`). Executors only run trials; observers only watch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler.config import SearchConfig
from scaler.errors import ScalerError
from scaler.results import SCHEMA_VERSION, RunDir
from scaler.search.executors.base import Executor
from scaler.search.halving import run_halving
from scaler.search.plan import Trial, confirm_trials, cost_warning, plan_trials, upsampling_note
from scaler.search.runner import RETRY, Attempts, Observer, report_failures, run_plan
from scaler.search.settings import LEGACY, GridSettings
from scaler.search.trial import load_proxy_data, load_trial_data


@dataclass
class RunOutcome:
    out: Path
    ran: int
    failed: int
    finished: Any = None  # what the caller's ``finish`` returned


def run_grid(settings: GridSettings, out: str | Path, executor: Executor, observer: Observer, *,
             limit: int | None = None, fresh: bool = False, finish: Callable[[RunDir], Any] | None = None,
             keep_checkpoints: bool = False, attempts: Attempts = RETRY) -> RunOutcome:
    """Plan a grid and run (resuming what ``out`` already records) at most ``limit`` more of its trials, by the
    settings' strategy (``grid`` or ``halving``); then
    ``finish(run)`` (the fit), still under the directory's lock, so no other run changes the rows it reads. A
    complete halving run removes its checkpoints unless ``keep_checkpoints``."""
    run = RunDir(out)
    run.lock()
    try:
        if fresh and (moved := run.move_aside()):
            observer.message(f"previous results moved to {moved}")
        settings_dict = settings.to_dict(out)
        # Raising these on a finished run trains only what is new; under halving the seeds of rung 0 decide the
        # cuts, so they may not change.
        ignore = ("search.confirm", "search.confirm_seeds", "search.max_seeds", "proxy.tensorboard",
                  "proxy.trial_timeout")
        if settings.search.strategy == "grid":
            ignore += ("proxy.seeds",)
        _older_grid(run, settings)
        run.check_settings(settings_dict, ignore=ignore, defaults=LEGACY)
        trials = _plan(settings, observer)
        if settings.search.strategy == "halving":
            ran, failed, complete = run_halving(run, trials, settings_dict, executor, observer, settings.search,
                                                limit=limit, attempts=attempts)
            if complete and not keep_checkpoints and (n := run.remove_checkpoints()):
                observer.message(f"removed the rungs' {n} checkpoint(s) (--keep-checkpoints keeps them)")
        else:
            ran, failed = _grid(run, trials, settings_dict, executor, observer, settings.search, limit, attempts)
        report_failures(run, attempts, observer)
        return RunOutcome(out=run.path, ran=ran, failed=failed, finished=finish(run) if finish else None)
    finally:
        run.unlock()


def _older_grid(run: RunDir, settings: GridSettings) -> None:
    """Refuse, with the flag that resumes it, a run begun as a grid before halving became the default."""
    recorded = run.recorded() if run.csv.exists() else None
    if recorded and recorded["schema_version"] != SCHEMA_VERSION:
        return  # check_settings refuses it, naming the schema
    if recorded and "strategy" not in recorded["settings"].get("search", {}) and settings.search.strategy != "grid":
        raise ScalerError("was run as a grid, before successive halving became the default: add --strategy grid to "
                          f"resume it, or {run.start_over}", where=run.path)


def _plan(settings: GridSettings, observer: Observer) -> list[Trial]:
    """The grid's trials, after the data has loaded and the plan's warnings were given."""
    p = settings.proxy
    data = load_proxy_data(p)
    observer.message(f"data: {data.name}: {len(data.y_train)} train / {len(data.y_val)} validation / "
                     f"{len(data.y_test)} test images, {data.channels}x{data.image_size}px, "
                     f"{data.num_classes} classes ({data.split})")
    trials = plan_trials(settings.base, settings.search, p, data.num_classes, data.channels)
    for note in (cost_warning(trials, settings.search.target, matched=settings.search.match_flops),
                 upsampling_note(trials, data.image_size)):
        if note:
            observer.message(note)
    load_trial_data(trials[0])  # bad image folders fail here, before any work; later loads hit the cache
    return trials


def _grid(run: RunDir, trials: list[Trial], settings: dict[str, Any], executor: Executor, observer: Observer,
          s: SearchConfig, limit: int | None, attempts: Attempts) -> tuple[int, int]:
    """Every candidate at the full budget, then the confirmation round."""
    ran, failed = run_plan(run, trials, settings, executor, observer, limit=limit, label="grid", attempts=attempts)
    extra = confirm_trials(trials, run.rows(), s.confirm, s.confirm_seeds)
    if extra and (limit is None or ran < limit):
        observer.message(f"confirm: the base and the top {s.confirm} candidates by validation accuracy get "
                         f"{s.confirm_seeds} more seed(s), to measure the seed noise")
        more, more_failed = run_plan(run, extra, settings, executor, observer,
                                     limit=None if limit is None else limit - ran, label="confirm",
                                     planned=len(trials) + len(extra), attempts=attempts)
        ran, failed = ran + more, failed + more_failed
    return ran, failed

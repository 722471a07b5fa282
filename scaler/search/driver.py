"""The driver: plans the candidates, asks the strategy for trials, hands those not yet recorded to an executor, and
is the only writer of the results directory (:class:`scaler.results.RunDir`). Strategies only propose; executors
only run trials; observers only watch."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.results import SCHEMA_VERSION, RunDir
from scaler.search.executors.base import Executor
from scaler.search.runner import RETRY, Attempts, Observer, report_failures, run_plan
from scaler.search.settings import LEGACY, GridSettings
from scaler.search.strategies import strategy_factory
from scaler.search.strategy import History, Strategy
from scaler.search.trial import Plan, cost_warning, plan_search, upsampling_note
from scaler.search.worker import load_proxy_data, load_trial_data

# Settings a rerun may raise on a finished run without starting over: they train only what is new, or change how
# trials run, not what they measure.
RESUMABLE = ("search.confirm", "search.confirm_seeds", "search.max_seeds", "proxy.tensorboard", "proxy.trial_timeout")


@dataclass
class RunOutcome:
    out: Path
    ran: int
    failed: int
    finished: Any = None  # what the caller's ``finish`` returned


def run_grid(settings: GridSettings, out: str | Path, executor: Executor, observer: Observer, *,
             limit: int | None = None, fresh: bool = False, finish: Callable[[RunDir], Any] | None = None,
             keep_checkpoints: bool = False, attempts: Attempts = RETRY) -> RunOutcome:
    """Plan a search and run (resuming what ``out`` already records) at most ``limit`` more of its trials, as the
    settings' strategy proposes them; then ``finish(run)`` (the fit), still under the directory's lock, so no
    other run changes the rows it reads. A complete run removes its checkpoints unless ``keep_checkpoints``."""
    run = RunDir(out)
    run.lock()
    try:
        if fresh and (moved := run.move_aside()):
            observer.message(f"previous results moved to {moved}")
        settings_dict = settings.to_dict(out)
        _older_grid(run, settings)
        factory = strategy_factory(settings.search.strategy)
        run.check_settings(settings_dict, ignore=(*RESUMABLE, *getattr(factory, "resumable", ())), defaults=LEGACY)
        plan, data = _plan(settings, observer)
        strategy = factory(plan)
        ran, failed, complete = _search(run, strategy, settings_dict, executor, observer, limit, attempts, data)
        if complete and not keep_checkpoints and (n := run.remove_checkpoints()):
            observer.message(f"removed the rungs' {n} checkpoint(s) (--keep-checkpoints keeps them)")
        report_failures(run, attempts, observer)
        return RunOutcome(out=run.path, ran=ran, failed=failed, finished=finish(run) if finish else None)
    finally:
        run.unlock()


def _search(run: RunDir, strategy: Strategy, settings: dict[str, Any], executor: Executor, observer: Observer,
            limit: int | None, attempts: Attempts, data: Any) -> tuple[int, int, bool]:
    """Ask the strategy for batches and run each, until it has none left (complete), a batch is not all recorded
    (a trial was stopped) or ``limit`` trials have run; returns (trials run, failed, complete)."""
    ran = failed = asked = 0
    frozen = dataclasses.replace(attempts, rerun_failed=False)
    while (batch := strategy.propose(History({r["trial_id"]: r for r in run.rows()}, run))) is not None:
        if asked and limit is not None and ran >= limit:
            return ran, failed, False
        asked += 1
        if batch.note:
            observer.message(batch.note)
        r, f = run_plan(run, batch.trials, settings, executor, observer,
                        limit=None if limit is None else limit - ran, label=batch.label, planned=batch.planned,
                        attempts=attempts if batch.retry_failed else frozen, data=data)
        ran, failed = ran + r, failed + f
        recorded = {row["trial_id"] for row in run.rows()}
        if any(t.trial_id not in recorded for t in batch.trials):
            return ran, failed, False
    return ran, failed, True


def _older_grid(run: RunDir, settings: GridSettings) -> None:
    """Refuse, with the flag that resumes it, a run begun as a grid before halving became the default."""
    recorded = run.recorded() if run.csv.exists() else None
    if recorded and recorded["schema_version"] != SCHEMA_VERSION:
        return  # check_settings refuses it, naming the schema
    if recorded and "strategy" not in recorded["settings"].get("search", {}) and settings.search.strategy != "grid":
        raise ScalerError("was run as a grid, before successive halving became the default: add --strategy grid to "
                          f"resume it, or {run.start_over}", where=run.path)


def _plan(settings: GridSettings, observer: Observer) -> tuple[Plan, Any]:
    """The search's candidates as trials, after the data has loaded and the plan's warnings were given; and the
    data the trials train on (what the executor gets)."""
    p = settings.proxy
    data = load_proxy_data(p)
    observer.message(f"data: {data.name}: {len(data.y_train)} train / {len(data.y_val)} validation / "
                     f"{len(data.y_test)} test images, {data.channels}x{data.image_size}px, "
                     f"{data.num_classes} classes ({data.split})")
    plan = plan_search(settings.base, settings.search, p, data.num_classes, data.channels)
    trials = list(plan.trials)
    for note in (cost_warning(trials, plan.net, settings.search.target, matched=settings.search.match_flops),
                 upsampling_note(trials, data.image_size)):
        if note:
            observer.message(note)
    return plan, load_trial_data(trials[0])  # bad image folders fail here, before any work


"""The driver: plans a grid, hands the trials not yet recorded to an executor, and is the only writer of the
results directory (:class:`scaler.results.RunDir`). Executors only run trials; observers only watch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scaler.results import RunDir, TrialRow
from scaler.search.executors.base import Executor
from scaler.search.plan import Trial, confirm_trials, cost_warning, plan_trials, upsampling_note
from scaler.search.settings import GridSettings
from scaler.search.trial import load_proxy_data, load_trial_data


class Observer(Protocol):
    """What the driver tells whoever watches a run (a live display, a log, a notebook)."""

    def message(self, text: str) -> None: ...

    def begin(self, total: int, epochs: int) -> None: ...

    def report(self, trial_id: str, info: dict[str, Any]) -> None: ...

    def finished(self, row: TrialRow) -> None: ...

    def end(self) -> None: ...


@dataclass
class RunOutcome:
    out: Path
    ran: int
    failed: int
    finished: Any = None  # what the caller's ``finish`` returned


def run_grid(settings: GridSettings, out: str | Path, executor: Executor, observer: Observer, *,
             limit: int | None = None, fresh: bool = False,
             finish: Callable[[RunDir], Any] | None = None) -> RunOutcome:
    """Plan a grid and run (resuming what ``out`` already records) at most ``limit`` more of its trials; then
    ``finish(run)`` (the fit), still under the directory's lock, so no other run changes the rows it reads."""
    run = RunDir(out)
    run.lock()
    try:
        if fresh and (moved := run.move_aside()):
            observer.message(f"previous results moved to {moved}")
        settings_dict = settings.to_dict()
        run.check_settings(settings_dict, ignore=("proxy.seeds", "search.confirm", "search.confirm_seeds"))
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
        ran, failed = run_plan(run, trials, settings_dict, executor, observer, limit=limit, label="grid")
        s = settings.search
        extra = confirm_trials(trials, run.rows(), s.confirm, s.confirm_seeds)
        if extra and (limit is None or ran < limit):
            observer.message(f"confirm: the base and the top {s.confirm} candidates by validation accuracy get "
                             f"{s.confirm_seeds} more seed(s), to measure the seed noise")
            more, more_failed = run_plan(run, extra, settings_dict, executor, observer,
                                         limit=None if limit is None else limit - ran, label="confirm",
                                         planned=len(trials) + len(extra))
            ran, failed = ran + more, failed + more_failed
        return RunOutcome(out=run.path, ran=ran, failed=failed, finished=finish(run) if finish else None)
    finally:
        run.unlock()


def run_plan(run: RunDir, trials: Sequence[Trial], settings: dict[str, Any], executor: Executor,
             observer: Observer, *, limit: int | None = None, label: str = "grid",
             planned: int | None = None) -> tuple[int, int]:
    """Run the trials of a plan that ``run`` has not recorded yet (at most ``limit`` of them); returns (trials
    run, failed). ``planned``: the trials of the whole run, as run.yaml records them (default: these). The caller
    holds the directory's lock."""
    todo, done = _pending(run, trials, observer)
    if limit is not None:
        todo = todo[:limit]
    where, execution = executor.describe(len(todo))
    run.write_settings(settings, {"device": executor.device, **execution, "trials": planned or len(trials)})
    seeds = len({t.seed for t in trials}) or 1
    observer.message(f"{label}: {len(trials)} trials ({len(trials) // seeds} candidates x {seeds} seed(s)), "
                     f"{done} already done, running {len(todo)} on {where}; results in {run.path}/")
    failed = 0
    observer.begin(len(todo), int(trials[0].proxy["epochs"]) if trials else 1)
    try:
        for trial, row, record in executor.run(todo, observer.report):
            run.append(row, record, strategy=trial.candidate.kind)
            failed += row.status != "ok"
            observer.finished(row)
    finally:
        observer.end()
    return len(todo), failed


def _pending(run: RunDir, trials: Sequence[Trial], observer: Observer) -> tuple[list[Trial], int]:
    """(trials not recorded yet, how many of the plan are) after repairing a torn last line."""
    run.repair()
    header = run.header()
    missing = [c for c in run.columns if header is not None and c not in header]
    if missing:
        observer.message(f"note: {run.csv} was begun by an older scaler; its rows keep their columns, so "
                         f"{', '.join(missing)} will not be recorded (--fresh starts a complete file, keeping the "
                         "old one)")
    done_ids = {r["trial_id"] for r in run.rows()}
    todo = [t for t in trials if t.trial_id not in done_ids]
    return todo, len(trials) - len(todo)

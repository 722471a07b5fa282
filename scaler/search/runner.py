"""Running one list of trials into a results directory: the trials it does not record yet go to an executor, each
finished row is appended (and a halving rung's checkpoint kept) the moment it arrives, and an observer is told.
Shared by the grid, the halving rungs and the study; the caller holds the directory's lock."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from scaler.errors import ScalerError
from scaler.results import RunDir, TrialRow
from scaler.search.executors.base import Executor
from scaler.search.plan import Trial, trial_row
from scaler.search.tensorboard import check_installed, write_trial


class Observer(Protocol):
    """What the driver tells whoever watches a run (a live display, a log, a notebook)."""

    def message(self, text: str) -> None: ...

    def begin(self, total: int, epochs: int, label: str = "trials") -> None: ...

    def report(self, trial_id: str, info: dict[str, Any]) -> None: ...

    def finished(self, row: TrialRow) -> None: ...

    def end(self) -> None: ...


def run_plan(run: RunDir, trials: Sequence[Trial], settings: dict[str, Any], executor: Executor,
             observer: Observer, *, limit: int | None = None, label: str = "grid",
             planned: int | None = None) -> tuple[int, int]:
    """Run the trials of a plan that ``run`` has not recorded yet (at most ``limit`` of them); returns (trials
    run, failed). ``planned``: the trials of the whole run, as run.yaml records them (default: these). The caller
    holds the directory's lock."""
    board = run.path / "tensorboard" if (settings.get("proxy") or {}).get("tensorboard") else None
    if board is not None:
        check_installed()
    todo, done = _pending(run, trials, observer)
    if limit is not None:
        todo = todo[:limit]
    where, execution = executor.describe(len(todo))
    run.write_settings(settings, {"device": executor.device, **execution, "trials": planned or len(trials)})
    networks, seeds = len({(t.candidate.key, t.candidate.phi) for t in trials}), len({t.seed for t in trials})
    shape = (f"{networks} candidates x {seeds} seed(s)" if networks * seeds == len(trials)
             else f"{networks} candidates, {seeds} seed(s) among them")
    observer.message(f"{label}: {len(trials)} trials ({shape}), {done} already done, running {len(todo)} on "
                     f"{where}; results in {run.path}/")
    failed = 0
    observer.begin(len(todo), _epochs(trials), label)
    try:
        for trial, row, record in executor.run(todo, observer.report):
            blob = record.pop("checkpoint", None) if record else None
            if blob is not None:
                run.save_checkpoint(row.trial_id, blob)
            run.append(row, record, strategy=trial.candidate.kind)
            if board is not None:
                _log(board, row, record, observer)
            failed += row.status != "ok"
            observer.finished(row)
    finally:
        observer.end()
    return len(todo), failed


def _log(board: Path, row: TrialRow, record: dict[str, Any] | None, observer: Observer) -> None:
    """The trial's TensorBoard run; a log that cannot be written warns: the row is already safe on disk."""
    try:
        write_trial(board, row, record)
    except Exception as e:  # a logging failure must not end the run
        observer.message(f"warning: no TensorBoard log for {row.trial_id}: {type(e).__name__}: {e}")


def _pending(run: RunDir, trials: Sequence[Trial], observer: Observer) -> tuple[list[Trial], int]:
    """(trials not recorded yet, how many of the plan are) after repairing a torn last line."""
    run.repair()
    header = run.header()
    missing = [c for c in run.columns if header is not None and c not in header]
    if missing:
        observer.message(f"note: {run.csv} was begun by an older scaler; its rows keep their columns, so "
                         f"{', '.join(missing)} will not be recorded (--fresh starts a complete file, keeping the "
                         "old one)")
    recorded = {r["trial_id"]: r for r in run.rows()}
    _refuse_foreign(run, trials, recorded)
    todo = [t for t in trials if t.trial_id not in recorded]
    return todo, len(trials) - len(todo)


def _refuse_foreign(run: RunDir, trials: Sequence[Trial], recorded: dict[str, dict[str, str]]) -> None:
    """A recorded row counts as done only when it measured this plan's network: same FLOPs and parameters (one
    check per network). Rows of another base spec copied in under the same trial ids are refused."""
    checked: set[tuple[str, float]] = set()
    for t in trials:
        row = recorded.get(t.trial_id)
        if row is None or (t.candidate.key, t.candidate.phi) in checked:
            continue
        checked.add((t.candidate.key, t.candidate.phi))
        planned = trial_row(t)
        for column, value in (("flops", planned.flops), ("params", planned.params)):
            if row.get(column) not in (None, "") and float(row[column]) != value:
                raise ScalerError(f"row {t.trial_id} measured another network ({column} {row[column]}, this "
                                  f"plan's is {value}): these results are not this run's; {run.start_over}",
                                  where=run.csv)


def _epochs(trials: Sequence[Trial]) -> int:
    """Whole epochs the longest of ``trials`` reaches (what a progress bar counts to)."""
    if not trials:
        return 1
    return max(math.ceil(t.budget) if t.budget is not None else int(t.proxy["epochs"]) for t in trials)

"""Running one list of trials into a results directory: the trials it does not record yet go to an executor, each
finished row is appended (and a halving rung's checkpoint kept) the moment it arrives, and an observer is told.
Shared by the grid, the halving rungs and the study; the caller holds the directory's lock."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scaler.errors import ScalerError
from scaler.results import RunDir, TrialRow
from scaler.search.executors.base import Executor
from scaler.search.tensorboard import check_installed, write_trial
from scaler.search.trial import Trial


class Observer(Protocol):
    """What the driver tells whoever watches a run (a live display, a log, a notebook)."""

    def message(self, text: str) -> None: ...

    def begin(self, total: int, epochs: int, label: str = "trials") -> None: ...

    def report(self, trial_id: str, info: dict[str, Any]) -> None: ...

    def finished(self, row: TrialRow) -> None: ...

    def end(self) -> None: ...


@dataclass(frozen=True)
class Attempts:
    """How often a trial may train: ``most`` trainings in all, whatever ended them (a failure, a worker's death,
    a Ray retry). ``rerun_failed``: running the same command again retrains the trials recorded as ``failed``
    (never ``diverged``: that is a result) that have attempts left."""

    most: int = 3
    rerun_failed: bool = True

    def left(self, row: dict[str, str]) -> int:
        """The attempts a recorded row's trial has left (0 unless it failed and may be retrained)."""
        if not self.rerun_failed or row.get("status") != "failed":
            return 0
        return max(0, self.most - used(row))


def used(row: dict[str, str]) -> int:
    """The attempts a recorded row counts (1 in files begun before the column existed)."""
    return int(float(row.get("attempts") or 1))


RETRY = Attempts()  # the default: 3 attempts, failed trials retrained on rerun


def run_plan(run: RunDir, trials: Sequence[Trial], settings: dict[str, Any], executor: Executor,
             observer: Observer, *, limit: int | None = None, label: str = "grid",
             planned: int | None = None, attempts: Attempts = RETRY, data: Any = None) -> tuple[int, int]:
    """Run the trials of a plan that ``run`` has not recorded yet, and those recorded as failed that have
    ``attempts`` left (at most ``limit`` in all); returns (trials run, failed). ``planned``: the trials of the
    whole run, as run.yaml records them (default: these); ``data``: the dataset the caller loaded, for the
    executor. The caller holds the directory's lock."""
    board = run.path / "tensorboard" if (settings.get("proxy") or {}).get("tensorboard") else None
    if board is not None:
        check_installed()
    todo, done, again = _pending(run, trials, observer, attempts)
    if limit is not None:
        todo = todo[:limit]
    where, execution = executor.describe(len(todo))
    run.write_settings(settings, {"device": executor.device, **execution, "trials": planned or len(trials)})
    networks, seeds = len({(t.candidate.key, t.candidate.phi) for t in trials}), len({t.seed for t in trials})
    shape = (f"{networks} candidates x {seeds} seed(s)" if networks * seeds == len(trials)
             else f"{networks} candidates, {seeds} seed(s) among them")
    retrying = f" (retrying {again} that failed)" if again else ""
    observer.message(f"{label}: {len(trials)} trials ({shape}), {done} already done, running {len(todo)}"
                     f"{retrying} on {where}; results in {run.path}/")
    failed = 0
    observer.begin(len(todo), _epochs(trials), label)
    try:
        for trial, row, record in executor.run(todo, observer.report, data):
            blob = record.pop("checkpoint", None) if record else None
            if blob is not None:
                run.save_checkpoint(row.trial_id, blob)
            run.append(row, _with_history(run, row, record), strategy=trial.candidate.kind)
            if board is not None:
                _log(board, row, record, observer)
            failed += row.status != "ok"
            observer.finished(row)
    finally:
        observer.end()
    return len(todo), failed


def report_failures(run: RunDir, attempts: Attempts, observer: Observer) -> None:
    """Name every trial the run records as failed: for good (no attempts left, or ``--no-retry``), or what a rerun
    of the same command would retrain; each with its attempts and last message."""
    failed = [r for r in run.rows() if r.get("status") == "failed"]
    for_good = [r for r in failed if not attempts.left(r)]
    for rows, what in ((for_good, "failed for good"), ([r for r in failed if attempts.left(r)],
                                                      "failed; rerun the same command to retry")):
        if rows:
            observer.message(f"{len(rows)} trial(s) {what}:")
        for r in rows:
            observer.message(f"  {r['trial_id']} (attempt {r.get('attempts') or 1} of {attempts.most}): "
                             f"{r.get('message') or 'no message'}")


def _log(board: Path, row: TrialRow, record: dict[str, Any] | None, observer: Observer) -> None:
    """The trial's TensorBoard run; a log that cannot be written warns: the row is already safe on disk."""
    try:
        write_trial(board, row, record)
    except Exception as e:  # a logging failure must not end the run
        observer.message(f"warning: no TensorBoard log for {row.trial_id}: {type(e).__name__}: {e}")


def _with_history(run: RunDir, row: TrialRow, record: dict[str, Any] | None) -> dict[str, Any]:
    """The trial's JSON record with every attempt's outcome kept (``attempts``: the earlier ones from the JSON this
    row replaces); a trial whose worker died has no record of its own, only that."""
    earlier = (run.trial_record(row.trial_id) or {}).get("attempts", []) if row.attempts > 1 else []
    now = {"attempt": row.attempts, "status": row.status, "message": row.message}
    record = record if record is not None else {"trial_id": row.trial_id, "row": row.as_dict()}
    return {**record, "attempts": [*(a for a in earlier if isinstance(a, dict)), now]}


def _pending(run: RunDir, trials: Sequence[Trial], observer: Observer,
             attempts: Attempts) -> tuple[list[Trial], int, int]:
    """(trials to run: not recorded yet, or failed with attempts left, each with its attempt number; how many of
    the plan are recorded for good; how many are retried) after repairing a torn last line."""
    run.repair()
    header = run.header()
    missing = [c for c in run.columns if header is not None and c not in header]
    if missing:
        observer.message(f"note: {run.csv} was begun by an older scaler; its rows keep their columns, so "
                         f"{', '.join(missing)} will not be recorded (--fresh starts a complete file, keeping the "
                         "old one)")
    recorded = {r["trial_id"]: r for r in run.rows()}
    _refuse_foreign(run, trials, recorded)
    todo, again = [], 0
    for t in trials:
        row = recorded.get(t.trial_id)
        if row is None:
            todo.append(dataclasses.replace(t, attempt=1, max_attempts=attempts.most))
        elif attempts.left(row):
            todo.append(dataclasses.replace(t, attempt=used(row) + 1, max_attempts=attempts.most))
            again += 1
    return todo, len(trials) - len(todo), again


def _refuse_foreign(run: RunDir, trials: Sequence[Trial], recorded: dict[str, dict[str, str]]) -> None:
    """A recorded row counts as done only when it measured this plan's network: same FLOPs and parameters (one
    check per network). Rows of another base spec copied in under the same trial ids are refused."""
    checked: set[tuple[str, float]] = set()
    for t in trials:
        row = recorded.get(t.trial_id)
        if row is None or (t.candidate.key, t.candidate.phi) in checked:
            continue
        checked.add((t.candidate.key, t.candidate.phi))
        planned = t.planned
        for column, value in (("flops", planned.flops), ("params", planned.params)):
            if row.get(column) not in (None, "") and float(row[column]) != value:
                raise ScalerError(f"row {t.trial_id} measured another network ({column} {row[column]}, this "
                                  f"plan's is {value}): these results are not this run's; {run.start_over}",
                                  where=run.csv)


def _epochs(trials: Sequence[Trial]) -> int:
    """Whole epochs the longest of ``trials`` reaches (what a progress bar counts to)."""
    if not trials:
        return 1
    return max(math.ceil(t.budget) if t.budget is not None else t.proxy.epochs for t in trials)

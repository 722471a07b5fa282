"""The executor interface the driver talks to."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from scaler.results import TrialRow
from scaler.search.trial import Trial
from scaler.search.worker import Reporter

Finished = tuple[Trial, TrialRow, dict[str, Any] | None]  # (trial, its row, its per-epoch record or None)


class Executor(Protocol):
    """Runs trials and yields each as it finishes. ``report(trial_id, info)`` receives ``start``, ``step`` and
    ``epoch`` events; a trial whose worker died comes back as a ``failed`` row without a record."""

    device: str  # what run.yaml records: the resolved device (local) or the one asked for (Ray)

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        """(a phrase for the log, what run.yaml records) for a run of ``trials`` trials."""
        ...

    def run(self, trials: Sequence[Trial], report: Reporter | None = None, data: Any = None) -> Iterator[Finished]:
        """``data``: the dataset the driver loaded; an executor that trains in this process or ships it (Ray)
        uses it, worker processes load their own once (cached per process)."""
        ...

    def close(self, kill: bool = False) -> None:
        """Stop whatever the executor keeps between runs (worker processes); ``with executor:`` calls it."""
        ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class Stateless:
    """For executors that keep nothing between runs: closing does nothing."""

    def close(self, kill: bool = False) -> None:
        return None

    def __enter__(self) -> Stateless:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(kill=exc[0] is not None)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    return max(1, available_cores() // workers)

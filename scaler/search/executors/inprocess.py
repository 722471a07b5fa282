"""Trials one after another in this process (``--workers 1``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scaler.search.executors.base import Finished, Stateless, threads_per_worker
from scaler.search.trial import Trial
from scaler.search.worker import Reporter, run_trial


@dataclass(frozen=True)
class InProcessExecutor(Stateless):
    device: str = "cpu"
    threads: int | None = None  # default: every core

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        threads = self.threads or threads_per_worker(1)
        return (f"{self.device} with 1 worker(s) x {threads} thread(s)",
                {"executor": "local", "workers": 1, "threads_per_worker": threads})

    def run(self, trials: Sequence[Trial], report: Reporter | None = None, data: Any = None) -> Iterator[Finished]:
        threads = self.threads or threads_per_worker(1)
        for t in trials:
            if report:
                report(t.trial_id, {"event": "start"})
            row, record = run_trial(t, device=self.device, threads=threads, report=report, data=data)
            yield t, row, record

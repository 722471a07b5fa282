"""Trials in spawned worker processes (``--workers N``), the CPU threads split among them. A worker that dies
(killed, out of memory) breaks the pool: a new pool takes the unfinished trials; each death ends an attempt of the
trial that was training, and a trial with no attempts left (``Trial.max_attempts``) is recorded as ``failed``;
the grid goes on either way."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue as queue_mod
import signal
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from scaler.errors import ScalerError
from scaler.search.executors.base import Executor, Finished, threads_per_worker
from scaler.search.executors.inprocess import InProcessExecutor
from scaler.search.plan import Trial, one_line, trial_row
from scaler.search.trial import Outcome, Reporter, run_reporting

_WORKER: dict[str, Any] = {}


def _init_worker(threads: int, queue: Any, device: str) -> None:
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the driver, which stops the workers
    torch.set_num_threads(threads)
    _WORKER.update(threads=threads, queue=queue, device=device)


def _run_in_worker(trial: Trial) -> Outcome:
    return run_reporting(trial, _WORKER["queue"], device=_WORKER["device"], threads=_WORKER["threads"])


@dataclass(frozen=True)
class PoolExecutor:
    workers: int
    device: str = "cpu"

    def _workers(self, trials: int) -> int:
        return max(1, min(self.workers, trials or 1))

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        workers = self._workers(trials)
        threads = threads_per_worker(self.workers)  # fixed by --workers: a trial trains alike in every round
        return (f"{self.device} with {workers} worker(s) x {threads} thread(s)",
                {"executor": "local", "workers": workers, "threads_per_worker": threads})

    def run(self, trials: Sequence[Trial], report: Reporter | None = None) -> Iterator[Finished]:
        workers = self._workers(len(trials))
        if workers == 1:  # one trial left: no process to spawn
            yield from InProcessExecutor(self.device, threads_per_worker(self.workers)).run(trials, report)
            return
        remaining, deaths = list(trials), Counter[str]()
        while remaining:
            unfinished, running, cause = yield from self._one_pool(remaining, workers, report)
            # the trials that were training when a worker died take the blame; unknown who: all unfinished do
            blamed = running or {t.trial_id for t in unfinished}
            deaths.update(blamed)
            remaining = []
            for t in unfinished:
                if t.trial_id not in blamed:
                    remaining.append(t)
                elif t.attempt >= t.max_attempts:  # that was its last attempt
                    message = f"worker died {deaths[t.trial_id]} time(s) while training it ({cause})"
                    yield t, trial_row(t, self.device, message=message), None
                else:
                    remaining.append(dataclasses.replace(t, attempt=t.attempt + 1))

    def _one_pool(self, trials: list[Trial], workers: int,
                  report: Reporter | None) -> Generator[Finished, None, tuple[list[Trial], set[str], str]]:
        """One pool over ``trials``: yields each as it finishes. A worker that dies breaks the whole pool; then it
        returns (the unfinished trials, those of them that had started, the cause). Ctrl-C stops the workers at
        once: they ignore SIGINT and are terminated here."""
        ctx = mp.get_context("spawn")
        manager = ctx.Manager()
        q = manager.Queue()
        pool = ProcessPoolExecutor(max_workers=min(workers, len(trials)), mp_context=ctx, initializer=_init_worker,
                                   initargs=(threads_per_worker(self.workers), q, self.device))
        # filled as workers start; shutdown() drops the pool's own reference, and Ctrl-C needs them afterwards
        processes = pool._processes
        started: set[str] = set()
        broken: dict[str, str] = {}

        def watch(trial_id: str, info: dict[str, Any]) -> None:
            if info.get("event") == "start":
                started.add(trial_id)
            if report:
                report(trial_id, info)

        try:
            futures = {pool.submit(_run_in_worker, t): t for t in trials}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(q, watch)
                for f in done:
                    if isinstance(error := f.exception(), BrokenProcessPool):
                        broken[futures[f].trial_id] = f"{type(error).__name__}: {error}"
                    else:
                        yield (futures[f], *self._result(f, futures[f]))
            _drain(q, watch)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            for p in list((processes or {}).values()):
                if p.is_alive():
                    p.terminate()
            manager.shutdown()
        cause = one_line(next(iter(broken.values()), ""), 200)
        return [t for t in trials if t.trial_id in broken], started & set(broken), cause

    def _result(self, future: Any, trial: Trial) -> tuple[Any, dict[str, Any] | None]:
        try:
            return future.result()
        except ScalerError:
            raise
        except Exception as e:  # the worker process died (killed, out of memory)
            return trial_row(trial, self.device, message=f"worker died: {type(e).__name__}: {e}"), None


def _drain(q: Any, report: Reporter | None) -> None:
    while True:
        try:
            tid, info = q.get_nowait()
        except (queue_mod.Empty, EOFError, OSError):
            return
        if report:
            report(tid, info)


def local_executor(workers: int, device: str) -> Executor:
    """This machine: in this process for one worker, else a pool of ``workers`` processes."""
    return InProcessExecutor(device) if workers <= 1 else PoolExecutor(workers, device)

"""Trials in spawned worker processes (``--workers N``), the CPU threads split among them. A worker that dies
(killed, out of memory) yields a ``failed`` row and the grid goes on."""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from scaler.errors import ScalerError
from scaler.search.executors.base import Executor, Finished, threads_per_worker
from scaler.search.executors.inprocess import InProcessExecutor
from scaler.search.plan import Trial, trial_row
from scaler.search.trial import Outcome, Reporter, run_reporting

_WORKER: dict[str, Any] = {}


def _init_worker(threads: int, queue: Any, device: str) -> None:
    import torch

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
        threads = threads_per_worker(workers)
        return (f"{self.device} with {workers} worker(s) x {threads} thread(s)",
                {"executor": "local", "workers": workers, "threads_per_worker": threads})

    def run(self, trials: Sequence[Trial], report: Reporter | None = None) -> Iterator[Finished]:
        workers = self._workers(len(trials))
        if workers == 1:  # one trial left: no process to spawn
            yield from InProcessExecutor(self.device).run(trials, report)
            return
        threads = threads_per_worker(workers)
        ctx = mp.get_context("spawn")
        manager = ctx.Manager()
        q = manager.Queue()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(threads, q, self.device))
        try:
            futures = {pool.submit(_run_in_worker, t): t for t in trials}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(q, report)
                for f in done:
                    yield (futures[f], *self._result(f, futures[f]))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            for p in list((getattr(pool, "_processes", None) or {}).values()):
                if p.is_alive():
                    p.terminate()
            manager.shutdown()

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

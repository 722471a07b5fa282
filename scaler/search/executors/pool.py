"""Trials on this machine: in this process, or in worker slots (``--workers N``, or any trial with a time limit),
the CPU threads split among them. The slots live as long as the executor, across every rung, confirmation round
and race of a run, so each worker pays its start-up (torch, CUDA, the dataset) once.

A slot whose worker dies ends that trial's attempt (retried while it has attempts left, ``Trial.max_attempts``);
a trial past ``proxy.trial_timeout`` is stopped and recorded as ``failed``; either way only that slot is
replaced, and the grid goes on."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Iterator, Sequence
from multiprocessing.connection import wait
from typing import Any

from scaler.errors import ScalerError
from scaler.search.executors.base import Executor, Finished, threads_per_worker
from scaler.search.executors.inprocess import InProcessExecutor
from scaler.search.executors.slots import Slot, poisons_process, spawn_context
from scaler.search.trial import Trial, one_line
from scaler.search.worker import Reporter, timed_out

TICK = 0.25  # seconds between checks of the slots' liveness and time limits


class PoolExecutor:
    """``workers`` slots at most, started as trials need them and kept until :meth:`close`."""

    def __init__(self, workers: int, device: str = "cpu") -> None:
        self.workers, self.device = workers, device
        self.threads = threads_per_worker(workers)  # fixed by --workers: a trial trains alike in every round
        self._slots: list[Slot] = []
        self._started = 0  # slots ever started (names the processes)
        self._ctx: Any = None

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        workers = max(1, min(self.workers, trials or 1))
        return (f"{self.device} with {workers} worker(s) x {self.threads} thread(s)",
                {"executor": "local", "workers": workers, "threads_per_worker": self.threads})

    def run(self, trials: Sequence[Trial], report: Reporter | None = None, data: Any = None) -> Iterator[Finished]:
        if self._in_process(trials):
            yield from InProcessExecutor(self.device, self.threads).run(trials, report, data)
            return
        waiting, finished = deque(trials), False
        try:
            while waiting or self._busy():
                self._hand_out(waiting)
                wait([s.conn for s in self._busy()] + [s.process.sentinel for s in self._busy()],
                     timeout=self._next_check())
                for slot in self._busy():
                    yield from self._collect(slot, waiting, report)
            finished = True
        finally:
            if not finished:  # Ctrl-C, SIGTERM, an error: the trials in flight are lost, their workers stopped
                self.close(kill=True)

    def close(self, kill: bool = False) -> None:
        """Stop every slot (at once with ``kill``; else each finishes what it holds, briefly)."""
        for slot in self._slots:
            slot.kill() if kill else slot.stop()
        self._slots = []

    def __enter__(self) -> PoolExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(kill=exc[0] is not None)

    def _in_process(self, trials: Sequence[Trial]) -> bool:
        """One trial at a time, no time limit to enforce and no GPU (whose errors can leave the process's CUDA
        context unusable), with no worker already started: no process to spawn."""
        timed = any(t.proxy.trial_timeout is not None for t in trials)
        gpu = self.device.startswith("cuda")
        return not self._slots and not timed and not gpu and min(self.workers, len(trials)) <= 1

    def _busy(self) -> list[Slot]:
        return [s for s in self._slots if s.busy is not None]

    def _hand_out(self, waiting: deque[Trial]) -> None:
        """The next waiting trials to idle slots, starting slots up to ``workers`` as needed."""
        if self._ctx is None:
            self._ctx = spawn_context()
        while waiting:
            idle = next((s for s in self._slots if s.busy is None), None)
            if idle is None and len(self._slots) < self.workers:
                self._started += 1
                idle = Slot(self._ctx, self.threads, self.device, self._started)
                self._slots.append(idle)
            if idle is None:
                return
            if not (idle.alive() and idle.give(waiting[0])):  # died while idle: a new one takes its place
                self._replace(idle)
                continue
            waiting.popleft()

    def _next_check(self) -> float:
        """Seconds until the next time limit falls due, at most :data:`TICK`."""
        now, soonest = time.monotonic(), TICK
        for busy in (s.busy for s in self._busy()):
            if busy and busy.limit is not None and busy.since is not None:
                soonest = min(soonest, max(0.0, busy.since + busy.limit - now))
        return soonest

    def _collect(self, slot: Slot, waiting: deque[Trial], report: Reporter | None) -> Iterator[Finished]:
        """What ``slot`` has sent: events to ``report``, a finished trial to the caller; then its health: a
        worker that died or overran its trial's limit is replaced."""
        assert slot.busy is not None
        trial, dead = slot.busy.trial, not slot.alive()  # first: what a dead worker sent is all in the pipe now
        for message in slot.messages():
            if message[0] == "event":
                if message[2].get("event") == "start":
                    slot.busy.since = time.monotonic()
                if report:
                    report(message[1], message[2])
            elif message[0] == "error":
                raise ScalerError(message[1])
            else:
                slot.busy = None
                row = message[1]
                yield trial, row, message[2]
                if poisons_process(row):
                    self._replace(slot)
                return
        if dead:
            self._replace(slot)
            yield from self._died(trial, slot.death(), waiting)
        elif (over := slot.busy.over(time.monotonic())) is not None:
            self._replace(slot, kill=True)
            yield trial, trial.row(self.device, timed_out(trial, over)), None

    def _died(self, trial: Trial, how: str, waiting: deque[Trial]) -> Iterator[Finished]:
        """A worker died under ``trial``: another attempt first in line, or, at its last, a failed row."""
        if trial.attempt < trial.max_attempts:
            waiting.appendleft(dataclasses.replace(trial, attempt=trial.attempt + 1))
            return
        message = one_line(f"worker died while training it ({how}), attempt {trial.attempt} of "
                           f"{trial.max_attempts}", 200)
        yield trial, trial.row(self.device, message), None

    def _replace(self, slot: Slot, kill: bool = False) -> None:
        """Drop ``slot`` (killing its process when asked); a new one starts when a trial needs it."""
        slot.busy = None
        slot.kill() if kill else slot.stop()
        self._slots.remove(slot)


def local_executor(workers: int, device: str) -> Executor:
    """This machine: worker slots when ``workers`` > 1, else this process (a slot of its own when a trial has a
    time limit). Close it (``with``, or :meth:`PoolExecutor.close`) when the run is over."""
    return PoolExecutor(max(1, workers), device)

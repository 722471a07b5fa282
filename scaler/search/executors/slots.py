"""Worker slots: one spawned process per slot, each with a pipe of its own, kept for as long as the executor that
owns it (every rung, the confirmation round and the race of a run). A slot whose process dies, hits a CUDA error
or runs past its trial's time limit is replaced alone; the other slots train on.

A pipe per slot, not a shared queue: a process killed in the middle of a message breaks only its own pipe."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from scaler.errors import ScalerError
from scaler.results import TrialRow
from scaler.search.trial import Trial
from scaler.search.worker import run_reporting

STOP_SECONDS = 5.0  # a slot asked to stop gets this long before it is killed
CONTEXT_ERRORS = ("CUDA error", "cuDNN error", "CUBLAS_STATUS", "AcceleratorError", "device-side assert")


def poisons_process(row: TrialRow) -> bool:
    """Whether a failed trial may have left its process unusable: after a CUDA error the context is lost for
    every later trial in it, so the slot starts a fresh process."""
    return row.status == "failed" and any(marker in row.message for marker in CONTEXT_ERRORS)


class _Pipe:
    """The worker's side of the events channel: what :func:`run_reporting` puts, sent down the slot's pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put_nowait(self, item: tuple[str, dict[str, Any]]) -> None:
        self.conn.send(("event", *item))


def _die_with_parent() -> None:
    """On Linux, the kernel kills this worker when the driver dies (kill -9 included): no orphan trains on."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def serve(conn: Connection, threads: int, device: str) -> None:
    """A worker's loop: a trial in, ("done", row, record) out, until told to stop (``None``) or orphaned."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C and SIGTERM belong to the driver, which stops the slots
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    torch.set_num_threads(threads)
    while True:
        try:
            trial = conn.recv()
        except (EOFError, OSError):
            return
        if trial is None:
            return
        try:
            row, record = run_reporting(trial, _Pipe(conn), device=device, threads=threads)
            conn.send(("done", row, record))
        except ScalerError as e:  # bad data or settings: the same for every trial; the driver stops the run
            conn.send(("error", e.format()))
            return
        if poisons_process(row):
            return


@dataclass
class Busy:
    """The trial a slot holds, and when its worker began it (None until the worker says so: a new worker first
    imports torch, which is not the trial's time)."""

    trial: Trial
    since: float | None = None

    @property
    def limit(self) -> float | None:
        return self.trial.proxy.trial_timeout

    def over(self, now: float) -> float | None:
        """Seconds the trial has run when that is past its time limit (``proxy.trial_timeout``), else None."""
        if self.limit is None or self.since is None or now - self.since <= self.limit:
            return None
        return now - self.since


class Slot:
    """One worker process and its pipe."""

    def __init__(self, ctx: Any, threads: int, device: str, index: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child, threads, device), name=f"scaler-worker-{index}",
                                   daemon=True)
        self.process.start()
        child.close()
        self.busy: Busy | None = None

    def give(self, trial: Trial) -> bool:
        """Hand ``trial`` to the worker; False when it is gone (died while idle)."""
        try:
            self.conn.send(trial)
        except OSError:
            return False
        self.busy = Busy(trial)
        return True

    def messages(self) -> list[tuple[Any, ...]]:
        """Everything the worker has sent so far. A pipe that breaks (the process died mid-message) or a message
        that cannot be read ends the list, and the worker with it: it is treated as dead."""
        out = []
        try:
            while self.conn.poll():
                out.append(self.conn.recv())
        except Exception:
            with contextlib.suppress(Exception):
                self.process.kill()
            self.process.join(STOP_SECONDS)
        return out

    def alive(self) -> bool:
        return self.process.is_alive()

    def death(self) -> str:
        """How the process ended, for a row's message."""
        code = self.process.exitcode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(STOP_SECONDS)
        self.conn.close()

    def stop(self) -> None:
        """Ask the worker to finish, and kill it if it does not."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(STOP_SECONDS)
        self.kill()


def spawn_context() -> Any:
    """Fresh interpreters: CUDA cannot be forked, and a fork would copy the driver's threads and locks."""
    return mp.get_context("spawn")

"""What the user sees while a grid runs: rich bars and a live leaderboard, or plain log lines (``--quiet``).

Both implement the driver's observer interface (:class:`scaler.search.runner.Observer`) by shape: ``message``,
``begin``, ``report``, ``finished``, ``end``.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from scaler.arch.flops import human
from scaler.results import TrialRow

# rich averages speed over the last 30 s by default; a trial takes longer than that, so the whole run counts.
ETA_WINDOW_S = 7 * 24 * 3600


def _acc(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


class PlainUI:
    """One line per message and per finished trial, for logs and ``--quiet``."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stdout
        self.total, self.done, self.epochs, self.label = 0, 0, 1, "trials"
        self.t0 = time.perf_counter()

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def begin(self, total: int, epochs: int, label: str = "trials") -> None:
        self.total, self.done, self.epochs, self.label = total, 0, epochs, label
        self.t0 = time.perf_counter()

    def end(self) -> None:
        pass

    def report(self, trial_id: str, info: dict[str, Any]) -> None:
        pass

    def finished(self, row: TrialRow) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        msg = f" ({row.message})" if row.status != "ok" and row.message else ""
        where = "" if self.label in ("trials", "grid") else f" {self.label}"
        print(f"[{self.done}/{self.total}{where}] {row.trial_id}: {row.status} acc {_acc(row.accuracy)} "
              f"flops {human(row.flops)} (x{row.flops_ratio:.2f}) {row.train_seconds:.1f}s "
              f"{row.images_per_second:.0f} img/s [{elapsed:.0f}s elapsed]{msg}", file=self.stream, flush=True)


class RichUI(PlainUI):
    """A bar for the whole run, a bar per running trial, and the current top candidates."""

    def __init__(self, console: Any):
        super().__init__()
        self.console = console
        self.leaders: list[TrialRow] = []
        self.last_acc: dict[str, float] = {}
        self.tasks: dict[str, Any] = {}
        self.live: Any = None
        self.grid: Any = None
        self.trials: Any = None

    def message(self, text: str) -> None:
        self.console.print(text)

    def begin(self, total: int, epochs: int, label: str = "trials") -> None:
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if label.startswith("rung"):
            self.leaders = []  # a new rung: its own standings (a grid's confirmation round keeps the grid's)
        super().begin(total, epochs, label)
        self.grid = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
                             speed_estimate_period=ETA_WINDOW_S)
        self.grid_task = self.grid.add_task("trials", total=total)
        self.trials = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24),
                               TextColumn("{task.fields[status]}"), console=self.console)
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self.live.__enter__()

    def end(self) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(None, None, None)
            self.live = None

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        where = "" if self.label in ("trials", "grid") else f", {self.label}"
        table = Table(title=f"leaderboard (validation accuracy{where})", title_justify="left", expand=False)
        for col in ("trial", "α", "β", "γ", "FLOPs", "× base", "accuracy"):
            table.add_column(col, justify="left" if col == "trial" else "right")
        for r in sorted(self.leaders, key=lambda r: -r.accuracy)[:6]:
            table.add_row(r.trial_id, f"{r.alpha:.3f}", f"{r.beta:.3f}", f"{r.gamma:.3f}", human(r.flops),
                          f"{r.flops_ratio:.2f}", f"{r.accuracy:.4f}")
        return Group(self.grid, self.trials, table)

    def report(self, trial_id: str, info: dict[str, Any]) -> None:
        if self.trials is None:
            return
        event = info.get("event")
        if trial_id not in self.tasks:
            self.tasks[trial_id] = self.trials.add_task(f"  {trial_id}", total=self.epochs, status="starting")
        elif event == "start":  # a retried trial (its worker died) starts over on the same bar
            self.trials.reset(self.tasks[trial_id], total=self.epochs, status="restarting")
        task = self.tasks[trial_id]
        if event == "epoch":
            self.last_acc[trial_id] = info.get("accuracy", float("nan"))
            self.trials.update(task, completed=info.get("epoch", 0))
        if event in ("step", "epoch"):
            speed = f" {info['images_per_second']:.0f} img/s" if "images_per_second" in info else ""
            self.trials.update(task, status=f"epoch {info.get('epoch', 1)}/{self.epochs} "
                               f"loss {info.get('loss', float('nan')):.3f} "
                               f"acc {_acc(self.last_acc.get(trial_id))}{speed}")

    def finished(self, row: TrialRow) -> None:
        self.done += 1
        self.last_acc.pop(row.trial_id, None)
        task = self.tasks.pop(row.trial_id, None)
        if task is not None:
            self.trials.remove_task(task)
        self.grid.update(self.grid_task, completed=self.done)
        if row.status == "ok":
            self.leaders.append(row)
        else:
            self.console.print(f"[yellow]{row.trial_id}: {row.status}: {row.message}")
        if self.live is not None:
            self.live.update(self._render())

"""What the user sees while a grid runs: rich bars and a live leaderboard, or plain log lines (``--quiet``)."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from scaler.flops import human


def _acc(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


class PlainUI:
    """One line per finished trial (and per epoch), for logs and ``--quiet``."""

    def __init__(self, total: int, done: int, epochs: int, stream: Any = None):
        self.total, self.done, self.epochs = total, done, epochs
        self.stream = stream or sys.stdout
        self.t0 = time.perf_counter()

    def __enter__(self) -> PlainUI:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def report(self, trial_id: str, info: dict[str, Any]) -> None:
        pass

    def finished(self, row: dict[str, Any]) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        msg = f" ({row['message']})" if row.get("status") != "ok" and row.get("message") else ""
        print(f"[{self.done}/{self.total}] {row['trial_id']}: {row.get('status')} acc {_acc(row.get('accuracy'))} "
              f"flops {human(row.get('flops', 0))} (x{row.get('flops_ratio', float('nan')):.2f}) "
              f"{row.get('train_seconds', 0):.1f}s {row.get('images_per_second', 0):.0f} img/s "
              f"[{elapsed:.0f}s elapsed]{msg}", file=self.stream, flush=True)


class RichUI(PlainUI):
    """A bar for the whole grid, a bar per running trial, and the current top candidates."""

    def __init__(self, total: int, done: int, epochs: int, console: Any, leaders: list[dict[str, Any]]):
        super().__init__(total, done, epochs)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.leaders = [r for r in leaders if r.get("status") == "ok"]
        # rich's own ETA averages over the last 30 s, and trials take longer than that: estimate per trial.
        self.grid = Progress(TextColumn("[bold]grid"), BarColumn(), MofNCompleteColumn(), TextColumn("trials"),
                             TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), console=console)
        self.grid_task = self.grid.add_task("grid", total=total, completed=done, eta="after the first trial")
        self.first_done = done  # trials finished before this run: not part of its pace
        self.last_acc: dict[str, float] = {}
        self.trials = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24),
                               TextColumn("{task.fields[status]}"), console=console)
        self.tasks: dict[str, Any] = {}
        self.live: Any = None

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        table = Table(title="leaderboard (validation accuracy)", title_justify="left", expand=False)
        for col in ("trial", "α", "β", "γ", "FLOPs", "× base", "accuracy"):
            table.add_column(col, justify="left" if col == "trial" else "right")
        for r in sorted(self.leaders, key=lambda r: -r["accuracy"])[:6]:
            table.add_row(str(r["trial_id"]), f"{float(r['alpha']):.3f}", f"{float(r['beta']):.3f}",
                          f"{float(r['gamma']):.3f}", human(float(r["flops"])),
                          f"{float(r.get('flops_ratio') or float('nan')):.2f}", f"{float(r['accuracy']):.4f}")
        return Group(self.grid, self.trials, table)

    def __enter__(self) -> RichUI:
        from rich.live import Live

        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(*exc)

    def report(self, trial_id: str, info: dict[str, Any]) -> None:
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

    def finished(self, row: dict[str, Any]) -> None:
        self.done += 1
        self.last_acc.pop(row["trial_id"], None)
        task = self.tasks.pop(row["trial_id"], None)
        if task is not None:
            self.trials.remove_task(task)
        left = (time.perf_counter() - self.t0) / (self.done - self.first_done) * max(0, self.total - self.done)
        hours, rest = divmod(int(left), 3600)
        self.grid.update(self.grid_task, completed=self.done, eta=f"{hours}:{rest // 60:02d}:{rest % 60:02d}")
        if row.get("status") == "ok":
            self.leaders.append(row)
        else:
            self.console.print(f"[yellow]{row['trial_id']}: {row.get('status')}: {row.get('message', '')}")
        if self.live is not None:
            self.live.update(self._render())

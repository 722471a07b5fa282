"""What the user sees: the live rich display and the plain log lines."""

from __future__ import annotations

import io

from rich.console import Console

from scaler.results import TrialRow
from scaler.ui.progress import PlainUI, RichUI


def _row(tid: str, acc: float) -> TrialRow:
    return TrialRow(trial_id=tid, kind="compound", status="ok", accuracy=acc, alpha=1.2, beta=1.1, gamma=1.15, phi=1.0,
                    depth=1.2, width=1.1, resolution=32, params=1000, flops=2_000_000, flops_ratio=2.01,
                    train_seconds=3.0, images_per_second=900.0)


def test_rich_display_shows_grid_bar_trial_bar_and_leaderboard():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=130, color_system=None)
    ui = RichUI(console)
    ui.message("data: digits")
    ui.begin(3, 5)
    try:
        ui.report("a-s0", {"event": "start"})
        ui.report("a-s0", {"event": "epoch", "epoch": 1, "loss": 0.9, "accuracy": 0.71})
        ui.report("a-s0", {"event": "step", "epoch": 2, "loss": 0.8, "images_per_second": 1234})
        console.print(ui._render())
        ui.finished(_row("a-s0", 0.8123))
        ui.report("b-s0", {"event": "start"})
        console.print(ui._render())
    finally:
        ui.end()
    text = buf.getvalue()
    assert "data: digits" in text and "0/3" in text and "1/3" in text
    assert "epoch 2/5 loss 0.800 acc 0.7100 1234 img/s" in text  # the running trial keeps its last accuracy
    assert "leaderboard" in text and "a-s0" in text and "0.8123" in text and "2.01" in text
    assert "ETA -:--:--" in text  # no pace before the first trial ends; rich's estimate (whole run) after it
    ui2 = RichUI(Console(file=io.StringIO(), force_terminal=True))
    ui2.begin(1, 5)
    ui2.report("a-s0", {"event": "start"})
    ui2.report("a-s0", {"event": "start"})  # a retried trial keeps one bar
    assert len(ui2.trials.tasks) == 1
    ui2.end()


def test_plain_lines_for_quiet_runs():
    buf = io.StringIO()
    ui = PlainUI(stream=buf)
    ui.begin(2, 5)
    ui.finished(_row("a-s0", 0.8123))
    assert buf.getvalue().startswith("[1/2] a-s0: ok acc 0.8123 flops 2M (x2.01) 3.0s 900 img/s")

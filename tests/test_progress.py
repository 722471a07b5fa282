"""What the user sees: the live rich display and the plain log lines."""

from __future__ import annotations

import io

from rich.console import Console

from scaler.progress import PlainUI, RichUI


def _row(tid: str, acc: float) -> dict:
    return {"trial_id": tid, "status": "ok", "accuracy": acc, "alpha": 1.2, "beta": 1.1, "gamma": 1.15,
            "flops": 2.0e6, "flops_ratio": 2.01, "train_seconds": 3.0, "images_per_second": 900.0}


def test_rich_display_shows_grid_bar_trial_bar_and_leaderboard():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=130, color_system=None)
    with RichUI(3, 0, 5, console, []) as ui:
        ui.report("a-s0", {"event": "start"})
        ui.report("a-s0", {"event": "epoch", "epoch": 1, "loss": 0.9, "accuracy": 0.71})
        ui.report("a-s0", {"event": "step", "epoch": 2, "loss": 0.8, "images_per_second": 1234})
        console.print(ui._render())
        ui.finished(_row("a-s0", 0.8123))
        ui.report("b-s0", {"event": "start"})
        console.print(ui._render())
    text = buf.getvalue()
    assert "grid" in text and "0/3 trials" in text and "1/3 trials" in text
    assert "epoch 2/5 loss 0.800 acc 0.7100 1234 img/s" in text  # the running trial keeps its last accuracy
    assert "leaderboard" in text and "a-s0" in text and "0.8123" in text and "2.01" in text
    assert "ETA after the first trial" in text and "ETA 0:00:" in text  # then an estimate per finished trial
    ui2 = RichUI(1, 0, 5, Console(file=io.StringIO(), force_terminal=True), [])
    ui2.report("a-s0", {"event": "start"})
    ui2.report("a-s0", {"event": "start"})  # a retried trial keeps one bar
    assert len(ui2.trials.tasks) == 1


def test_plain_lines_for_quiet_runs():
    buf = io.StringIO()
    ui = PlainUI(2, 0, 5, stream=buf)
    ui.finished(_row("a-s0", 0.8123))
    assert buf.getvalue().startswith("[1/2] a-s0: ok acc 0.8123 flops 2M (x2.01) 3.0s 900 img/s")

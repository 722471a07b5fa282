"""Faults a long search meets (issue #28): a trial that fails for a passing reason is retrained by the next run of
the same command, up to ``--max-attempts``; every attempt is counted in its row and kept in its JSON record; the
grid's summary names what failed for good. The fault is real: a factory network whose training raises CUDA's
out-of-memory error while a marker file exists (raised on the CPU, the same exception type)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import run_scaler

from scaler.results import RunDir
from scaler.search.halving import Cuts, promote
from scaler.search.plan import Candidate, Trial

NET = '''
import os

from torch import nn


class Net(nn.Module):
    def __init__(self, width, num_classes, in_channels):
        super().__init__()
        self.width = width
        c = max(4, int(8 * width))
        self.body = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x):
        if self.training and self.width > 1 and os.path.exists(os.environ["SCALER_TEST_FAULT"]):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.body(x)


def make_net(depth, width, num_classes, in_channels):
    return Net(width, num_classes, in_channels)
'''
SPEC = """name: f
factory: net:make_net
resolution: 10
scaling: {resolution_divisor: 1}
num_classes: 10
in_channels: 1
search: {strategy: grid, confirm: 0, step: 0.2, beta: [1, 1.2], gamma: [1, 1.2]}
proxy: {dataset: digits, subset: 200, epochs: 1}
"""


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch) -> Path:
    """A grid of 6 trials whose wider networks run out of memory while ``FAULT`` exists."""
    (tmp_path / "net.py").write_text(NET)
    (tmp_path / "f.yaml").write_text(SPEC)
    (tmp_path / "FAULT").write_text("")
    monkeypatch.setenv("SCALER_TEST_FAULT", str(tmp_path / "FAULT"))
    return tmp_path


def grid(cwd: Path, *flags: str) -> str:
    return run_scaler("grid", "f.yaml", "--quiet", "--out", "R", *flags, cwd=cwd).stdout


def test_a_failed_trial_is_retrained_by_the_next_run_until_it_succeeds_or_runs_out_of_attempts(faulty: Path):
    run = RunDir(faulty / "R")
    out = grid(faulty, "--max-attempts", "2")
    wide = sorted(r["trial_id"] for r in run.rows() if r["status"] == "failed")
    assert wide and "width-s0" in wide and all("CUDA out of memory" in r["message"] for r in run.rows()
                                                if r["trial_id"] in wide)
    assert "failed; rerun the same command to retry" in out and "(attempt 1 of 2)" in out

    # --no-retry: today's behaviour, the failed rows stay as they are
    out = grid(faulty, "--max-attempts", "2", "--no-retry")
    assert "running 0 on" in out and f"{len(wide)} trial(s) failed for good" in out

    # the fault persists: the second attempt fails too, and it was the last
    out = grid(faulty, "--max-attempts", "2")
    assert f"retrying {len(wide)} that failed" in out and f"{len(wide)} trial(s) failed for good" in out
    assert {r["trial_id"]: r["attempts"] for r in run.rows() if r["trial_id"] in wide} == dict.fromkeys(wide, "2")

    # the fault is gone: a higher limit retrains them once more, and they end ok; every attempt is on record
    (faulty / "FAULT").unlink()
    out = grid(faulty, "--max-attempts", "3")
    rows = {r["trial_id"]: r for r in run.rows()}
    assert all(rows[t]["status"] == "ok" and rows[t]["attempts"] == "3" for t in wide), rows
    assert "failed for good" not in out and "rerun the same command to retry" not in out
    record = json.loads((run.trials / f"{wide[0]}.json").read_text())
    assert [a["status"] for a in record["attempts"]] == ["failed", "failed", "ok"]
    assert "CUDA out of memory" in record["attempts"][0]["message"]
    # the CSV keeps every attempt's row; every reader takes the last one per trial
    assert run.csv.read_text().count(f"\n{wide[0]},") == 3
    assert len(run.rows()) == len({r["trial_id"] for r in run.rows()})


def test_a_halving_cut_once_made_is_frozen_and_a_later_success_does_not_move_it(tmp_path: Path):
    """Issue #28 item 2: the cut after a rung is recorded when first made; a trial of that rung that succeeds on a
    later attempt (here: its row rewritten, as a retry would append) leaves it where it was."""
    def trial(a: float) -> Trial:
        c = Candidate("compound", a, 1.1, 1.1, 1.0)
        return Trial(trial_id=f"{c.key}-s0-r0", candidate=c, seed=0, spec={}, proxy={"epochs": 9}, base={},
                     image_size=8)

    trials = [trial(1 + i / 10) for i in range(6)]  # ceil(6/3) = 2 go on
    rows = {t.trial_id: {"status": "ok", "accuracy": str(0.9 - i / 10)} for i, t in enumerate(trials)}
    rows[trials[5].trial_id] = {"status": "failed", "accuracy": ""}
    run = RunDir(tmp_path)
    going = Cuts(run).promote(0, trials, rows, eta=3)
    assert going == trials[:2]
    rows[trials[5].trial_id] = {"status": "ok", "accuracy": "0.99"}  # the retry succeeds, best of all
    again = Cuts(run)  # a rerun reads the cut back
    assert again.made(0) and again.promote(0, trials, rows, eta=3) == trials[:2]
    assert promote(trials, rows, eta=3) != trials[:2], "unfrozen, the success would have moved the cut"
    assert Cuts(run).race(lambda: ["a", "b"]) == ["a", "b"] and Cuts(run).race(lambda: ["c"]) == ["a", "b"]

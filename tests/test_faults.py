"""Faults a long search meets (issue #28): a trial that fails for a passing reason is retrained by the next run of
the same command, up to ``--max-attempts``; every attempt is counted in its row and kept in its JSON record; the
grid's summary names what failed for good. The faults are real: a factory network whose training raises an I/O
error while a marker file exists; one that runs out of memory above a batch size (CUDA's exception type, raised on
the CPU), retried in micro-batches in the same run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from _cli import run_scaler
from _specs import fake_trial

from scaler.results import RunDir
from scaler.search.halving import Cuts, promote
from scaler.search.trial import Trial

NET = '''
import os
import time

import torch
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
            raise OSError(5, "Input/output error (flaky file system)")
        if self.training and self.width > 1 and os.environ.get("SCALER_TEST_HANG"):
            time.sleep(3600)
        if self.training and self.width > 1 and os.environ.get("SCALER_TEST_CUDA_ERROR"):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        fits = os.environ.get("SCALER_TEST_FITS")
        if self.training and fits and x.shape[0] > float(fits):
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate 2.00 GiB for {x.shape[0]} images")
        return self.body(x)


def make_net(depth, width, num_classes, in_channels):
    return Net(width, num_classes, in_channels)
'''
SPEC = """name: f
factory: MODULE:make_net
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
    module = f"net_{tmp_path.name}"  # a module of its own: grids run in this process, which holds one per name
    (tmp_path / f"{module}.py").write_text(NET)
    (tmp_path / "f.yaml").write_text(SPEC.replace("MODULE", module))
    (tmp_path / "FAULT").write_text("")
    monkeypatch.setenv("SCALER_TEST_FAULT", str(tmp_path / "FAULT"))
    return tmp_path


def grid(cwd: Path, *flags: str) -> str:
    return run_scaler("grid", "f.yaml", "--quiet", "--out", "R", *flags, cwd=cwd).stdout


def test_a_failed_trial_is_retrained_by_the_next_run_until_it_succeeds_or_runs_out_of_attempts(faulty: Path):
    run = RunDir(faulty / "R")
    out = grid(faulty, "--max-attempts", "2")
    wide = sorted(r["trial_id"] for r in run.rows() if r["status"] == "failed")
    assert wide and "width-s0" in wide and all("Input/output error" in r["message"] for r in run.rows()
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
    assert "Input/output error" in record["attempts"][0]["message"]
    # the CSV keeps every attempt's row; every reader takes the last one per trial
    assert run.csv.read_text().count(f"\n{wide[0]},") == 3
    assert len(run.rows()) == len({r["trial_id"] for r in run.rows()})


def test_a_halving_cut_once_made_is_frozen_and_a_later_success_does_not_move_it(tmp_path: Path):
    """Issue #28 item 2: the cut after a rung is recorded when first made; a trial of that rung that succeeds on a
    later attempt (here: its row rewritten, as a retry would append) leaves it where it was."""
    def trial(a: float) -> Trial:
        return fake_trial("compound", a, 1.1, 1.1)

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


def test_out_of_memory_is_retried_in_micro_batches_of_the_same_batch(faulty: Path, monkeypatch):
    """Item 4: a trial out of memory trains again in the same run with its batch split (64 -> 32 -> 16 images per
    forward pass), ends ok, and records the micro-batch; where one image does not fit, one line says so."""
    (faulty / "FAULT").unlink()
    monkeypatch.setenv("SCALER_TEST_FITS", "16")
    grid(faulty, "--batch-size", "64", "--limit", "2")
    run = RunDir(faulty / "R")
    rows = run.rows()
    assert [(r["status"], r["micro_batch"], r["attempts"]) for r in rows] == [("ok", "16", "1")] * 2
    record = run.trial_record(rows[0]["trial_id"])
    assert [t["micro_batch"] for t in record["out_of_memory"]] == [64, 32]
    assert "2.00 GiB for 64 images" in record["out_of_memory"][0]["message"]

    monkeypatch.setenv("SCALER_TEST_FITS", "0.5")  # not even one image fits
    out = grid(faulty, "--batch-size", "64", "--limit", "1")
    row = run.rows()[-1]
    assert row["status"] == "failed" and row["micro_batch"] == "0"
    assert row["message"].startswith("MemoryError: out of memory even with the batch of 64 split into "
                                     "micro-batches of 1 image(s): OutOfMemoryError: CUDA out of memory"), row
    assert "\n" not in row["message"] and "failed; rerun the same command to retry" in out


def _worker_pids(run: RunDir) -> dict[str, int]:
    """The process that trained each trial, in the order the trials finished (a trial stopped or lost with its
    worker has none)."""
    records = [run.trial_record(r["trial_id"]) for r in run.rows()]
    return {r["trial_id"]: r["worker"]["pid"] for r in records if r and "worker" in r}


def test_a_hung_trial_is_stopped_at_its_time_limit_and_the_grid_goes_on(faulty: Path, monkeypatch):
    """Item 6: with --trial-timeout, even one worker trains in a slot; a trial that hangs (the wider networks
    here) is killed with its slot once over its limit, recorded as failed with a message naming the limit, and
    the other trials train in a new slot."""
    (faulty / "FAULT").unlink()
    monkeypatch.setenv("SCALER_TEST_HANG", "1")
    t0 = time.monotonic()
    out = grid(faulty, "--trial-timeout", "4")
    took = time.monotonic() - t0
    rows = RunDir(faulty / "R").rows()
    hung = [r for r in rows if r["status"] == "failed"]
    assert {r["trial_id"] for r in hung} >= {"width-s0"} and len(hung) < len(rows), rows
    assert all(r["message"].startswith("timed out: stopped after 4 s, over its limit of 4 s (--trial-timeout")
               for r in hung), hung
    assert all(r["status"] == "ok" for r in rows if r not in hung)
    assert "failed; rerun the same command to retry" in out
    assert took < 120, f"{took:.0f} s for {len(hung)} hung trial(s) of 4 s"  # a slot per hung trial, not hours
    trained = set(_worker_pids(RunDir(faulty / "R")).values())
    assert os.getpid() not in trained and 1 <= len(trained) <= len(hung) + 1  # one slot, replaced after each hang


def test_a_cuda_error_retires_its_worker_and_no_later_trial_runs_in_that_process(faulty: Path, monkeypatch):
    """Item 5: after a CUDA error a process's context is unusable, so its slot starts a fresh worker; the other
    slot trains on, untouched."""
    (faulty / "FAULT").unlink()
    monkeypatch.setenv("SCALER_TEST_CUDA_ERROR", "1")
    grid(faulty, "--workers", "2")
    run = RunDir(faulty / "R")
    rows, pids = run.rows(), _worker_pids(run)
    order = list(pids)
    failed = [r["trial_id"] for r in rows if r["status"] == "failed"]
    assert failed and all("CUDA error: an illegal memory access" in r["message"] for r in rows
                          if r["trial_id"] in failed)
    for tid in failed:
        later = order[order.index(tid) + 1:]
        assert pids[tid] not in {pids[t] for t in later}, (tid, pids)
    assert len(set(pids.values())) >= 3  # two slots, and a new process after a CUDA error with trials to come


def test_worker_slots_are_kept_across_the_rungs_and_the_race(faulty: Path):
    """Item 5: one process per slot for the whole run: halving's rungs and its racing round reuse the two
    workers (each pays torch's import, CUDA and the dataset once), none of them the driver."""
    (faulty / "FAULT").unlink()
    (faulty / "f.yaml").write_text((faulty / "f.yaml").read_text().replace("strategy: grid", "strategy: halving, "
                                                                          "rungs: 1, max_seeds: 2"))
    grid(faulty, "--workers", "2", "--epochs", "3")
    run = RunDir(faulty / "R")
    rows, pids = run.rows(), _worker_pids(run)
    assert {r["rung"] for r in rows} == {"0", "1"} and {r["seed"] for r in rows} == {"0", "1"}, rows
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values(), pids

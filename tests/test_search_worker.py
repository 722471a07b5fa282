"""The worker side of a trial: one trial in, its row and per-epoch record out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _specs import TINY_YAML

import scaler.train.measure
from scaler.search.settings import load_grid_settings
from scaler.search.trial import plan_trials
from scaler.search.worker import run_trial

pytestmark = pytest.mark.usefixtures("one_thread")


def _base_trial(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_YAML + "proxy: {dataset: digits, epochs: 2, subset: 600, batch_size: 64, lr: 0.1}\n")
    s = load_grid_settings(path)
    return plan_trials(s.base, s.search, s.proxy, num_classes=10, in_channels=1)[0]


def test_a_trial_trains_and_records_its_curve(tmp_path: Path):
    trial = _base_trial(tmp_path)
    row, record = run_trial(trial, device="cpu", threads=1)
    assert (row.trial_id, row.status, row.epochs) == ("base-s0", "ok", 2)
    assert 0.3 < row.accuracy <= 1 and row.latency_ms > 0  # 10 classes: chance is 0.1
    assert [e["epoch"] for e in record["curve"]] == [1, 2] and record["row"]["accuracy"] == row.accuracy


def test_a_failure_after_training_keeps_what_training_measured(tmp_path: Path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no timer\non this device")

    monkeypatch.setattr(scaler.train.measure, "measure_latency", broken)
    row, record = run_trial(_base_trial(tmp_path), device="cpu", threads=1)
    assert row.status == "failed" and row.message == "RuntimeError: no timer on this device"
    assert 0.3 < row.accuracy <= 1 and row.train_seconds > 0 and not math.isnan(row.loss)
    assert record["row"]["status"] == "failed"

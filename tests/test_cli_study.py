"""`scaler study` argument handling (the trained study itself: tests/test_analysis_plots.py)."""

from __future__ import annotations

from pathlib import Path

from _cli import user_error


def test_a_missing_grid_is_named_before_any_device_or_executor_work(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = user_error(capsys, "study", "nowhere", "--device", "cuda")
    assert line == "error: nowhere: not a finished grid directory: run.yaml is missing (run `scaler grid` first)"


def test_an_unknown_strategy_is_one_line(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "unknown scaling strategy 'diagonal'" in user_error(capsys, "study", "nowhere", "--strategies",
                                                               "width,diagonal")

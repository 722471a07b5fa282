"""TensorBoard logs: one run per trial, written by the driver from the curves it receives, read back with
TensorBoard's own event reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _specs import TINY_YAML
from tensorboard.backend.event_processing import event_accumulator  # in .[test]: the reader is the check
from tensorboard.plugins.hparams import plugin_data_pb2

import scaler


def read_run(folder: Path):
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return acc


def test_every_trial_has_its_own_run_with_the_curve_it_recorded(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(TINY_YAML, encoding="utf-8")
    run = scaler.grid(tmp_path / "tiny.yaml", tmp_path / "run", dataset="digits", epochs=1, subset=200, step=0.4,
                      strategy="grid", confirm=0, tensorboard=True, progress=False)
    board = run.path / "tensorboard"
    ids = sorted(run.results["trial_id"])
    assert sorted(p.name for p in board.iterdir()) == ids
    for trial_id in ids:
        curve = json.loads((run.path / "trials" / f"{trial_id}.json").read_text(encoding="utf-8"))["curve"]
        acc = read_run(board / trial_id)
        assert set(acc.Tags()["scalars"]) >= {"train/loss", "validation/accuracy", "train/lr", "hparam/accuracy"}
        accuracy = acc.Scalars("validation/accuracy")
        assert [e.step for e in accuracy] == [round(p["budget"] * 1000) for p in curve]
        assert [e.value for e in accuracy] == pytest.approx([p["accuracy"] for p in curve], abs=1e-6)
        assert [e.value for e in acc.Scalars("train/lr")] == pytest.approx([p["lr"] for p in curve], rel=1e-6)
        assert len(list((board / trial_id).iterdir())) == 1  # one event file, no timestamped sub-run
        # the hparams (coefficients and cost) sit in the trial's own run
        plugin = acc.PluginTagToContent("hparams")
        assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(plugin)
        start = plugin_data_pb2.HParamsPluginData.FromString(plugin["_hparams_/session_start_info"])
        hparams = start.session_start_info.hparams
        row = run.results.set_index("trial_id").loc[trial_id]
        assert hparams["kind"].string_value == row["kind"]
        assert [hparams[k].number_value for k in ("alpha", "beta", "gamma", "flops", "params")] == pytest.approx(
            [float(row[k]) for k in ("alpha", "beta", "gamma", "flops", "params")])
    # a resumed grid trains nothing and writes nothing twice
    before = {p.name: len(read_run(p).Scalars("validation/accuracy")) for p in board.iterdir()}
    again = scaler.grid(tmp_path / "tiny.yaml", tmp_path / "run", dataset="digits", epochs=1, subset=200, step=0.4,
                        strategy="grid", confirm=0, tensorboard=True, progress=False)
    assert again.ran == 0
    assert {p.name: len(read_run(p).Scalars("validation/accuracy")) for p in board.iterdir()} == before


def test_a_trial_written_again_replaces_its_run(tmp_path: Path):
    from scaler.results import TrialRow
    from scaler.search.tensorboard import write_trial

    row = TrialRow(trial_id="base-s0", kind="base", alpha=1, beta=1, gamma=1, phi=0, depth=1, width=1,
                   resolution=16, params=100, flops=1000, accuracy=0.5, status="ok", epochs=1, budget=1.0)
    record = {"curve": [{"epoch": 1, "budget": 1.0, "loss": 1.0, "accuracy": 0.5, "lr": 0.1}]}
    for _ in range(2):  # a trial retried after a crash
        folder = write_trial(tmp_path, row, record)
    assert len(read_run(folder).Scalars("validation/accuracy")) == 1


def test_logs_without_tensorboard_installed_are_one_line_before_training(tmp_path: Path, monkeypatch):
    import importlib.util

    from scaler.errors import ScalerError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    (tmp_path / "tiny.yaml").write_text(TINY_YAML, encoding="utf-8")
    with pytest.raises(ScalerError, match=r"pip install 'scaler\[tensorboard\]'"):
        scaler.grid(tmp_path / "tiny.yaml", tmp_path / "run", dataset="digits", tensorboard=True, progress=False)
    assert not (tmp_path / "run" / "results.csv").exists()

"""TensorBoard logs of a run: one event-file run per trial under ``DIR/tensorboard/<trial_id>/``, written by the
driver from the per-epoch curve each finished trial returns (workers write nothing). Steps are thousandths of an
epoch, so the fractional budgets of halving's rungs and whole epochs share one axis across trials."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.results import TrialRow

STEPS_PER_EPOCH = 1000
INSTALL = "TensorBoard logs (proxy.tensorboard, --tensorboard) need the tensorboard package: pip install " \
          "'scaler[tensorboard]'"


def check_installed() -> None:
    """A one-line error before any training when the logs are asked for and cannot be written."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ScalerError(INSTALL)


def hparams_of(row: TrialRow) -> dict[str, Any]:
    """What tells the trials apart in TensorBoard's HParams tab: the candidate and its real cost."""
    return {"kind": row.kind, "alpha": row.alpha, "beta": row.beta, "gamma": row.gamma, "phi": row.phi,
            "seed": row.seed, "rung": row.rung, "resolution": row.resolution, "flops": row.flops,
            "params": row.params}


def write_trial(root: Path, row: TrialRow, record: dict[str, Any] | None) -> Path:
    """The trial's run, written whole: an earlier attempt's events (a trial retried after a crash) are replaced,
    so a resumed grid never holds a step twice."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    folder = root / row.trial_id
    shutil.rmtree(folder, ignore_errors=True)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for point in (record or {}).get("curve") or []:
            step = round(float(point.get("budget", point.get("epoch", 0))) * STEPS_PER_EPOCH)
            for tag, key in (("train/loss", "loss"), ("validation/accuracy", "accuracy"), ("train/lr", "lr")):
                if point.get(key) is not None:
                    writer.add_scalar(tag, float(point[key]), step)
        metrics = {"hparam/accuracy": row.accuracy, "hparam/test_accuracy": row.test_accuracy}
        end = round((row.budget if row.budget == row.budget else row.epochs) * STEPS_PER_EPOCH)
        # the HParams summaries go into the trial's own run (SummaryWriter.add_hparams would open a sub-run)
        for summary in hparams(hparams_of(row), {k: v for k, v in metrics.items() if v == v}):
            writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            if value == value:  # not NaN: a failed trial has no accuracy
                writer.add_scalar(tag, value, end)
    finally:
        writer.close()
    return folder

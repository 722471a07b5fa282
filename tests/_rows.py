"""Hand-made results rows for tests of what reads results (fit, plots, study)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from scaler.results import RunDir, TrialRow

_FIELDS = {f.name for f in fields(TrialRow)}
# params: a real network has some (results refuse 0); the quickstart base's count
_DEFAULTS = {"phi": 0.0, "depth": 1.0, "width": 1.0, "resolution": 16, "params": 188_412}


def append_row(run: RunDir, values: dict[str, Any]) -> None:
    """Append a row given as a dict; identity fields it leaves out take neutral defaults, keys that are not
    TrialRow fields become extra columns (e.g. a study's ``strategy``)."""
    row = TrialRow(**{**_DEFAULTS, **{k: v for k, v in values.items() if k in _FIELDS}})
    run.append(row, None, **{k: v for k, v in values.items() if k not in _FIELDS})

"""The bench CSV (what ``scaler bench`` writes, ``scaler emit --max-latency-ms`` reads): one row per network,
runtime and batch size, with the median and interquartile range of one call. No torch."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from scaler.errors import ScalerError


@dataclass(frozen=True)
class Latency:
    """One row of a bench CSV: a network, a runtime and a batch size, and what one call took."""

    name: str
    resolution: int
    params: int
    flops: int
    activations: int
    runtime: str  # eager | onnxruntime
    device: str
    threads: int
    batch: int
    median_ms: float
    iqr_ms: float
    runs: int  # calls timed (after the warm-up)


COLUMNS = tuple(f.name for f in fields(Latency))


def write_latencies(rows: Sequence[Latency], path: Path) -> None:
    """The rows as CSV (the columns of :class:`Latency`)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
    except OSError as e:
        raise ScalerError(f"cannot write the bench CSV: {e.strerror}", where=path) from None


def read_latencies(path: str | Path, runtime: str = "eager", batch: int = 1) -> dict[str, float]:
    """Median latency (ms) by network name, of ``runtime`` at ``batch`` images, from a bench CSV."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=p) from None
    missing = [c for c in ("name", "runtime", "batch", "median_ms") if rows and c not in rows[0]]
    if not rows or missing:
        raise ScalerError(f"not a bench CSV (written by scaler bench): {'no rows' if not rows else 'no column '}"
                          f"{', '.join(missing)}", where=p)
    out: dict[str, float] = {}
    for line, row in enumerate(rows, start=2):
        if row["runtime"] != runtime or row["batch"] != str(batch):
            continue
        try:
            value = float(row["median_ms"])
        except ValueError:
            value = math.nan
        if not value > 0:
            raise ScalerError(f"median_ms {row['median_ms']!r} is not a latency", where=f"{p}:{line}",
                              field="median_ms")
        out[row["name"]] = value
    return out

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
    layout: str = "channels_last"  # eager's memory format (channels_last | contiguous); onnx for ONNX Runtime


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


@dataclass(frozen=True)
class Measured:
    """A bench CSV's figure for one network, with what identifies the network (when the CSV records it)."""

    median_ms: float
    line: int
    flops: int | None = None
    resolution: int | None = None


def read_latencies(path: str | Path, runtime: str = "eager", batch: int = 1) -> dict[str, Measured]:
    """The figures of ``runtime`` at ``batch`` images by network name, from a bench CSV. A name measured twice
    (two runs appended, or two networks of one name) is refused: which figure is meant cannot be told."""
    p = Path(path)
    try:  # utf-8-sig: a CSV saved by a spreadsheet starts with a byte-order mark
        with open(p, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except UnicodeDecodeError:
        raise ScalerError("not a UTF-8 text file (a bench CSV is text, written by scaler bench)", where=p) from None
    except csv.Error as e:
        raise ScalerError(f"not a readable CSV: {e}", where=p) from None
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=p) from None
    missing = [c for c in ("name", "runtime", "batch", "median_ms") if rows and c not in rows[0]]
    if not rows or missing:
        raise ScalerError(f"not a bench CSV (written by scaler bench): {'no rows' if not rows else 'no column '}"
                          f"{', '.join(missing)}", where=p)
    out: dict[str, Measured] = {}
    for line, row in enumerate(rows, start=2):
        if row["runtime"] != runtime or row["batch"] != str(batch):
            continue
        value = _number(row["median_ms"])
        if not value > 0:
            raise ScalerError(f"median_ms {row['median_ms']!r} is not a latency", where=f"{p}:{line}",
                              field="median_ms")
        if row["name"] in out:
            raise ScalerError(f"{row['name']} has a second {runtime} batch-{batch} row (the first is on line "
                              f"{out[row['name']].line})", where=f"{p}:{line}", field="name")
        flops, resolution = _number(row.get("flops")), _number(row.get("resolution"))
        out[row["name"]] = Measured(value, line, None if math.isnan(flops) else int(flops),
                                    None if math.isnan(resolution) else int(resolution))
    return out


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan

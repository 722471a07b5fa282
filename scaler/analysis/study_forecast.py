"""A study's forecast: accuracy at phi = K+1..K+N from its measured phi = 0..K (:mod:`scaler.analysis.forecast`),
its back-test (refit without each strategy's largest measured phi, predict it), and ``forecast.csv``, the file
the study plot, the report and ``scaler emit`` read. No torch.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scaler.analysis.forecast import MIN_POINTS, Point, forecast
from scaler.errors import ScalerError
from scaler.results import read_results, write_atomic

LEVEL = 0.9  # the prediction intervals' coverage
COLUMNS = ("row", "strategy", "phi", "flops", "flops_ratio", "resolution", "accuracy", "low", "high", "measured",
           "level", "exponent", "note")


@dataclass(frozen=True)
class Target:
    """A network to forecast: a strategy at a phi beyond the study, with its real FLOPs and input size."""

    strategy: str
    phi: float
    flops: float
    resolution: int


@dataclass
class ForecastRow:
    """One row of forecast.csv: a forecast, a back-test (``measured`` set) or a strategy without forecast."""

    row: str  # forecast | back-test | skipped
    strategy: str
    phi: float | None = None
    flops: float | None = None  # real multiply-accumulates per image
    flops_ratio: float | None = None
    resolution: int | None = None
    accuracy: float | None = None  # predicted
    low: float | None = None  # the ``level`` prediction interval of accuracy
    high: float | None = None
    measured: float | None = None  # back-test: the mean accuracy the study measured there
    level: float = LEVEL
    exponent: float | None = None  # the shared c of the fit this row comes from
    note: str = ""

    @property
    def covered(self) -> bool:
        """Back-test: the measured accuracy lies inside the interval."""
        return None not in (self.low, self.high, self.measured) and self.low <= self.measured <= self.high


@dataclass
class StudyForecast:
    rows: list[ForecastRow] = field(default_factory=list)

    def of(self, kind: str) -> list[ForecastRow]:
        return [r for r in self.rows if r.row == kind]


def study_points(csv_path: str | Path) -> tuple[dict[str, dict[float, Point]], float]:
    """Measured points per strategy by phi (the base, phi 0, under every strategy) from study.csv's finished
    trials, and the base's FLOPs."""
    df = read_results(csv_path)
    ok = df[df["status"] == "ok"]
    points: dict[tuple[str, float], Point] = {}
    for (kind, phi), g in ok.groupby(["kind", "phi"]):
        points[str(kind), float(phi)] = Point(float(g["flops"].mean()), tuple(1 - g["accuracy"].astype(float)))
    base = [p for (k, _), p in points.items() if k == "base"]
    if not base:
        raise ScalerError("no finished base trial (phi 0) to forecast from", where=csv_path)
    out: dict[str, dict[float, Point]] = {}
    for (kind, phi), p in points.items():
        if kind != "base":
            out.setdefault(kind, {0.0: base[0]})[phi] = p
    return out, base[0].flops


def study_forecast(csv_path: str | Path, targets: Sequence[Target], level: float = LEVEL,
                   resamples: int = 200) -> StudyForecast:
    """Forecast every target from all measured phi, and back-test each strategy on its largest measured phi."""
    measured, base_flops = study_points(csv_path)
    data = {s: list(p.values()) for s, p in measured.items()}
    out = StudyForecast()
    wanted: dict[str, list[float]] = {}
    for t in targets:
        if t.strategy in data:
            wanted.setdefault(t.strategy, []).append(t.flops)
    made, skipped = forecast(data, wanted, level=level, resamples=resamples)
    by = {(f.strategy, f.flops): f for f in made}
    for t in targets:
        if (f := by.get((t.strategy, t.flops))) is not None:
            out.rows.append(ForecastRow("forecast", t.strategy, t.phi, t.flops, t.flops / base_flops, t.resolution,
                                        1 - f.error, 1 - f.high, 1 - f.low, level=level, exponent=f.exponent))
    out.rows.sort(key=lambda r: (r.strategy, r.phi or 0))
    out.rows += [ForecastRow("skipped", s, note=why) for s, why in sorted(skipped.items())]
    out.rows += _back_tests(measured, base_flops, level, resamples)
    return out


def _back_tests(measured: Mapping[str, Mapping[float, Point]], base_flops: float, level: float,
                resamples: int) -> list[ForecastRow]:
    """Each strategy's largest measured phi predicted from a fit without it, beside what was measured."""
    held = {s: max(p) for s, p in measured.items()}
    train = {s: [q for phi, q in p.items() if phi != held[s]] for s, p in measured.items()}
    wanted = {s: [measured[s][held[s]].flops] for s in train}
    made, skipped = forecast(train, wanted, level=level, resamples=resamples)
    rows = []
    for f in made:
        phi = held[f.strategy]
        rows.append(ForecastRow("back-test", f.strategy, phi, f.flops, f.flops / base_flops, None, 1 - f.error,
                                1 - f.high, 1 - f.low, 1 - measured[f.strategy][phi].mean, level=level,
                                exponent=f.exponent))
    rows += [ForecastRow("back-test", s, held[s], note=f"no back-test: without phi {held[s]:g}, {why}")
             for s, why in sorted(skipped.items())]
    return rows


def write_forecast(path: str | Path, result: StudyForecast) -> Path:
    """forecast.csv, written whole and atomically (a reader never sees half a forecast)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in result.rows:
        w.writerow({k: _cell(k, v) for k, v in asdict(r).items()})
    write_atomic(Path(path), buf.getvalue())
    return Path(path)


def read_forecast(path: str | Path) -> StudyForecast:
    """forecast.csv as written by :func:`write_forecast`; a bad file is a one-line error naming it."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=path) from None
    out = StudyForecast()
    for line, r in enumerate(rows, start=2):
        try:
            out.rows.append(ForecastRow(
                row=r["row"], strategy=r["strategy"], note=r.get("note") or "",
                resolution=int(r["resolution"]) if r.get("resolution") else None,
                **{k: float(r[k]) if r.get(k) else None
                   for k in ("phi", "flops", "flops_ratio", "accuracy", "low", "high", "measured", "exponent")},
                level=float(r.get("level") or LEVEL)))
        except (KeyError, TypeError, ValueError) as e:
            raise ScalerError(f"line {line}: not a forecast row ({e})", where=path) from None
    return out


def _cell(key: str, v: Any) -> str:
    if v is None:
        return ""
    if key == "flops":
        return str(round(v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


__all__ = ["COLUMNS", "LEVEL", "MIN_POINTS", "ForecastRow", "StudyForecast", "Target", "read_forecast",
           "study_forecast", "study_points", "write_forecast"]

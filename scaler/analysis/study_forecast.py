"""A study's forecast: accuracy at phi = K+1..K+N from its measured phi = 0..K (:mod:`scaler.analysis.forecast`),
its back-test (refit without each strategy's largest measured phi, predict it), and ``forecast.csv``, the file
the study plot, the report and ``scaler emit`` read. No torch.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scaler.analysis.forecast import MIN_POINTS, Point, forecast
from scaler.analysis.study import with_aliases
from scaler.errors import ScalerError
from scaler.results import read_results, read_run_yaml
from scaler.storage import write_atomic

LEVEL = 0.9  # the prediction intervals' coverage
COLUMNS = ("row", "strategy", "phi", "flops", "flops_ratio", "resolution", "accuracy", "low", "high", "measured",
           "level", "exponent", "trials", "note")
# What each kind of row must carry (a file that lacks them is not read as a forecast)
REQUIRED = {"forecast": ("phi", "flops", "accuracy", "low", "high"), "back-test": ("phi",), "skipped": ()}


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
    accuracy: float | None = None  # predicted mean proxy accuracy
    # forecast: the ``level`` interval of that mean (the fit's seed noise); back-test: of the measured mean
    # (the fit's seed noise and the measured mean's own)
    low: float | None = None
    high: float | None = None
    measured: float | None = None  # back-test: the mean accuracy the study measured there
    level: float = LEVEL
    exponent: float | None = None  # the shared c of the fit this row comes from
    trials: int = 0  # the finished study trials it was fitted on: a study that has grown since makes it stale
    note: str = ""

    @property
    def covered(self) -> bool:
        """Back-test: the measured accuracy lies inside the interval."""
        return None not in (self.low, self.high, self.measured) and self.low <= self.measured <= self.high


@dataclass
class StudyForecast:
    rows: list[ForecastRow] = field(default_factory=list)
    trials: int = 0  # finished study trials it was fitted on

    def of(self, kind: str) -> list[ForecastRow]:
        return [r for r in self.rows if r.row == kind]


def finished_trials(csv_path: str | Path) -> int:
    """How many trials of study.csv finished (what a forecast is fitted on)."""
    df = read_results(csv_path)
    return int((df["status"] == "ok").sum())


def study_points(csv_path: str | Path) -> tuple[dict[str, dict[float, Point]], float]:
    """Measured points per strategy by phi (the base, phi 0, under every strategy) from study.csv's finished
    trials at phi >= 0, and the base's FLOPs. A downward study's phi < 0 are left out: the forecast extrapolates
    the upward family, and compound below the base is another family (the downward coefficients)."""
    df = with_aliases(read_results(csv_path))
    ok = df[(df["status"] == "ok") & df["accuracy"].notna() & (df["phi"] >= 0)]
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


def study_forecast(csv_path: str | Path, targets: Sequence[Target], level: float = LEVEL, resamples: int = 200,
                   same: Mapping[str, str] | None = None) -> StudyForecast:
    """Forecast every target beyond its strategy's largest measured phi from all measured phi, and back-test each
    strategy on its largest measured phi. ``same``: strategies not trained, by the reason (they are another's)."""
    measured, base_flops = study_points(csv_path)
    data = {s: list(p.values()) for s, p in measured.items()}
    out = StudyForecast(trials=finished_trials(csv_path))
    targets = [t for t in targets if t.strategy in data and t.phi > max(measured[t.strategy])]
    wanted: dict[str, list[float]] = {}
    for t in targets:
        wanted.setdefault(t.strategy, []).append(t.flops)
    made, skipped = forecast(data, wanted, level=level, resamples=resamples)
    by = {(f.strategy, f.flops): f for f in made}
    for t in targets:
        if (f := by.get((t.strategy, t.flops))) is not None:
            out.rows.append(ForecastRow("forecast", t.strategy, t.phi, t.flops, t.flops / base_flops, t.resolution,
                                        1 - f.error, 1 - f.high, 1 - f.low, level=level, exponent=f.exponent))
    out.rows.sort(key=lambda r: (r.strategy, r.phi or 0))
    skipped |= dict(same or {})
    out.rows += [ForecastRow("skipped", s, note=why) for s, why in sorted(skipped.items())]
    out.rows += _back_tests(measured, base_flops, level, resamples)
    for r in out.rows:
        r.trials = out.trials
    return out


def _back_tests(measured: Mapping[str, Mapping[float, Point]], base_flops: float, level: float,
                resamples: int) -> list[ForecastRow]:
    """Each strategy's largest measured phi predicted from a fit without it, beside what was measured. The
    interval is of the measured mean: the fit's bootstrap interval widened by that mean's own seed noise (pooled
    over the study), so a right law lands inside it at about ``level``."""
    held = {s: max(p) for s, p in measured.items()}
    train = {s: [q for phi, q in p.items() if phi != held[s]] for s, p in measured.items()}
    wanted = {s: [measured[s][held[s]].flops] for s in train}
    made, skipped = forecast(train, wanted, level=level, resamples=resamples)
    sigma, df = _pooled_noise(measured)
    rows = []
    for f in made:
        point = measured[f.strategy][held[f.strategy]]
        extra = (student_t(level, df) * sigma / math.sqrt(len(point.errors))) ** 2 if df else 0.0
        low = f.error - math.sqrt((f.error - f.low) ** 2 + extra)
        high = f.error + math.sqrt((f.high - f.error) ** 2 + extra)
        rows.append(ForecastRow("back-test", f.strategy, held[f.strategy], f.flops, f.flops / base_flops, None,
                                1 - f.error, 1 - high, 1 - low, 1 - point.mean, level=level, exponent=f.exponent))
    rows += [ForecastRow("back-test", s, held[s], note=f"no back-test: without phi {held[s]:g}, {why}")
             for s, why in sorted(skipped.items())]
    return rows


def _pooled_noise(measured: Mapping[str, Mapping[float, Point]]) -> tuple[float, int]:
    """The study's seed noise: the pooled within-network std of error, and its degrees of freedom."""
    points = {id(p): p for pts in measured.values() for p in pts.values() if len(p.errors) > 1}.values()
    df = sum(len(p.errors) - 1 for p in points)
    if not df:
        return 0.0, 0
    ss = sum(float(np.var(p.errors, ddof=1)) * (len(p.errors) - 1) for p in points)
    return math.sqrt(ss / df), df


def student_t(level: float, df: int) -> float:
    """The two-sided ``level`` quantile of Student's t."""
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, df))


COEFFICIENT_TOLERANCE = 1e-5  # coefficients are written rounded to 6 decimals


def same_coefficients(studied: dict[str, Any], coefficients: tuple[float, float, float]) -> bool:
    """Whether a study's recorded coefficients (study.yaml's ``settings.coefficients``) are these."""
    return all(abs(float(studied.get(k, -1)) - c) <= COEFFICIENT_TOLERANCE
               for k, c in zip(("alpha", "beta", "gamma"), coefficients, strict=True))


def family_accuracy(run_dir: str | Path, coefficients: tuple[float, float, float],
                    down: tuple[float, float, float] | None = None) -> dict[float, dict[str, Any]]:
    """The study's proxy accuracy of the compound family with these coefficients, by phi: measured (mean over
    seeds) at the phi it trained, forecast with its interval beyond; below the base only when the study's
    downward coefficients are ``down``. Empty unless ``run_dir`` holds a study of exactly these coefficients on
    the grid's own rounding (``--match-flops`` changes the input sizes, so its members are not the family emit
    writes); a forecast older than the study's trials is left out."""
    run_dir = Path(run_dir)
    study, settings_path = run_dir / "study.csv", run_dir / "study.yaml"
    if not (study.exists() and settings_path.exists()):
        return {}
    settings = read_run_yaml(settings_path).get("settings") or {}
    if settings.get("match_flops") or not same_coefficients(settings.get("coefficients") or {}, coefficients):
        return {}
    out: dict[float, dict[str, Any]] = {}
    if (result := current_forecast(run_dir)) is not None:
        for r in result.of("forecast"):
            if r.strategy == "compound":
                out[float(r.phi or 0)] = {"accuracy": r.accuracy, "low": r.low, "high": r.high, "level": r.level,
                                          "measured": False}
    df = read_results(study)
    ok = df[(df["status"] == "ok") & df["kind"].isin(["compound", "base"])]
    studied_down = (settings.get("down") or {}).get("coefficients") or {}
    if down is None or not same_coefficients(studied_down, down):
        ok = ok[ok["phi"] >= 0]
    for phi, g in ok.groupby("phi"):
        out[float(phi)] = {"accuracy": float(g["accuracy"].mean()), "seeds": len(g), "measured": True}
    return dict(sorted(out.items()))


def current_forecast(run_dir: str | Path) -> StudyForecast | None:
    """forecast.csv when it was fitted on the study's finished trials as they are now, else None."""
    path, study = Path(run_dir) / "forecast.csv", Path(run_dir) / "study.csv"
    if not (path.exists() and study.exists()):
        return None
    result = read_forecast(path)
    return result if result.trials == finished_trials(study) else None


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
    """forecast.csv as written by :func:`write_forecast`; a bad file is a one-line error naming it and the line."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ScalerError(f"cannot read: {getattr(e, 'strerror', None) or e}", where=path) from None
    out = StudyForecast()
    for line, r in enumerate(rows, start=2):
        out.rows.append(_row(r, path, line))
    out.trials = out.rows[0].trials if out.rows else 0
    return out


def _row(r: dict[str, str | None], path: Path, line: int) -> ForecastRow:
    """One line of forecast.csv, checked: its kind of row is known and carries what that kind needs."""
    def number(key: str) -> float | None:
        text = r.get(key)
        return float(text) if text else None

    try:
        row = ForecastRow(row=r["row"] or "", strategy=r["strategy"] or "", note=r.get("note") or "",
                          resolution=int(r["resolution"]) if r.get("resolution") else None,
                          **{k: number(k) for k in ("phi", "flops", "flops_ratio", "accuracy", "low", "high",
                                                    "measured", "exponent")},
                          level=float(r.get("level") or LEVEL), trials=int(r.get("trials") or 0))
    except (KeyError, TypeError, ValueError) as e:
        raise ScalerError(f"line {line}: not a forecast row ({e})", where=path) from None
    if row.row not in REQUIRED:
        raise ScalerError(f"line {line}: row must be one of {', '.join(REQUIRED)}, not {row.row!r}", where=path)
    if missing := [k for k in REQUIRED[row.row] if getattr(row, k) is None]:
        raise ScalerError(f"line {line}: a {row.row} row needs {', '.join(missing)}", where=path)
    return row


def _cell(key: str, v: Any) -> str:
    if v is None:
        return ""
    if key == "flops":
        return str(round(v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


__all__ = ["COLUMNS", "LEVEL", "MIN_POINTS", "ForecastRow", "StudyForecast", "Target", "current_forecast",
           "family_accuracy", "finished_trials", "read_forecast", "same_coefficients", "student_t", "study_forecast",
           "study_points", "write_forecast"]

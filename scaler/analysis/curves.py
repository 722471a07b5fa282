"""Training curves of a grid: validation accuracy per epoch, every run faint, one mean line with a ±1 std band per
kind of network, so that whether the strategies converge differently reads at a glance."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from scaler.analysis.figure import KIND_STYLE, save, setup
from scaler.errors import ScalerError, location

OTHER_STYLE = ("#999999", "o", "")  # a kind KIND_STYLE does not know
RUN_ALPHA = 0.22  # the individual runs: thin and faint
MEAN_ALPHA = 1.0
BAND_ALPHA = 0.16
BAND = "±1 std across runs"

Curve = tuple[np.ndarray, np.ndarray]  # x (epochs on the full schedule, ascending), validation accuracy


def read_curve(path: Path) -> Curve | None:
    """The (x, accuracy) points of one trials/*.json: x is ``budget`` (a halving rung's fractional position on the
    full schedule), else ``epoch`` for older files; None when the file is missing or has no points. A file that is
    not a trial record (scaler writes them whole, so it was damaged or edited) is one line naming it."""
    points = _curve_points(path)
    xy = []
    for c in points:
        x, y = c.get("budget", c.get("epoch")), c.get("accuracy")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and math.isfinite(x) and math.isfinite(y):
            xy.append((float(x), float(y)))
    if not xy:
        return None
    xy.sort()
    return np.array([p[0] for p in xy]), np.array([p[1] for p in xy])


def _curve_points(path: Path) -> list[dict[str, Any]]:
    """The ``curve`` of a trial record, checked to be a list of mappings; [] when there is no file."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise ScalerError("not a UTF-8 text file (a trial record is JSON text)", where=path) from None
    except json.JSONDecodeError as e:
        raise ScalerError(f"not valid JSON: {e.msg}", where=location(path, e.lineno, e.colno)) from None
    except OSError as e:
        raise ScalerError(f"cannot read: {e.strerror}", where=path) from None
    if isinstance(record, dict):
        points = record.get("curve") or []
        if isinstance(points, list) and all(isinstance(c, dict) for c in points):
            return points
    raise ScalerError('not a trial record: expected a JSON object whose "curve" is a list of points, each '
                      '{"epoch" or "budget": x, "accuracy": y}', where=path)


def curves_by_kind(df: Any) -> dict[str, list[Curve]]:
    """The curves of the successful trials of ``df`` that left one in ``trials/<trial_id>.json``, per kind, kinds
    in KIND_STYLE's order (unknown kinds after, alphabetically)."""
    trials_dir = Path(df.attrs["path"]).parent / "trials"
    if not trials_dir.is_dir():
        return {}
    found: dict[str, list[Curve]] = {}
    for _, row in df[df["status"] == "ok"].iterrows():
        curve = read_curve(trials_dir / f"{row['trial_id']}.json")
        if curve is not None:
            found.setdefault(str(row["kind"]), []).append(curve)
    order = [k for k in KIND_STYLE if k in found] + sorted(k for k in found if k not in KIND_STYLE)
    return {k: found[k] for k in order}


def mean_band(curves: list[Curve]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, mean and sample std of the runs at every x where any run has a point. Ragged runs (a halving rung's extra
    points, a shorter run) are interpolated linearly inside their own x range and left out outside it; the std is 0
    where one run covers x."""
    xs = np.unique(np.round(np.concatenate([c[0] for c in curves]), 9))
    grid = np.full((len(curves), len(xs)), np.nan)
    for i, (x, y) in enumerate(curves):
        inside = (xs >= x[0] - 1e-9) & (xs <= x[-1] + 1e-9)
        grid[i, inside] = np.interp(xs[inside], x, y)
    n = np.sum(~np.isnan(grid), axis=0)
    mean = np.nanmean(grid, axis=0)
    std = np.zeros(len(xs))
    many = n > 1
    std[many] = np.nanstd(grid[:, many], axis=0, ddof=1)
    return xs, mean, std


def _kind_label(kind: str, runs: int, df: Any) -> str:
    """Legend text of a kind: display name and run count (and, for compound, how many candidates)."""
    name = KIND_STYLE.get(kind, OTHER_STYLE)[2] or kind
    rows = df[(df["status"] == "ok") & (df["kind"] == kind)]
    candidates = len(rows[["alpha", "beta", "gamma"]].drop_duplicates()) if len(rows) else 0
    run_text = f"{runs} run" + ("s" if runs != 1 else "")
    return f"{name} ({candidates} candidates, {run_text})" if candidates > 1 else f"{name} ({run_text})"


def _draw_kind(ax: Any, kind: str, curves: list[Curve], label: str) -> tuple[Any, Any]:
    """Faint runs, then the band and the mean line of one kind; returns (mean line, band) for the legend."""
    colour, marker, _ = KIND_STYLE.get(kind, OTHER_STYLE)
    for x, y in curves:
        ax.plot(x, y, color=colour, lw=0.8, alpha=RUN_ALPHA, zorder=1, gid="run")
    xs, mean, std = mean_band(curves)
    band = ax.fill_between(xs, mean - std, mean + std, color=colour, alpha=BAND_ALPHA, lw=0, zorder=2,
                           gid=f"band:{kind}")
    (line,) = ax.plot(xs, mean, color=colour, lw=2.2, alpha=MEAN_ALPHA, marker=marker, ms=4.5, zorder=3,
                      label=label, gid=f"mean:{kind}")
    return line, band


def _whole_epoch_axis(ax: Any) -> None:
    """x ticks at whole epochs only, labelled without decimals."""
    from matplotlib import ticker

    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, min_n_ticks=1))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.0f}"))
    ax.set_xlabel("epoch")


def curves_figure(label: str, df: Any) -> Any:
    """The training-curves figure of one results table, or None when no trial left a curve in trials/*.json."""
    by_kind = curves_by_kind(df)
    if not by_kind:
        return None
    plt = setup()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    handles, labels = [], []
    for kind, curves in by_kind.items():
        text = _kind_label(kind, len(curves), df)
        handles.append(_draw_kind(ax, kind, curves, text))
        labels.append(text)
    handles.append(Line2D([], [], color="#555555", lw=0.8, alpha=RUN_ALPHA * 2))
    labels.append("one run (faint)")
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8,
              title=f"line = mean, band = {BAND}", title_fontsize=8, alignment="left")
    _whole_epoch_axis(ax)
    ax.set_ylabel("validation accuracy (top-1)")
    runs = sum(len(c) for c in by_kind.values())
    ax.set_title(f"{label}: validation accuracy during training ({runs} runs)\nmean ± 1 std per kind; faint lines are "
                 "the individual runs", fontsize=10)
    return fig


def curves_plot(label: str, df: Any, out: Path, formats: list[str]) -> list[Path]:
    """Write ``curves.<format>`` (see :func:`curves_figure`); [] when no trial left a curve."""
    return save(curves_figure(label, df), out, "curves", formats)

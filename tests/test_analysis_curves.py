"""The training-curves figure: whole-epoch ticks, one legend entry per kind with its run count, a mean line with a
±1 std band per kind over faint individual runs, nothing drawn without curves."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _rows import append_row

from scaler.analysis.curves import curves_figure, curves_plot
from scaler.results import RunDir, read_results

# trial id -> (kind, (alpha, beta, gamma), accuracy at epochs 1, 2, 3)
GRID = {
    "base-s0": ("base", (1.0, 1.0, 1.0), [0.50, 0.70, 0.80]),
    "base-s1": ("base", (1.0, 1.0, 1.0), [0.60, 0.74, 0.84]),
    "width-s0": ("width", (1.0, 1.2, 1.0), [0.55, 0.72, 0.83]),
    "a1.2-b1.1-g1.0-s0": ("compound", (1.2, 1.1, 1.0), [0.40, 0.60, 0.90]),
    "a1.2-b1.1-g1.0-s1": ("compound", (1.2, 1.1, 1.0), [0.50, 0.66, 0.86]),
    "a1.0-b1.1-g1.1-s0": ("compound", (1.0, 1.1, 1.1), [0.45, 0.69, 0.88]),
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def write_grid(root: Path, curves: dict[str, list[dict[str, Any]]], failed: tuple[str, ...] = (),
               kinds: dict[str, tuple[str, tuple[float, float, float]]] | None = None) -> Any:
    """A results directory with one row per trial (those in ``failed`` diverged) and trials/<id>.json curves."""
    kinds = kinds or {t: (k, abc) for t, (k, abc, _) in GRID.items()}
    run = RunDir(root)
    root.mkdir(parents=True)
    for tid, (kind, (a, b, g)) in kinds.items():
        status = "diverged" if tid in failed else "ok"
        seed = int(re.search(r"-s(\d+)", tid)[1])  # base-s1-r2: seed 1 (one row per network, seed and rung)
        append_row(run, {"trial_id": tid, "kind": kind, "alpha": a, "beta": b, "gamma": g, "flops": 10**6,
                         "status": status, "seed": seed, "accuracy": 0.8 if status == "ok" else float("nan")})
    (root / "trials").mkdir()
    for tid, curve in curves.items():
        (root / "trials" / f"{tid}.json").write_text(json.dumps({"trial_id": tid, "curve": curve}), encoding="utf-8")
    return read_results(run.csv)


def epochs(accuracies: list[float], budget: bool = False) -> list[dict[str, Any]]:
    """A curve of whole epochs 1, 2, ... (with ``budget`` equal to the epoch, as a grid writes it, or without)."""
    return [{"epoch": e, **({"budget": float(e)} if budget else {}), "accuracy": a, "loss": 1.0 / e}
            for e, a in enumerate(accuracies, 1)]


def grid_figure(tmp_path: Path) -> Any:
    curves = {tid: epochs(acc, budget=i % 2 == 0) for i, (tid, (_, _, acc)) in enumerate(GRID.items())}
    fig = curves_figure("toy", write_grid(tmp_path / "run", curves))
    assert fig is not None
    return fig


def mean_line(ax: Any, kind: str) -> Any:
    return next(line for line in ax.get_lines() if line.get_gid() == f"mean:{kind}")


def test_legend_names_each_kind_once_with_its_run_count_and_the_band(tmp_path: Path):
    ax = grid_figure(tmp_path).axes[0]
    legend = ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:3] == ["compound (2 candidates, 3 runs)", "base (φ = 0) (2 runs)", "width only (1 run)"]
    assert len(texts) == 4 and "one run" in texts[3]
    assert "std" in legend.get_title().get_text() and "std" in ax.get_title()
    assert "toy" in ax.get_title() and "6 runs" in ax.get_title()


def test_mean_line_per_kind_is_the_mean_of_its_runs(tmp_path: Path):
    ax = grid_figure(tmp_path).axes[0]
    for kind in ("base", "width", "compound"):
        runs = [acc for k, _, acc in GRID.values() if k == kind]
        line = mean_line(ax, kind)
        assert list(line.get_xdata()) == [1.0, 2.0, 3.0]
        assert np.allclose(line.get_ydata(), [statistics.mean(col) for col in zip(*runs, strict=True)])


def test_band_is_one_sample_std_around_the_mean(tmp_path: Path):
    ax = grid_figure(tmp_path).axes[0]
    bands = ax.collections
    assert len(bands) == 3  # one per kind
    compound = [acc for k, _, acc in GRID.values() if k == "compound"]
    std = [statistics.stdev(col) for col in zip(*compound, strict=True)]
    mean = [statistics.mean(col) for col in zip(*compound, strict=True)]
    band = next(b for b in bands if b.get_gid() == "band:compound")
    ys = band.get_paths()[0].vertices[:, 1]
    assert min(ys) == pytest.approx(min(m - s for m, s in zip(mean, std, strict=True)))
    assert max(ys) == pytest.approx(max(m + s for m, s in zip(mean, std, strict=True)))


def test_individual_runs_are_fainter_and_thinner_than_the_means(tmp_path: Path):
    ax = grid_figure(tmp_path).axes[0]
    runs = [line for line in ax.get_lines() if line.get_gid() == "run"]
    means = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("mean:")]
    assert len(runs) == len(GRID) and len(means) == 3
    assert max(r.get_alpha() for r in runs) < min(m.get_alpha() or 1.0 for m in means)
    assert max(r.get_linewidth() for r in runs) < min(m.get_linewidth() for m in means)


def test_x_ticks_are_whole_epochs_even_with_fractional_rung_points(tmp_path: Path):
    # a halving run's continued trial: extra points at the rungs' fractional budgets; its racing seed: whole epochs
    halving = [{"epoch": 1, "budget": 0.55, "accuracy": 0.40}, {"epoch": 1, "budget": 1.0, "accuracy": 0.50},
               {"epoch": 2, "budget": 1.67, "accuracy": 0.60}, {"epoch": 2, "budget": 2.0, "accuracy": 0.70}]
    kinds = {"base-s0-r2": ("base", (1.0, 1.0, 1.0)), "base-s1-r2": ("base", (1.0, 1.0, 1.0))}
    df = write_grid(tmp_path / "run", {"base-s0-r2": halving, "base-s1-r2": epochs([0.6, 0.8], budget=True)},
                    kinds=kinds)
    fig = curves_figure("halving", df)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.lstrip("−-").isdigit() for label in labels)
    assert all(float(v).is_integer() for v in ax.get_xticks())
    assert ax.get_xlabel() == "epoch"
    line = mean_line(ax, "base")
    xs, ys = list(line.get_xdata()), list(line.get_ydata())
    assert xs == pytest.approx([0.55, 1.0, 1.67, 2.0])
    assert ys[0] == pytest.approx(0.40)  # only the continued trial was evaluated there
    assert ys[1] == pytest.approx((0.50 + 0.6) / 2) and ys[3] == pytest.approx((0.70 + 0.8) / 2)
    assert "base (φ = 0) (2 runs)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_failed_trials_and_missing_curves_are_left_out(tmp_path: Path):
    """A trial without a record (width-s0) has no curve; a damaged record is an error (tests/test_hostile_files)."""
    kinds = {"base-s0": ("base", (1.0, 1.0, 1.0)), "depth-s0": ("depth", (1.2, 1.0, 1.0)),
             "width-s0": ("width", (1.0, 1.2, 1.0))}
    df = write_grid(tmp_path / "run", {"base-s0": epochs([0.5, 0.6]), "depth-s0": epochs([0.1, 0.2])},
                    failed=("depth-s0",), kinds=kinds)
    ax = curves_figure("toy", df).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()][:-1] == ["base (φ = 0) (1 run)"]
    assert [line.get_gid() for line in ax.get_lines()] == ["run", "mean:base"]


def test_curves_plot_writes_the_files(tmp_path: Path):
    df = write_grid(tmp_path / "run", {tid: epochs(acc) for tid, (_, _, acc) in GRID.items()})
    out = tmp_path / "plots"
    out.mkdir()
    paths = curves_plot("toy", df, out, ["png", "svg"])
    assert paths == [out / "curves.png", out / "curves.svg"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_nothing_without_curves(tmp_path: Path):
    df = write_grid(tmp_path / "run", {"base-s0": [], "width-s0": [{"epoch": 1, "accuracy": None}]})
    out = tmp_path / "plots"
    out.mkdir()
    assert curves_figure("toy", df) is None
    assert curves_plot("toy", df, out, ["png"]) == []
    (tmp_path / "run" / "trials" / "base-s0.json").unlink()
    (tmp_path / "run" / "trials" / "width-s0.json").unlink()
    (tmp_path / "run" / "trials").rmdir()
    assert curves_plot("toy", df, out, ["png"]) == []
    assert list(out.iterdir()) == []

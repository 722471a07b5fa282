"""`scaler plot` and `scaler study`: content of the figures, bad CSVs, every strategy trained."""

from __future__ import annotations

import csv
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from _cli import run_scaler
from _rows import append_row
from _specs import TINY

from scaler.analysis.fit import fit_run
from scaler.analysis.plots import pareto_figure, pareto_front, plot_results
from scaler.analysis.study import summarize_study
from scaler.analysis.study_forecast import read_forecast
from scaler.catalog import load_spec
from scaler.coefficients import coefficients_document
from scaler.config import SearchConfig
from scaler.errors import ScalerError
from scaler.results import RunDir, read_results
from scaler.search.candidates import candidates
from scaler.search.study import STUDY_COLUMNS


def make_grid_dir(root: Path, failed: int = 2) -> tuple[Path, int]:
    """A results directory with synthetic accuracies (no training), fitted like a real grid."""
    rng = random.Random(0)
    run = RunDir(root)
    root.mkdir(parents=True)
    search = SearchConfig(step=0.1)
    ok = 0
    for i, c in enumerate(candidates(search)):
        flops = int(1e6 * c.alpha * c.beta**2 * c.gamma**2 * (1 + 0.1 * rng.random())) if c.kind != "base" else 10**6
        status = "diverged" if i in range(5, 5 + failed) else "ok"
        ok += status == "ok"
        append_row(run, {"trial_id": f"{c.key}-s0", "kind": c.kind, "alpha": c.alpha, "beta": c.beta, "gamma": c.gamma,
                    "phi": c.phi, "flops": flops, "params": 1000 + i, "status": status, "seed": 0,
                    "latency_ms": 1 + i / 10, "train_step_ms": 20 + i, "latency_batch_ms": 30 + i,
                    "activations": 5000 + 100 * i,
                    "accuracy": 0.8 + 0.05 * rng.random() if status == "ok" else float("nan")})
    settings = {"base": load_spec(TINY).to_dict(), "search": search.model_dump(mode="json"),
                "proxy": {"dataset": "digits", "epochs": 1, "subset": 300, "val_fraction": 0.2, "seeds": 1}}
    run.write_settings(settings, {})
    fit_run(run.csv)
    return run.csv, ok


def test_pareto_front_is_exactly_the_non_dominated_points():
    rng = random.Random(1)
    pts = [(rng.uniform(1, 10), rng.uniform(0, 1)) for _ in range(60)]
    front = set(pareto_front(pts))
    for i, (f, a) in enumerate(pts):
        dominated = any(g <= f and b >= a and (g, b) != (f, a) for g, b in pts)
        assert (i in front) == (not dominated)


def test_pareto_plot_draws_every_successful_trial_and_the_front(tmp_path: Path):
    csv_path, ok = make_grid_dir(tmp_path / "run")
    df = read_results(csv_path)
    fig = pareto_figure([("run", df)])
    ax = fig.axes[0]
    drawn = sum(len(c.lines[0].get_xdata()) for c in ax.containers)
    assert drawn == ok == int((df["status"] == "ok").sum())
    assert ax.get_xscale() == "log" and "multiply-accumulates" in ax.get_xlabel()
    good = df[df["status"] == "ok"]
    pts = list(zip(good["flops"], good["accuracy"], strict=True))
    expected = sorted(pts[i] for i in pareto_front(pts))
    step = next(line for line in ax.get_lines() if line.get_label() == "Pareto front")
    assert sorted(zip(step.get_xdata(), step.get_ydata(), strict=True)) == expected
    assert any("failed/diverged" in t.get_text() for t in fig.texts)


@pytest.mark.parametrize(("x", "column", "word"), [("params", "params", "parameters"),
                                                   ("activations", "activations", "activations"),
                                                   ("latency", "latency_ms", "latency"),
                                                   ("train_step", "train_step_ms", "training step")])
def test_pareto_x_axis_switches(tmp_path: Path, x: str, column: str, word: str):
    csv_path, _ = make_grid_dir(tmp_path / "run")
    df = read_results(csv_path)
    ax = pareto_figure([("run", df)], x).axes[0]
    assert word in ax.get_xlabel() and word in ax.get_title()
    xs = sorted(v for c in ax.containers for v in c.lines[0].get_xdata())
    assert xs == sorted(df.loc[df["status"] == "ok", column])
    out = run_scaler("plot", str(csv_path), "--x", x, "--format", "svg", "--out", str(tmp_path / "p"), cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "p" / f"pareto-{x}.svg").exists()
    old = df.drop(columns=[column])
    with pytest.raises(ScalerError, match=f"--x {x}: the results have no {column}"):
        pareto_figure([("run", old)], x)


def test_plot_command_writes_valid_png_and_svg(tmp_path: Path):
    csv_path, _ = make_grid_dir(tmp_path / "run")
    proc = run_scaler("plot", str(csv_path), cwd=tmp_path)
    files = [Path(line) for line in proc.stdout.split()]
    names = sorted(p.name for p in files)
    assert names == ["coefficients.png", "coefficients.svg", "pareto.png", "pareto.svg"]
    for p in files:
        assert p.parent == csv_path.parent / "plots"
        if p.suffix == ".png":
            data = p.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            from PIL import Image

            with Image.open(p) as im:
                assert im.info["dpi"][0] >= 150 and im.width >= 900
        else:
            assert ET.parse(p).getroot().tag.endswith("svg")


def test_several_runs_overlay(tmp_path: Path):
    a, _ = make_grid_dir(tmp_path / "a")
    b, _ = make_grid_dir(tmp_path / "b", failed=0)
    paths = plot_results([a, b], tmp_path / "out", ("png",))
    assert [p.name for p in paths] == ["pareto.png"]
    fig = pareto_figure([("a", read_results(a)), ("b", read_results(b))])
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "Pareto front [a]" in labels and "Pareto front [b]" in labels


@pytest.mark.parametrize(("content", "message"), [
    ("trial_id,kind,alpha\nx,base,1\n", "missing column(s) beta, gamma, flops, accuracy, status"),
    ("trial_id,kind,alpha,beta,gamma,flops,accuracy,status\n", "no rows"),
    ("trial_id,kind,alpha,beta,gamma,flops,accuracy,status\nx,base,1,1,1,100,,failed\n", "no successful trial"),
    ("trial_id,kind,alpha,beta,gamma,flops,accuracy,status\nx,base,1,1,1,lots,0.5,ok\n", "non-numeric value 'lots'"),
    ("", "empty"),
])
def test_bad_csv_is_one_line_exit_2(tmp_path: Path, content: str, message: str):
    path = tmp_path / "results.csv"
    path.write_text(content)
    with pytest.raises(ScalerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plot_results([path])
    proc = run_scaler("plot", str(path), cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_study_trains_every_strategy(tmp_path: Path):
    grid = tmp_path / "grid"
    grid.mkdir()
    settings = {"base": load_spec(TINY).to_dict(), "search": SearchConfig().model_dump(mode="json"),
                "proxy": {"dataset": "digits", "epochs": 1, "subset": 300, "batch_size": 64}}
    (grid / "run.yaml").write_text(yaml.safe_dump({"settings": settings}))
    (grid / "coefficients.yaml").write_text(yaml.safe_dump(
        coefficients_document(1.2, 1.1, 1.15, load_spec(TINY), source="best")))
    proc = run_scaler("study", str(grid), "--max-phi", "1", "--quiet", "--strategies", "width,depth,resolution,fast",
                      cwd=tmp_path)
    with open(grid / "study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    strategies = ["base", "compound", "depth", "fast", "resolution", "width"]
    assert sorted(r["strategy"] for r in rows) == sorted(strategies * 2)  # two seeds of every network
    assert {r["seed"] for r in rows} == {"1000", "1001"}  # disjoint from any grid's seeds
    by = {r["strategy"]: r for r in rows}
    assert by["depth"]["alpha"] == "2" and float(by["width"]["beta"]) == pytest.approx(2**0.5)
    # pycls's fast scaling (d1_w8_r1): 2^0.1 deeper, 2^0.4 wider, 2^0.05 higher resolution
    assert [float(by["fast"][k]) for k in ("alpha", "beta", "gamma")] == pytest.approx([2**0.1, 2**0.4, 2**0.05])
    assert yaml.safe_load((grid / "study.yaml").read_text())["settings"]["strategies"] == [
        "compound", "width", "depth", "resolution", "fast"]
    assert float(by["compound"]["flops"]) > float(by["base"]["flops"])
    assert all(r["status"] == "ok" for r in rows)
    assert (grid / "plots" / "study.png").exists() and (grid / "plots" / "study.svg").exists()
    assert "phi 1:" in proc.stdout and "tie set:" in proc.stdout and "(test " in proc.stdout
    # phi 0..1 are too few to forecast phi 2..4 (--forecast 3 by default): each strategy says so, in the file too
    assert "  compound: no forecast: 2 measured phi (needs 3)" in proc.stdout.splitlines()
    assert "back-test compound: no back-test: without phi 1, 1 measured phi (needs 3)" in proc.stdout
    assert {r.row for r in read_forecast(grid / "forecast.csv").rows} == {"skipped", "back-test"}
    # the grid directory's report, refreshed with the study (a grid of hand-written files: no results.csv)
    assert "warning: no report:" in proc.stderr and "results.csv is missing" in proc.stderr


def test_study_verdict_falls_back_on_the_grids_seed_noise(tmp_path: Path):
    import math

    grid = RunDir(tmp_path)
    for seed, acc in ((0, 0.80), (1, 0.82)):  # one candidate, two seeds: std 0.01414 on 1 degree of freedom
        append_row(grid, {"trial_id": f"base-s{seed}", "kind": "base", "alpha": 1, "beta": 1, "gamma": 1, "flops": 10,
                          "accuracy": acc, "status": "ok", "seed": seed})
    study = RunDir(tmp_path, csv_name="study.csv", columns=STUDY_COLUMNS)
    for kind, phi, acc in (("base", 0, 0.80), ("compound", 1, 0.85), ("resolution", 1, 0.81),
                           ("width", 1, 0.80), ("depth", 1, 0.79)):
        append_row(study, {"trial_id": f"{kind}-phi{phi}-s1000", "kind": kind, "alpha": 1, "beta": 1, "gamma": 1,
                           "phi": phi, "flops": 10 * 2**phi, "accuracy": acc, "status": "ok", "seed": 1000,
                           "strategy": kind})
    (row,) = summarize_study(study.csv)
    assert row["winner"] == "compound" and row["noise"] == {"seed_std": 0.01414, "df": 1, "source": "the grid's seeds"}
    # compound - resolution = 0.04 with se 0.01414 * sqrt(2) = 0.02: t = 2 on 1 degree of freedom (a Cauchy),
    # so p = 1 - 2 atan(2) / pi and the 95% half-width is tan(0.475 pi) * 0.02: a tie, however large it looks
    versus = row["compound_vs"]["resolution"]
    assert versus["p"] == pytest.approx(1 - 2 * math.atan(2) / math.pi, rel=1e-3)
    half = math.tan(0.475 * math.pi) * 0.02
    assert versus["interval"] == pytest.approx([0.04 - half, 0.04 + half], abs=1e-5)
    assert {k: v["verdict"] for k, v in row["compound_vs"].items()} == {"resolution": "tie", "width": "tie",
                                                                       "depth": "tie"}
    assert row["tie_set"][0] == "compound"


def test_a_strategy_that_is_the_compound_network_says_so_in_the_legend(tmp_path: Path):
    from scaler.analysis.study_plot import study_figure

    run = RunDir(tmp_path)
    flops = {("base", 0): 100, ("compound", 1): 200, ("resolution", 1): 200, ("width", 1): 210,
             ("compound", -1): 50, ("resolution", -1): 55, ("width", -1): 52}
    for (kind, phi), f in flops.items():
        for seed in (1000, 1001):
            append_row(run, {"trial_id": f"{kind}-phi{phi}-s{seed}", "kind": kind, "strategy": kind, "phi": phi,
                             "flops": f, "accuracy": 0.8 + f / 10_000 + seed / 1e6, "seed": seed, "status": "ok",
                             "alpha": 1.0, "beta": 1.0, "gamma": 1.0, "epochs": 1})
    labels = study_figure(tmp_path / "results.csv").axes[0].get_legend_handles_labels()[1]
    assert "resolution only scaling (= compound at φ 1)" in labels  # not at -1: another network there
    assert "width only scaling" in labels and "compound scaling (fitted)" in labels

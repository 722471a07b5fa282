"""The Python API (scaler.grid, open_run, Run, emit, study) on a tiny real grid, against the CLI's files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import get_type_hints

import pytest
import yaml
from _cli import run_scaler
from _specs import TINY_YAML

import scaler
from scaler.errors import ScalerError
from scaler.results import TrialRow


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> scaler.Run:
    folder = tmp_path_factory.mktemp("api")
    (folder / "tiny.yaml").write_text(TINY_YAML, encoding="utf-8")
    return scaler.grid(folder / "tiny.yaml", folder / "run", dataset="digits", epochs=1, subset=300, seeds=2,
                       step=0.2, strategy="grid", confirm=0, progress=False)


def test_grid_returns_the_run_it_trained_and_fitted(run: scaler.Run):
    rows = list(csv.DictReader((run.path / "results.csv").open(newline="")))
    assert run.ran == len(rows) and run.failed == 0 and len(rows) >= 10
    assert run.fitted is not None and run.fitted.path == run.path / "coefficients.yaml"


def test_grid_writes_the_report_and_figures_scaler_grid_writes(run: scaler.Run):
    assert run.warnings == [] and run.reported == run.path / "report.html"
    page = run.reported.read_text(encoding="utf-8")
    assert run.fitted is not None and run.fitted.best.candidate in page  # the answer, not a pending page
    assert (run.path / "plots" / "pareto.png").exists() and (run.path / "plots" / "pareto.svg").exists()


def test_results_is_the_csv_with_one_dtype_per_column(run: scaler.Run):
    df = run.results
    hints = get_type_hints(TrialRow)
    expected = {str: "string", int: "Int64", float: "float64"}
    assert {c: str(t) for c, t in df.dtypes.items()} == {c: expected[hints[c]] for c in df.columns}
    rows = list(csv.DictReader((run.path / "results.csv").open(newline="")))
    assert df["trial_id"].tolist() == [r["trial_id"] for r in rows]
    assert df["flops"].tolist() == [int(r["flops"]) for r in rows]
    assert df["accuracy"].tolist() == pytest.approx([float(r["accuracy"]) for r in rows])


def test_fit_returns_the_coefficients_the_file_holds(run: scaler.Run, tmp_path: Path):
    coef = run.fit()
    assert run.fitted is not None and coef == run.fitted.coefficients  # the outcome, kept, not read back
    data = yaml.safe_load((run.path / "coefficients.yaml").read_text(encoding="utf-8"))
    assert (coef.alpha, coef.beta, coef.gamma) == (data["alpha"], data["beta"], data["gamma"])
    assert coef.candidate == data["best"]["candidate"] and coef.tie_set == tuple(data["selection"]["tie_set"])
    assert coef.candidate in coef.tie_set and coef.objective == "accuracy" and coef.phi == 1.0
    assert coef.interval == data["bootstrap"]["winner_interval"] and 0 < coef.wins <= 1
    assert run.coefficients == coef
    # `scaler fit` on the same results writes the same answer
    run_scaler("fit", str(run.path), "--out", str(tmp_path / "cli.yaml"), cwd=tmp_path)
    cli = yaml.safe_load((tmp_path / "cli.yaml").read_text(encoding="utf-8"))
    assert {k: cli[k] for k in ("alpha", "beta", "gamma", "selection")} == {
        k: data[k] for k in ("alpha", "beta", "gamma", "selection")}
    flops = run.fit("flops", out=tmp_path / "flops.yaml")
    assert flops.objective == "flops" and flops.path == tmp_path / "flops.yaml"


def test_open_run_reads_the_same_directory(run: scaler.Run):
    again = scaler.open_run(run.path)
    assert again.path == run.path and again.coefficients == run.coefficients
    assert again.results.equals(run.results)


def test_errors_are_scaler_errors_not_exits(tmp_path: Path):
    with pytest.raises(ScalerError, match=r"not a grid directory: results\.csv is missing"):
        scaler.open_run(tmp_path)
    with pytest.raises(ScalerError, match="unknown setting"):
        scaler.grid("nowhere.yaml", epoch=1)
    with pytest.raises(ScalerError, match=r"nowhere\.yaml"):
        scaler.grid(tmp_path / "nowhere.yaml")


def test_plot_returns_a_figure_of_each_kind(run: scaler.Run):
    for kind in ("pareto", "coefficients", "curves"):
        fig = run.plot(kind)
        assert fig.axes and fig.axes[0].get_title()
    assert "accuracy" in run.plot("pareto").axes[0].get_ylabel()
    with pytest.raises(ScalerError, match="unknown figure 'bars'"):
        run.plot("bars")
    with pytest.raises(ScalerError, match="no study yet"):
        run.plot("study")


def test_emit_returns_the_specs_the_cli_writes(run: scaler.Run, tmp_path: Path):
    members = scaler.emit(run.path / "coefficients.yaml", range(3))
    out = run_scaler("emit", "--coefficients", str(run.path / "coefficients.yaml"), "--phi", "0..2", "--out",
                     str(tmp_path / "family"), "--json", cwd=tmp_path)
    written = json.loads(out.stdout)
    assert [m.name for m in members] == [w["name"] for w in written]
    assert [scaler.complexity(m).flops for m in members] == [w["flops"] for w in written]
    assert scaler.emit(run.coefficients, 1)[0] == members[1]  # a Coefficients object, one phi
    with pytest.raises(ScalerError, match="searched downward"):
        down = run.coefficients
        down.phi = -1.0
        scaler.emit(down, 1)


def test_a_family_says_which_set_scaled_each_member(run: scaler.Run, tmp_path: Path):
    from scaler.api.family import coefficient_family, newest_coefficients

    fam = coefficient_family(run.path / "coefficients.yaml", [-1, 0, 2])
    assert fam.directions == ["up, reversed", "base", "up"] and list(fam.sets) == ["up"]
    assert [m.derived.phi for m in fam.members] == [-1, 0, 2] and fam.base == run.coefficients.base
    assert newest_coefficients(run.path.parent) == run.path / "coefficients.yaml"
    with pytest.raises(ScalerError, match="--phi needs coefficients"):
        newest_coefficients(tmp_path)


def test_report_writes_the_page_the_cli_writes(run: scaler.Run):
    from scaler.api.figures import report

    assert run.report() == report(run.path, draw=False) == run.path / "report.html"
    assert "data:image/svg+xml" in (run.path / "report.html").read_text(encoding="utf-8")  # the figures, inline


def test_study_returns_its_verdicts_and_table(run: scaler.Run):
    from scaler.analysis.study import summarize_study

    study = run.study(max_phi=1, strategies=["width"], seeds=1, forecast=0, progress=False)
    assert study.path == run.path / "study.csv" and study.forecast is None
    assert study.verdicts == summarize_study(study.path)
    # one seed per network: judged on the grid's seed noise
    assert [v["phi"] for v in study.verdicts] == [1.0] and study.verdicts[0]["noise"]["source"] == "the grid's seeds"
    # the base, then compound and width at phi 1 (width once, as compound, if the grid chose width-only)
    assert "compound" in set(study.table["strategy"]) <= {"compound", "width"}
    assert study.ran == 1 + study.table["strategy"].nunique()
    assert str(study.table["accuracy"].dtype) == "float64"
    assert run.plot("study").axes
    assert (run.path / "plots" / "study.png").exists()


def test_study_lives_in_studies_and_its_old_home_warns():
    from scaler import api
    from scaler.api import runs, studies

    assert scaler.Study is api.Study is studies.Study
    with pytest.warns(DeprecationWarning, match=r"scaler\.api\.runs\.Study is deprecated"):
        assert runs.Study is studies.Study
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = runs.Nope

"""`scaler study` from two grids, one per direction: phi = -K..K in one study, each direction with its own set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _cli import run_scaler, user_error
from _specs import SHRINKABLE

from scaler.analysis.study import summarize_study
from scaler.analysis.study_forecast import family_accuracy
from scaler.catalog import load_spec
from scaler.coefficients import coefficients_document
from scaler.config import SearchConfig
from scaler.results import read_results
from scaler.search.study import study_candidates

UP, DOWN = (1.0, 1.2, 1.2), (1.0, 1.4, 1.0)  # on alpha * beta^2 * gamma^2 = 2: 2.07 and 1.96


def write_grid(folder: Path, coefficients: tuple[float, float, float], phi: float, **proxy: object) -> Path:
    """A finished grid's two files, as `scaler grid --phi PHI` writes them."""
    folder.mkdir()
    base = yaml.safe_load(SHRINKABLE)
    settings = {"base": {k: v for k, v in base.items() if k not in ("search", "proxy")},
                "search": {**SearchConfig(phi=phi).model_dump(mode="json")},
                "proxy": {"dataset": "digits", "epochs": 1, "subset": 300, "batch_size": 64, **proxy}}
    (folder / "run.yaml").write_text(yaml.safe_dump({"settings": settings}))
    spec = load_spec(settings["base"])
    (folder / "coefficients.yaml").write_text(yaml.safe_dump(
        coefficients_document(*coefficients, spec, source="best", phi=phi)))
    return folder


def test_candidates_run_both_ways_with_each_directions_coefficients():
    cands = study_candidates({1: UP, -1: DOWN}, 2.0, 2, ("compound", "width"))
    assert [(c.kind, c.phi) for c in cands] == [
        ("base", 0.0), ("compound", 1.0), ("width", 1.0), ("compound", -1.0), ("width", -1.0),
        ("compound", 2.0), ("width", 2.0), ("compound", -2.0), ("width", -2.0)]
    compound = {c.phi: (c.alpha, c.beta, c.gamma) for c in cands if c.kind == "compound"}
    assert compound == {1.0: UP, 2.0: UP, -1.0: DOWN, -2.0: DOWN}
    # one upward set, as before
    assert [(c.kind, c.phi) for c in study_candidates(UP, 2.0, 1, ("compound",))] == [("base", 0.0),
                                                                                        ("compound", 1.0)]


def test_a_two_direction_study_trains_phi_minus_k_to_k_into_the_upward_grid(tmp_path: Path):
    up, down = write_grid(tmp_path / "up", UP, 1.0), write_grid(tmp_path / "down", DOWN, -1.0)
    # the downward grid named first: the study still lives in the upward one
    proc = run_scaler("study", str(down), str(up), "--max-phi", "1", "--strategies", "width", "--seeds", "1",
                      "--quiet", cwd=tmp_path)
    assert not (down / "study.csv").exists()
    df = read_results(up / "study.csv")
    assert sorted(set(df["phi"])) == [-1.0, 0.0, 1.0] and (df["status"] == "ok").all()
    compound = df[df["kind"] == "compound"].set_index("phi")
    assert tuple(compound.loc[[1.0], ["alpha", "beta", "gamma"]].iloc[0]) == pytest.approx(UP)
    assert tuple(compound.loc[[-1.0], ["alpha", "beta", "gamma"]].iloc[0]) == pytest.approx(DOWN)
    base = float(df[df["kind"] == "base"]["flops"].iloc[0])
    below, above = df[df["phi"] < 0], df[df["phi"] > 0]
    assert (below["flops"] < base).all() and (above["flops"] > base).all()
    assert (below["flops_ratio"].between(0.4, 0.7)).all()  # the real cost of half the FLOPs, after rounding
    recorded = yaml.safe_load((up / "study.yaml").read_text())["settings"]
    assert recorded["coefficients"] == dict(zip(("alpha", "beta", "gamma"), UP, strict=True))
    assert recorded["down"] == {"grid": str(down), "coefficients": dict(zip(("alpha", "beta", "gamma"), DOWN,
                                                                             strict=True))}
    assert [r["phi"] for r in summarize_study(up / "study.csv")] == [-1.0, 1.0]
    assert "phi -1:" in proc.stdout and "phi 1:" in proc.stdout
    assert "no forecast" in proc.stdout  # phi 0..1 upward: too few to forecast
    # emit's proxy column: below the base only for the downward set the study trained
    assert set(family_accuracy(up, UP, DOWN)) == {-1.0, 0.0, 1.0}
    assert set(family_accuracy(up, UP)) == set(family_accuracy(up, UP, (1.0, 1.0, 1.414214))) == {0.0, 1.0}
    emitted = run_scaler("emit", "--coefficients", str(up / "coefficients.yaml"), "--coefficients",
                         str(down / "coefficients.yaml"), "--phi", "-1..1", "--out", "family", "--json", cwd=tmp_path)
    members = {m["phi"]: m for m in json.loads(emitted.stdout)}
    measured = df[df["kind"].isin(["compound", "base"])].groupby("phi")["accuracy"].mean()
    assert {phi: (m["coefficients"], m["proxy_accuracy"]["accuracy"]) for phi, m in members.items()} == {
        -1: ("down", pytest.approx(measured[-1.0])), 0: ("base", pytest.approx(measured[0.0])),
        1: ("up", pytest.approx(measured[1.0]))}


def test_a_strategy_that_is_the_compound_network_at_some_phi_is_trained_once_there(tmp_path: Path):
    from scaler.analysis.study import study_table

    width_only = (1.0, 2**0.5, 1.0)  # the upward grid chose width: the width strategy above the base
    up, down = write_grid(tmp_path / "up", width_only, 1.0), write_grid(tmp_path / "down", UP, -1.0)
    proc = run_scaler("study", str(up), str(down), "--max-phi", "1", "--strategies", "width", "--seeds", "2",
                      "--quiet", cwd=tmp_path)
    assert "note: width scaling at phi 1 builds the compound family's network: trained once" in proc.stdout
    df = read_results(up / "study.csv")
    assert sorted(set(df["trial_id"].str.rsplit("-s", n=1).str[0])) == [
        "base-phi0", "compound-phi-1", "compound-phi1", "width-phi-1"]  # no width-phi1: it is compound-phi1
    assert set(df[(df["kind"] == "compound") & (df["phi"] == 1.0)]["aliases"]) == {"width"}
    assert set(df[(df["kind"] == "compound") & (df["phi"] == -1.0)]["aliases"].fillna("")) == {""}
    # the analysis sees width at phi 1 as measured (compound's trials), judged "same network", not a tie
    table = study_table(up / "study.csv")[0].set_index(["strategy", "phi"])
    assert table.loc[("width", 1.0), "accuracy"] == table.loc[("compound", 1.0), "accuracy"]
    assert table.loc[("width", 1.0), "seeds"] == 2
    verdicts = {r["phi"]: r["compound_vs"]["width"]["verdict"] for r in summarize_study(up / "study.csv")}
    assert verdicts[1.0] == "same network" and verdicts[-1.0] in ("better", "worse", "tie")
    assert "the same network as width (trained once)" in proc.stdout


def test_a_downward_grid_alone_studies_below_the_base(tmp_path: Path):
    down = write_grid(tmp_path / "down", DOWN, -1.0)
    proc = run_scaler("study", str(down), "--max-phi", "1", "--strategies", "depth", "--seeds", "1", "--quiet",
                      cwd=tmp_path)
    df = read_results(down / "study.csv")
    assert sorted(set(df["phi"])) == [-1.0, 0.0] and set(df["kind"]) == {"base", "compound", "depth"}
    assert "no forecast: it extrapolates the upward family, and this study has none" in proc.stdout
    assert not (down / "forecast.csv").exists()


@pytest.mark.parametrize(("grids", "message"), [
    ((("up", UP, 1.0, {}), ("up2", UP, 2.0, {})), "two coefficient files search upward"),
    ((("up", UP, 1.0, {}), ("down", DOWN, -1.0, {"epochs": 2})), "down/run.yaml: proxy differs from up's"),
    ((("a", UP, 1.0, {}), ("b", DOWN, -1.0, {}), ("c", DOWN, -1.0, {})), "one grid directory, or two"),
])
def test_grids_that_are_not_one_family_are_refused_before_training(tmp_path: Path, capsys, monkeypatch, grids,
                                                                  message):
    monkeypatch.chdir(tmp_path)
    for name, coefficients, phi, proxy in grids:
        write_grid(Path(name), coefficients, phi, **proxy)
    line = user_error(capsys, "study", *(g[0] for g in grids))
    assert message in line
    assert not any(Path(g[0], "study.csv").exists() for g in grids)


def test_a_strategy_trained_under_its_own_name_is_not_also_read_from_compound_s_aliases():
    import pandas as pd

    from scaler.analysis.study import with_aliases

    rows = pd.DataFrame({"kind": ["compound", "compound", "width", "width"], "phi": [1.0, -1.0, 1.0, -1.0],
                         "accuracy": [0.9, 0.8, 0.7, 0.6], "aliases": ["width", "width", "", ""]})
    # an older study trained width at phi 1 and -1 itself: its own rows, no copies
    assert with_aliases(rows).equals(rows)
    assert sorted(with_aliases(rows.iloc[[0, 1, 3]])["kind"]) == ["compound", "compound", "width", "width"]

"""`scaler fit` end to end: on a small real grid and on the previous release's grid directory; every flag, the
coefficients file it writes, `scaler emit` reading that file, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from _cli import user_error
from _specs import TINY_YAML
from click.testing import CliRunner

from scaler.cli.app import cli, main

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1-grid"

# step 0.1 on beta, gamma in [1, 1.2]: 7 compound candidates, three of them off the axes (beta and gamma both
# above 1), so the quadratic fit over (log beta, log gamma) is determined; plus the base and three baselines.
GRID_YAML = TINY_YAML + """\
dropout: 0.0
drop_path: 0.0
search: {step: 0.1, beta: [1.0, 1.2], gamma: [1.0, 1.2]}
proxy: {dataset: digits, epochs: 1, subset: 300, batch_size: 64}
"""
CANDIDATES = 11  # base, depth, width, resolution + 7 compound
LIMIT = CANDIDATES + 3  # seed 0 of everything, then seed 1 of base, depth and width: a seed-noise estimate


def invoke(*args: str) -> str:
    """A command in process; returns its stdout (a user error would raise ScalerError out of `cli`)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout




@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory) -> Path:
    """A real grid on digits: 11 candidates x seed 0, and seed 1 of base, depth and width."""
    root = tmp_path_factory.mktemp("fit-grid")
    (root / "tiny.yaml").write_text(GRID_YAML, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        # One torch thread: small convolutions gain nothing from threads, and they stall a busy 2-core box.
        mp.setattr("scaler.search.executors.base.available_cores", lambda: 1)
        invoke("grid", str(root / "tiny.yaml"), "--out", str(root / "run"), "--seeds", "2", "--limit", str(LIMIT),
               "--device", "cpu", "--quiet")
    run = root / "run"
    table = pd.read_csv(run / "results.csv")
    assert len(table) == LIMIT and (table["status"] == "ok").all()
    assert set(table["kind"]) == {"base", "depth", "width", "resolution", "compound"}
    assert (table["kind"] == "compound").sum() == 7
    return run


@pytest.fixture
def run(grid_dir: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the grid directory (fit writes into it), with the working directory beside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "400")  # rich panels must not wrap the paths the tests look for
    shutil.copytree(grid_dir, tmp_path / "run")
    return Path("run")


@pytest.fixture
def old_run(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the grid directory written by scaler 0.1.0, with the working directory where it was run."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "400")
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    return Path("run")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def coefs(d: dict) -> tuple[float, float, float]:
    return d["alpha"], d["beta"], d["gamma"]


def constraint(d: dict) -> float:
    return d["alpha"] * d["beta"] ** 2 * d["gamma"] ** 2


def expected_winner(csv: Path, score=None) -> tuple[float, float, float]:
    """The compound candidate with the highest mean score over its seeds, worked out from the CSV by hand."""
    df = pd.read_csv(csv)
    df = df[df["status"] == "ok"].copy()
    df["score"] = df["accuracy"] if score is None else score(df)
    comp = df[df["kind"] == "compound"].groupby(["alpha", "beta", "gamma"], sort=False)["score"].mean()
    return tuple(round(x, 6) for x in comp.idxmax())


def nominal(d: dict) -> tuple[float, float, float]:
    return tuple(round(x, 6) for x in coefs(d))


# --- a real grid -----------------------------------------------------------------------------------------------------


def test_default_fit_writes_the_coefficients_file(run: Path):
    path = run / "coefficients.yaml"
    path.unlink()  # written by the grid; fit must write it again
    out = invoke("fit", str(run / "results.csv"))
    assert "chosen (best, real form): " in out and f"-> {path}" in out
    assert f"next:          scaler emit --coefficients {path} --phi 0..4" in out
    doc = load(path)
    recorded = load(run / "run.yaml")["settings"]
    # the fields emit and study read, and the record of how they were chosen
    assert list(doc)[:3] == ["alpha", "beta", "gamma"] and all(doc[k] > 0 for k in ("alpha", "beta", "gamma"))
    assert (doc["source"], doc["form"], doc["objective"]) == ("best", "real", {"name": "accuracy"})
    assert doc["base"] == {"name": "tiny", "spec": recorded["base"]}
    assert doc["base_path"] == recorded["base_path"] and doc["results"] == str(run / "results.csv")
    assert (doc["phi"], doc["flops_factor"]) == (1.0, 2.0)
    assert nominal(doc["best"]) == expected_winner(run / "results.csv")
    assert doc["best"]["seeds"] == 1
    # the real form: the winner's real multipliers put back on the constraint alpha * beta^2 * gamma^2 = 2
    assert doc["best"]["real_on_constraint"] == {k: doc[k] for k in ("alpha", "beta", "gamma")}
    assert constraint(doc) == pytest.approx(2.0, rel=1e-5)
    # base, depth and width ran with two seeds: the pooled seed std is known and the ranking has a verdict
    df = pd.read_csv(run / "results.csv")
    pooled = df.groupby(["kind", "alpha", "beta", "gamma"])["accuracy"].var(ddof=1).dropna()
    assert len(pooled) == 3
    assert doc["noise"]["seed_std"] == pytest.approx(pooled.mean() ** 0.5, abs=1e-5)
    assert doc["noise"]["verdict"].startswith(("verified", "not separated"))
    assert set(doc["baselines"]) == {"base", "depth", "width", "resolution"}
    # 10 points on the surface, 3 of them off the axes: the nominal quadratic fit is determined
    assert doc["fit"]["ok"] is True and doc["fit"]["points"] == 10


def test_results_directory_is_accepted_for_the_csv(run: Path):
    invoke("fit", str(run))
    assert load(run / "coefficients.yaml")["results"] == str(run / "results.csv")


def test_form_nominal_takes_the_candidate_as_asked(run: Path):
    out = invoke("fit", str(run / "results.csv"), "--form", "nominal")
    doc = load(run / "coefficients.yaml")
    assert (doc["source"], doc["form"]) == ("best", "nominal")
    assert nominal(doc) == nominal(doc["best"]) == expected_winner(run / "results.csv")
    assert "chosen (best, nominal form)" in out
    assert constraint(doc) == pytest.approx(2.0, rel=1e-5)  # solve mode: every candidate is on the constraint


def test_use_fit_takes_the_smooth_fit(run: Path):
    out = invoke("fit", str(run / "results.csv"), "--use", "fit", "--form", "nominal")
    doc = load(run / "coefficients.yaml")
    assert (doc["source"], doc["form"]) == ("fit", "nominal")
    assert coefs(doc) == coefs(doc["fit"])
    assert constraint(doc) == pytest.approx(2.0, rel=2e-3)  # the fit's optimum lies on the constraint
    assert 1.0 <= doc["beta"] <= 1.2 and 1.0 <= doc["gamma"] <= 1.2 and 1.0 <= doc["alpha"] <= 2.0
    assert "smooth fit:    alpha" in out and "chosen (fit, nominal form)" in out


def test_use_fit_real_form_falls_back_to_the_nominal_fit(run: Path):
    invoke("fit", str(run / "results.csv"), "--use", "fit")  # --form real is the default
    doc = load(run / "coefficients.yaml")
    assert doc["source"] == "fit"
    if doc["fit_real"]["ok"]:  # 12 distinct real multipliers: the real fit wins
        assert doc["form"] == "real" and coefs(doc) == coefs(doc["fit_real"])
    else:  # too few distinct rounded networks for the real fit: the nominal fit is used, and says so
        assert "needs 12 distinct" in doc["fit_real"]["reason"]
        assert doc["form"] == "nominal" and coefs(doc) == coefs(doc["fit"])


def test_use_best_overrides_a_grid_that_asked_for_the_fit(run: Path):
    settings = load(run / "run.yaml")
    settings["settings"]["search"]["use"] = "fit"
    (run / "run.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    invoke("fit", str(run / "results.csv"))
    assert load(run / "coefficients.yaml")["source"] == "fit"  # the grid's search.use is the default
    invoke("fit", str(run / "results.csv"), "--use", "best")
    assert load(run / "coefficients.yaml")["source"] == "best"


@pytest.mark.parametrize("w", [None, "-0.5"])
def test_objective_flops(run: Path, w: str | None):
    out = invoke("fit", str(run / "results.csv"), "--objective", "flops", *(["--w", w] if w else []))
    doc = load(run / "coefficients.yaml")
    df = pd.read_csv(run / "results.csv")
    exponent = float(w) if w else -0.07
    target = df.loc[df["kind"] == "base", "flops"].mean() * 2.0  # the base's FLOPs x flops_factor ** phi
    assert doc["objective"] == {"name": "flops", "w": exponent, "target_flops": round(target)}
    winner = expected_winner(run / "results.csv", lambda d: d["accuracy"] * (d["flops"] / target) ** exponent)
    assert nominal(doc["best"]) == winner
    assert f"objective:     flops (w = {exponent:g}); best and fits maximize it" in out


def test_objective_training(run: Path):
    invoke("fit", str(run / "results.csv"), "--objective", "training", "--w", "-0.1", "--v", "-0.2")
    doc = load(run / "coefficients.yaml")
    df = pd.read_csv(run / "results.csv")
    base = df[df["kind"] == "base"]
    step0, params0 = base["train_step_ms"].mean(), base["params"].mean()
    assert doc["objective"] == {"name": "training", "w": -0.1, "v": -0.2,
                                "base_train_step_ms": pytest.approx(step0, abs=1e-3),  # rounded to 3 decimals
                                "base_params": int(params0)}

    def score(d):
        return d["accuracy"] * (d["train_step_ms"] / step0) ** -0.1 * (d["params"] / params0) ** -0.2

    assert nominal(doc["best"]) == expected_winner(run / "results.csv", score)
    assert "score" in doc["best"]  # the score differs from the accuracy, so it is written beside it


def test_objective_training_default_exponents(run: Path):
    invoke("fit", str(run / "results.csv"), "--objective", "training")
    objective = load(run / "coefficients.yaml")["objective"]
    assert (objective["name"], objective["w"], objective["v"]) == ("training", -0.07, -0.05)


def test_out_writes_elsewhere_and_leaves_the_grids_file(run: Path):
    before = (run / "coefficients.yaml").read_bytes()
    Path("elsewhere").mkdir()
    out = invoke("fit", str(run / "results.csv"), "--form", "nominal", "--out", "elsewhere/c.yaml")
    assert (run / "coefficients.yaml").read_bytes() == before
    doc = load(Path("elsewhere/c.yaml"))
    assert doc["form"] == "nominal" and doc["results"] == str(run / "results.csv")
    assert "-> elsewhere/c.yaml" in out


def test_emit_reads_what_fit_wrote(run: Path):
    invoke("fit", str(run / "results.csv"), "--out", "c.yaml")
    doc = load(Path("c.yaml"))
    members = json.loads(invoke("emit", "--coefficients", "c.yaml", "--phi", "0..2", "--out", "family", "--json"))
    assert [m["name"] for m in members] == ["tiny-phi0", "tiny-phi1", "tiny-phi2"]
    assert [m["phi"] for m in members] == [0.0, 1.0, 2.0]
    for m, phi in zip(members, (0, 1, 2), strict=True):
        assert m["depth"] == pytest.approx(doc["alpha"] ** phi, rel=1e-5)
        assert m["width"] == pytest.approx(doc["beta"] ** phi, rel=1e-5)
        assert Path(m["path"]).is_file()
    assert members[0]["flops_ratio"] == 1.0 and members[2]["flops"] > members[1]["flops"] > members[0]["flops"]
    # the emitted base is the grid's base spec (the coefficients file carries it), not the digits proxy
    emitted = yaml.safe_load(Path(members[0]["path"]).read_text(encoding="utf-8"))
    assert (emitted["resolution"], emitted["in_channels"]) == (16, 3)


# --- the previous release's grid directory ---------------------------------------------------------------------------


def test_fit_reproduces_the_old_releases_coefficients(old_run: Path):
    committed = (old_run / "coefficients.yaml").read_text(encoding="utf-8")
    (old_run / "coefficients.yaml").unlink()
    invoke("fit", "run/results.csv")
    assert (old_run / "coefficients.yaml").read_text(encoding="utf-8") == committed
    doc = load(old_run / "coefficients.yaml")
    assert (doc["alpha"], doc["beta"], doc["gamma"], doc["source"], doc["form"]) == (
        1.447652, 1.0, 1.175392, "best", "real")


def test_old_run_every_objective_and_form(old_run: Path):
    invoke("fit", "run", "--form", "nominal", "--out", "nominal.yaml")
    doc = load(Path("nominal.yaml"))
    assert (coefs(doc), doc["form"]) == ((1.388889, 1.0, 1.2), "nominal")
    # no fit is possible with 5 points on the surface: --use fit keeps the best candidate
    invoke("fit", "run", "--use", "fit", "--out", "fit.yaml")
    doc = load(Path("fit.yaml"))
    assert doc["fit"]["ok"] is False and doc["source"] == "best"
    invoke("fit", "run", "--objective", "flops", "--out", "flops.yaml")
    doc = load(Path("flops.yaml"))
    assert doc["objective"] == {"name": "flops", "w": -0.07, "target_flops": 57728 * 2}
    invoke("fit", "run", "--objective", "training", "--w", "-0.07", "--v", "-0.05", "--out", "training.yaml")
    doc = load(Path("training.yaml"))
    assert doc["objective"] == {"name": "training", "w": -0.07, "v": -0.05, "base_train_step_ms": 20.184,
                                "base_params": 3632}
    members = json.loads(invoke("emit", "--coefficients", "training.yaml", "--phi", "0..2", "--out", "fam",
                                "--json"))
    assert [m["name"] for m in members] == ["tiny-phi0", "tiny-phi1", "tiny-phi2"]


# --- errors ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--objective", "flops", "--v", "-0.05"],
     "error: --v has no meaning under objective flops (w: flops, training; v: training)"),
    (["--v", "-0.05"], "error: --v has no meaning under objective accuracy (w: flops, training; v: training)"),
    (["--w", "-0.07"], "error: --w has no meaning under objective accuracy (w: flops, training; v: training)"),
])
def test_exponents_outside_their_objective(capsys, old_run: Path, args: list[str], message: str):
    before = (old_run / "coefficients.yaml").read_bytes()
    assert user_error(capsys, "fit", "run/results.csv", *args) == message
    assert (old_run / "coefficients.yaml").read_bytes() == before  # nothing written


def test_missing_results(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert user_error(capsys, "fit", "nope.csv") == "error: nope.csv: no such file"
    Path("empty").mkdir()
    assert user_error(capsys, "fit", "empty") == "error: empty/results.csv: no such file"


def test_results_without_run_yaml(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("lone").mkdir()
    shutil.copy(FIXTURE / "run" / "results.csv", "lone/results.csv")
    message = ("error: lone/run.yaml: no run.yaml beside the results (it records the base spec and search "
               "settings); fit the results.csv of a `scaler grid` directory")
    assert user_error(capsys, "fit", "lone/results.csv") == message
    assert user_error(capsys, "fit", "lone") == message
    assert not Path("lone/coefficients.yaml").exists()


def test_out_into_a_missing_directory_creates_it(capsys, old_run: Path):
    with pytest.raises(SystemExit) as e:
        main(["fit", "run", "--out", "nodir/c.yaml"])
    assert e.value.code == 0 and Path("nodir/c.yaml").is_file()


def test_out_that_cannot_be_written_is_one_line(capsys, old_run: Path):
    Path("afile").write_text("not a directory")
    with pytest.raises(SystemExit) as e:
        main(["fit", "run", "--out", "afile/c.yaml"])
    _, err = capsys.readouterr()
    assert e.value.code == 2 and err.startswith("error: afile/c.yaml: cannot write the coefficients") \
        and len(err.splitlines()) == 1, err

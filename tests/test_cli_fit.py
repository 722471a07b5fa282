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
# The tiny network rounds four compound candidates onto others (its 8 and 16 channels barely move at beta 1.1):
# they are planned as aliases, 7 networks. The confirmation round retrains the base and the top 2 with seeds 1
# and 2: a seed-noise estimate on 6 degrees of freedom.
GRID_YAML = TINY_YAML + """\
dropout: 0.0
drop_path: 0.0
search: {step: 0.1, beta: [1.0, 1.2], gamma: [1.0, 1.2], confirm: 2, strategy: grid}
proxy: {dataset: digits, epochs: 1, subset: 300, batch_size: 64}
"""
NETWORKS = 7
TRIALS = NETWORKS + 3 * 2


def invoke(*args: str) -> str:
    """A command in process; returns its stdout (a user error would raise ScalerError out of `cli`)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout




@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory) -> Path:
    """A real grid on digits: 7 networks x seed 0, then seeds 1 and 2 of the base and the top two."""
    root = tmp_path_factory.mktemp("fit-grid")
    (root / "tiny.yaml").write_text(GRID_YAML, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        # One torch thread: small convolutions gain nothing from threads, and they stall a busy 2-core box.
        mp.setattr("scaler.search.executors.base.available_cores", lambda: 1)
        invoke("grid", str(root / "tiny.yaml"), "--out", str(root / "run"), "--device", "cpu", "--quiet")
    run = root / "run"
    table = pd.read_csv(run / "results.csv")
    assert len(table) == TRIALS and (table["status"] == "ok").all()
    assert set(table["kind"]) == {"base", "depth", "width", "resolution", "compound"}
    assert table[table["kind"] == "depth"]["aliases"].iloc[0] == "a1.653-b1.000-g1.100 a1.653-b1.100-g1.000"
    assert (table["seed"] > 0).sum() == 6 and (table[table["seed"] > 0]["kind"] == "base").sum() == 2
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


def by_candidate(csv: Path, score=None) -> pd.DataFrame:
    """Mean score and FLOPs of every candidate but the base, worked out from the CSV by hand."""
    df = pd.read_csv(csv)
    df = df[(df["status"] == "ok") & (df["kind"] != "base")].copy()
    df["candidate"] = df["trial_id"].str.rsplit("-s", n=1).str[0]
    df["score"] = df["accuracy"] if score is None else score(df)
    return df.groupby("candidate")[["score", "flops"]].mean()


def check_choice(doc: dict, csv: Path, score=None) -> None:
    """The tie set is headed by the highest mean score, and the choice is its member with the fewest FLOPs."""
    table, sel = by_candidate(csv, score), doc["selection"]
    assert table.loc[sel["highest"], "score"] == pytest.approx(table["score"].max(), abs=1e-9)
    ties = sel.get("tie_set", [sel["highest"]])
    assert ties[0] == sel["highest"] and sel["chosen"] == doc["best"]["candidate"] in ties
    assert table.loc[sel["chosen"], "flops"] == table.loc[ties, "flops"].min()


def nominal(d: dict) -> tuple[float, float, float]:
    return tuple(round(x, 6) for x in coefs(d))


# --- a real grid -----------------------------------------------------------------------------------------------------


def test_default_fit_writes_the_coefficients_file(run: Path):
    path = run / "coefficients.yaml"
    path.unlink()  # written by the grid; fit must write it again
    out = invoke("fit", str(run / "results.csv"))
    assert "coefficients (best, real form): " in out and f"-> {path}" in out
    assert f"next:          scaler emit --coefficients {path} --phi 0..4" in out
    doc = load(path)
    recorded = load(run / "run.yaml")["settings"]
    # the fields emit and study read, and the record of how they were chosen
    assert list(doc)[:3] == ["alpha", "beta", "gamma"] and all(doc[k] > 0 for k in ("alpha", "beta", "gamma"))
    assert (doc["source"], doc["form"], doc["objective"]) == ("best", "real", {"name": "accuracy"})
    assert doc["base"] == {"name": "tiny", "spec": recorded["base"]}
    assert doc["base_path"] == recorded["base_path"] and doc["results"] == str(run / "results.csv")
    assert (doc["phi"], doc["flops_factor"]) == (1.0, 2.0)
    assert doc["selected_on"] == "validation" and 0 < doc["best"]["test_accuracy"] <= 1
    check_choice(doc, run / "results.csv")
    # the real form: the winner's real multipliers put back on the constraint alpha * beta^2 * gamma^2 = 2
    assert doc["best"]["real_on_constraint"] == {k: doc[k] for k in ("alpha", "beta", "gamma")}
    assert constraint(doc) == pytest.approx(2.0, rel=1e-5)
    # the base and the top two ran with three seeds: the pooled seed std is known, on 3 x 2 degrees of freedom
    df = pd.read_csv(run / "results.csv")
    pooled = df.groupby(["kind", "alpha", "beta", "gamma"])["accuracy"].var(ddof=1).dropna()
    assert len(pooled) == 3
    assert doc["selection"]["noise"] == {"seed_std": pytest.approx(pooled.mean() ** 0.5, abs=1e-5), "df": 6}
    assert doc["selection"]["rule"].startswith("fewest real FLOPs inside the tie set")
    assert {c["candidate"] for c in doc["selection"]["comparisons"]} | {doc["best"]["candidate"]} == set(
        df["trial_id"].str.rsplit("-s", n=1).str[0])
    assert set(doc["baselines"]) == {"base", "depth", "width", "resolution"}
    assert all(0 < b["test_accuracy"] <= 1 for b in doc["baselines"].values())
    # 6 networks on the surface: the nominal quadratic goes through them, far too rich to be used
    assert doc["fit"]["ok"] is True and doc["fit"]["points"] == NETWORKS - 1 and doc["fit"]["usable"] is False


def test_results_directory_is_accepted_for_the_csv(run: Path):
    invoke("fit", str(run))
    assert load(run / "coefficients.yaml")["results"] == str(run / "results.csv")


def test_form_nominal_takes_the_candidate_as_asked(run: Path):
    out = invoke("fit", str(run / "results.csv"), "--form", "nominal")
    doc = load(run / "coefficients.yaml")
    assert (doc["source"], doc["form"]) == ("best", "nominal")
    assert nominal(doc) == nominal(doc["best"])
    check_choice(doc, run / "results.csv")
    assert "coefficients (best, nominal form)" in out
    assert constraint(doc) == pytest.approx(2.0, rel=1e-5)  # solve mode: every candidate is on the constraint


def test_use_fit_falls_back_on_the_choice_when_no_surface_earns_its_use(run: Path):
    out = invoke("fit", str(run / "results.csv"), "--use", "fit", "--form", "nominal")
    doc = load(run / "coefficients.yaml")
    # 6 networks for a 6-parameter surface (18 needed): the tie-set choice is used, and the file says why
    assert (doc["source"], doc["form"]) == ("best", "nominal") and nominal(doc) == nominal(doc["best"])
    assert doc["fallback"] == "fit: 6 parameters need 18 distinct networks, the grid has 6"
    assert "smooth fit:    alpha" in out and "fit not used:  fit: 6 parameters need 18" in out
    invoke("fit", str(run / "results.csv"), "--use", "fit")  # --form real: the real fit first, then the nominal
    doc = load(run / "coefficients.yaml")
    assert doc["source"] == "best" and doc["fallback"].startswith("fit_real: needs 12 distinct real")


def test_use_best_overrides_a_grid_that_asked_for_the_fit(run: Path):
    settings = load(run / "run.yaml")
    settings["settings"]["search"]["use"] = "fit"
    (run / "run.yaml").write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    invoke("fit", str(run / "results.csv"))
    assert "fallback" in load(run / "coefficients.yaml")  # the grid's search.use is the default
    invoke("fit", str(run / "results.csv"), "--use", "best")
    assert "fallback" not in load(run / "coefficients.yaml")


@pytest.mark.parametrize("w", [None, "-0.5"])
def test_objective_flops(run: Path, w: str | None):
    out = invoke("fit", str(run / "results.csv"), "--objective", "flops", *(["--w", w] if w else []))
    doc = load(run / "coefficients.yaml")
    df = pd.read_csv(run / "results.csv")
    exponent = float(w) if w else -0.07
    target = df.loc[df["kind"] == "base", "flops"].mean() * 2.0  # the base's FLOPs x flops_factor ** phi
    assert doc["objective"] == {"name": "flops", "w": exponent, "target_flops": round(target)}
    check_choice(doc, run / "results.csv", lambda d: d["accuracy"] * (d["flops"] / target) ** exponent)
    assert f"objective:     flops (w = {exponent:g}); the ranking, tie set and fits are on it" in out


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

    sel = doc["selection"]
    table = by_candidate(run / "results.csv", score)
    assert table.loc[sel["highest"], "score"] == pytest.approx(table["score"].max(), abs=1e-9)
    assert sel["rule"].startswith("lowest train_step_ms inside the tie set") and sel["chosen"] in sel["tie_set"]
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
    # the table view says how sure the coefficients are: the bootstrap interval of what was chosen
    lo, hi = doc["bootstrap"]["winner_interval"]["alpha"]
    out = invoke("emit", "--coefficients", "c.yaml", "--phi", "1", "--out", "family")
    assert (f"c.yaml (upward, searched at phi 1): 95% bootstrap interval of the winner: alpha {doc['alpha']:.3f} "
            f"({lo:.3f}..{hi:.3f})") in out
    assert f"the chosen candidate wins {doc['bootstrap']['wins'].get(doc['best']['candidate'], 0):.0%}" in out


# --- the previous release's grid directory ---------------------------------------------------------------------------


def test_fit_reads_the_old_releases_results_and_says_they_were_ranked_on_test(old_run: Path):
    committed = load(old_run / "coefficients.yaml")
    (old_run / "coefficients.yaml").unlink()
    out = invoke("fit", "run/results.csv")
    doc = load(old_run / "coefficients.yaml")
    # one seed per candidate: the choice is the highest, unverified, and the same as the old release's
    assert coefs(doc) == coefs(committed) == (1.447652, 1.0, 1.175392)
    assert (doc["source"], doc["form"], doc["selected_on"]) == ("best", "real", "test")
    assert doc["selection"]["noise"] is None and "unverified" in doc["selection"]["rule"]
    assert "warning:       these results were ranked on the test split" in out


def test_old_run_every_objective_and_form(old_run: Path):
    invoke("fit", "run", "--form", "nominal", "--out", "nominal.yaml")
    doc = load(Path("nominal.yaml"))
    assert (coefs(doc), doc["form"]) == ((1.388889, 1.0, 1.2), "nominal")
    # no fit is possible with 5 points on the surface: --use fit keeps the chosen candidate
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
     "error: --v has no meaning under objective flops (w: flops, training, latency; v: training)"),
    (["--v", "-0.05"], "error: --v has no meaning under objective accuracy (w: flops, training, latency; v: training)"),
    (["--w", "-0.07"], "error: --w has no meaning under objective accuracy (w: flops, training, latency; v: training)"),
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

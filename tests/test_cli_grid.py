"""`scaler grid` in process: progressive proxies, an image folder, resuming the previous release's directory, and
located one-line errors (with a suggestion) for misspelled keys in every section of the settings file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from _cli import user_error
from _specs import SHRINKABLE, TINY_YAML
from click.testing import CliRunner

from scaler.cli.app import cli

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1-grid"

# Four compound candidates (step 0.2), no baselines: a run of --limit 2 trains two small networks.
FEW = TINY_YAML + """\
dropout: 0.0
drop_path: 0.0
search: {step: 0.2, baselines: false, strategy: grid}
proxy: {subset: 300, batch_size: 64}
"""


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    """One torch thread per trial: small convolutions gain nothing from threads, and they stall a busy 2-core box."""
    monkeypatch.setattr("scaler.search.executors.base.available_cores", lambda: 1)
    monkeypatch.setenv("COLUMNS", "400")


def grid(*args: str) -> str:
    """`scaler grid` in process on the CPU, plain output; returns what it printed."""
    result = CliRunner().invoke(cli, ["grid", *args, "--device", "cpu", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def records(run: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((run / "trials").glob("*.json"))}


def csv_lines(run: Path) -> list[str]:
    return (run / "results.csv").read_text(encoding="utf-8").splitlines()


# --- (a) progressive learning ----------------------------------------------------------------------------------------


def test_progressive_grid(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny.yaml").write_text(FEW, encoding="utf-8")
    out = grid("tiny.yaml", "--out", "run", "--dataset", "digits", "--epochs", "2", "--progressive", "--limit", "2")
    assert "running 2 on cpu" in out
    run = Path("run")
    settings = yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))["settings"]
    # --progressive without a progressive section in the file: the defaults, recorded in full
    assert settings["proxy"]["progressive"] == {"stages": 4, "start_scale": 0.5, "dropout": [0.0, 0.2],
                                                "augment": [0.25, 1.0], "mixup": [0.0, 0.2]}
    assert settings["proxy"]["epochs"] == 2
    # at its end the grid draws its figures and writes its report
    assert f"report: {run / 'report.html'}" in out and (run / "report.html").stat().st_size > 0
    assert {p.name for p in (run / "plots").iterdir()} >= {"pareto.png", "pareto.svg", "curves.svg"}
    assert set(yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))["environment"]) >= {
        "python", "platform", "processor", "cpus", "torch", "scaler"}
    found = records(run)
    assert len(found) == 2 and len(csv_lines(run)) == 3
    for trial_id, record in found.items():
        curve, row = record["curve"], record["row"]
        assert row["status"] == "ok" and row["trial_id"] == trial_id and row["epochs"] == 2
        # 2 epochs: at most one stage per epoch, so two stages; the image size and regularization grow, and the
        # last stage trains at the trial's own resolution with the full regularization
        assert [e["epoch"] for e in curve] == [1, 2]
        assert [e["stage"] for e in curve] == [1, 2]
        assert curve[0]["image_size"] < curve[1]["image_size"] == row["resolution"]
        assert [e["dropout"] for e in curve] == [0.1, 0.2] and [e["mixup"] for e in curve] == [0.1, 0.2]
        assert [e["augment"] for e in curve] == [0.625, 1.0]
    # the same directory without --progressive holds results of other settings: refused, nothing trained
    message = user_error(capsys, "grid", "tiny.yaml", "--out", "run", "--dataset", "digits", "--epochs", "2", "--quiet")
    assert message.startswith("error: run: holds results of different settings (proxy.progressive: was {")
    assert len(records(run)) == 2


def test_a_downward_grid_trains_below_the_base_and_fits_per_unit_of_phi(tmp_path: Path, monkeypatch):
    """--phi -1: candidates at alpha^-1, beta^-1, gamma^-1 (about half the base's FLOPs); the fit reports the
    coefficients per unit of phi, as upward (a real multiplier of 2/3 at phi -1 is 1.5 per unit)."""
    from scaler.results import read_results

    monkeypatch.chdir(tmp_path)
    Path("shrink.yaml").write_text(SHRINKABLE, encoding="utf-8")
    out = grid("shrink.yaml", "--out", "down", "--dataset", "digits", "--epochs", "1", "--phi", "-1", "--limit", "6")
    assert "against a target of x0.5" in out
    df = read_results(Path("down"))
    compound = df[df["kind"] == "compound"]
    assert len(df) == 6 and set(df["phi"]) == {0.0, -1.0} and len(compound) == 2
    assert (df[df["kind"] != "base"]["flops"] < int(df[df["kind"] == "base"]["flops"].iloc[0])).all()
    fitted = yaml.safe_load(Path("down/coefficients.yaml").read_text(encoding="utf-8"))
    assert fitted["phi"] == -1.0 and "--phi -2..0" in out
    # what emit uses: the chosen network's real multipliers per unit of phi, put on alpha * beta^2 * gamma^2 = 2
    # (not on the 0.5 of phi = -1, which would grow the network as phi falls)
    assert fitted["alpha"] * fitted["beta"] ** 2 * fitted["gamma"] ** 2 == pytest.approx(2, rel=1e-4)
    assert min(fitted["alpha"], fitted["beta"], fitted["gamma"]) >= 1 - 1e-6
    best = fitted["best"]
    row = df.set_index("trial_id").loc[f"{best['candidate']}-s0"]
    assert [best["real"][k] for k in ("alpha", "beta", "gamma")] == pytest.approx(
        [float(row[c]) ** -1 for c in ("depth_real", "width_real", "resolution_real")], abs=1e-5)


# --- (b) an image folder ---------------------------------------------------------------------------------------------


def write_image_folder(root: Path) -> None:
    """Three classes of 20 small images each, of mixed sizes and modes; each class has its own colour."""
    from PIL import Image

    sizes = [(12, 12), (16, 16), (20, 14), (14, 18)]
    colours = {"cat": (200, 40, 40), "dog": (40, 200, 40), "owl": (40, 40, 200)}
    for c, (name, colour) in enumerate(colours.items()):
        (root / name).mkdir(parents=True)
        for i in range(20):
            size = sizes[i % len(sizes)]
            image = Image.new("RGB", size, colour)
            for x in range(0, size[0], 3 + c):  # a class-specific stripe pattern, with a little per-image shift
                for y in range(size[1]):
                    image.putpixel(((x + i) % size[0], y), (255, 255, 255))
            if c == 0 and i % 2:
                image = image.convert("L")  # a grey image among colour ones: read as RGB like the rest
            image.save(root / name / f"{i:02d}.png")


def test_image_folder_grid(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image_folder(tmp_path / "images")
    Path("tiny.yaml").write_text(FEW, encoding="utf-8")
    dataset = f"imagefolder:{tmp_path / 'images'}"
    out = grid("tiny.yaml", "--out", "run", "--dataset", dataset, "--epochs", "1", "--limit", "2")
    assert re.search(r"data: imagefolder:\S+: 42 train / 6 validation / 12 test images, 3x\d+px, 3 classes", out), out
    run = Path("run")
    settings = yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))["settings"]
    assert settings["proxy"]["dataset"] == dataset
    found = records(run)
    assert len(found) == 2
    for record in found.values():
        # the proxy is sized for the folder: 3 classes, RGB; the base spec's 10 classes do not matter
        assert (record["spec"]["num_classes"], record["spec"]["in_channels"]) == (3, 3)
        assert record["row"]["status"] == "ok" and 0 <= record["row"]["accuracy"] <= 1
    assert (run / "coefficients.yaml").is_file()


# --- (b2) the test split decides nothing ----------------------------------------------------------------------------


def test_perturbing_the_test_split_changes_no_decision(tmp_path: Path, monkeypatch):
    """The same grid on digits twice, the second time with the test images replaced by noise and the test labels
    shuffled: every validation accuracy and every choice in coefficients.yaml is the same; only test_accuracy
    moves."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_digits

    monkeypatch.chdir(tmp_path)
    digits = load_digits()
    x, y = (digits.images * (255 / 16)).astype(np.uint8), digits.target
    rng = np.random.default_rng(0)
    test = rng.permutation(len(y))[:300]
    keep = np.setdiff1d(np.arange(len(y)), test)
    np.savez("clean.npz", x=x[keep], y=y[keep], x_test=x[test], y_test=y[test])
    np.savez("perturbed.npz", x=x[keep], y=y[keep], x_test=rng.integers(0, 256, x[test].shape, dtype=np.uint8),
             y_test=rng.permutation(y[test]))
    Path("tiny.yaml").write_text(TINY_YAML + "search: {step: 0.2, confirm: 2, strategy: grid}\n"
                                 "proxy: {epochs: 1, subset: 400, batch_size: 64}\n", encoding="utf-8")
    runs = {}
    for name in ("clean", "perturbed"):
        grid("tiny.yaml", "--dataset", f"npz:{name}.npz", "--out", name)
        runs[name] = (pd.read_csv(Path(name) / "results.csv"),
                      yaml.safe_load((Path(name) / "coefficients.yaml").read_text(encoding="utf-8")))
    (clean, a), (perturbed, b) = runs["clean"], runs["perturbed"]
    assert clean["trial_id"].tolist() == perturbed["trial_id"].tolist() and len(clean) > 8  # confirmation included
    assert clean["accuracy"].tolist() == perturbed["accuracy"].tolist()
    assert (clean["test_accuracy"] != perturbed["test_accuracy"]).any()

    def decisions(doc: dict) -> tuple:
        return (doc["alpha"], doc["beta"], doc["gamma"], doc["selection"], doc["bootstrap"], doc["fit"],
                doc["fit_real"])

    assert decisions(a) == decisions(b)
    assert a["best"]["test_accuracy"] != b["best"]["test_accuracy"]


# --- (c) the previous release's directory: read, never resumed --------------------------------------------------


def test_previous_release_directory_is_read_but_never_resumed(capsys, tmp_path: Path, monkeypatch):
    """Its `accuracy` is the test split's (schema 1): fit and plot read it and say so; new rows of schema 2
    (validation and test) never join it; --fresh starts over and keeps it."""
    from scaler.results import read_results

    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    run = Path("run")
    old_csv = (run / "results.csv").read_text(encoding="utf-8")
    assert "schema_version" not in yaml.safe_load((run / "run.yaml").read_text(encoding="utf-8"))
    df = read_results(run / "results.csv")
    assert df.attrs["schema_version"] == 1 and len(df) == 6

    message = user_error(capsys, "grid", "tiny.yaml", "--out", "run", "--limit", "0", "--device", "cpu")
    assert message.startswith(f"error: {run}: holds results of schema 1 (accuracy scored on the test split)")
    assert "--fresh" in message
    assert (run / "results.csv").read_text(encoding="utf-8") == old_csv

    result = CliRunner().invoke(cli, ["fit", "run/results.csv", "--out", "old.yaml"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "test split" in result.output
    fitted = yaml.safe_load(Path("old.yaml").read_text(encoding="utf-8"))
    assert fitted["selected_on"] == "test"
    result = CliRunner().invoke(cli, ["plot", "run/results.csv"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = result.stdout.split()
    assert sorted(Path(p).name for p in written) == sorted(
        f"{name}.{ext}" for name in ("pareto", "coefficients", "curves") for ext in ("png", "svg"))
    assert all(Path(p).parent == run / "plots" and Path(p).stat().st_size > 0 for p in written)

    out = grid("tiny.yaml", "--out", "run", "--limit", "1", "--fresh", "--strategy", "grid")
    moved = next((run / "previous").iterdir())
    assert (moved / "results.csv").read_text(encoding="utf-8") == old_csv
    df = read_results(run)
    assert df.attrs["schema_version"] == 2 and len(df) == 1 and df["test_accuracy"].between(0, 1).all()
    assert "running 1 on cpu" in out
    # the base alone: nothing fitted, and the report says how far the grid got, with no answer
    assert f"nothing fitted ({run / 'results.csv'})\nreport: {run / 'report.html'}" in out
    assert "No answer yet:" in (run / "report.html").read_text(encoding="utf-8")
    assert not (run / "coefficients.yaml").exists()


# --- (d) misspelled keys ---------------------------------------------------------------------------------------------


def where(text: str, key: str) -> str:
    """``line:col`` (1-based) of the first occurrence of ``key`` in ``text``."""
    for n, line in enumerate(text.splitlines(), start=1):
        if key in line:
            return f"{n}:{line.index(key) + 1}"
    raise AssertionError(key)


BASE = TINY_YAML + "dropout: 0.0\n"


@pytest.mark.parametrize("text, key, message", [
    (BASE.replace("resolution: 16", "resoluton: 16"), "resoluton",
     "unknown field 'resoluton' (did you mean 'resolution'?)"),
    (BASE.replace("stem: {channels: 8}", "stem: {channels: 8, kernal: 3}"), "kernal",
     "stem: unknown field 'kernal' (did you mean 'kernel'?)"),
    (BASE + "colour: red\n", "colour", "unknown field 'colour'"),
    (BASE + "proxy: {epoch: 1}\n", "epoch", "proxy: unknown field 'epoch' (did you mean 'epochs'?)"),
    (BASE + "proxy:\n  epochs: 1\n  augment: {translte: 0.1}\n", "translte",
     "proxy.augment: unknown field 'translte' (did you mean 'translate'?)"),
    (BASE + "proxy:\n  progressive: {stage: 2}\n", "stage:",
     "proxy.progressive: unknown field 'stage' (did you mean 'stages'?)"),
    (BASE + "search: {stpe: 0.1}\n", "stpe", "search: unknown field 'stpe' (did you mean 'step'?)"),
    (BASE + "search:\n  beta: [1.0, 1.2]\n  gama: [1.0, 1.2]\n", "gama",
     "search: unknown field 'gama' (did you mean 'gamma'?)"),
    (BASE + "search: {zzzzqq: 0.1}\n", "zzzzqq", "search: unknown field 'zzzzqq'"),
])
def test_misspelled_keys_are_located_one_line_errors(capsys, tmp_path: Path, monkeypatch, text: str, key: str,
                                                     message: str):
    monkeypatch.chdir(tmp_path)
    Path("bad.yaml").write_text(text, encoding="utf-8")
    line = user_error(capsys, "grid", "bad.yaml", "--out", "run", "--dataset", "digits", "--limit", "0", "--quiet")
    assert line == f"error: bad.yaml:{where(text, key)}: {message}"
    assert not Path("run").exists()  # refused before anything was written


def test_spec_typo_names_the_file_as_given(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("specs").mkdir()
    Path("specs/bad.yaml").write_text(BASE.replace("resolution: 16", "resoluton: 16"), encoding="utf-8")
    assert user_error(capsys, "grid", "specs/bad.yaml", "--limit", "0", "--quiet") == (
        "error: specs/bad.yaml:2:1: unknown field 'resoluton' (did you mean 'resolution'?)")
    absolute = str(tmp_path / "specs" / "bad.yaml")
    assert user_error(capsys, "grid", absolute, "--limit", "0", "--quiet") == (
        f"error: {absolute}:2:1: unknown field 'resoluton' (did you mean 'resolution'?)")
    assert not Path("results").exists()

"""The README's "Scaling your own network" example end to end: examples/my_resnet.py through specs/my-resnet.yaml
in info, grid, fit, emit and study, as a user runs them."""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from _cli import run_scaler

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "specs" / "my-resnet.yaml"


@pytest.fixture
def my_resnet(tmp_path: Path) -> Path:
    """specs/my-resnet.yaml with a small search (7 candidates) and its factory's folder made absolute."""
    data = yaml.safe_load(EXAMPLE.read_text())
    assert data["factory"] == "my_resnet:make_net" and (EXAMPLE.parent / data["path"] / "my_resnet.py").is_file()
    data["path"] = str((EXAMPLE.parent / data["path"]).resolve())
    data["search"] = {"step": 0.2, "beta": [1.0, 1.2], "gamma": [1.0, 1.4], "strategy": "grid", "confirm": 0}
    data["proxy"] = {"dataset": "digits", "epochs": 1, "subset": 300, "lr": 0.1}
    path = tmp_path / "my-resnet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_info_measures_the_built_example(tmp_path: Path):
    out = json.loads(run_scaler("info", str(EXAMPLE), "--json", cwd=tmp_path).stdout)
    # examples/my_resnet.py at width 1, depth 1 on 1x14x14 images: stem 16, stages of 1, 2, 2 basic blocks
    assert (out["params"], out["flops"], out["counted"]) == (170_298, 4_634_816, "measured")
    assert out["factory"] == "my_resnet:make_net" and out["path"] == str((ROOT / "examples").resolve())


@pytest.mark.slow
def test_grid_fit_emit_and_study_on_the_example(my_resnet: Path, tmp_path: Path):
    # two worker processes: each imports the factory from the folder its spec names
    run_scaler("grid", str(my_resnet), "--out", "run", "--device", "cpu", "--quiet", "--workers", "2", cwd=tmp_path)
    with open(tmp_path / "run" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and all(r["status"] == "ok" for r in rows)
    by = {r["trial_id"]: r for r in rows}
    # the factory got the real multipliers; the FLOPs ratio is measured on what it built
    assert (by["depth-s0"]["depth_real"], by["width-s0"]["width_real"]) == ("2", "1.414214")
    assert float(by["width-s0"]["flops_ratio"]) == pytest.approx(
        int(by["width-s0"]["flops"]) / int(by["base-s0"]["flops"]), rel=1e-5)
    assert by["base-s0"]["blocks"] == "0"  # a factory's blocks are not scaler's to count

    run_scaler("plot", "run/results.csv", cwd=tmp_path)
    assert (tmp_path / "run" / "plots" / "pareto.png").stat().st_size > 10_000
    run_scaler("fit", "run/results.csv", "--out", "fitted.yaml", cwd=tmp_path)
    fitted = yaml.safe_load((tmp_path / "fitted.yaml").read_text())
    assert fitted["base"]["spec"]["factory"] == "my_resnet:make_net"

    out = json.loads(run_scaler("emit", "--base", str(my_resnet), "--alpha", "1.2", "--beta", "1.1", "--gamma",
                                "1.15", "--phi", "0..2", "--out", "family", "--json", cwd=tmp_path).stdout)
    flops = [m["flops"] for m in out]
    steps = [b / a for a, b in itertools.pairwise(flops)]
    assert all(1.6 < s < 2.6 for s in steps), steps  # about 2x per phi, after the factory's own rounding
    member = yaml.safe_load((tmp_path / "family" / "my-resnet-phi2.yaml").read_text())
    assert member["derived"]["depth"] == 1.44 and member["derived"]["width"] == 1.21 and member["resolution"] == 19
    assert member["path"] == os.path.relpath(ROOT / "examples", tmp_path / "family")  # relative to the file
    # the emitted file builds what emit counted, from wherever it is read
    again = json.loads(run_scaler("info", "family/my-resnet-phi2.yaml", "--json", cwd=tmp_path).stdout)
    assert again["flops"] == flops[2]

    proc = run_scaler("study", "run", "--max-phi", "1", "--strategies", "width", "--seeds", "1", "--quiet",
                      "--device", "cpu", cwd=tmp_path)
    with open(tmp_path / "run" / "study.csv", newline="") as f:
        study = list(csv.DictReader(f))
    # when the grid chose width-only, width scaling is the compound family: trained once, as compound
    same = "note: width scaling builds the very networks of the compound family" in proc.stdout + proc.stderr
    assert sorted(r["strategy"] for r in study) == ["base", "compound"] + ([] if same else ["width"])
    assert all(r["status"] == "ok" for r in study)


def test_a_project_moved_with_its_runs_resumes(my_resnet: Path, tmp_path: Path, monkeypatch):
    """run.yaml records the factory's folder relative to the run, so a copied project resumes where it was."""
    import shutil

    monkeypatch.delitem(sys.modules, "my_resnet", raising=False)  # this test's copies, as in a process of their own

    project = tmp_path / "project"
    (project / "code").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "my_resnet.py", project / "code")
    spec = yaml.safe_load(my_resnet.read_text())
    (project / "net.yaml").write_text(yaml.safe_dump({**spec, "path": "code"}, sort_keys=False))
    flags = ("--out", "run", "--device", "cpu", "--quiet", "--limit", "1")
    run_scaler("grid", "net.yaml", *flags, cwd=project)
    recorded = yaml.safe_load((project / "run" / "run.yaml").read_text())["settings"]["base"]
    assert recorded["path"] == "../code"
    shutil.copytree(project, tmp_path / "moved")
    shutil.rmtree(project)
    sys.modules.pop("my_resnet")  # as a new process would: the module is imported from its new folder
    run_scaler("grid", "net.yaml", *flags, cwd=tmp_path / "moved")
    with open(tmp_path / "moved" / "run" / "results.csv", newline="") as f:
        assert [r["trial_id"] for r in csv.DictReader(f)] == ["base-s0", "depth-s0"]

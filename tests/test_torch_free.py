"""The commands that only read specs and results never import torch: each runs in a fresh interpreter (this test's
own process has torch loaded by others), which reports the torch modules loaded when the command is done."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _runs import copy_run

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "v0.1-grid"
MARK = "torch modules loaded: "

# Runs the entry point as the console script does, then reports (as its last stderr line) the torch modules
# loaded by then -- also when the command exits through SystemExit.
DRIVER = f"""
import sys
try:
    from scaler.cli.app import main
    main(sys.argv[1:])
finally:
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    print({MARK!r} + (", ".join(loaded[:5]) or "none"), file=sys.stderr, flush=True)
"""


def scaler(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter; asserts it succeeded and loaded no torch."""
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=_env())
    lines = proc.stderr.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert lines and lines[-1] == MARK + "none", proc.stderr
    return proc


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "COLUMNS": "200", "MPLBACKEND": "Agg"}


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    """A copy of the grid directory written by scaler 0.1.0 (tiny.yaml and run/)."""
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    return tmp_path / "run"


def test_info_spec_file(tmp_path: Path):
    out = scaler("info", str(ROOT / "specs" / "quickstart.yaml"), cwd=tmp_path).stdout
    assert "quickstart" in out


def test_info_preset_json(tmp_path: Path):
    info = json.loads(scaler("info", "efficientnet-b0", "--json", cwd=tmp_path).stdout)
    assert (info["params"], info["resolution"]) == (5_288_548, 224)


def test_emit_preset(tmp_path: Path):
    scaler("emit", "--preset", "efficientnet-b0", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["efficientnet-b0.yaml"]


def test_schema(tmp_path: Path):
    schema = json.loads(scaler("schema", cwd=tmp_path).stdout)
    defs = schema["$defs"]
    assert "stages" in defs["Spec"]["properties"] and "factory" in defs["FactorySpec"]["properties"]


def test_fit_then_emit_from_the_coefficients(old_run: Path, tmp_path: Path):
    (old_run / "coefficients.yaml").unlink()
    out = scaler("fit", "run/results.csv", cwd=tmp_path).stdout
    assert "coefficients (best, real form)" in out
    doc = yaml.safe_load((old_run / "coefficients.yaml").read_text(encoding="utf-8"))
    assert (doc["alpha"], doc["beta"], doc["gamma"]) == (1.447652, 1.0, 1.175392)
    scaler("fit", "run", "--objective", "training", "--out", "training.yaml", cwd=tmp_path)
    assert (tmp_path / "training.yaml").is_file()
    scaler("emit", "--coefficients", "run/coefficients.yaml", "--phi", "0..2", "--out", "family", cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "family").iterdir()) == [f"tiny-phi{i}.yaml" for i in range(3)]


def test_plot(old_run: Path, tmp_path: Path):
    written = scaler("plot", "run/results.csv", "--format", "png", cwd=tmp_path).stdout.split()
    assert sorted(Path(p).name for p in written) == ["coefficients.png", "curves.png", "pareto.png"]
    assert all((tmp_path / p).stat().st_size > 0 for p in written)


def test_a_user_error_is_torch_free_too(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-c", DRIVER, "fit", "nope.csv"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=_env())
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: nope.csv: no such file", MARK + "none"]


MODULES = ["scaler.spec", "scaler.catalog", "scaler.scaling", "scaler.arch.plan", "scaler.arch.counts",
           "scaler.arch.flops", "scaler.arch.rounding", "scaler.config", "scaler.search.candidates",
           "scaler.search.trial", "scaler.search.strategies", "scaler.analysis.fit",
           "scaler.analysis.plots", "scaler.analysis.figure", "scaler.analysis.curves", "scaler.analysis.study_plot",
           "scaler.analysis.forecast", "scaler.analysis.study_forecast", "scaler.report.context",
           "scaler.report.render", "scaler.api", "scaler.api.specs", "scaler.api.family", "scaler.api.budget",
           "scaler.api.deploy", "scaler.api.figures", "scaler.api.runs", "scaler.api.studies"]


def test_planning_and_analysis_modules_import_without_torch(tmp_path: Path):
    code = f"""
import importlib, sys
for name in {MODULES!r}:
    importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
    assert not loaded, f"importing {{name}} loaded {{loaded[:5]}}"
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=_env())
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok"), proc.stderr


def test_only_a_factory_spec_loads_torch(tmp_path: Path):
    """A network that exists only as code is counted by building it: the one case where info loads torch."""
    scaler("info", "resnet50", cwd=tmp_path)  # presets of every family stay torch-free
    proc = subprocess.run([sys.executable, "-c", DRIVER, "info", str(ROOT / "specs" / "my-resnet.yaml")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 0 and "170,298 params" in proc.stdout, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(MARK + "torch")


def test_the_python_apis_reading_half_never_imports_torch(tmp_path: Path):
    """scaler.open_run, Run.results, Run.fit, Run.plot and scaler.emit, in a fresh interpreter."""
    copy_run("quickstart", tmp_path / "quickstart")
    code = """
import sys
import scaler
run = scaler.open_run("quickstart")
assert len(run.results) > 10 and run.fit().candidate == "resolution"
run.plot("pareto"), run.plot("study")
assert len(scaler.emit(run.coefficients, range(4))) == 4
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

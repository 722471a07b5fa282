"""`scaler export` and `scaler emit --export`: ONNX under onnxruntime and torch.export programs match PyTorch eager
(the network built with seed 0, BN calibrated on random images, as the command builds it); one-line errors.

CI installs the `deploy` extra and sets SCALER_REQUIRE_DEPLOY=1, so the ONNX tests fail there rather than skip.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import yaml
from _cli import run_scaler, user_error
from _specs import TINY_YAML

from scaler.catalog import load_spec
from scaler.train.export import calibrated

ROOT = Path(__file__).resolve().parent.parent
PAPER = ["--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15"]


def deploy(name: str) -> ModuleType:
    """A package of the deploy extra: skipped when missing, unless SCALER_REQUIRE_DEPLOY=1 (CI)."""
    if os.environ.get("SCALER_REQUIRE_DEPLOY") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name)


@pytest.fixture
def ort() -> ModuleType:
    deploy("onnx")
    deploy("onnxscript")
    return deploy("onnxruntime")


def onnx_logits(ort: ModuleType, path: Path, images: torch.Tensor) -> torch.Tensor:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"images": images.numpy()})
    return torch.from_numpy(logits)


def relative(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).abs().max() / expected.abs().max()).item()


def reported(line: str) -> float:
    """The relative difference the command printed."""
    return float(re.search(r"relative ([0-9.e+-]+)", line).group(1))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_efficientnet_b0_onnx_matches_pytorch_under_onnxruntime(ort, tmp_path: Path):
    """The issue's "done when": B0 at its own 224 px, within 1e-4 relative, at a batch size it was not traced with."""
    line = run_scaler("export", "efficientnet-b0", "--format", "onnx", cwd=tmp_path).stdout.strip()
    path = tmp_path / "efficientnet-b0.onnx"
    assert line.startswith(f"wrote efficientnet-b0.onnx ({path.stat().st_size / 1e6:.3g} MB, ONNX opset 18)"), line
    assert "images Nx3x224x224 float32 -> logits Nx1000" in line and reported(line) <= 1e-4
    model, images = calibrated(load_spec("efficientnet-b0"), 224, 3)
    with torch.no_grad():
        expected = model(images)
    got = onnx_logits(ort, path, images)
    assert relative(got, expected) <= 1e-4
    assert torch.equal(got.argmax(1), expected.argmax(1))
    assert expected.abs().max() > 0.1  # calibrated BN: logits that mean something to compare


def test_pt2_round_trips_with_a_dynamic_batch(tmp_path: Path):
    write(tmp_path, "tiny.yaml", TINY_YAML)
    out = tmp_path / "deploy" / "nested" / "tiny.pt2"  # parents are created
    line = run_scaler("export", "tiny.yaml", "--format", "pt2", "--out", str(out), "--batch", "3",
                      cwd=tmp_path).stdout.strip()
    assert "torch.export program" in line and "on 3 random images" in line and reported(line) == 0, line
    program = torch.export.load(str(out)).module()
    for batch in (1, 5):
        model, images = calibrated(load_spec(tmp_path / "tiny.yaml"), 16, batch)
        with torch.no_grad():
            torch.testing.assert_close(program(images), model(images), rtol=1e-5, atol=1e-6)


def test_a_factory_spec_exports_at_another_resolution(ort, tmp_path: Path):
    """specs/my-resnet.yaml (examples/my_resnet.py: one input channel, 14 px) at 28 px."""
    line = run_scaler("export", str(ROOT / "specs" / "my-resnet.yaml"), "--format", "onnx", "--resolution", "28",
                      cwd=tmp_path).stdout.strip()
    assert "images Nx1x28x28 float32 -> logits Nx10" in line and reported(line) <= 1e-4, line
    session = ort.InferenceSession(str(tmp_path / "my-resnet.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [1, 28, 28]
    (logits,) = session.run(None, {"images": np.zeros((4, 1, 28, 28), np.float32)})
    assert logits.shape == (4, 10)


def test_emit_exports_the_family_member_by_member(ort, tmp_path: Path):
    write(tmp_path, "tiny.yaml", TINY_YAML)
    out = run_scaler("emit", "--base", "tiny.yaml", *PAPER, "--phi", "0..1", "--out", "fam", "--export", "onnx",
                     cwd=tmp_path).stdout
    members = sorted((tmp_path / "fam").glob("*.yaml"))
    assert [p.stem for p in members] == ["tiny-phi0", "tiny-phi1"]
    for member in members:
        spec = load_spec(member)
        assert f"wrote fam/{spec.name}.onnx" in out
        model, images = calibrated(spec, spec.resolution, 3)
        session = ort.InferenceSession(str(member.with_suffix(".onnx")), providers=["CPUExecutionProvider"])
        assert session.get_inputs()[0].shape[1:] == [3, spec.resolution, spec.resolution]
        with torch.no_grad():
            assert relative(onnx_logits(ort, member.with_suffix(".onnx"), images), model(images)) <= 1e-4
    assert [load_spec(p).resolution for p in members] == [16, 20]  # each at its own resolution


def test_emit_json_records_the_exports(tmp_path: Path):
    import json

    write(tmp_path, "tiny.yaml", TINY_YAML)
    rows = json.loads(run_scaler("emit", "--base", "tiny.yaml", *PAPER, "--phi", "1", "--out", "fam", "--export",
                                 "pt2", "--json", cwd=tmp_path).stdout)
    (export,) = [r["export"] for r in rows]
    assert export["path"] == str(Path("fam") / "tiny-phi1.pt2") and export["input_shape"] == [2, 3, 20, 20]
    assert (export["ok"], export["rel_diff"], export["input"], export["output"]) == (True, 0.0, "images", "logits")


# One export for every activation of the spec format: tiny.yaml's network once per activation, logits summed.
ALL_ACTIVATIONS = f"""
from torch import nn
from scaler.arch.torch_model import build_model
from scaler.spec import Spec

BASE = {yaml.safe_load(TINY_YAML)!r}
ACTIVATIONS = ("silu", "relu", "relu6", "gelu", "hardswish")

class Sum(nn.Module):
    def __init__(self, nets):
        super().__init__()
        self.nets = nn.ModuleList(nets)

    def forward(self, x):
        return sum(net(x) for net in self.nets)

def make(depth, width, num_classes, in_channels):
    return Sum([build_model(Spec.model_validate({{**BASE, "activation": a, "num_classes": num_classes,
                                                 "in_channels": in_channels}})) for a in ACTIVATIONS])
"""


def test_every_activation_exports_to_onnx(ort, tmp_path: Path):
    (tmp_path / "allacts.py").write_text(ALL_ACTIVATIONS)
    spec = write(tmp_path, "acts.yaml", "name: acts\nfactory: allacts:make\nresolution: 16\nnum_classes: 10\n")
    line = run_scaler("export", str(spec), "--format", "onnx", "--batch", "3", cwd=tmp_path).stdout
    assert reported(line) <= 1e-4, line
    model, images = calibrated(load_spec(spec), 16, 3)
    assert {type(m).__name__ for m in model.modules()} >= {"SiLU", "ReLU", "ReLU6", "GELU", "Hardswish"}
    with torch.no_grad():
        assert relative(onnx_logits(ort, tmp_path / "acts.onnx", images), model(images)) <= 1e-4


def test_without_onnxruntime_the_onnx_export_is_written_unchecked(ort, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    write(tmp_path, "tiny.yaml", TINY_YAML)
    line = run_scaler("export", "tiny.yaml", "--format", "onnx", cwd=tmp_path).stdout
    assert "not checked: onnxruntime is not installed (pip install 'scaler[deploy]')" in line
    assert (tmp_path / "tiny.onnx").stat().st_size > 0


# --- one-line errors, exit 2 ----------------------------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write(tmp_path, "tiny.yaml", TINY_YAML)


def test_unknown_format(capsys, tiny: Path):
    line = user_error(capsys, "export", "tiny.yaml", "--format", "tflite")
    assert "Invalid value for '--format'" in line and "'onnx', 'pt2'" in line
    assert "'onnx', 'pt2'" in user_error(capsys, "emit", "--base", "tiny.yaml", *PAPER, "--phi", "0", "--export",
                                         "tflite")


def test_a_folder_that_cannot_be_created(capsys, tiny: Path):
    write(tiny.parent, "afile", "")
    assert user_error(capsys, "export", "tiny.yaml", "--format", "pt2", "--out", "afile/x.pt2") == (
        "error: afile: cannot create the output directory: File exists")


def test_out_is_a_directory(capsys, tiny: Path):
    (tiny.parent / "adir").mkdir()
    assert "adir: is a directory" in user_error(capsys, "export", "tiny.yaml", "--format", "pt2", "--out", "adir")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder(capsys, tiny: Path):
    folder = tiny.parent / "ro"
    folder.mkdir(mode=0o500)
    try:
        line = user_error(capsys, "export", "tiny.yaml", "--format", "pt2", "--out", "ro/tiny.pt2")
    finally:
        folder.chmod(0o700)
    assert line == "error: ro/tiny.pt2: cannot write in ro: Permission denied"
    assert not list(folder.iterdir())


def test_missing_deploy_packages(capsys, tiny: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # the first package checked: the same line with or without it
    hint = "--format onnx needs the deploy extra (onnx is not installed): pip install 'scaler[deploy]'"
    assert user_error(capsys, "export", "tiny.yaml", "--format", "onnx") == f"error: {hint}"
    assert user_error(capsys, "emit", "--base", "tiny.yaml", *PAPER, "--phi", "0", "--out", "fam", "--export",
                      "onnx") == f"error: {hint}"
    assert not (tiny.parent / "fam").exists()  # checked before any file is written


def test_a_failed_check_keeps_the_file(capsys, tiny: Path, monkeypatch):
    monkeypatch.setattr("scaler.train.export.RTOL", -1.0)  # no difference passes
    line = user_error(capsys, "export", "tiny.yaml", "--format", "pt2")
    assert line.startswith("error: tiny.pt2: the export differs from PyTorch: max |diff| 0, relative 0 "
                           "(tolerance -1)") and line.endswith("the file is kept")
    assert (tiny.parent / "tiny.pt2").stat().st_size > 0


def test_an_exporter_failure_is_its_first_line(capsys, tiny: Path):
    """A factory network whose forward branches on its data: torch.export cannot trace it; no graph dumps."""
    write(tiny.parent, "branchy_export_net.py", textwrap.dedent("""
        from torch import nn

        class Net(nn.Module):
            def __init__(self, in_channels, num_classes):
                super().__init__()
                self.conv, self.fc = nn.Conv2d(in_channels, 8, 3, padding=1), nn.Linear(8, num_classes)

            def forward(self, x):
                y = self.conv(x).mean((2, 3))
                return self.fc(y * 2 if y.sum() > 0 else y)

        def make(depth, width, num_classes, in_channels):
            return Net(in_channels, num_classes)
    """))
    spec = write(tiny.parent, "branchy.yaml", yaml.safe_dump({"name": "branchy", "factory": "branchy_export_net:make",
                                                              "resolution": 8, "num_classes": 3}))
    line = user_error(capsys, "export", str(spec), "--format", "pt2")
    assert line.startswith("error: --format pt2: the exporter failed: GuardOnDataDependentSymNode: "), line
    assert not list(tiny.parent.glob("*.pt2")) and not list(tiny.parent.glob(".*tmp*"))


def test_resolution_below_the_total_stride(capsys, tiny: Path):
    assert user_error(capsys, "export", "tiny.yaml", "--format", "pt2", "--resolution", "2") == (
        "error: --resolution: 2 px is too small for a total stride of 4")

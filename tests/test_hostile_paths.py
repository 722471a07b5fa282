"""Paths are contained (issue #32): a name is a plain file name, every file lands inside the folder it is written to
(symlinks resolved), bench's temporary ONNX file goes with its temporary folder, and no command writes over a file
it read. Each refusal is one line, exit 2, and leaves every file under the scratch folder as it was."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from _cli import user_error

from scaler.catalog import load_spec
from scaler.coefficients import coefficients_document
from scaler.errors import ScalerError
from scaler.spec.paths import contained, name_problem

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript", "onnxruntime"))
needs_deploy = pytest.mark.skipif(not DEPLOY, reason="the deploy extra (onnx, onnxscript, onnxruntime)")
EXPLICIT = ("emit", "--base", "specs/quickstart.yaml", "--width", "1.5", "--depth", "2")
PAPER = ("--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15")
HOSTILE = "../../x"


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """A scratch project two folders down (``tmp_path/outer/work``) with a copy of specs/: a name that climbs
    ``../..`` still lands under ``tmp_path``, where :func:`tree` sees it."""
    work = tmp_path / "outer" / "work"
    shutil.copytree(ROOT / "specs", work / "specs")
    monkeypatch.chdir(work)
    return work


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None for p in root.rglob("*")}


def hostile_spec(work: Path) -> tuple[Path, int]:
    """specs/quickstart.yaml renamed ``../../x``, and the line of its name."""
    lines = (work / "specs" / "quickstart.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith("name:"))
    lines[line] = f"name: {HOSTILE}"
    path = work / "bad.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path, line + 1


def refused(capsys, root: Path, *args: str) -> str:
    """``scaler ARGS`` fails as a user error and changes nothing under ``root``; its one line."""
    before = tree(root)
    line = user_error(capsys, *args)
    assert tree(root) == before, "a refused command wrote, moved or removed a file"
    return line


def refused_spec_name(capsys, tmp_path: Path, work: Path, *args: str) -> None:
    """``scaler ARGS`` (``{spec}`` standing for the renamed spec) is refused at the spec's name."""
    spec, line = hostile_spec(work)
    message = refused(capsys, tmp_path, *(a.replace("{spec}", spec.name) for a in args))
    assert message == (f"error: bad.yaml:{line}:7: name: '{HOSTILE}' is not a plain name: it contains a path "
                       "separator (/ or \\); it names files (<name>.yaml, results/<name>/)")


def test_emit_name_climbing_out_of_out_is_refused(capsys, tmp_path: Path, work: Path):
    line = refused(capsys, tmp_path, *EXPLICIT, "--name", "../escaped", "--out", "fam")
    assert line.startswith("error: --name: '../escaped' is not a plain name: it contains a path separator")


def test_emit_absolute_name_is_refused(capsys, tmp_path: Path, work: Path):
    absolute = str(tmp_path / "abs" / "x")
    line = refused(capsys, tmp_path, *EXPLICIT, "--name", absolute, "--out", "fam")
    assert line.startswith(f"error: --name: '{absolute}' is not a plain name: it is an absolute path")


def test_emit_members_of_a_spec_named_with_a_path_are_refused(capsys, tmp_path: Path, work: Path):
    refused_spec_name(capsys, tmp_path, work, "emit", "--base", "{spec}", *PAPER, "--phi", "0..1", "--out", "fam")


def test_grid_default_folder_of_a_spec_named_with_a_path_is_refused(capsys, tmp_path: Path, work: Path):
    refused_spec_name(capsys, tmp_path, work, "grid", "{spec}", "--epochs", "1")


@needs_deploy
def test_export_default_file_of_a_spec_named_with_a_path_is_refused(capsys, tmp_path: Path, work: Path):
    refused_spec_name(capsys, tmp_path, work, "export", "{spec}", "--format", "onnx")


@needs_deploy
def test_bench_onnx_file_of_a_spec_named_with_a_path_is_refused(capsys, tmp_path: Path, work: Path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # a temporary file that escapes lands here
    (tmp_path / "tmp").mkdir()
    refused_spec_name(capsys, tmp_path, work, "bench", "{spec}", "--runtime", "onnxruntime", "--min-seconds", "0.01",
                      "--out", "b.csv")


def test_emit_refuses_to_overwrite_the_base_spec_it_read(capsys, tmp_path: Path, work: Path):
    line = refused(capsys, tmp_path, *EXPLICIT, "--name", "quickstart", "--out", "specs")
    assert line == ("error: specs/quickstart.yaml: emit would overwrite the base spec it read; choose another --out "
                    "or --name")


def test_emit_refuses_to_overwrite_a_coefficients_file_it_read(capsys, tmp_path: Path, work: Path):
    coefs = work / "fam" / "quickstart-phi1.yaml"  # where the member at phi 1 goes
    coefs.parent.mkdir()
    coefs.write_text(yaml.safe_dump(coefficients_document(1.2, 1.1, 1.15, load_spec("specs/quickstart.yaml"),
                                                          phi=1.0), sort_keys=False))
    line = refused(capsys, tmp_path, "emit", "--coefficients", "fam/quickstart-phi1.yaml", "--phi", "0..1",
                   "--out", "fam")
    assert line == ("error: fam/quickstart-phi1.yaml: emit would overwrite the coefficients file it read; choose "
                    "another --out or --name")


def test_emit_refuses_to_overwrite_the_latencies_it_read(capsys, tmp_path: Path, work: Path):
    bench = work / "fam" / "quickstart-phi0.yaml"  # a bench CSV where the member at phi 0 goes
    bench.parent.mkdir()
    bench.write_text("name,runtime,batch,median_ms\nquickstart-phi0,eager,1,1.0\nquickstart-phi1,eager,1,2.0\n")
    line = refused(capsys, tmp_path, "emit", "--base", "specs/quickstart.yaml", *PAPER, "--phi", "0..1", "--out",
                   "fam", "--max-latency-ms", "10", "--latencies", "fam/quickstart-phi0.yaml")
    assert line == ("error: fam/quickstart-phi0.yaml: emit would overwrite the latencies file it read; choose "
                    "another --out or --name")


def test_emit_through_a_symlink_out_of_the_folder_is_refused(capsys, tmp_path: Path, work: Path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("# someone else's file\n")
    (work / "fam").mkdir()
    (work / "fam" / "quickstart-scaled.yaml").symlink_to(outside)
    line = refused(capsys, tmp_path, *EXPLICIT, "--out", "fam")
    assert line == (f"error: fam/quickstart-scaled.yaml: would be written outside fam/ (it resolves to "
                    f"{outside.resolve()}); scaler writes only inside the folder it was given")


@needs_deploy
def test_export_refuses_to_overwrite_the_spec_it_read(capsys, tmp_path: Path, work: Path):
    out = work / "specs" / "quickstart.yaml"  # the same file, spelled another way
    line = refused(capsys, tmp_path, "export", "specs/quickstart.yaml", "--format", "onnx", "--out", str(out))
    assert line == (f"error: {out}: export would overwrite the spec it read (specs/quickstart.yaml); choose another "
                    "--out")


def test_bench_refuses_to_overwrite_a_spec_it_read(capsys, tmp_path: Path, work: Path):
    line = refused(capsys, tmp_path, "bench", "specs/quickstart.yaml", "--runtime", "eager", "--out",
                   "specs/quickstart.yaml")
    assert line == "error: specs/quickstart.yaml: bench would overwrite a spec it read; choose another --out"


@needs_deploy
def test_bench_removes_its_onnx_file_when_timing_fails(capsys, tmp_path: Path, work: Path, monkeypatch):
    import scaler.train.bench
    import scaler.train.export

    def export(spec, fmt, path: Path, *args) -> SimpleNamespace:  # the file, without the slow exporter
        path.write_bytes(b"onnx")
        return SimpleNamespace(ok=True)

    def fail(*args, **kwargs):
        raise RuntimeError("no time")

    monkeypatch.setattr(scaler.train.export, "export", export)
    monkeypatch.setattr(scaler.train.bench, "onnx_call", lambda path, *args: lambda: path.read_bytes())
    monkeypatch.setattr(scaler.train.bench, "time_call", fail)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    line = user_error(capsys, "bench", "specs/quickstart.yaml", "--runtime", "onnxruntime", "--out", "b.csv")
    assert line.startswith("error: quickstart: onnxruntime at batch 1, 14 px raised RuntimeError: no time")
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("tmp")]  # the temporary folder
    assert not list(tmp_path.rglob("*.onnx"))


@pytest.mark.parametrize(("name", "why"), [
    ("", "must not be empty"), ("a/b", "a path separator"), ("a\\b", "a path separator"),
    ("/abs", "an absolute path"), ("\\abs", "an absolute path"), ("C:x", "an absolute path"),
    (".", "is a folder"), ("..", "is a folder"), ("a\0b", "a NUL character"),
])
def test_a_name_that_is_no_plain_file_name_says_why(name: str, why: str):
    assert why in name_problem(name)


@pytest.mark.parametrize("name", ["quickstart", "efficientnet-b0", "mini-phi-0.5", "my net", ".hidden", "a..b"])
def test_plain_names_pass(name: str):
    assert name_problem(name) is None


def test_a_factory_spec_name_is_checked_too(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text("name: ..\nfactory: models:make\nresolution: 32\n")
    with pytest.raises(ScalerError, match=r"f\.yaml:1:7: name: '\.\.' is not a plain name"):
        load_spec(path)


def test_contained_resolves_before_it_judges(tmp_path: Path):
    assert contained(tmp_path / "a", "x.yaml") == tmp_path / "a" / "x.yaml"
    with pytest.raises(ScalerError, match="would be written outside"):
        contained(tmp_path / "a", "../x.yaml")

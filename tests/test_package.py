"""The package as a user installs it: one version (pyproject.toml's) wherever scaler shows it, an SPDX license with
its file, and ``py.typed`` so a user's type checker reads the hints. .ci/wheel checks the same in a built wheel."""

from __future__ import annotations

import ast
import importlib.resources
from importlib import metadata
from pathlib import Path

import pytest
from _cli import run_scaler

import scaler
from scaler.results import environment

ROOT = Path(__file__).resolve().parents[1]
STALE = "the installed metadata is not this checkout's pyproject.toml: reinstall (pip install -e .)"


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_version_has_one_source_read_by_the_package_the_cli_and_the_report(tmp_path):
    version = pyproject()["version"]
    assert metadata.version("scaler") == version, STALE
    assert scaler.__version__ == version
    assert run_scaler("--version", cwd=tmp_path).stdout == f"scaler, version {version}\n"
    assert environment()["scaler"] == version  # run.yaml's environment and the report's software list


def assigned(tree: ast.AST) -> set[str]:
    """The plain names a module's code assigns a value to."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_no_module_writes_a_version_of_its_own():
    for path in (ROOT / "scaler").rglob("*.py"):
        assert "__version__" not in assigned(ast.parse(path.read_text(encoding="utf-8"))), path


def test_the_package_says_it_is_typed():
    marker = importlib.resources.files("scaler").joinpath("py.typed")
    assert marker.is_file()
    assert "Typing :: Typed" in metadata.metadata("scaler").get_all("Classifier")


def test_the_license_is_an_spdx_expression_shipped_with_its_text():
    meta = metadata.metadata("scaler")
    assert pyproject()["license"] == meta["License-Expression"] == "Apache-2.0", STALE
    assert meta.get_all("License-File") == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").split()[:4] == ["Apache", "License", "Version", "2.0,"]

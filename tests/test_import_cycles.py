"""No module-level import cycle between any two of scaler's modules (CI runs this; `lint-imports` runs the rest).

import-linter's ``acyclic_siblings`` contract (pyproject.toml) finds cycles between siblings, function-level imports
included, but not through a package and its own modules (``scaler/x/__init__.py`` importing ``scaler.x.a`` while
``a`` imports ``scaler.x``). This counts the imports that run when a module is imported (its top level, class
bodies, ``if``/``try`` blocks; not function bodies, not ``if TYPE_CHECKING:``) between every pair of modules, with
grimp, import-linter's own graph.
"""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def module_level_lines(source: str) -> set[int]:
    """The lines of the import statements that run when the module is imported."""
    lines: set[int] = set()

    def walk(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    children = getattr(node, field, [])
                    walk([c for c in children if isinstance(c, ast.stmt | ast.excepthandler | ast.match_case)])

    walk(ast.parse(source).body)
    return lines


def module_level_graph(package: str) -> grimp.ImportGraph:
    """``package``'s import graph (``TYPE_CHECKING`` imports left out) with only its module-level imports."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    top = importlib.util.find_spec(package)  # the top package only: finding a module would import its parents
    assert top is not None and top.origin is not None, package
    home = Path(top.origin).parent.parent
    for importer in sorted(graph.modules):
        source = home.joinpath(*importer.split("."))
        source = source / "__init__.py" if source.is_dir() else source.with_suffix(".py")
        at_import = module_level_lines(source.read_text(encoding="utf-8"))
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            details = graph.get_import_details(importer=importer, imported=imported)
            if not any(d["line_number"] in at_import for d in details):
                graph.remove_import(importer=importer, imported=imported)
    return graph


def module_level_cycles(package: str) -> list[tuple[str, ...]]:
    """Every cycle of module-level imports in ``package``, once each, as the chain of modules that closes it."""
    graph = module_level_graph(package)
    cycles: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.setdefault(frozenset(back), (importer, *back))
    return list(cycles.values())


def test_no_module_level_import_cycle_in_scaler():
    assert module_level_cycles("scaler") == []


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Writes a throwaway package ``cyc`` on sys.path: ``{name: source}`` under ``cyc/``."""

    def write(files: dict[str, str]) -> str:
        (tmp_path / "cyc").mkdir()
        for name, source in {"__init__.py": "", **files}.items():
            (tmp_path / "cyc" / name).write_text(textwrap.dedent(source), encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        return "cyc"

    return write


def test_a_cycle_between_two_modules_is_found(package):
    name = package({"a.py": "from cyc import b\n", "b.py": "import cyc.a\n"})
    assert module_level_cycles(name) == [("cyc.a", "cyc.b", "cyc.a")]


def test_a_cycle_through_a_package_and_its_module_is_found(package):
    name = package({"__init__.py": "from cyc.a import A\n", "a.py": "from cyc import shared\nA = 1\n",
                    "shared.py": "import cyc\n"})
    assert {m for c in module_level_cycles(name) for m in c} == {"cyc", "cyc.a", "cyc.shared"}


def test_class_bodies_and_try_blocks_run_at_import(package):
    name = package({"a.py": "from cyc import b\n",
                    "b.py": """
                        try:
                            class B:
                                from cyc import a
                        except ImportError:
                            pass
                        """})
    assert len(module_level_cycles(name)) == 1


def test_function_level_and_type_checking_imports_are_not_cycles(package):
    name = package({"a.py": "from cyc import b\n",
                    "b.py": """
                        from typing import TYPE_CHECKING

                        if TYPE_CHECKING:
                            from cyc.a import X

                        def lazy():
                            from cyc import a
                        """})
    assert module_level_cycles(name) == []

"""examples/api.ipynb, the Python API's loop end to end, executed as a user runs it (a real Jupyter kernel)."""

from __future__ import annotations

from pathlib import Path

import nbclient  # in .[test], with ipykernel (the kernel) and nbformat
import nbformat
import pytest
from _runs import copy_run

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "api.ipynb"


def texts(nb) -> list[str]:
    """Each code cell's text output (printed or the value's plain text), joined per cell."""
    out = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        parts = [o.get("text") or o.get("data", {}).get("text/plain", "") for o in cell.outputs]
        out.append("".join(parts))
    return out


def test_the_notebook_runs_and_its_committed_outputs_are_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # part 2 reads the frozen quickstart run (a copy), not results/quickstart, which the README's main job rewrites
    monkeypatch.setenv("SCALER_QUICKSTART_RUN", str(copy_run("quickstart", tmp_path / "quickstart")))
    committed = nbformat.read(NOTEBOOK, as_version=4)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()  # raises on an error
    fresh, kept = texts(nb), texts(committed)
    assert all(kept), "every code cell is committed with its output"
    # part 1 trained for real: its fit names a tie set, and the study judges compound against each strategy
    assert "tie set:" in fresh[3] and "compound vs " in fresh[5]
    pareto = [o for o in nb.cells[6].outputs if "image/png" in o.get("data", {})]
    assert len(pareto) == 1  # run.plot("pareto") returns a Figure, displayed once
    # part 2 reads the frozen Fashion-MNIST run: the same answer, figure and family as committed
    assert fresh[6:] == kept[6:] and "quickstart-phi4" in fresh[-1]

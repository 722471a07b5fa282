"""The frozen runs the tests read (tests/fixtures/runs/), never the repository's results/, which a user's run of
the README's main job moves and rewrites."""

from __future__ import annotations

import shutil
from pathlib import Path

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"


def copy_run(name: str, dest: Path, files: tuple[str, ...] | None = None) -> Path:
    """A copy of the frozen run ``name`` (only ``files`` of it, if given) at ``dest``, which must not exist."""
    src = RUNS / name
    if files is None:
        shutil.copytree(src, dest)
        return dest
    dest.mkdir(parents=True)
    for f in files:
        (shutil.copytree if (src / f).is_dir() else shutil.copy)(src / f, dest / f)
    return dest

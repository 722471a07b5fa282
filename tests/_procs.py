"""Linux processes as the tests see them: one file of every /proc/<pid>/ (processes may vanish meanwhile)."""

from __future__ import annotations

from pathlib import Path


def proc_files(name: str) -> dict[int, bytes]:
    """``{pid: content of /proc/<pid>/<name>}`` for every process still there when it is read."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = (entry / name).read_bytes()
            except OSError:
                continue
    return out

"""Where scaler's files go: a network's name is a plain file name, every file named after one lands inside the folder
it is written to (symlinks resolved), and no command writes over a file it read. No torch."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PureWindowsPath

from scaler.errors import ScalerError

NAME_USE = "it names files (<name>.yaml, results/<name>/)"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name the files scaler writes (``<name>.yaml``, ``results/<name>/``), or None when it
    is a plain name: not empty, no ``/`` or ``\\``, not ``.`` or ``..``, not absolute, no NUL."""
    if not name:
        return f"must not be empty: {NAME_USE}"
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        why = "it is an absolute path"
    elif "/" in name or "\\" in name:
        why = "it contains a path separator (/ or \\)"
    elif name in (".", ".."):
        why = f"{name} is a folder, not a file name"
    elif "\0" in name:
        why = "it contains a NUL character"
    else:
        return None
    return f"{name!r} is not a plain name: {why}; {NAME_USE}"


def plain_name(name: str, field: str = "name") -> str:
    """``name`` when it is a plain name (:func:`name_problem`), else a one-line error naming ``field``."""
    problem = name_problem(name)
    if problem:
        raise ScalerError(problem, field=field)
    return name


def contained(folder: str | Path, name: str) -> Path:
    """``folder / name``: a file scaler derives from a name, or a one-line error when, symlinks resolved, it would
    not land inside ``folder``."""
    folder = Path(folder)
    path = folder / name
    if folder.resolve() not in path.resolve().parents:
        raise ScalerError(f"would be written outside {folder}/ (it resolves to {path.resolve()}); scaler writes "
                          "only inside the folder it was given", where=path)
    return path


def refuse_overwrite(path: Path, read: Iterable[tuple[str, str | Path | None]], command: str, choose: str) -> None:
    """A one-line error when writing ``path`` would replace a file this command read: ``read`` pairs what each
    file is (``the base spec``) with its path (None, or a preset name that is no file, is skipped)."""
    for what, source in read:
        if source is None or not _same_file(path, Path(source)):
            continue
        also = "" if str(source) == str(path) else f" ({source})"
        raise ScalerError(f"{command} would overwrite {what} it read{also}; choose another {choose}", where=path)


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one existing file (through symlinks and hard links)."""
    try:
        return a.exists() and b.is_file() and os.path.samefile(a, b)
    except OSError:
        return False

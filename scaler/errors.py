"""User-facing errors: one line, a location, exit status 2."""

from __future__ import annotations

from pathlib import Path


class ScalerError(Exception):
    """An error caused by the user's input.

    The CLI prints ``str(err)`` on one line and exits with status 2, no traceback.
    ``where`` is a ``file[:line[:col]]`` prefix and ``field`` a dotted field path.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | Path | None = None, field: str | None = None):
        self.message = " ".join(str(message).split())
        self.where = str(where) if where is not None else None
        self.field = field
        super().__init__(self.format())

    def format(self) -> str:
        parts = [p for p in (self.where, self.field) if p]
        return ": ".join([*parts, self.message])


def location(path: str | Path | None, line: int | None = None, col: int | None = None) -> str | None:
    """``file:line:col`` with the parts that are known."""
    if path is None:
        return None
    out = str(path)
    if line is not None:
        out += f":{line}"
        if col is not None:
            out += f":{col}"
    return out

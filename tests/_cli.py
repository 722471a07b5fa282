"""Run the ``scaler`` command in this process, as a user's shell would see it (exit status, stdout, stderr)."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from scaler.cli.app import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_scaler(*args: str, cwd: Path, check: bool = True) -> Result:
    """``scaler ARGS`` in ``cwd`` through the real entry point (one-line errors, exit codes), in process."""
    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    code: int | str | None = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as e:
                code = e.code
    finally:
        os.chdir(before)
    result = Result(code if isinstance(code, int) else (0 if code is None else 1), out.getvalue(), err.getvalue())
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def user_error(capsys, *args: str) -> str:
    """``scaler ARGS`` through the entry point, which must fail as a user error (exit 2, one line on stderr, no
    traceback); returns that line."""
    import pytest

    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    assert e.value.code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]

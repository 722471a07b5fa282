"""The ``scaler`` command group and its entry point: user errors print one line and exit 2, never a traceback.

Each command lives in its own module and imports what it needs when it runs, so ``scaler --help``, ``info``,
``emit`` (without ``--export``), ``schema``, ``fit``, ``plot`` and ``report`` never load torch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterable
from typing import Any, TextIO

import click

from scaler.api import ScalerError
from scaler.cli import bench, emit, export, fit, grid, info, plot, report, schema, study


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="scaler", prog_name="scaler")
def cli() -> None:
    """EfficientNet-style compound model scaling.

    \b
    Typical loop:
      scaler info specs/quickstart.yaml          # what the base costs
      scaler grid specs/quickstart.yaml          # search alpha, beta, gamma on real proxies
      scaler emit --phi 0..4                     # the scaled family, from the newest grid's coefficients
      scaler plot results/quickstart/results.csv # accuracy vs FLOPs, Pareto front
      scaler study results/quickstart            # the family against single-dimension scaling
      scaler report results/quickstart           # one HTML page of it all, for review
    """


for module in (info, emit, export, bench, schema, grid, fit, plot, study, report):
    cli.add_command(module.command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one line and exit 2, never a traceback. Standard output that cannot
    be written is one line too (``error: standard output: ...``, exit 2), except a pipe its reader closed (``| head``
    stops reading on purpose): that ends quietly with status 141, as a command killed by SIGPIPE does."""
    stdout = sys.stdout
    sys.stdout = _Stdout(stdout)
    previous = _on_sigterm()
    try:
        code = _run(argv)
    except OutputFailed as e:
        code = _output_failed(e, stdout)
    finally:
        sys.stdout = stdout
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


TERMINATED = 143  # 128 + SIGTERM (15): what a scheduler that preempts a job expects back


class Terminated(KeyboardInterrupt):
    """SIGTERM (a preempted node, a scheduler's stop): unwound like Ctrl-C, so workers are stopped, the lock is
    released and every finished row stays; the same command then resumes."""


def _on_sigterm() -> Any:
    """Raise :class:`Terminated` on SIGTERM while a command runs; the handler it replaces (None off the main
    thread, where Python cannot take signals)."""
    def terminated(signum: int, frame: Any) -> None:
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, terminated)


def _run(argv: list[str] | None) -> int:
    """Run the command; its exit status, user errors printed as one line."""
    try:
        rv = cli.main(args=argv, prog_name="scaler", standalone_mode=False)
        sys.stdout.flush()  # what is still buffered fails here, not unseen at exit
    except ScalerError as e:
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    except click.exceptions.Abort as e:  # click turns a KeyboardInterrupt (Ctrl-C) into Abort
        return _stopped(e.__cause__) if isinstance(e.__cause__, KeyboardInterrupt) else _stopped(None)
    except KeyboardInterrupt as e:
        return _stopped(e)
    except click.ClickException as e:
        where = e.ctx.command_path if isinstance(e, click.UsageError) and e.ctx else "scaler"
        hint = f" (see '{where} --help')" if isinstance(e, click.UsageError) else ""
        click.echo(f"error: {where}: {e.format_message()}{hint}".replace("\n", " "), err=True)
        return e.exit_code
    return rv if isinstance(rv, int) else 0


def _stopped(signal_: KeyboardInterrupt | None) -> int:
    """Ctrl-C (130), SIGTERM (143) or click's abort: one line and the status a shell expects."""
    if isinstance(signal_, Terminated):
        click.echo("terminated", err=True)
        return TERMINATED
    click.echo("interrupted" if signal_ is not None else "aborted", err=True)
    return 130


PIPE_CLOSED = 141  # 128 + SIGPIPE (13): the status of a command killed by SIGPIPE


class OutputFailed(Exception):
    """Standard output did not take what a command wrote (a full disk, a closed pipe). Not an OSError, so that no
    handler of a command's own files mistakes it for theirs."""

    def __init__(self, error: OSError):
        super().__init__(error.strerror or str(error))
        self.errno = error.errno


class _Stdout:
    """``sys.stdout`` while a command runs: a write or flush that fails raises :class:`OutputFailed`; everything
    else is the stream's own."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            raise OutputFailed(e) from None

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            raise OutputFailed(e) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _output_failed(e: OutputFailed, stdout: TextIO) -> int:
    """Say why standard output failed (nothing for a closed pipe); the exit status. What is still buffered goes to
    /dev/null, or the interpreter's own flush at exit would fail again with a traceback of its own."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO): nothing is flushed at exit
        pass
    if e.errno == errno.EPIPE:
        return PIPE_CLOSED
    with contextlib.suppress(OSError):  # standard error may be as broken
        click.echo(f"error: standard output: cannot write: {e}", err=True)
    return 2


if __name__ == "__main__":
    main()

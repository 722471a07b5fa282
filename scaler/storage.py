"""Files that survive faults: appends that land whole or not at all, atomic replacement, and a directory lock that
says who holds it. A write that fails (a full disk, a file-size limit, an unwritable folder) is a one-line error
naming the path, and leaves the file as it was. No torch."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from scaler.errors import ScalerError

LOCK_NAME = ".lock"


def _failed(path: Path, e: OSError) -> ScalerError:
    return ScalerError(f"cannot write: {e.strerror or e}", where=path)


def make_dir(path: Path) -> None:
    """``path`` and its parents as directories (existing ones kept), or a one-line error naming it: a file in the
    way, a symlink loop or a folder without write permission."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if path.is_symlink() and not path.exists():
            why = "is a symlink that leads nowhere (or to itself)"
        elif isinstance(e, FileExistsError | NotADirectoryError):
            why = "is not a directory (a file is in the way)"
        else:
            why = f"cannot create this directory: {e.strerror or e}"
        raise ScalerError(why, where=path) from None


def append_whole(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` (created if missing) and fsync it: a short write is continued, and a failure
    cuts the file back to its old length, so no torn line survives."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise _failed(path, e) from None
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise _failed(path, e) from None
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` through a fsynced temporary file beside it: readers see the old file or the
    new one, never a part; a failure removes the temporary file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _failed(path, e) from None


class DirLock:
    """One writer per directory: ``flock`` on ``DIR/.lock``, which records the holder's pid, host and start time
    and is removed on release (a killed holder's file stays, unlocked, and is simply taken over)."""

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, refusal: str) -> None:
        """Take the lock, or a one-line error: who holds it, then ``refusal`` (what to do)."""
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(os.read(fd, 512))
                os.close(fd)
                raise ScalerError(f"another scaler run ({holder}) is using this directory; {refusal}",
                                  where=self.path.parent) from None
            if _same_inode(fd, self.path):
                break
            os.close(fd)  # the holder released and removed the file between our open and flock: try again
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}).encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file, then let go of the lock (in that order, so no one locks a removed file)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def lock_holder(folder: Path) -> str | None:
    """Who holds ``folder``'s lock, read without taking it (a reader must never make a starting run refuse):
    ``pid 123 on host, since ...`` while that process lives on this machine; None when there is no lock file, or its
    process is gone (a killed run's file stays), or it ran on another host (not checkable from here)."""
    try:
        raw = (Path(folder) / LOCK_NAME).read_bytes()
        info = json.loads(raw)
        pid, host = int(info["pid"]), str(info["host"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return _holder(raw) if host == socket.gethostname() and _alive(pid) else None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists here (signal 0 checks without sending; a pid below 1 names a group)."""
    if pid < 1:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    return True


def _same_inode(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _holder(raw: bytes) -> str:
    """``pid 123 on host, since 2026-12-04 20:01:02 +0000`` from a lock file (a bare pid from older scalers)."""
    text = raw.decode(errors="replace").strip()
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, since {info['started']}"
    except (ValueError, TypeError, KeyError):
        return f"pid {text or '?'}"

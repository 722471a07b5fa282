"""Files that survive faults (issue #28, item 8 and 9; issue #32, item 2): faults injected at the OS boundary (a
file-size limit, short writes), never by mocking scaler's own code."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scaler.errors import ScalerError
from scaler.results import RunDir, TrialRow, read_results
from scaler.storage import DirLock, append_whole, lock_holder, write_atomic

ROW = TrialRow(trial_id="base-s0", kind="base", alpha=1.0, beta=1.0, gamma=1.0, phi=1.0, depth=1.0, width=1.0,
               resolution=14, params=100, flops=1000, accuracy=0.5, status="ok")

# Appends a row under a file-size limit that cuts the write short (Python ignores SIGXFSZ, so write() fails with
# EFBIG instead of the process dying): what scaler says, and what the file holds after.
UNDER_LIMIT = """
import dataclasses, resource, sys
from scaler.errors import ScalerError
from scaler.results import RunDir, TrialRow
run = RunDir(sys.argv[1])
size = run.csv.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, resource.RLIM_INFINITY))
row = TrialRow(trial_id="width-s0", kind="width", alpha=1.0, beta=1.4, gamma=1.0, phi=1.0, depth=1.0, width=1.4,
               resolution=14, params=100, flops=1000, status="ok", message="x" * 200)
try:
    run.append(row)
except ScalerError as e:
    print(e)
"""


def test_a_full_disk_leaves_no_torn_row_and_names_the_file(tmp_path: Path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.append(ROW)
    before = run.csv.read_bytes()
    proc = subprocess.run([sys.executable, "-c", UNDER_LIMIT, str(run.path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{run.csv}: cannot write: File too large"
    assert run.csv.read_bytes() == before  # the partial row was cut back
    run.append(TrialRow(**{**ROW.as_dict(), "trial_id": "depth-s0"}))
    assert [r["trial_id"] for r in run.rows()] == ["base-s0", "depth-s0"]


def test_short_writes_are_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = os.write
    calls = []

    def short(fd: int, data: bytes) -> int:  # the kernel may write less than asked (a signal, a pipe, NFS)
        calls.append(len(data))
        return real(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", short)
    path = tmp_path / "rows.csv"
    append_whole(path, b"a,b,c\n1,2,3\n")
    assert path.read_bytes() == b"a,b,c\n1,2,3\n" and len(calls) == 2


def test_an_unwritable_folder_is_one_line_naming_the_path(tmp_path: Path):
    missing = tmp_path / "gone" / "results.csv"
    with pytest.raises(ScalerError, match=r"gone/results\.csv: cannot write: No such file or directory"):
        append_whole(missing, b"x\n")
    with pytest.raises(ScalerError, match=r"gone/run\.yaml: cannot write"):
        write_atomic(tmp_path / "gone" / "run.yaml", "a: 1\n")
    assert not (tmp_path / "gone").exists()


def test_a_results_file_saved_with_a_byte_order_mark_resumes(tmp_path: Path):
    """Excel and Notepad save CSVs with a UTF-8 BOM: its rows still count as done, and new rows keep their
    trial_id (before: '0 already done', and rows with an empty trial_id appended on every rerun)."""
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.append(ROW)
    run.csv.write_bytes(b"\xef\xbb\xbf" + run.csv.read_bytes())
    assert run.header()[0] == "trial_id" and [r["trial_id"] for r in run.rows()] == ["base-s0"]
    run.append(TrialRow(**{**ROW.as_dict(), "trial_id": "depth-s0", "kind": "depth"}))
    assert [r["trial_id"] for r in run.rows()] == ["base-s0", "depth-s0"]
    assert list(read_results(run.csv)["trial_id"]) == ["base-s0", "depth-s0"]


def test_a_binary_results_file_is_one_line(tmp_path: Path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.csv.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    with pytest.raises(ScalerError, match=r"results\.csv: not a UTF-8 text file"):
        run.rows()


def test_the_lock_names_its_holder_and_goes_with_it(tmp_path: Path):
    first, second = DirLock(tmp_path), DirLock(tmp_path)
    first.acquire("wait")
    try:
        with pytest.raises(ScalerError) as refused:
            second.acquire("wait for it to finish")
    finally:
        first.release()
    message = str(refused.value)
    assert message.startswith(f"{tmp_path}: another scaler run (pid {os.getpid()} on {socket.gethostname()}, since ")
    assert message.endswith(") is using this directory; wait for it to finish")
    assert not (tmp_path / ".lock").exists()  # released: removed, also when the run failed
    (tmp_path / ".lock").write_text("12345")  # left by a killed run (kill -9): unlocked, taken over
    second.acquire("wait")
    second.release()
    assert not (tmp_path / ".lock").exists()


def test_a_reader_names_a_live_holder_only(tmp_path: Path):
    assert lock_holder(tmp_path) is None and not (tmp_path / ".lock").exists()  # none there, none made
    held = DirLock(tmp_path)
    held.acquire("wait")
    try:
        assert lock_holder(tmp_path).startswith(f"pid {os.getpid()} on {socket.gethostname()}, since ")
    finally:
        held.release()
    assert not (tmp_path / ".lock").exists()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for pid, host in ((int(gone.stdout), socket.gethostname()), (os.getpid(), "elsewhere"), (0, socket.gethostname())):
        (tmp_path / ".lock").write_text(json.dumps({"pid": pid, "host": host, "started": "now"}))
        assert lock_holder(tmp_path) is None  # a killed run's file, another host's, a process group's number
    (tmp_path / ".lock").write_text("12345")  # an older scaler's bare pid: no host to check
    assert lock_holder(tmp_path) is None


def test_rows_without_the_settings_that_trained_them_are_not_resumed(tmp_path: Path):
    """A results.csv copied in from another run, without its run.yaml: its rows would count as done work."""
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.append(ROW)
    with pytest.raises(ScalerError, match=r"run: results\.csv has rows but there is no run\.yaml to say what "
                                          r"settings trained them; add --fresh"):
        run.check_settings({"base": {"name": "tiny"}})
    run.write_settings({"base": {"name": "tiny"}}, {})
    run.check_settings({"base": {"name": "tiny"}})
    with pytest.raises(ScalerError, match=r"holds results of different settings \(base\.name: was 'tiny', now 'x'"):
        run.check_settings({"base": {"name": "x"}})

"""Ctrl-C and dying workers under the grid's executors, on real ``scaler grid`` processes.

A process is the point here (signals, process pools), so every test starts the CLI with ``subprocess.Popen`` in a
session of its own: a Ctrl-C is a SIGINT to the grid process (``kill -INT``) or to its process group (what a
terminal sends), and cleanup kills the whole tree without touching anything else. Output goes to files (a pipe
nobody reads could block the grid). The trials are tiny (digits, 300 images, a 16 px network), so the timings
that matter are the processes' start-up: the tests poll for progress, with generous timeouts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _procs import proc_files
from _specs import TINY_YAML
from conftest import RAY_ENV, RayHead

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

# 7 trials: base, the depth-, width- and resolution-only baselines, and 3 compound candidates (no confirmation
# round: these tests are about executors).
SPEC = (TINY_YAML + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.4], confirm: 0, strategy: grid}\n"
        "proxy: {dataset: digits, lr: 0.1}\n")
TRIALS = 7
GRID = [sys.executable, "-c", "from scaler.cli.app import main; main()", "grid", "tiny.yaml", "--quiet",
        "--subset", "300", "--device", "cpu", "--out", "run"]


# -- running a grid ---------------------------------------------------------------------------------------------


class Grid:
    """A ``scaler grid`` process in its own session, its stdout and stderr in files."""

    def __init__(self, cwd: Path, *flags: str, env: dict[str, str] | None = None, name: str = "grid"):
        (cwd / "tiny.yaml").write_text(SPEC)
        self.cwd = cwd
        self.csv = cwd / "run" / "results.csv"
        self.stdout_path, self.stderr_path = cwd / f"{name}.out", cwd / f"{name}.err"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen([*GRID, *flags], cwd=cwd, stdout=out, stderr=err, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> tuple[str, str]:
        return self.stdout_path.read_text(), self.stderr_path.read_text()

    def describe(self) -> str:
        out, err = self.output()
        return f"\n--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-4000:]}"

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"scaler grid still running after {timeout:.0f} s" + self.describe())

    def wait_for_rows(self, n: int, timeout: float) -> None:
        """Until results.csv holds ``n`` complete rows; fails if the grid exits first."""
        deadline = time.monotonic() + timeout
        while len(complete_lines(self.csv)) < n + 1:  # + the header
            if self.proc.poll() is not None:
                pytest.fail(f"scaler grid exited ({self.proc.returncode}) before {n} row(s)" + self.describe())
            if time.monotonic() > deadline:
                pytest.fail(f"no {n} row(s) in results.csv after {timeout:.0f} s" + self.describe())
            time.sleep(0.05)

    def kill(self) -> None:
        """The whole tree (its own process group), if still there."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)


@pytest.fixture
def grids() -> Iterator[list[Grid]]:
    """Grids started by a test; whatever is still running at its end is killed."""
    started: list[Grid] = []
    yield started
    for g in started:
        g.kill()


def complete_lines(path: Path) -> list[str]:
    text = path.read_text() if path.exists() else ""
    return text.splitlines()[: text.count("\n")]


def checked_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a results file that must be whole: it ends with a newline and every record has the header's
    number of fields."""
    text = path.read_text()
    assert text.endswith("\n"), f"torn last line: {text[-300:]!r}"
    records = list(csv.reader(io.StringIO(text)))
    header = records[0]
    assert header[0] == "trial_id" and "status" in header, header
    bad = [r for r in records[1:] if len(r) != len(header)]
    assert not bad, f"rows without the header's {len(header)} fields: {bad}"
    return [dict(zip(header, r, strict=True)) for r in records[1:]]


def finished_ids(stdout: str) -> list[str]:
    """Trial ids from the ``[k/N] <id>: <status> ...`` lines of --quiet output."""
    return [line.split("] ", 1)[1].split(":", 1)[0] for line in stdout.splitlines() if line.startswith("[")]


def assert_interrupted(err: str, said: str = "interrupted") -> None:
    """Ctrl-C (SIGTERM) is one line, ``interrupted`` (``terminated``), and no traceback (click's blank line before
    it is tolerated)."""
    assert "Traceback" not in err, err[-4000:]
    assert [line for line in err.splitlines() if line.strip()] == [said], err[-4000:]


# -- processes --------------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/*/stat, so any kernel will do)."""
    return [child for child, stat in proc_files("stat").items() if int(stat.rsplit(b")", 1)[1].split()[1]) == pid]


def maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def pool_workers(grid: Grid, count: int = 2, timeout: float = 180) -> list[int]:
    """The pool's worker processes: spawned children of the grid that loaded torch (multiprocessing's resource
    tracker is a child too, without torch)."""
    deadline = time.monotonic() + timeout
    while True:
        workers = [p for p in children(grid.pid) if "libtorch" in maps(p)]
        if len(workers) >= count:
            return workers
        if grid.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"found {len(workers)} of {count} pool workers" + grid.describe())
        time.sleep(0.1)


def wait_until_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def interrupted_rows(grid: Grid, tmp_path: Path) -> tuple[list[str], str]:
    """After Ctrl-C: exit 130 and only whole, finished rows, each once; returns (their trial ids, stderr)."""
    rc = grid.wait(timeout=180)
    out, err = grid.output()
    assert rc == 130, grid.describe()
    table = checked_rows(grid.csv)
    done = [r["trial_id"] for r in table]
    assert 1 <= len(done) < TRIALS and len(set(done)) == len(done), done
    assert all(r["status"] == "ok" for r in table), table  # an interrupted trial is not recorded as failed
    printed = finished_ids(out)  # a Ctrl-C between writing a row and printing it leaves it unprinted
    assert printed == done[: len(printed)]  # every trial reported finished is in the file, in that order
    return done, err


def rerun_trains_the_rest(rerun: Grid, done: list[str], timeout: float) -> None:
    """The rerun after Ctrl-C trains exactly the missing trials, after the rows already there."""
    assert rerun.wait(timeout=timeout) == 0, rerun.describe()
    out, _ = rerun.output()
    assert f"{len(done)} already done, running {TRIALS - len(done)}" in out, out
    final = checked_rows(rerun.csv)
    ids = [r["trial_id"] for r in final]
    assert len(ids) == len(set(ids)) == TRIALS, ids
    assert ids[: len(done)] == done and sorted(finished_ids(out)) == sorted(ids[len(done):])
    assert all(r["status"] == "ok" for r in final), final


# -- the local process pool -------------------------------------------------------------------------------------


def test_ctrl_c_keeps_finished_rows_and_the_rerun_trains_only_the_rest(tmp_path: Path, grids: list[Grid]):
    flags = ("--epochs", "6", "--workers", "2")
    grids.append(first := Grid(tmp_path, *flags, name="first"))
    first.wait_for_rows(1, timeout=240)  # trials of both workers are running: 6 of 7 are still to come
    os.kill(first.pid, signal.SIGINT)
    done, err = interrupted_rows(first, tmp_path)
    assert all((tmp_path / "run" / "trials" / f"{tid}.json").exists() for tid in done)

    grids.append(rerun := Grid(tmp_path, *flags, name="rerun"))
    rerun_trains_the_rest(rerun, done, timeout=300)
    assert_interrupted(err)  # last, so that a wrong message does not hide the checks above


@pytest.mark.parametrize("to, sig", [("process", signal.SIGINT), ("group", signal.SIGINT),
                                     ("process", signal.SIGTERM)])
def test_ctrl_c_stops_the_trials_in_flight_at_once(to: str, sig: int, tmp_path: Path, grids: list[Grid]):
    """SIGINT to the grid alone (``kill -INT``, a supervisor) or to its whole process group (a terminal's Ctrl-C),
    or SIGTERM (a preempted node, issue #28 item 7), while both workers are far from the end of their trials: the
    grid exits within seconds (130, or 143 for SIGTERM), no worker goes on training, and nothing is recorded."""
    grids.append(grid := Grid(tmp_path, "--epochs", "1000", "--workers", "2"))  # a trial takes minutes
    workers = pool_workers(grid)
    deadline = time.monotonic() + 90  # until both load their data (sklearn's digits): their trials have begun
    while not all("sklearn" in maps(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    assert grid.proc.poll() is None and not complete_lines(grid.csv), grid.describe()

    (os.kill if to == "process" else os.killpg)(grid.pid, sig)
    try:
        rc = grid.proc.wait(timeout=10 if sig == signal.SIGTERM else 20)
    except subprocess.TimeoutExpired:
        left = [p for p in workers if alive(p)]
        grid.kill()
        pytest.fail(f"still running after signal {sig} (pool workers alive: {left})" + grid.describe())
    assert rc == (143 if sig == signal.SIGTERM else 130), grid.describe()
    assert not wait_until_gone(workers, timeout=10), "pool workers outlived the grid"
    assert not complete_lines(grid.csv)[1:], "an interrupted trial was recorded"
    assert not (grid.cwd / "run" / ".lock").exists(), "the lock outlived the run"
    assert_interrupted(grid.output()[1], "terminated" if sig == signal.SIGTERM else "interrupted")


def test_a_worker_killed_mid_trial_fails_only_its_trial(tmp_path: Path, grids: list[Grid]):
    """Issue #28 item 5: a worker killed mid-trial costs that trial one attempt; its slot gets a new process, and
    the other slot's worker trains on, untouched (a ProcessPoolExecutor broke as a whole)."""
    grids.append(grid := Grid(tmp_path, "--epochs", "6", "--workers", "2"))
    grid.wait_for_rows(1, timeout=240)  # both workers are busy: trials are queued for them
    workers = pool_workers(grid)
    os.kill(workers[0], signal.SIGKILL)
    before = len(complete_lines(grid.csv)) - 1
    assert grid.wait(timeout=300) == 0, grid.describe()
    later = [json.loads((tmp_path / "run" / "trials" / f"{r['trial_id']}.json").read_text())
             for r in checked_rows(grid.csv)[before:]]
    assert workers[1] in {r.get("worker", {}).get("pid") for r in later}, "the other worker did not survive"

    table = checked_rows(grid.csv)
    ids = [r["trial_id"] for r in table]
    assert len(ids) == len(set(ids)) == TRIALS, ids
    failed = [r for r in table if r["status"] != "ok"]
    # the killed trial is a failed row (or, retried, an ok one); every other trial trains as usual
    assert len(failed) <= 1, [(r["trial_id"], r["status"], r["message"]) for r in failed]
    assert all(r["status"] == "failed" and r["message"].startswith("worker died") for r in failed), failed


# -- Ray --------------------------------------------------------------------------------------------------------


def _ray_task_pids(head: int) -> list[int]:
    """Processes of the test cluster running a scaler trial as a Ray task (Ray titles them ``ray::_trial_task``
    while they do); Ray instances of other tests are left out."""
    tree, todo = [], [head]
    while todo:
        todo.extend(kids := children(todo.pop()))
        tree.extend(kids)
    pids = []
    for pid in tree:
        try:
            if b"ray::_trial_task" in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(pid)
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_ctrl_c_under_ray_keeps_finished_rows_and_the_rerun_resumes(ray_cluster: RayHead, tmp_path: Path,
                                                                    grids: list[Grid]):
    address, head = ray_cluster
    flags = ("--epochs", "10", "--executor", "ray", "--ray-address", address, "--cpus-per-trial", "1")
    grids.append(first := Grid(tmp_path, *flags, env=RAY_ENV, name="first"))
    first.wait_for_rows(1, timeout=300)
    os.killpg(first.pid, signal.SIGINT)
    done, err = interrupted_rows(first, tmp_path)
    # Ctrl-C cancels the tasks still running or queued: the cluster stops training them
    assert not wait_until_gone(_ray_task_pids(head), timeout=60), "Ray tasks still running after Ctrl-C"

    grids.append(rerun := Grid(tmp_path, *flags, env=RAY_ENV, name="rerun"))
    rerun_trains_the_rest(rerun, done, timeout=400)
    assert_interrupted(err)

"""Fixtures shared by the tests: one torch thread, and one loopback Ray cluster for the Ray executor's tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from scaler.search.executors.base import available_cores

# A loopback test cluster: no usage reports, and no token auth (whether Ray turns it on depends on what an earlier
# ray.init() of this user left in ~/.ray, so the head and the clients could disagree).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def one_thread():
    """Small convolutions gain nothing from threads, and OpenMP threads on a busy 2-core box stall badly."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class RayHead(NamedTuple):
    address: str
    pid: int  # of `ray start`, the leader of the cluster's process group


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    """A Ray head node of this machine's CPUs on loopback, in its own process group: stopping it leaves any other
    Ray instance on the machine alone (``ray stop`` would stop them all). Skipped without Ray unless
    SCALER_REQUIRE_RAY=1 (CI sets it, so the Ray tests fail there rather than skip)."""
    if os.environ.get("SCALER_REQUIRE_RAY") != "1":
        pytest.importorskip("ray")
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    with open(log, "w") as out:
        head = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
                                 f"--port={port}", f"--num-cpus={available_cores()}", "--num-gpus=0",
                                 "--include-dashboard=false", "--disable-usage-stats"],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **RAY_ENV},
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield RayHead(f"127.0.0.1:{port}", head.pid)
    finally:
        # SIGTERM to `ray start` alone: it drains the node and stops its processes in a second or two (sent to the
        # whole group, the GCS dies first and the drain waits 30 s for it); then the group, for stragglers
        os.kill(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=60)
        # `ray start` notes its address for later ray.init() calls; `ray stop` would remove the note, so do it here
        note = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if note.exists() and str(port) in note.read_text():
            note.unlink()

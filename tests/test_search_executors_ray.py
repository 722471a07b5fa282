"""`scaler grid --executor ray` on a local Ray cluster started by the tests (2 CPUs).

CI installs the `ray` extra and sets SCALER_REQUIRE_RAY=1, so these tests fail there rather than skip.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from _procs import proc_files
from _specs import TINY_YAML
from conftest import RAY_ENV, RayHead

if os.environ.get("SCALER_REQUIRE_RAY") != "1":
    pytest.importorskip("ray")  # the module's other tests need Ray too, not only the cluster

from scaler.search.executors.base import available_cores

COMPARED = ("trial_id", "kind", "alpha", "beta", "gamma", "resolution", "params", "flops", "accuracy", "loss",
            "status", "seed", "epochs")
SPEC = (TINY_YAML + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.4], confirm: 0, strategy: grid}\n"
        "proxy: {dataset: digits, lr: 0.1}\n")


@pytest.fixture
def cluster(ray_cluster: RayHead) -> str:
    return ray_cluster.address


def grid(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    spec = cwd / "tiny.yaml"
    if not spec.exists():
        spec.write_text(SPEC)
    proc = subprocess.run([sys.executable, "-m", "scaler.cli", "grid", str(spec), "--quiet", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **RAY_ENV})
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# tiny.yaml's network, built by a user's factory (code/tinynet.py): Ray must ship the module to its workers
FACTORY_CODE = f"""
from scaler.arch.torch_model import build_model
from scaler.scaling import scale
from scaler.spec import Spec

BASE = {yaml.safe_load(TINY_YAML)!r}

def make_net(depth, width, num_classes, in_channels):
    spec = Spec.model_validate({{**BASE, "num_classes": num_classes, "in_channels": in_channels}})
    return build_model(scale(spec, depth=depth, width=width) if (depth, width) != (1, 1) else spec)
"""
FACTORY_SPEC = ("name: tiny\nfactory: tinynet:make_net\npath: code\nresolution: 16\nnum_classes: 10\n"
                + SPEC[len(TINY_YAML):])


@pytest.mark.slow
def test_ray_executor_matches_the_local_one(cluster: str, tmp_path: Path):
    """On a factory network: its module goes to the workers in the job's runtime environment (Ray uploads it)."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "tinynet.py").write_text(FACTORY_CODE)
    (tmp_path / "tiny.yaml").write_text(FACTORY_SPEC)
    flags = ["--epochs", "2", "--subset", "400", "--limit", "4", "--device", "cpu"]
    grid(tmp_path, *flags, "--out", "local")
    out = grid(tmp_path, *flags, "--out", "ray", "--executor", "ray", "--ray-address", cluster,
               "--cpus-per-trial", str(available_cores())).stdout
    assert f"Ray ({cluster})" in out
    local, remote = rows(tmp_path / "local" / "results.csv"), rows(tmp_path / "ray" / "results.csv")
    assert list(local[0]) == list(remote[0])  # same columns, same order
    key = lambda r: r["trial_id"]  # noqa: E731 -- rows arrive in finishing order under Ray
    assert [[r[c] for c in COMPARED] for r in sorted(local, key=key)] == \
        [[r[c] for c in COMPARED] for r in sorted(remote, key=key)]
    assert all(r["status"] == "ok" for r in remote) and len(remote) == 4
    assert (tmp_path / "ray" / "trials" / f"{remote[0]['trial_id']}.json").exists()
    # resuming under Ray skips what is done and runs the rest, exactly once each
    grid(tmp_path, "--epochs", "2", "--subset", "400", "--out", "ray", "--executor", "ray", "--ray-address", cluster)
    ids = [r["trial_id"] for r in rows(tmp_path / "ray" / "results.csv")]
    assert len(ids) == len(set(ids)) == 7  # base, 3 baselines, 3 compound


@pytest.mark.slow
def test_halving_under_ray_matches_the_local_run_rung_for_rung(cluster: str, tmp_path: Path):
    """Checkpoints travel to Ray workers inside the trial and come back in its record: every rung's accuracy is
    the local run's."""
    flags = ["--epochs", "2", "--subset", "400", "--device", "cpu", "--strategy", "halving", "--max-seeds", "2"]
    grid(tmp_path, *flags, "--out", "local")
    grid(tmp_path, *flags, "--out", "ray", "--executor", "ray", "--ray-address", cluster,
         "--cpus-per-trial", str(available_cores()))
    local, remote = rows(tmp_path / "local" / "results.csv"), rows(tmp_path / "ray" / "results.csv")
    key = lambda r: r["trial_id"]  # noqa: E731
    compared = (*COMPARED, "rung", "budget")
    assert [[r[c] for c in compared] for r in sorted(local, key=key)] == \
        [[r[c] for c in compared] for r in sorted(remote, key=key)]
    assert {r["rung"] for r in remote} == {"0", "1", "2"} and not (tmp_path / "ray" / "checkpoints").exists()


@pytest.mark.slow
def test_a_trial_past_its_time_limit_is_cancelled_and_the_grid_goes_on(cluster: str, tmp_path: Path):
    """Issue #28 item 6 under Ray: the wider networks hang in training (while a file exists); with
    --trial-timeout their tasks are force-cancelled once over the limit, counted from when their worker began
    them, and recorded as failed; the other trials land as usual."""
    hang = tmp_path / "HANG"
    hang.write_text("")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "hangnet.py").write_text(FACTORY_CODE + f"""
import os, time

_make = make_net

def _hang(module, args):
    if module.training and os.path.exists({str(hang)!r}):
        time.sleep(3600)


def make_net(depth, width, num_classes, in_channels):
    net = _make(depth, width, num_classes, in_channels)
    if width > 1:  # training hangs; the driver still builds it to count its FLOPs
        net.register_forward_pre_hook(_hang)
    return net
""")
    (tmp_path / "tiny.yaml").write_text(FACTORY_SPEC.replace("tinynet", "hangnet"))
    t0 = time.monotonic()
    grid(tmp_path, "--epochs", "1", "--subset", "300", "--device", "cpu", "--out", "run", "--executor", "ray",
         "--ray-address", cluster, "--cpus-per-trial", "1", "--trial-timeout", "5")
    took = time.monotonic() - t0
    table = {r["trial_id"]: r for r in rows(tmp_path / "run" / "results.csv")}
    hung = {t for t, r in table.items() if r["status"] == "failed"}
    assert "width-s0" in hung and len(table) == 7 and len(hung) < 7, table
    assert all(table[t]["message"].startswith("timed out: stopped after ") for t in hung), table
    assert took < 300, took


def _task_pids() -> list[int]:
    """Processes running a scaler trial as a Ray task (Ray titles them after the function)."""
    return [pid for pid, cmd in proc_files("cmdline").items() if b"ray::_trial_task" in cmd]


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_every_trial_lands_once(cluster: str, tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(SPEC)
    args = [sys.executable, "-m", "scaler.cli", "grid", str(tmp_path / "tiny.yaml"), "--quiet", "--epochs", "4",
            "--subset", "600", "--executor", "ray", "--ray-address", cluster, "--retries", "2", "--out", "run",
            "--device", "cpu"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **RAY_ENV})
    killed = None
    deadline = time.time() + 240
    while killed is None and time.time() < deadline and proc.poll() is None:
        pids = _task_pids()  # Ray titles a worker ray::_trial_task only while it runs that task (else ray::IDLE)
        if pids:
            time.sleep(0.3)  # let it get into training
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.05)
    out, err = proc.communicate(timeout=600)
    assert killed is not None, "never saw a trial running as a Ray task"
    assert proc.returncode == 0, out[-2000:] + err[-3000:]
    table = rows(tmp_path / "run" / "results.csv")
    ids = [r["trial_id"] for r in table]
    assert len(ids) == len(set(ids)) == 7
    assert all(r["status"] == "ok" for r in table), [r["message"] for r in table]


def test_without_ray_installed_the_ray_executor_is_a_one_line_error(tmp_path: Path):
    blocker = tmp_path / "block" / "ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    (tmp_path / "tiny.yaml").write_text(SPEC)
    proc = subprocess.run([sys.executable, "-m", "scaler.cli", "grid", "tiny.yaml", "--executor", "ray"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "block")})
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: --executor ray needs Ray: pip install 'scaler[ray]' "
                                   "(or pip install 'ray>=2.9')")
    assert not (tmp_path / "results").exists()


def test_workers_is_a_local_executor_flag(tmp_path: Path):
    proc = grid(tmp_path, "--executor", "ray", "--workers", "2", check=False)
    assert proc.returncode == 2 and "--workers is for the local executor" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_the_local_executor_never_imports_ray(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(SPEC)
    code = ("import sys; from scaler.cli.app import cli\n"
            "try:\n    cli(['grid', 'tiny.yaml', '--quiet', '--limit', '1', '--epochs', '1', '--subset', '200'])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print('RAY' if 'ray' in sys.modules else 'NORAY')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip().endswith("NORAY"), proc.stdout + proc.stderr
    assert len(rows(tmp_path / "results" / "tiny" / "results.csv")) == 1  # a trial really ran

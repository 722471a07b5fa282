"""`scaler grid` end to end on digits: results, coefficients, resume after kill -9, lock, --fresh."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from _cli import Result, run_scaler
from _specs import TINY_YAML

from scaler.results import COLUMNS, RunDir

TINY = TINY_YAML + """\
dropout: 0.0
drop_path: 0.0
search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.4], baselines: %s, strategy: grid}
proxy: {dataset: digits, batch_size: 64, lr: 0.1}
"""


def scaler(*args: str, cwd: Path, check: bool = True) -> Result:
    return run_scaler(*args, cwd=cwd, check=check)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY % "false")
    return p


def test_tiny_grid_end_to_end(tiny: Path, tmp_path: Path):
    scaler("grid", str(tiny), "--epochs", "2", "--subset", "600", "--limit", "3", "--quiet", cwd=tmp_path)
    out = tmp_path / "results" / "tiny"
    table = rows(out / "results.csv")
    assert list(table[0])[: len(COLUMNS)] == list(COLUMNS)
    assert [r["trial_id"] for r in table] == ["a1.389-b1.000-g1.200-s0", "a1.020-b1.000-g1.400-s0",
                                              "a1.389-b1.200-g1.000-s0"]
    for r in table:
        assert r["status"] == "ok" and r["kind"] == "compound" and r["epochs"] == "2"
        assert float(r["accuracy"]) > 0.3  # 10 classes: chance is 0.1
        assert float(r["alpha"]) * float(r["beta"]) ** 2 * float(r["gamma"]) ** 2 == pytest.approx(2.0)
        assert float(r["images_per_second"]) > 0 and float(r["train_seconds"]) > 0
        assert min(float(r[c]) for c in ("train_step_ms", "latency_ms", "latency_batch_ms")) > 0  # timings: no order
        assert float(r["gamma_used"]) == float(r["resolution_real"]) == int(r["resolution"]) / 16
        # flops are the analytic count of the network that was trained, as `scaler info` reports it
        record = json.loads((out / "trials" / f"{r['trial_id']}.json").read_text())
        assert [e["epoch"] for e in record["curve"]] == [1, 2]
        spec_file = tmp_path / f"{r['trial_id']}.yaml"
        spec_file.write_text(yaml.safe_dump(record["spec"]))
        info = json.loads(scaler("info", str(spec_file), "--json", cwd=tmp_path).stdout)
        assert (int(r["flops"]), int(r["params"]), int(r["resolution"])) == (
            info["flops"], info["params"], info["resolution"])
        assert info["resolution"] == round(16 * float(r["gamma"]) / 4) * 4
    settings = yaml.safe_load((out / "run.yaml").read_text())["settings"]
    assert settings["proxy"]["epochs"] == 2 and settings["proxy"]["subset"] == 600
    assert settings["base"]["name"] == "tiny"
    coef = yaml.safe_load((out / "coefficients.yaml").read_text())
    # one seed each (--limit 3 stops before the confirmation round): the choice is the highest, then fewer FLOPs
    best = max(table, key=lambda r: (float(r["accuracy"]), -int(r["flops"])))
    # emit gets the direction the winner's rounded network really took, put back on the constraint; the
    # nominal and the raw real multipliers are kept beside it
    assert coef["form"] == "real" and coef["best"]["alpha"] == pytest.approx(float(best["alpha"]), abs=1e-6)
    real = {k: float(best[c]) for k, c in (("alpha", "depth_real"), ("beta", "width_real"),
                                           ("gamma", "resolution_real"))}
    assert coef["best"]["real"] == pytest.approx(real, abs=1e-6)
    k = math.log(2) / math.log(real["alpha"] * real["beta"] ** 2 * real["gamma"] ** 2)
    assert [coef[key] for key in ("alpha", "beta", "gamma")] == pytest.approx([real[key] ** k for key in real],
                                                                              abs=1e-5)
    assert coef["alpha"] * coef["beta"] ** 2 * coef["gamma"] ** 2 == pytest.approx(2.0, abs=1e-4)
    assert coef["base"]["spec"]["num_classes"] == 10 and coef["base"]["spec"]["resolution"] == 16
    assert coef["selection"]["noise"] is None and "unverified" in coef["selection"]["rule"]
    # emit reads the coefficients back and scales the full base spec
    emitted = scaler("emit", "--coefficients", str(out / "coefficients.yaml"), "--phi", "0..2", "--out", "fam",
                     "--json", cwd=tmp_path)
    members = json.loads(emitted.stdout)
    assert [m["name"] for m in members] == ["tiny-phi0", "tiny-phi1", "tiny-phi2"]
    assert members[0]["flops_ratio"] == 1.0 and members[2]["flops_ratio"] > members[1]["flops_ratio"] > 1
    newest = scaler("emit", "--phi", "1", "--out", "fam2", cwd=tmp_path)
    assert "coefficients.yaml" in newest.stdout and (tmp_path / "fam2" / "tiny-phi1.yaml").exists()


def test_cost_spread_is_reported_before_training(tiny: Path, tmp_path: Path):
    out = scaler("grid", str(tiny), "--limit", "0", "--quiet", cwd=tmp_path).stdout
    assert "warning: real FLOPs after rounding range" in out
    # ceil rounding: a 1.02 depth multiplier doubles the one-block stage
    assert "a1.020-b1.000-g1.400: x3.40 (stage 1 has 1 block: depth 1.02 makes it 2 (x2.00)" in out
    assert not (tmp_path / "results" / "tiny" / "results.csv").exists()
    matched = scaler("grid", str(tiny), "--limit", "0", "--quiet", "--match-flops", "--out", "m", cwd=tmp_path)
    assert yaml.safe_load((tmp_path / "m" / "run.yaml").read_text())["settings"]["search"]["match_flops"] is True
    assert "match_flops is on, but no input size brings these closer" in matched.stdout


def test_executor_flags_belong_to_their_executor(tiny: Path, tmp_path: Path):
    for args, message in ((["--ray-address", "auto"], "--ray-address, --cpus-per-trial and --gpus-per-trial need"),
                          (["--cpus-per-trial", "2"], "--ray-address, --cpus-per-trial and --gpus-per-trial need")):
        proc = scaler("grid", str(tiny), *args, cwd=tmp_path, check=False)
        assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1


def kill_after_rows(args: list[str], cwd: Path, csv_path: Path, n: int) -> list[dict[str, str]]:
    """Start ``scaler ARGS`` in its own session, kill -9 it once ``csv_path`` holds ``n`` rows (or after 300 s),
    and return the rows it left."""
    proc = subprocess.Popen([sys.executable, "-m", "scaler.cli", *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (csv_path.exists() and len(rows(csv_path)) >= n):
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return rows(csv_path)


@pytest.mark.slow
def test_killed_grid_resumes_with_every_trial_exactly_once(tmp_path: Path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY % "true")
    args = ["grid", str(spec), "--epochs", "2", "--subset", "400", "--confirm", "1", "--quiet"]
    out = tmp_path / "results" / "tiny"
    before = kill_after_rows(args, tmp_path, out / "results.csv", 2)
    assert 2 <= len(before) < 7, before
    # a torn line from a kill mid-write is ignored and repaired
    with open(out / "results.csv", "a") as f:
        f.write("torn-row,compou")
    done = scaler(*args, cwd=tmp_path)
    assert f"{len(before)} already done" in done.stdout
    after = rows(out / "results.csv")
    ids = [r["trial_id"] for r in after]
    # 4 baselines + 3 compound candidates, then seeds 1 and 2 of the base and the top candidate
    assert len(ids) == len(set(ids)) == 7 + 2 * 2
    assert sum(r["trial_id"].endswith(("-s1", "-s2")) for r in after) == 4
    assert after[: len(before)] == before
    assert all(r["status"] == "ok" for r in after)


@pytest.mark.slow
def test_halving_killed_mid_rung_resumes_from_its_checkpoints_to_the_uninterrupted_result(tmp_path: Path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY % "true")
    args = ["grid", str(spec), "--epochs", "3", "--subset", "400", "--strategy", "halving", "--max-seeds", "2",
            "--quiet"]
    scaler(*args, "--out", "whole", cwd=tmp_path)
    out = tmp_path / "cut"
    # rung 0 has 7 trials (base, 3 baselines, 3 compound): stop inside rung 1
    before = kill_after_rows([*args, "--out", "cut"], tmp_path, out / "results.csv", 8)
    assert 8 <= len(before) < 11 and any((out / "checkpoints").glob("*-r0.pt"))
    done = scaler(*args, "--out", "cut", cwd=tmp_path)
    assert f"{len(before) - 7} already done" in done.stdout
    whole, after = rows(tmp_path / "whole" / "results.csv"), rows(out / "results.csv")
    assert after[: len(before)] == before
    compared = ("trial_id", "rung", "budget", "accuracy", "test_accuracy", "loss", "status")
    key = lambda r: r["trial_id"]  # noqa: E731
    assert [[r[c] for c in compared] for r in sorted(after, key=key)] == \
        [[r[c] for c in compared] for r in sorted(whole, key=key)]
    assert not (out / "checkpoints").exists()


def test_a_held_directory_is_refused(tiny: Path, tmp_path: Path):
    run = RunDir(tmp_path / "results" / "tiny")
    run.lock()
    try:
        proc = scaler("grid", str(tiny), "--limit", "1", "--quiet", cwd=tmp_path, check=False)
    finally:
        run.unlock()
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "another scaler run" in proc.stderr and str(os.getpid()) in proc.stderr


def test_fresh_moves_old_results_aside_and_changed_settings_are_refused(tiny: Path, tmp_path: Path):
    base = ["grid", str(tiny), "--epochs", "1", "--subset", "300", "--limit", "1", "--quiet"]
    scaler(*base, cwd=tmp_path)
    out = tmp_path / "results" / "tiny"
    first = (out / "results.csv").read_text()
    changed = scaler("grid", str(tiny), "--epochs", "3", "--limit", "1", "--quiet", cwd=tmp_path, check=False)
    assert changed.returncode == 2 and "different settings" in changed.stderr and "proxy.epochs" in changed.stderr
    assert (out / "results.csv").read_text() == first
    scaler(*base, "--fresh", cwd=tmp_path)
    previous = list((out / "previous").glob("*/results.csv"))
    assert len(previous) == 1 and previous[0].read_text() == first
    assert len(rows(out / "results.csv")) == 1


def test_bad_dataset_is_one_line_exit_2(tiny: Path, tmp_path: Path):
    proc = scaler("grid", str(tiny), "--dataset", f"idx:{tmp_path}/nowhere", "--quiet", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "nowhere" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_workers_run_trials_in_parallel_processes(tiny: Path, tmp_path: Path):
    proc = scaler("grid", str(tiny), "--epochs", "1", "--subset", "300", "--limit", "2", "--workers", "2", "--quiet",
                  cwd=tmp_path)
    assert "2 worker(s) x 1 thread(s)" in proc.stdout
    table = rows(tmp_path / "results" / "tiny" / "results.csv")
    assert sorted(r["trial_id"] for r in table) == ["a1.020-b1.000-g1.400-s0", "a1.389-b1.000-g1.200-s0"]
    assert all(r["status"] == "ok" and float(r["accuracy"]) > 0 for r in table)


def test_a_spreadsheet_saved_file_resumes_and_rows_of_another_network_are_refused(tiny: Path, tmp_path: Path):
    """A results.csv saved with a UTF-8 BOM resumes (it used to say '0 already done' and append rows with an empty
    trial_id); rows whose FLOPs are not this plan's network (another base spec's results under the same trial ids)
    are not done work of this run."""
    base = ["grid", str(tiny), "--epochs", "1", "--subset", "300", "--limit", "1", "--quiet"]
    scaler(*base, cwd=tmp_path)
    run = RunDir(tmp_path / "results" / "tiny")
    run.csv.write_bytes(b"\xef\xbb\xbf" + run.csv.read_bytes())
    assert "1 already done" in scaler(*base, cwd=tmp_path).stdout
    table = run.rows()
    assert len(table) == 2 and all(r["trial_id"] for r in table)
    first = table[0]
    foreign = [{**r, "flops": str(int(r["flops"]) + 1000)} if r is first else r for r in table]
    with open(run.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(first), lineterminator="\n")
        writer.writeheader()
        writer.writerows(foreign)
    before = run.csv.read_bytes()
    refused = scaler(*base, cwd=tmp_path, check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert (f"row {first['trial_id']} measured another network (flops {int(first['flops']) + 1000}, this plan's is "
            f"{first['flops']})") in refused.stderr
    assert run.csv.read_bytes() == before

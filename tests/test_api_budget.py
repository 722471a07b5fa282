"""The latency budget (scaler.api.budget) through `scaler emit --max-latency-ms`: the members within it, from a
hand-made bench CSV (no timed test), or measured here when no CSV is given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import run_scaler, user_error
from _specs import TINY_YAML

FAMILY = ("emit", "--base", "tiny.yaml", "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15", "--phi", "0..3",
          "--out", "family")


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "300")
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    rows = ["name,runtime,batch,median_ms"]
    for phi, ms in enumerate((10.0, 20.0, 40.0, 80.0)):
        rows += [f"tiny-phi{phi},eager,1,{ms}", f"tiny-phi{phi},eager,8,{4 * ms}", f"tiny-phi{phi},onnxruntime,1,"
                 f"{ms / 4}"]
    (tmp_path / "bench.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_only_the_members_within_the_budget_are_written(project: Path):
    out = run_scaler(*FAMILY, "--max-latency-ms", "30", "--latencies", "bench.csv", cwd=project).stdout
    assert sorted(p.name for p in (project / "family").iterdir()) == ["tiny-phi0.yaml", "tiny-phi1.yaml"]
    assert ("latency budget 30 ms (bench.csv (eager, batch 1)): the largest member that fits is tiny-phi1 (phi 1), "
            "20 ms; 2 of 4 written; over the budget, not written: tiny-phi2 40 ms, tiny-phi3 80 ms") in out


def test_the_runtime_of_the_csv_is_chosen(project: Path):
    members = json.loads(run_scaler(*FAMILY, "--max-latency-ms", "12", "--latencies", "bench.csv",
                                    "--latency-runtime", "onnxruntime", "--json", cwd=project).stdout)
    assert [m["name"] for m in members] == ["tiny-phi0", "tiny-phi1", "tiny-phi2"]  # 2.5, 5, 10 ms


@pytest.mark.parametrize(("args", "message"), [
    (("--max-latency-ms", "5", "--latencies", "bench.csv"),
     "error: --max-latency-ms 5: no member fits; the fastest, tiny-phi0, takes 10 ms (bench.csv (eager, batch 1))"),
    (("--latencies", "bench.csv"), "error: --latencies is read for --max-latency-ms; give the budget too"),
    (("--max-latency-ms", "0"), "error: scaler emit: Invalid value for '--max-latency-ms': 0.0 is not in the range "
                                "x>0. (see 'scaler emit --help')"),
])
def test_budget_errors_are_one_line_and_write_nothing(capsys, project: Path, args, message):
    assert user_error(capsys, *FAMILY, *args) == message
    assert not (project / "family").exists()


def test_a_member_missing_from_the_csv_is_named(capsys, project: Path):
    text = (project / "bench.csv").read_text().replace("tiny-phi2,eager,1,40.0\n", "")
    (project / "bench.csv").write_text(text)
    line = user_error(capsys, *FAMILY, "--max-latency-ms", "30", "--latencies", "bench.csv")
    assert line.startswith("error: bench.csv: no eager batch-1 latency for tiny-phi2: bench the emitted specs first")


def test_without_a_csv_each_member_is_measured_here(project: Path):
    members = json.loads(run_scaler(*FAMILY[:-4], "--phi", "0..1", "--out", "family", "--max-latency-ms", "1e6",
                                    "--json", cwd=project).stdout)
    assert [m["name"] for m in members] == ["tiny-phi0", "tiny-phi1"]


def test_a_row_of_another_network_under_the_members_name_is_refused(capsys, project: Path):
    """Names do not encode coefficients: a CSV benched for another family must not pass for this one."""
    (project / "bench.csv").write_text("name,resolution,flops,runtime,batch,median_ms\n"
                                       "tiny-phi0,16,66944,eager,1,10\ntiny-phi1,24,999,eager,1,20\n")
    line = user_error(capsys, *FAMILY[:-4], "--phi", "0..1", "--out", "family", "--max-latency-ms", "30",
                      "--latencies", "bench.csv")
    assert line.startswith("error: bench.csv:3: tiny-phi1 here is ")
    assert "but the row benched 999 FLOPs at 24 px" in line
    assert not (project / "family").exists()

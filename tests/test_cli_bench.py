"""`scaler bench` and the bench CSV it writes (read back by `emit --max-latency-ms`). No test asserts on a time:
only that each figure was measured and recorded as stated."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from _cli import run_scaler, user_error
from _specs import TINY_YAML

from scaler.errors import ScalerError
from scaler.latencies import COLUMNS, read_latencies

DEPLOY = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxscript", "onnxruntime"))


def test_bench_writes_one_row_per_network_runtime_and_batch(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    runtimes = ["--runtime", "eager"] + (["--runtime", "onnxruntime"] if DEPLOY else [])
    out = run_scaler("bench", "tiny.yaml", "--batch", "4", "--threads", "1", "--min-seconds", "0.02", *runtimes,
                     "--out", "b/bench.csv", cwd=tmp_path).stdout
    assert "1 thread(s) -> b/bench.csv" in out
    with open(tmp_path / "b" / "bench.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    expected = [(r, b) for r in ("eager", "onnxruntime")[: 1 + DEPLOY] for b in ("1", "4")]
    assert [(r["runtime"], r["batch"]) for r in rows] == expected
    assert {r["layout"] for r in rows if r["runtime"] == "eager"} == {"channels_last"}  # what training uses
    assert {(r["name"], r["resolution"], r["threads"], r["device"]) for r in rows} == {("tiny", "16", "1", "cpu")}
    assert all(float(r["median_ms"]) > 0 and float(r["iqr_ms"]) >= 0 and int(r["runs"]) >= 1 for r in rows)
    measured = read_latencies(tmp_path / "b" / "bench.csv")
    assert list(measured) == ["tiny"] and measured["tiny"].median_ms == float(rows[0]["median_ms"])
    assert (measured["tiny"].flops, measured["tiny"].resolution, measured["tiny"].line) == (66_944, 16, 2)


def test_bench_refuses_before_timing_anything(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert user_error(capsys, "bench", "nowhere.yaml") == "error: nowhere.yaml: no such file"
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "bench.csv").mkdir()  # a directory where the CSV goes
    line = user_error(capsys, "bench", "tiny.yaml", "--runtime", "eager", "--min-seconds", "0.01", "--out",
                      "out/bench.csv")
    assert line.startswith("error: out/bench.csv: cannot write the bench CSV")


def test_read_latencies_picks_runtime_and_batch(tmp_path: Path):
    path = tmp_path / "bench.csv"
    path.write_text("name,runtime,batch,median_ms\nm-phi0,eager,1,10\nm-phi0,eager,8,50\nm-phi0,onnxruntime,1,4\n"
                    "m-phi1,eager,1,21.5\n")
    def medians(**kwargs) -> dict[str, float]:
        return {k: v.median_ms for k, v in read_latencies(path, **kwargs).items()}

    assert medians() == {"m-phi0": 10.0, "m-phi1": 21.5}
    assert medians(runtime="onnxruntime") == {"m-phi0": 4.0}
    assert medians(batch=8) == {"m-phi0": 50.0}


@pytest.mark.parametrize(("text", "message"), [
    ("", "not a bench CSV (written by scaler bench): no rows"),
    ("name,flops\nx,1\n", "not a bench CSV (written by scaler bench): no column runtime, batch, median_ms"),
    ("name,runtime,batch,median_ms\nx,eager,1,fast\n", "bench.csv:2: median_ms: median_ms 'fast' is not a latency"),
    ("name,runtime,batch,median_ms\nx,eager,1,3\nx,eager,1,4\n",
     "bench.csv:3: name: x has a second eager batch-1 row (the first is on line 2)"),
])
def test_bad_bench_csv_is_one_located_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bench.csv"
    path.write_text(text)
    with pytest.raises(ScalerError) as e:
        read_latencies(path)
    assert str(e.value).endswith(message)

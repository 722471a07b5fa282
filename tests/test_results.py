"""The results directory: one row schema, its columns in the order older releases wrote, schema versions."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import pytest
import yaml

from scaler.errors import ScalerError
from scaler.results import COLUMNS, NUMERIC, SCHEMA_VERSION, RunDir, TrialRow, read_results, read_run_yaml

OLD_RUN = Path(__file__).parent / "fixtures" / "v0.1-grid" / "run"


def test_schema_2_adds_the_test_accuracy_to_the_columns_of_the_previous_release():
    with open(OLD_RUN / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    later = ("aliases", "rung", "budget", "activations", "attempts", "micro_batch")
    assert [c for c in COLUMNS if c not in ("test_accuracy", *later)] == header
    assert COLUMNS.index("test_accuracy") == COLUMNS.index("accuracy") + 1
    # later additions go last: older files keep their order
    assert COLUMNS[-6:] == later
    assert {"accuracy", "test_accuracy"} <= set(NUMERIC) and "trial_id" not in NUMERIC and "status" not in NUMERIC


def test_rows_of_another_schema_are_never_resumed(tmp_path: Path):
    run = RunDir(tmp_path / "old")
    shutil.copytree(OLD_RUN, run.path)
    before = run.csv.read_text()
    with pytest.raises(ScalerError, match=r"schema 1 \(accuracy scored on the test split\).*--fresh"):
        run.check_settings(yaml.safe_load(run.run_yaml.read_text())["settings"])
    assert run.csv.read_text() == before


def test_a_row_before_training_is_failed_until_training_says_otherwise(tmp_path: Path):
    row = TrialRow(trial_id="x-s0", kind="base", alpha=1.0, beta=1.0, gamma=1.0, phi=0.0, depth=1.0, width=1.0,
                   resolution=16, params=10, flops=100)
    assert row.status == "failed" and math.isnan(row.accuracy)
    run = RunDir(tmp_path)
    run.append(row, {"trial_id": "x-s0", "curve": []})
    text = (tmp_path / "results.csv").read_text()
    # NaN cells are empty, floats print without trailing noise, and the line is whole
    assert text.splitlines()[1] == "x-s0,base,1,1,1,0,1,1,16,10,100,,,0,0,0,0,failed,,,,,,0,,,,,,,,0,,0,1,0"
    assert text.endswith("\n")
    assert (tmp_path / "trials" / "x-s0.json").exists()


def test_run_yaml_records_the_schema_version_and_old_ones_read_as_version_1(tmp_path: Path):
    run = RunDir(tmp_path / "new")
    run.path.mkdir()
    run.write_settings({"a": 1}, {"device": "cpu"})
    assert yaml.safe_load(run.run_yaml.read_text())["schema_version"] == SCHEMA_VERSION == 2
    old = tmp_path / "old"
    shutil.copytree(OLD_RUN, old)
    assert "schema_version" not in yaml.safe_load((old / "run.yaml").read_text())
    assert read_run_yaml(old / "run.yaml")["schema_version"] == 1
    df = read_results(old)
    assert df.attrs["schema_version"] == 1 and len(df) == 6


def test_a_broken_run_yaml_is_one_located_error(tmp_path: Path):
    (tmp_path / "run.yaml").write_text("settings: [unclosed\n")
    with pytest.raises(ScalerError, match=r"run\.yaml is not valid YAML"):
        read_run_yaml(tmp_path / "run.yaml")
    (tmp_path / "run.yaml").write_text("- a list\n")
    with pytest.raises(ScalerError, match="expected a mapping"):
        read_run_yaml(tmp_path / "run.yaml")


@pytest.mark.parametrize(("column", "value", "what"), [
    ("accuracy", "-0.5", "between 0 and 1"), ("accuracy", "7.5", "between 0 and 1"),
    ("accuracy", "inf", "between 0 and 1"),
    ("test_accuracy", "1.5", "between 0 and 1"), ("flops", "0", "a positive finite number"),
    ("flops", "-1850000", "a positive finite number"), ("flops", "inf", "a positive finite number"),
    ("alpha", "nan", "a positive finite number"), ("alpha", "-1", "a positive finite number")])
def test_values_that_cannot_be_measurements_are_one_located_line(tmp_path: Path, column: str, value: str, what: str):
    """Issue #32: accuracy -0.5 made width the choice, FLOPs 0 made a1.389 the choice; now the file, line and
    column are named. A failed trial's missing accuracy stays allowed."""
    from _runs import RUNS

    with open(RUNS / "quickstart-grid" / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert read_results(RUNS / "quickstart-grid" / "results.csv") is not None
    table[3][column] = value
    table[4]["accuracy"] = ""  # a failed trial's
    path = tmp_path / "results.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    with pytest.raises(ScalerError) as e:
        read_results(path)
    assert str(e.value).startswith(f"{path}:5: column {column!r} is ") and str(e.value).endswith(f"must be {what}")

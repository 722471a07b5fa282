"""Files that are not what they claim (issue #32): a binary run.yaml, a coefficients.yaml whose fields are of the
wrong kind, a binary bench CSV, a damaged trial record, results rows that no run can have, and standard output that
cannot be written. Each is one line naming the file (and its line, column or field where known), exit 2, no
traceback."""

from __future__ import annotations

import csv
import errno
import io
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _cli import user_error
from _runs import copy_run

from scaler.cli.app import main
from scaler.coefficients import read_coefficients
from scaler.errors import ScalerError
from scaler.latencies import read_latencies
from scaler.results import read_results
from scaler.spec import parse_yaml

ROOT = Path(__file__).resolve().parent.parent
BINARY = b"\xff\xfe\x00bin"
EMIT = ("emit", "--coefficients", "G/coefficients.yaml", "--base", "specs/quickstart.yaml", "--phi", "1", "--out",
        "fam")


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """A scratch folder with specs/ and the quickstart run as ``G`` (a halving run with 2 rungs, and a study)."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    copy_run("quickstart", tmp_path / "G")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- run.yaml ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [("report", "G"), ("fit", "G"), ("study", "G", "--limit", "0")])
def test_a_binary_run_yaml_is_one_line_naming_it(capsys, work: Path, command: tuple[str, ...]):
    (work / "G" / "run.yaml").write_bytes(BINARY)
    assert user_error(capsys, *command) == ("error: G/run.yaml: not a UTF-8 text file (run.yaml is YAML text); use "
                                            "--fresh to start over")


# -- coefficients.yaml ---------------------------------------------------------------------------------------------

def set_field(path: Path, loc: str, value: Any) -> None:
    """Set the dotted field ``loc`` of a YAML file to ``value``."""
    data = yaml.safe_load(path.read_text())
    *parents, last = loc.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def field_line(path: Path, loc: str) -> str:
    """``file:line:col: loc`` as an error names the field (positions from the loader that reads the file), the file
    relative to the working folder as the command was given it."""
    doc = parse_yaml(path.read_text(), str(path.relative_to(Path.cwd())))
    return f"{doc.where(tuple(loc.split('.')))}: {loc}"


@pytest.mark.parametrize(("loc", "value", "must"), [
    ("bootstrap.winner_interval", "zz", "a mapping of alpha, beta and gamma to [low, high] positive numbers"),
    ("bootstrap.winner_interval", {"alpha": [1.0, 1.3], "beta": [1.0, 1.0]}, "a mapping of alpha, beta and gamma"),
    ("bootstrap.wins", "zz", "a mapping of candidate names to shares between 0 and 1"),
    ("bootstrap.wins", {"resolution": 7}, "a mapping of candidate names to shares between 0 and 1"),
    ("bootstrap.level", 95, "a number between 0 and 1"),
    ("selection.tie_set", 5, "a list of candidate names"),
    ("selection.comparisons", [1, 2], "a list of comparisons"),
    ("selection.noise", "zz", "a mapping with seed_std"),
    ("best.candidate", 5, "text"),
    ("best.accuracy", "high", "a number between 0 and 1"),
    ("best", [1], "a mapping"),
    ("objective.name", 3, "text"),
    ("flops_factor", -2.0, "a positive number"),
    ("compound_vs_best_single", "x", "a mapping with difference, interval [low, high] and p"),
    ("fit", {"ok": True}, "a mapping with ok (true or false); when ok, alpha, beta, gamma"),
    ("phi", math.nan, "the nonzero phi the grid searched at"),
    ("phi", math.inf, "the nonzero phi the grid searched at"),
    ("gamma", math.inf, "a positive number"),
    ("alpha", math.nan, "a positive number"),
    ("beta", 0.0, "a positive number"),
])
def test_every_field_emit_reads_from_coefficients_is_checked(capsys, work: Path, loc: str, value: Any, must: str):
    path = work / "G" / "coefficients.yaml"
    set_field(path, loc, value)
    line = user_error(capsys, *EMIT)
    assert line.startswith(f"error: {field_line(path, loc)}: must be {must}"), line


@pytest.mark.parametrize("command", [("report", "G"), ("plot", "G/results.csv", "--out", "P"),
                                     ("study", "G", "--limit", "0")])
def test_report_plot_and_study_read_the_coefficients_checked_too(capsys, work: Path, command: tuple[str, ...]):
    path = work / "G" / "coefficients.yaml"
    set_field(path, "bootstrap.wins", "zz")
    line = user_error(capsys, *command)
    assert line.startswith(f"error: {field_line(path, 'bootstrap.wins')}: must be a mapping"), line


def test_a_good_coefficients_file_reads_as_before(work: Path):
    coef = read_coefficients(work / "G" / "coefficients.yaml")
    assert (coef.candidate, coef.tie_set, coef.wins, coef.objective) == (
        "resolution", ("resolution", "a1.389-b1.000-g1.200"), 0.918, "accuracy")
    assert coef.interval == {"alpha": [1.0, 1.3431], "beta": [1.0, 1.0], "gamma": [1.2203, 1.4142]}
    assert coef.data["selection"]["chosen"] == "resolution"  # the whole file, for the report


@pytest.mark.parametrize(("text", "value"), [("1e6", 1e6), ("1.0e6", 1e6), ("2E-3", 2e-3), ("-1.5e+2", -150.0),
                                             (".5e1", 5.0), ("1.5", 1.5), ("10", 10), ("e5", "e5"), ("1e", "1e"),
                                             ("ir_r3_k3_s2_e4_c40", "ir_r3_k3_s2_e4_c40")])
def test_yaml_numbers_with_an_exponent_are_numbers(text: str, value: Any):
    """Issue #32 item 4: PyYAML's YAML 1.1 reads 1.0e6 (no sign in the exponent) and 1e6 (no dot) as text; specs
    and coefficients read them as YAML 1.2 does, as floats."""
    data = parse_yaml(f"x: {text}\n").data
    assert data["x"] == value and type(data["x"]) is type(value)


def test_a_coefficient_in_exponent_form_is_a_number(work: Path):
    path = work / "G" / "coefficients.yaml"
    path.write_text(re.sub(r"(?m)^gamma: .*$", "gamma: 1414214e-6", path.read_text(), count=1))
    assert read_coefficients(path).gamma == pytest.approx(1.414214)


# -- bench CSV (emit --latencies) ----------------------------------------------------------------------------------

LATENCY_EMIT = ("emit", "--base", "specs/quickstart.yaml", "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15",
                "--phi", "0..2", "--latencies", "lat.csv", "--max-latency-ms", "5", "--out", "fam")


def test_a_binary_bench_csv_is_one_line_naming_it(capsys, work: Path):
    (work / "lat.csv").write_bytes(BINARY)
    assert user_error(capsys, *LATENCY_EMIT) == ("error: lat.csv: not a UTF-8 text file (a bench CSV is text, "
                                                 "written by scaler bench)")


def test_a_bench_csv_with_a_byte_order_mark_reads(tmp_path: Path):
    """A spreadsheet saves CSV with a UTF-8 byte-order mark: without utf-8-sig the first column would be
    '\\ufeffname' and the file "not a bench CSV"."""
    path = tmp_path / "lat.csv"
    path.write_text("\ufeffname,runtime,batch,median_ms\nquickstart,eager,1,2.5\n", encoding="utf-8")
    assert read_latencies(path)["quickstart"].median_ms == 2.5


# -- trial records (plot's training curves) ------------------------------------------------------------------------

NOT_A_RECORD = 'not a trial record: expected a JSON object whose "curve" is a list of points, each {"epoch" or ' \
    '"budget": x, "accuracy": y}'


@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\x00", "not a UTF-8 text file (a trial record is JSON text)"), (b"[1, 2]", NOT_A_RECORD),
    (b'{"curve": [1, 2]}', NOT_A_RECORD), (b'{"curve": 5}', NOT_A_RECORD)])
def test_a_damaged_trial_record_is_one_line_naming_it(capsys, work: Path, content: bytes, message: str):
    """base-s0-r2 is a successful trial of the last rung: plot draws its curve."""
    (work / "G" / "trials" / "base-s0-r2.json").write_bytes(content)
    assert user_error(capsys, "plot", "G/results.csv", "--out", "P") == (
        f"error: G/trials/base-s0-r2.json: {message}")


def test_a_trial_record_that_is_not_json_is_located(capsys, work: Path):
    (work / "G" / "trials" / "base-s0-r2.json").write_text('{"curve":\n  [1,\n')
    assert user_error(capsys, "plot", "G/results.csv", "--out", "P").startswith(
        "error: G/trials/base-s0-r2.json:3:1: not valid JSON")


# -- results.csv ---------------------------------------------------------------------------------------------------

def set_cell(path: Path, column: str, value: str, row: int = 1) -> None:
    """Set one cell of a CSV (``row`` 1: the first data row, line 2)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    rows[row][rows[0].index(column)] = value
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize(("column", "value", "must"), [
    ("flops", "-5", "a positive finite number"), ("params", "0", "a positive finite number"),
    ("params", "-3", "a positive finite number"), ("params", "inf", "a positive finite number"),
    ("params", "", "a positive finite number")])
def test_flops_and_params_that_no_network_has_are_refused(capsys, work: Path, column: str, value: str, must: str):
    set_cell(work / "G" / "results.csv", column, value)
    shown = {"": "nan"}.get(value, value)
    assert user_error(capsys, "fit", "G") == f"error: G/results.csv:2: column {column!r} is {shown}; it must be {must}"


@pytest.mark.parametrize("command", [("fit", "G"), ("plot", "G/results.csv", "--out", "P")])
def test_a_rung_beyond_the_runs_rungs_is_refused(capsys, work: Path, command: tuple[str, ...]):
    """run.yaml says successive halving with 2 rungs: rungs 0, 1 and 2. Rung 99 made fit say "no successful
    compound trial" and plot draw nothing of it."""
    set_cell(work / "G" / "results.csv", "rung", "99", row=3)
    assert user_error(capsys, *command) == ("error: G/results.csv:4: column 'rung' is 99; it must be a whole number "
                                            "from 0 to 2 (run.yaml: successive halving with 2 rungs)")


@pytest.mark.parametrize("command", [("fit", "G"), ("plot", "G/results.csv", "--out", "P"), ("report", "G")])
def test_one_training_under_two_trial_ids_is_refused(capsys, work: Path, command: tuple[str, ...]):
    """A row copied under a new trial id (same network, seed and rung) once broke Kendall's tau between rungs
    (ValueError); a retried trial (same id, rows appended) is not this: its last row stands."""
    path = work / "G" / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    first = lines[1].split(",", 1)
    path.write_text("".join([*lines, f"{first[0]}-copy,{first[1]}"]))
    assert user_error(capsys, *command) == (f"error: G/results.csv:{len(lines) + 1}: rows '{first[0]}' and "
                                            f"'{first[0]}-copy' are one training (same network, seed and rung) "
                                            "under two trial ids; keep one")


def test_a_retried_trials_last_row_stands(work: Path):
    path = work / "G" / "results.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    again = {**rows[0], "accuracy": "0.123"}
    with open(path, "a", newline="") as f:
        csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n").writerow(again)
    df = read_results(path)
    assert len(df) == len(rows) and df.loc[df["trial_id"] == rows[0]["trial_id"], "accuracy"].tolist() == [0.123]


def test_a_grid_has_one_rung(work: Path):
    run_yaml = work / "G" / "run.yaml"
    run_yaml.write_text(run_yaml.read_text().replace("strategy: halving", "strategy: grid"))
    with pytest.raises(ScalerError) as e:
        read_results(work / "G" / "results.csv")
    with open(work / "G" / "results.csv", newline="") as f:
        first_of_rung_1 = 2 + [r["rung"] for r in csv.DictReader(f)].index("1")
    assert str(e.value) == (f"{work}/G/results.csv:{first_of_rung_1}: column 'rung' is 1; it must be a whole number "
                            "0 (run.yaml: no successive halving)")


@pytest.mark.parametrize("value", ["-1", "1.5"])
def test_a_rung_that_is_not_a_whole_number_from_0_is_refused_without_settings_too(work: Path, value: str):
    (work / "G" / "run.yaml").unlink()  # a CSV on its own: no bound above, but a rung is still a count
    set_cell(work / "G" / "results.csv", "rung", value)
    with pytest.raises(ScalerError, match=rf"results\.csv:2: column 'rung' is {value}; it must be a whole number "
                                          r"from 0 up$"):
        read_results(work / "G" / "results.csv")
    set_cell(work / "G" / "results.csv", "rung", "99")
    assert read_results(work / "G" / "results.csv")["rung"].max() == 99


# -- the lock ------------------------------------------------------------------------------------------------------

def test_a_refused_run_removes_its_lock(capsys, work: Path):
    """grid takes G's lock, then refuses to resume it under other settings: the lock goes with the failed run."""
    line = user_error(capsys, "grid", "specs/quickstart.yaml", "--epochs", "7", "--limit", "0", "--out", "G")
    assert line.startswith("error: G: holds results of different settings")
    assert not (work / "G" / ".lock").exists()


# -- standard output -----------------------------------------------------------------------------------------------

class Broken(io.StringIO):
    """Standard output that refuses every write with ``errno``."""

    def __init__(self, code: int):
        super().__init__()
        self.code = code

    def write(self, text: str) -> int:
        raise OSError(self.code, os.strerror(self.code))


def run_main(capsys, monkeypatch, stdout: io.StringIO, *args: str) -> tuple[int, str]:
    """``scaler ARGS`` in process with ``stdout``; (exit status, stderr)."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", stdout)
    with pytest.raises(SystemExit) as e:
        main(list(args))
    monkeypatch.undo()
    return e.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args", [("schema",), ("info", "specs/quickstart.yaml", "--json"),
                                  ("emit", "--base", "specs/quickstart.yaml", "--width", "1.5", "--name", "w", "--json",
                                   "--out", "fam")])
def test_a_full_disk_on_standard_output_is_one_line(capsys, monkeypatch, work: Path, args: tuple[str, ...]):
    code, err = run_main(capsys, monkeypatch, Broken(errno.ENOSPC), *args)
    assert (code, err) == (2, "error: standard output: cannot write: No space left on device\n")


def test_a_closed_pipe_ends_quietly_as_sigpipe_would(capsys, monkeypatch, work: Path):
    """``scaler schema | head -1``: the reader stopped on purpose; no message, status 141 (128 + SIGPIPE)."""
    assert run_main(capsys, monkeypatch, Broken(errno.EPIPE), "schema") == (141, "")


def test_an_error_of_a_commands_own_file_is_not_an_output_error(capsys, monkeypatch, work: Path):
    """Only standard output's failures are "standard output": the guard must not claim others."""
    code, err = run_main(capsys, monkeypatch, io.StringIO(), "info", "missing.yaml")
    assert code == 2 and "standard output" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_dev_full_for_real(work: Path):
    """Through a real process: the interpreter's own flush at exit must not add a second error."""
    r = subprocess.run(f"'{sys.executable}' -m scaler.cli schema > /dev/full", shell=True, capture_output=True,
                       text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert (r.returncode, r.stderr) == (2, "error: standard output: cannot write: No space left on device\n")

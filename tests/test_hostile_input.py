"""Hostile input (issue #32, items 3 and 5): every size a user can type is bounded before anything is allocated
(scaler/spec/limits.py), and a results folder that cannot be a folder is one line. Each case runs the real entry
point in process and must end as a user error (exit 2, one line naming the flag, file or field, no traceback)
having written nothing; without its guard, each one hangs, swaps, segfaults or prints a traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _cli import user_error
from _runs import copy_run
from _specs import TINY_YAML

ROOT = Path(__file__).resolve().parent.parent
PAPER = ("--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15")
EMIT = ("emit", "--base", "specs/quickstart.yaml", *PAPER, "--out", "fam")
GRID_SPEC = TINY_YAML + "proxy: {dataset: digits, subset: 100}\nsearch: {strategy: grid, confirm: 0}\n"


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """A scratch project: specs/, a tiny digits grid spec (tiny.yaml), and a finished quickstart run (G/)."""
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    (tmp_path / "tiny.yaml").write_text(GRID_SPEC)
    copy_run("quickstart", tmp_path / "G")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() and not p.is_symlink() else None
            for p in root.rglob("*")}


def refused(capsys, root: Path, *args: str) -> str:
    """``scaler ARGS`` is a user error that changes nothing under ``root``; its one line."""
    before = tree(root)
    line = user_error(capsys, *args)
    assert tree(root) == before, "a refused command wrote, moved or removed a file"
    return line


def spec_with(work: Path, old: str, new: str) -> str:
    text = (work / "specs" / "quickstart.yaml").read_text()
    assert old in text
    (work / "bad.yaml").write_text(text.replace(old, new))
    return "bad.yaml"


@pytest.mark.parametrize("phi, said", [
    ("0..1e9", "--phi 0..1e9: more than 1000 members"),  # once: a list of a billion floats (6 GB at 60 s)
    ("0..1:1e-9", "--phi 0..1:1e-9: more than 1000 members"),
    ("1e9", "phi 1e+09 makes the depth multiplier 1.2^1e+09, outside [0.01, 100]"),  # once: OverflowError
    ("0..30", "phi 26 makes the depth multiplier 1.2^26, outside [0.01, 100]"),  # once: specs of 4.6e151 px
    ("nan", "--phi: cannot read 'nan'"),
])
def test_emit_refuses_a_family_beyond_the_limits(capsys, work, phi, said):
    assert said in refused(capsys, work, *EMIT, "--phi", phi)


def test_emit_refuses_a_multiplier_beyond_the_limits(capsys, work):
    line = refused(capsys, work, "emit", "--base", "specs/quickstart.yaml", "--depth", "1e9", "--name", "x")
    assert "depth multiplier 1e+09 is outside [0.01, 100]" in line


@pytest.mark.parametrize("flag, value, said", [
    ("--step", "1e-6", "step 1e-06 makes a grid of 160,000,800,001 points (beta x gamma), more than 2,000"),
    ("--flops-factor", "1e6", "at most 1024x"),
    ("--phi", "1e6", "phi 1e+06 at flops_factor 2"),
    ("--flops-factor", "inf", "flops_factor, phi and step must be finite numbers"),
    ("--seeds", "100000000", "proxy.seeds: Input should be less than or equal to 100"),  # once: hung planning
    ("--rungs", "1000", "would train the first rung 1/3^1000 of the full budget"),  # once: OverflowError
    ("--seed-offset", str(10**20), "proxy.seed_offset: Input should be less than 2147483548"),
])
def test_grid_refuses_a_search_beyond_the_limits_naming_the_flag(capsys, work, flag, value, said):
    line = refused(capsys, work, "grid", "tiny.yaml", flag, value, "--limit", "0", "--out", "R")
    assert said in line and f"(with {flag} from the command line)" in line


def test_study_refuses_a_max_phi_beyond_the_limits(capsys, work):
    line = refused(capsys, work, "study", "G", "--max-phi", "1000", "--limit", "0")
    assert line.startswith("error: --max-phi 1000 with --forecast 3 reaches phi 1003") and "at most 1024x" in line


@pytest.mark.parametrize("old, new, said", [
    ("ir_r3_k3_s2_e4_c40", "ir_r100000000_k3_s2_e4_c40", "stages[2].repeats: must be at most 1,000"),
    ("ir_r3_k3_s2_e4_c40", "ir_r3_k3_s2_e4_c1000000000", "stages[2].channels: must be at most 65,536"),
    ("ir_r3_k3_s2_e4_c40", "ir_r3_k3_s2_e1000000000_c40", "stages[2].expand: must be at most 64"),
    ("resolution: 14", "resolution: 100000", "resolution: must be at most 8,192"),
    ("num_classes: 10", "num_classes: 1000000000", "num_classes: must be at most 1,000,000"),
])
def test_a_spec_beyond_the_limits_is_located(capsys, work, old, new, said):
    line = refused(capsys, work, "info", spec_with(work, old, new))
    assert line.startswith("error: bad.yaml:") and said in line


@pytest.mark.parametrize("args", [
    ("info", "specs/quickstart.yaml", "--resolution", "1000000000000"),
    ("export", "specs/quickstart.yaml", "--format", "pt2", "--resolution", "100000", "--out", "m.pt2"),
])
def test_a_resolution_flag_beyond_the_limit_is_refused(capsys, work, args):
    line = refused(capsys, work, *args)
    assert line.startswith("error: --resolution: ") and "px is above 8192 px" in line


@pytest.mark.parametrize("args", [
    ("export", "specs/quickstart.yaml", "--format", "pt2", "--batch", "100000000", "--out", "m.pt2"),
    ("bench", "specs/quickstart.yaml", "--batch", "100000000", "--runtime", "eager", "--out", "b.csv"),
])
def test_a_batch_that_cannot_fit_in_memory_is_refused_before_allocating(capsys, work, args):
    line = refused(capsys, work, *args)  # once: 10.7 GB and a hang, or an allocation traceback
    assert line.startswith("error: --batch 100000000: one forward pass of quickstart at 14 px holds at least")
    assert "this machine has" in line


def test_bench_refuses_more_threads_than_cores(capsys, work):
    line = refused(capsys, work, "bench", "specs/quickstart.yaml", "--threads", "100000", "--out", "b.csv")
    assert line.startswith("error: --threads 100000: this machine has")  # once: SIGSEGV in libgomp


@pytest.mark.parametrize("make, out, said", [
    (lambda w: (w / "F").write_text("x"), "F", "error: F: is not a directory (a file is in the way)"),
    (lambda w: (w / "F").write_text("x"), "F/sub", "error: F/sub: is not a directory (a file is in the way)"),
    (lambda w: os.symlink(w / "L", w / "L"), "L", "error: L: is a symlink that leads nowhere (or to itself)"),
])
def test_a_results_folder_that_cannot_be_one_is_one_line(capsys, work, make, out, said):
    make(work)
    assert refused(capsys, work, "grid", "tiny.yaml", "--limit", "0", "--out", out) == said


def test_fresh_with_a_file_where_previous_goes_is_one_line(capsys, work):
    copy_run("quickstart", work / "R")
    (work / "R" / "previous").write_text("x")
    line = user_error(capsys, "grid", "tiny.yaml", "--limit", "0", "--fresh", "--out", "R")
    assert line.startswith("error: R/previous/") and line.endswith("is not a directory (a file is in the way)")
    assert (work / "R" / "results.csv").exists(), "the old results stay where they were"


def test_coefficients_that_reach_a_limit_name_their_file(capsys, work):
    path = work / "G" / "coefficients.yaml"
    path.write_text(path.read_text().replace("\ngamma: 1.414214", "\ngamma: 1000", 1))
    line = refused(capsys, work, "emit", "--coefficients", "G/coefficients.yaml", "--phi", "1", "--out", "fam")
    assert line == ("error: G/coefficients.yaml: phi 1 makes the resolution multiplier 1000^1, outside [0.01, 100], "
                    "scaler's limit on one dimension")

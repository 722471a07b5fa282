"""The README's two commands, in its order, on one clone: the main job (cut short) and then the tests. The main job
moves and rewrites results/quickstart/, so no test may read the repository's results/ (tests read
tests/fixtures/runs/) and neither may the example notebook unless it is told to."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _runs import copy_run

from scaler.data.readers import FASHION_DIR

ROOT = Path(__file__).resolve().parent.parent

# The tests that read committed runs (now frozen under tests/fixtures/runs/), run again after the main job
READERS = (
    "tests/test_report.py::test_every_committed_run_renders",
    "tests/test_report.py::test_a_fit_without_noise_bootstrap_or_comparisons_still_renders",
    "tests/test_cli.py::test_emit_prints_the_studys_proxy_accuracy_beside_each_member",
    "tests/test_analysis_fit.py::test_the_quickstart_surfaces_do_not_earn_their_use",
    "tests/test_torch_free.py::test_the_python_apis_reading_half_never_imports_torch",
)

# A path into the repository's results/ from a test or an example: results/ resolved from the file or the root
READS_RESULTS = re.compile(r"""(parents\[1\]|parent\.parent|ROOT|\.\.)\s*(/\s*)?["']?/?\s*["']?results\b""")


def _clone(dest: Path) -> Path:
    """The working tree as a commit would hold it (tracked and untracked files git does not ignore)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the clone's scaler, not this checkout's
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_no_test_or_example_reads_the_repositorys_results():
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in [*(ROOT / "tests").glob("*.py"), *(ROOT / "examples").glob("*")]
                 if p.is_file() and p.suffix in (".py", ".ipynb") and p.name != Path(__file__).name
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if READS_RESULTS.search(line) and "SCALER_QUICKSTART_RUN" not in line]
    assert offenders == []
    assert READS_RESULTS.search('Path(__file__).parents[1] / "results" / "quickstart"')  # the guard sees the old form
    assert READS_RESULTS.search('scaler.open_run(\\"../results/quickstart\\")')


@pytest.mark.slow
def test_the_main_job_then_the_tests_on_one_clone(tmp_path: Path):
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the README's commands run in a clone)")
    if not FASHION_DIR.is_dir():
        if os.environ.get("SCALER_REQUIRE_DATA") == "1":
            pytest.fail(f"{FASHION_DIR} is missing: apt-get install dataset-fashion-mnist")
        pytest.skip(f"the main job reads Fashion-MNIST: apt-get install dataset-fashion-mnist ({FASHION_DIR})")
    clone = _clone(tmp_path / "clone")
    # the clone's results/quickstart is a frozen run of the tests' own, whatever a user's run left in the checkout
    shutil.rmtree(clone / "results" / "quickstart", ignore_errors=True)
    copy_run("quickstart", clone / "results" / "quickstart")
    committed = (clone / "results" / "quickstart" / "results.csv").read_bytes()
    job = _run(["-m", "scaler.cli", "grid", "specs/quickstart.yaml", "--fresh", "--limit", "1"], clone, 600)
    assert job.returncode == 0, job.stderr[-3000:]
    # as the README says: the committed run moved aside, a new one (one trial so far) in its place
    (moved,) = (clone / "results" / "quickstart" / "previous").iterdir()
    assert (moved / "results.csv").read_bytes() == committed
    assert (clone / "results" / "quickstart" / "results.csv").read_bytes() != committed
    tests = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", *READERS], clone, 600)
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert re.search(rf"\b{len(READERS) + 4} passed\b", tests.stdout), tests.stdout[-500:]  # 5 parametrized runs

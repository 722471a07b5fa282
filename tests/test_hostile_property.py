"""Random hostile specs and coefficient files (issue #32, item 6): whatever is thrown at ``scaler info`` and
``scaler emit``, each call ends in a result (exit 0) or one line (exit 2) without a traceback, within a time and
memory bound, and writes nothing outside its scratch folder. The values mix sane ones with the kinds that broke
scaler once: huge and tiny numbers, NaN and infinity, wrong types, aliases that nest, odd block strings."""

from __future__ import annotations

import shutil
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from _cli import run_scaler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NUMBERS = st.one_of(
    st.sampled_from(["1", "3", "16", "64", "0", "-1", "1e9", "1.0e6", "100000000", ".nan", ".inf", "-.inf", "0.5",
                     "1.15", "2", "yes", "null", "abc", "[1, 2]", "{a: 1}", "''"]),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: repr(x).replace("nan", ".nan").replace(
        "inf", ".inf")),
)
LETTERS = st.sampled_from(["ir", "ds", "er", "cn", "bb", "bt", "xx"])
OPTIONS = st.sampled_from(["r", "k", "s", "e", "c", "se"])
STAGE = st.tuples(LETTERS, st.lists(st.tuples(OPTIONS, st.sampled_from(
    ["1", "2", "3", "4", "6", "24", "0", "0.25", "1000", "100000000", "1e9", "-1", "x"])), max_size=6)).map(
    lambda t: "_".join([t[0], *(o + v for o, v in t[1])]))
FIELDS = ("resolution", "num_classes", "in_channels", "dropout", "drop_path")


@st.composite
def spec_text(draw) -> str:
    """A spec: the tiny base with some fields, stages or sections replaced by hostile values."""
    fields = {"name": "t", "resolution": "32", "num_classes": "10", "stem": "{channels: 16}",
              "head": "{channels: 64}"}
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        fields[key] = draw(NUMBERS)
    if draw(st.booleans()):
        fields["stem"] = f"{{channels: {draw(NUMBERS)}, stride: {draw(NUMBERS)}}}"
    stages = draw(st.lists(STAGE, min_size=0, max_size=4)) or ["ds_r1_k3_s1_e1_c16"]
    lines = [f"{k}: {v}" for k, v in fields.items()] + ["stages:", *(f"  - {s}" for s in stages)]
    if draw(st.booleans()):
        lines.append(f"scaling: {{channel_divisor: {draw(NUMBERS)}, resolution_divisor: {draw(NUMBERS)}}}")
    if draw(st.booleans()):  # nested aliases: small ones are fine, a bomb is refused
        depth = draw(st.integers(1, 9))
        lines = ["x0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]",
                 *(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)), *lines]
    return "\n".join(lines) + "\n"


@st.composite
def coefficients_text(draw) -> str:
    values = {k: draw(st.one_of(st.sampled_from(["1.2", "1.1", "1.15"]), NUMBERS)) for k in ("alpha", "beta", "gamma")}
    extra = draw(st.sampled_from(["", "phi: .nan\n", "phi: 1\n", "tie_set: 5\n", "best: {candidate: 5}\n",
                                  "bootstrap: {wins: zz}\n", "source: best\n"]))
    return "".join(f"{k}: {v}\n" for k, v in values.items()) + extra


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def ends_cleanly(args: list[str], cwd: Path) -> None:
    """``scaler ARGS`` exits 0, or 2 with one line and no traceback, allocating under 256 MB of Python memory."""
    tracemalloc.start()
    try:
        result = run_scaler(*args, cwd=cwd, check=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 2**20, f"{args}: {peak / 2**20:.0f} MB"
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 2), (result.returncode, result.stderr)
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.fixture(scope="module")
def scratch():
    root = Path(tempfile.mkdtemp(prefix="scaler-hostile-"))
    (root / "inner").mkdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


# deadline: each example's info + emit in under 5 s (a bomb or a billion blocks once took minutes)
@settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(spec=spec_text(), coefficients=coefficients_text(), phi=st.sampled_from(["0", "1", "0..3", "-2..2", "30",
                                                                               "1e9", "nan"]))
def test_random_specs_and_coefficients_end_in_a_result_or_one_line(scratch, spec, coefficients, phi):
    work = Path(tempfile.mkdtemp(dir=scratch / "inner"))
    (work / "s.yaml").write_text(spec)
    (work / "c.yaml").write_text(coefficients)
    ends_cleanly(["info", "s.yaml"], work)
    ends_cleanly(["emit", "--base", "s.yaml", "--coefficients", "c.yaml", "--phi", phi, "--out", "fam"], work)
    assert {p for p in tree(work) if not p.startswith("fam/") and p != "fam"} == {"s.yaml", "c.yaml"}
    assert [p.name for p in scratch.iterdir()] == ["inner"], "a file appeared beside the scratch folders"

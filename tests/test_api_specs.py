"""The spec half of the API: resolution checks shared by info and export, and the emitted member's file."""

from __future__ import annotations

from pathlib import Path

import pytest
from _specs import TINY_YAML

from scaler.api.specs import check_resolution, complexity, load_spec, member_yaml, scale
from scaler.errors import ScalerError


@pytest.fixture
def tiny(tmp_path: Path):
    (tmp_path / "tiny.yaml").write_text(TINY_YAML, encoding="utf-8")
    return load_spec(tmp_path / "tiny.yaml")


def test_check_resolution_takes_the_spec_s_size_or_a_size_its_strides_allow(tiny):
    assert check_resolution(tiny, None) == 16
    assert check_resolution(tiny, 4) == 4  # total stride 4 (stem 2, one stride-2 stage)
    with pytest.raises(ScalerError, match="3 px is too small for a total stride of 4"):
        check_resolution(tiny, 3)
    with pytest.raises(ScalerError, match="0 px is not an image size"):
        check_resolution(tiny, 0)


def test_an_emitted_member_s_file_reads_back_as_the_member(tiny, tmp_path: Path):
    member = scale(tiny, width=1.5, depth=2.0, resolution=1.25, name="tiny-big")
    cost = complexity(member)
    text = member_yaml(member, cost, tmp_path)
    head = f"# tiny-big: {cost.params:,} params, {cost.flops:,} FLOPs (multiply-accumulates) at 20px"
    assert text.splitlines()[0] == head
    (tmp_path / "tiny-big.yaml").write_text(text, encoding="utf-8")
    again = load_spec(tmp_path / "tiny-big.yaml")
    assert complexity(again) == cost and again.stages == member.stages

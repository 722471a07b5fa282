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


def test_emit_modes_return_what_scaler_emit_writes(tmp_path: Path):
    """emit's preset, explicit, given and recorded modes as API calls: members, base, note, directions, files read."""
    import yaml

    from scaler.api.family import REVERSED_WARNING, given_family, preset_member, recorded_family, scaled_member
    from scaler.coefficients import coefficients_document

    b0 = preset_member("efficientnet-b0")
    assert b0.members == [b0.base] and b0.base.name == "efficientnet-b0" and (b0.note, b0.read) == ("", ())
    wide = scaled_member("efficientnet-b0", width=1.5).members[0]
    assert wide.name == "efficientnet-b0-scaled" and wide.derived is not None and wide.derived.width == 1.5
    given = given_family("efficientnet-b0", (1.2, 1.1, 1.15), [-1, 1])
    assert [m.derived.phi for m in given.members if m.derived] == [-1, 1] and given.directions == {}
    path = tmp_path / "up" / "coefficients.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(coefficients_document(1.2, 1.1, 1.15, b0.base, path.parent, source="best")))
    recorded = recorded_family([path], [-1, 1])
    assert recorded.read == (path,) and recorded.directions == {-1.0: "up, reversed", 1.0: "up"}
    assert REVERSED_WARNING in recorded.note and recorded.proxy == {}  # no study beside the file
    assert [m.name for m in recorded.members] == [m.name for m in given.members] and recorded.base == b0.base
    assert given_family(b0.base, (1.2, 1.1, 1.15), [2], name="mine").members[0].name == "mine"
    with pytest.raises(ScalerError, match="--name names a single member"):
        recorded_family([path], [1, 2], name="mine")
    with pytest.raises(ScalerError, match="must be positive"):
        given_family(b0.base, (1.2, 0.0, 1.15), [1])

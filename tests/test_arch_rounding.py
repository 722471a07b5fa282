"""Real cost after rounding: real multipliers, the spread warning, match_flops (no training here)."""

from __future__ import annotations

import pytest

from scaler.arch.flops import complexity
from scaler.arch.rounding import match_resolution, real_scale, rounding_notes, spread_warning, width_real
from scaler.catalog import preset
from scaler.config import SearchConfig
from scaler.scaling import compound, scale
from scaler.search.candidates import candidate_spec, candidates
from scaler.spec import Spec

# Rounding known by hand: ceil repeats, channels to multiples of 8, resolution to multiples of 4.
BASE = Spec.model_validate({
    "name": "hand", "resolution": 32, "num_classes": 10, "stem": {"channels": 16},
    "stages": ["ds_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e4_c24", "ir_r3_k3_s2_e4_c40"], "head": {"channels": 128},
})


def test_real_multipliers_by_hand():
    s = compound(BASE, 1.2, 1.1, 1.15, 1.0)
    # repeats ceil(1.2) = 2, ceil(2.4) = 3, ceil(3.6) = 4: 9 blocks for 6
    assert [st.repeats for st in s.stages] == [2, 3, 4]
    # 16 * 1.1 = 17.6 -> 16; 24 * 1.1 = 26.4 -> 24; 40 * 1.1 = 44 -> 48; head 140.8 -> 144; 32 * 1.15 = 36.8 -> 36
    assert (s.stem.channels, [st.channels for st in s.stages], s.head.channels) == (16, [16, 24, 48], 144)
    real = real_scale(BASE, s)
    assert real.depth == 1.5
    assert real.width == pytest.approx((16 + 16 + 24 + 48 + 144) / (16 + 16 + 24 + 40 + 128))  # 248 / 224
    assert real.resolution == 36 / 32
    assert (complexity(BASE).flops, complexity(s).flops) == (1_722_112, 3_798_144)
    assert real.flops_ratio == 3_798_144 / 1_722_112  # x2.21: ceil and the 90% guard overshoot the nominal x2.0
    assert width_real(BASE, scale(BASE, width=2.0)) == 2.0  # big multipliers: channel-weighted = beta


def test_rounding_notes_name_the_culprits():
    s = compound(BASE, 1.2, 1.1, 1.15, 1.0)
    notes = rounding_notes(BASE, s, 1.2, 1.1, 1.15)
    assert notes[0] == "stage 1 has 1 block: depth 1.2 makes it 2 (x2.00)"  # the biggest effect first
    assert "stage 3 width 40 x 1.1 = 44.0 rounds to 48 channels" in notes
    assert "stem 16 x 1.1 = 17.6 rounds to 16 channels" in notes  # 0.83x of the nominal width's FLOPs
    assert not any(n.startswith("input") for n in notes)  # 36 vs 36.8 px is within 5% of the FLOPs


def test_spread_warning_only_outside_the_tolerance():
    assert spread_warning({"a": 1.9, "b": 2.1}, 2.0, {}) is None
    text = spread_warning({"a": 1.9, "b": 2.6}, 2.0, {"b": ["stage 1 has 1 block: depth 1.2 makes it 2 (x2.00)"]})
    assert text.splitlines()[0].startswith("warning: real FLOPs after rounding range x1.90..x2.60 against a target "
                                           "of x2 (+-10%); 1 of 2 candidates are outside")
    assert "  b: x2.60 (stage 1 has 1 block: depth 1.2 makes it 2 (x2.00))" in text
    assert "--match-flops" in text
    assert "match_flops is on" in spread_warning({"b": 2.6}, 2.0, {}, matched=True)


def _closest(spec: Spec, target: float) -> float:
    """The best |FLOPs / target - 1| any input size on the divisor can reach (brute force)."""
    div = spec.scaling.resolution_divisor
    sizes = range(max(div, spec.total_stride), 4 * spec.resolution, div)
    return min(abs(complexity(spec, r).flops / target - 1) for r in sizes)


@pytest.mark.parametrize(("name", "width", "res"), [
    ("efficientnet-b0", 0.5, 128), ("efficientnet-b0", 0.25, 96), ("efficientnetv2-s", 0.25, 128),
])
def test_match_flops_lands_every_candidate_on_the_closest_input_size(name: str, width: float, res: int):
    base = scale(preset(name), width=width, resolution_px=res, name="proxy")
    f0 = complexity(base).flops
    cfg = SearchConfig(step=0.1, match_flops=True)
    plain, matched = [], []
    for c in candidates(cfg):
        if c.kind not in ("compound", "resolution"):
            continue
        nominal = candidate_spec(base, c)
        spec = candidate_spec(base, c, match_flops=True, factor=2.0)
        # depth and width kept; only the input size moves, on the divisor
        assert spec.stages == nominal.stages and spec.head == nominal.head
        assert spec.resolution % base.scaling.resolution_divisor == 0
        err = abs(complexity(spec).flops / (2 * f0) - 1)
        assert err == pytest.approx(_closest(spec, 2 * f0), abs=1e-12)
        plain.append(complexity(nominal).flops / f0)
        matched.append(complexity(spec).flops / f0)
    # The stated tolerance on these specs: within 16% of the target, where rounding alone spreads much wider.
    assert max(abs(r / 2 - 1) for r in matched) < 0.16
    assert max(plain) - min(plain) > 1.5 * (max(matched) - min(matched))


def test_match_resolution_respects_the_cap():
    capped = BASE.model_copy(update={"scaling": BASE.scaling.model_copy(update={"max_resolution": 40})})
    assert match_resolution(capped, 100 * complexity(BASE).flops) == 40
    assert match_resolution(BASE, complexity(BASE).flops) == 32


def test_no_head_and_a_head_that_never_narrows():
    r18 = preset("resnet18")  # no head: stem and stages are the width knobs
    assert width_real(r18, scale(r18, width=1.5)) == 1.5
    assert rounding_notes(r18, scale(r18, width=0.3), 1, 0.3, 1) == [
        "stem 64 x 0.3 = 19.2 rounds to 24 channels", "stage 1 width 64 x 0.3 = 19.2 rounds to 24 channels",
        "stage 2 width 128 x 0.3 = 38.4 rounds to 40 channels", "stage 3 width 256 x 0.3 = 76.8 rounds to 80 channels"]
    # MobileNetV2 keeps its 1280-channel head below width 1: a rule, not a rounding, so no note names it
    mnv2 = preset("mobilenet-v2")
    assert rounding_notes(mnv2, scale(mnv2, width=0.5), 1, 0.5, 1) == [
        "stage 2 width 24 x 0.5 = 12.0 rounds to 16 channels"]

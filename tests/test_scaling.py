"""Depth, width and resolution scaling: the rounding rules, compound scaling and what a scaled spec records."""

from __future__ import annotations

import math

import pytest
from _specs import MINIMAL as MINI
from hypothesis import given, settings
from hypothesis import strategies as st

from scaler.arch.flops import complexity
from scaler.catalog import load_spec, preset
from scaler.errors import ScalerError
from scaler.scaling import (
    adjust_channels,
    adjust_depth,
    adjust_resolution,
    compound,
    family,
    flops_factor,
    make_divisible,
    member_name,
    scale,
)
from scaler.spec import Spec, parse_yaml, spec_from_document

PAPER = (1.2, 1.1, 1.15)  # alpha, beta, gamma of Tan & Le 2019


# Written with values no rule would produce: 17 channels (divisor 8), 3 repeats, 65 px (divisor 4).
ODD = {
    "name": "odd", "resolution": 65, "num_classes": 7, "in_channels": 1, "stem": {"channels": 13},
    "stages": ["ir_r3_k3_s2_e2.5_c17_se0.25", "er_r1_k5_s2_e3_c29"], "head": {"channels": 101},
}


# --- make_divisible / adjust_* -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, divisor, min_value, expected", [
    (32, 8, None, 32),
    (35.2, 8, None, 32),      # 32 * 1.1: down to 32 (>= 90% of 35.2)
    (1408.0, 8, None, 1408),  # 1280 * 1.1
    (352.0, 8, None, 352),    # 320 * 1.1
    (12, 8, None, 16),        # exactly half way rounds up
    (20, 8, None, 24),
    (43.99, 8, None, 40),
    (44.0, 8, None, 48),
    (4, 8, None, 8),          # never below the divisor
    (0.5, 8, None, 8),
    (11.9, 8, None, 16),      # 90% guard: 8 < 0.9 * 11.9, so 8 + 8
    (11.99, 8, None, 16),
    (23.9, 16, None, 32),     # 90% guard with divisor 16: 16 < 21.5
    (100, 32, None, 96),      # 96 >= 90
    (3, 1, 1, 3),
    (0.4, 1, 1, 1),
    (5, 8, 1, 8),
    (3, 8, 1, 9),             # min_value 1: int(7) // 8 * 8 = 0 -> 1, then the guard: 1 < 2.7 -> 9
])
def test_make_divisible(value, divisor, min_value, expected):
    assert make_divisible(value, divisor, min_value) == expected


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.floats(0.01, 5000, allow_nan=False), st.sampled_from([1, 2, 4, 8, 16, 32]))
def test_make_divisible_properties(value, divisor):
    got = make_divisible(value, divisor)
    assert got % divisor == 0 and got >= divisor
    assert got >= 0.9 * value  # the round limit
    assert got <= max(divisor, value + divisor)  # never more than one step above


def test_adjust_channels_leaves_width_one_alone():
    assert adjust_channels(17, 1.0) == 17
    assert adjust_channels(17, 1.0000001) == 16
    assert adjust_channels(32, 1.1) == 32
    assert adjust_channels(1280, 2.0) == 2560
    assert adjust_channels(40, 1.4) == 56
    assert adjust_channels(40, 1.4, divisor=16) == 64
    assert adjust_channels(16, 0.1) == 8


@pytest.mark.parametrize("repeats, depth, rounding, expected", [
    (3, math.sqrt(2) ** 2, "ceil", 6),  # 6.000000000000001: float noise must not add a block
    (3, math.sqrt(2) ** 2, "round", 6),
    (10, 0.1 * 3, "ceil", 3),           # 3.0000000000000004
    (5, 1.2, "ceil", 6),
    (1, 1.1, "ceil", 2),
    (2, 1.1, "ceil", 3),
    (3, 1.1, "ceil", 4),
    (4, 1.1, "ceil", 5),
    (4, 3.1, "ceil", 13),
    (3, 1.4, "ceil", 5),
    (3, 1.44, "ceil", 5),
    (4, 1.1, "round", 4),
    (2, 1.25, "round", 3),              # half up
    (3, 0.5, "round", 2),
    (3, 0.5, "ceil", 2),
    (1, 0.49, "round", 1),              # never below 1
    (1, 0.01, "ceil", 1),
    (7, 1.0, "round", 7),
])
def test_adjust_depth(repeats, depth, rounding, expected):
    assert adjust_depth(repeats, depth, rounding) == expected


@pytest.mark.parametrize("resolution, multiplier, divisor, expected", [
    (224, 1.15, 4, 256),        # 257.6
    (224, 1.15**2, 4, 296),     # 296.24
    (224, 1 / 1.15, 4, 196),    # 194.8
    (224, 260 / 224, 4, 260),
    (65, 1.0, 4, 65),           # multiplier 1: as written
    (64, 1.1, 8, 72),           # 70.4
    (64, 0.01, 4, 4),           # never below the divisor
])
def test_adjust_resolution(resolution, multiplier, divisor, expected):
    assert adjust_resolution(resolution, multiplier, divisor) == expected


# --- scale / compound --------------------------------------------------------------------------------------------


def test_phi_zero_is_the_base_as_written():
    base = load_spec(ODD)
    member = compound(base, *PAPER, phi=0)
    assert member.name == "odd-phi0"
    assert member.model_dump(exclude={"name", "derived"}) == base.model_dump(exclude={"name", "derived"})
    assert [s.to_string() for s in member.stages] == ["ir_r3_k3_s2_e2.5_c17_se0.25", "er_r1_k5_s2_e3_c29"]
    assert (member.resolution, member.stem.channels, member.head.channels) == (65, 13, 101)
    a, b = complexity(member), complexity(base)
    assert (a.params, a.flops, a.stages, a.stem, a.head) == (b.params, b.flops, b.stages, b.stem, b.head)
    assert member.derived.model_dump() == {"base": "odd", "phi": 0.0, "alpha": 1.2, "beta": 1.1, "gamma": 1.15,
                                           "depth": 1.0, "width": 1.0, "resolution": 1.0}


def test_compound_records_its_derivation():
    b0 = preset("efficientnet-b0")
    member = compound(b0, *PAPER, phi=2)
    assert member.name == "efficientnet-b0-phi2"
    assert member.derived.model_dump() == {
        "base": "efficientnet-b0", "phi": 2.0, "alpha": 1.2, "beta": 1.1, "gamma": 1.15,
        "depth": 1.44, "width": 1.21, "resolution": round(296 / 224, 6)}
    assert member.resolution == 296
    assert member.stem.channels == 40
    assert [s.repeats for s in member.stages] == [2, 3, 3, 5, 5, 6, 2]
    assert [s.channels for s in member.stages] == [24, 32, 48, 96, 136, 232, 384]
    assert member.head.channels == 1552
    c = complexity(member)
    assert (c.params, c.flops) == (12_255_408, 1_810_522_464)


def test_compound_phi_one_is_b2_structure():
    # beta = 1.1, alpha = 1.2 are exactly B2's width and depth: same network, other resolution (256 vs 260).
    member = compound(preset("efficientnet-b0"), *PAPER, phi=1)
    b2 = preset("efficientnet-b2")
    assert member.stages == b2.stages and member.stem == b2.stem and member.head == b2.head
    assert member.resolution == 256
    assert complexity(member).params == 9_109_994


@pytest.mark.parametrize("phi, resolution, stem, repeats, channels, head, params, flops", [
    (-10, 56, 16, [1, 1, 1, 1, 1, 1, 1], [8, 16, 16, 32, 40, 72, 120], 496, 740_618, 3_371_744),
    (-1, 196, 32, [1, 2, 2, 3, 3, 4, 1], [16, 24, 40, 72, 104, 176, 288], 1160, 4_548_152, 301_557_888),
    (-0.5, 208, 32, [1, 2, 2, 3, 3, 4, 1], [16, 24, 40, 80, 104, 184, 304], 1224, 4_904_566, 329_749_024),
    (0.5, 240, 32, [2, 3, 3, 4, 4, 5, 2], [16, 24, 40, 80, 120, 200, 336], 1344, 8_441_486, 731_404_000),
    (1.5, 276, 40, [2, 3, 3, 4, 4, 6, 2], [24, 32, 48, 96, 128, 224, 368], 1480, 11_005_182, 1_366_191_696),
])
def test_compound_negative_and_fractional_phi(phi, resolution, stem, repeats, channels, head, params, flops):
    member = compound(preset("efficientnet-b0"), *PAPER, phi=phi)
    assert member.name == f"efficientnet-b0-phi{phi:g}"
    assert member.resolution == resolution
    assert member.stem.channels == stem
    assert [s.repeats for s in member.stages] == repeats
    assert [s.channels for s in member.stages] == channels
    assert member.head.channels == head
    c = complexity(member)
    assert (c.params, c.flops) == (params, flops)
    assert member.derived.phi == phi
    assert member.derived.depth == round(1.2**phi, 6)
    assert member.derived.width == round(1.1**phi, 6)


@pytest.mark.parametrize("divisor", [1, 4, 8, 16])
def test_scaling_down_keeps_a_block_and_a_divisor_of_channels(divisor):
    base = load_spec({**MINI, "resolution": 512, "scaling": {"channel_divisor": divisor}})
    member = compound(base, *PAPER, phi=-12)
    assert all(s.repeats == 1 for s in member.stages)
    widths = [member.stem.channels, *(s.channels for s in member.stages), member.head.channels]
    assert all(w >= divisor and w % divisor == 0 for w in widths), widths
    assert member.resolution == 96  # 512 * 1.15**-12 = 95.2
    # 1.1**-12 = 0.3186: 32 -> 10.2, 16 -> 5.1, 24 -> 7.6, 40 -> 12.7, 1280 -> 407.8
    expected = {1: [10, 5, 8, 13, 408], 4: [12, 8, 8, 12, 408], 8: [16, 8, 8, 16, 408],
                16: [16, 16, 16, 16, 400]}
    assert widths == expected[divisor]
    # all the way down: every stage keeps one block and `divisor` channels
    tiny = scale(base, width=0.01, depth=0.01)
    assert [s.repeats for s in tiny.stages] == [1, 1, 1]
    assert [tiny.stem.channels, *(s.channels for s in tiny.stages)] == [divisor] * 4
    assert tiny.head.channels == {1: 13, 4: 12, 8: 16, 16: 16}[divisor]  # 12.8


def test_scaling_below_the_total_stride_is_a_user_error():
    with pytest.raises(ScalerError) as e:
        compound(load_spec(MINI), *PAPER, phi=-20)
    assert str(e.value) == ("mini-phi-20: the scaled resolution, 4 px, is too small for a total stride of 8 "
                            "(base 64 px)")


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 0}, "width multiplier must be a positive number, got 0"),
    ({"depth": -1.0}, "depth multiplier must be a positive number, got -1"),
    ({"depth": 1e9}, "depth multiplier 1e+09 is outside [0.01, 100], scaler's limit on one dimension "
                     "(EfficientNet-L2 grows B0 by at most 5.3x)"),
    ({"width": 0.005}, "width multiplier 0.005 is outside [0.01, 100], scaler's limit on one dimension "
                       "(EfficientNet-L2 grows B0 by at most 5.3x)"),
    ({"resolution": math.inf}, "resolution multiplier must be a positive number, got inf"),
    ({"width": math.nan}, "width multiplier must be a positive number, got nan"),
])
def test_scale_rejects_bad_multipliers(kwargs, message):
    with pytest.raises(ScalerError) as e:
        scale(load_spec(MINI), **kwargs)
    assert str(e.value) == message


@pytest.mark.parametrize("phi, message", [
    (1e9, "phi 1e+09 makes the depth multiplier 1.2^1e+09, outside [0.01, 100], scaler's limit on one dimension"),
    (-40, "phi -40 makes the depth multiplier 1.2^-40, outside [0.01, 100], scaler's limit on one dimension"),
    (math.nan, "phi must be a finite number, got nan"),
])
def test_compound_refuses_a_phi_beyond_the_limits_without_overflowing(phi, message):
    with pytest.raises(ScalerError) as e:
        compound(load_spec(MINI), *PAPER, phi=phi)
    assert str(e.value) == message


def test_a_scaled_size_beyond_the_limits_is_one_line_naming_the_member_and_field():
    with pytest.raises(ScalerError) as e:
        scale(load_spec("efficientnet-b7"), depth=99, name="b7-deep")
    assert str(e.value).startswith("b7-deep: stages[")
    assert "repeats after scaling: must be at most 1,000" in str(e.value)
    with pytest.raises(ScalerError) as e:
        scale(load_spec("efficientnet-b7"), resolution=20, name="b7-big")
    assert str(e.value) == ("b7-big: the scaled resolution, 12000 px, is above 8192 px (scaler builds networks up to "
                            "8192 px, 65536 channels per layer and 1000 blocks per stage)")


def test_compound_rejects_bad_coefficients():
    with pytest.raises(ScalerError, match=r"^alpha, beta and gamma must be positive numbers, got -1.2, 1.1, 1.15$"):
        compound(load_spec(MINI), -1.2, 1.1, 1.15, phi=0.5)


def test_scaled_spec_is_fully_materialized():
    member = scale(load_spec(MINI), width=1.5, depth=2.0, resolution=1.25, name="big")
    data = member.to_dict()
    assert data == {
        "name": "big", "resolution": 80, "num_classes": 10, "in_channels": 3,
        "stem": {"channels": 48, "kernel": 3, "stride": 2},
        "stages": ["ds_r2_k3_s1_e1_c24_se0.25", "ir_r4_k3_s2_e6_c40_se0.25", "ir_r4_k5_s2_e6_c64_se0.25"],
        "head": {"channels": 1920}, "activation": "silu", "dropout": 0.2, "drop_path": 0.2,
        "scaling": {"channel_divisor": 8, "depth_rounding": "ceil", "scale_stem": True, "scale_head": True,
                    "resolution_divisor": 4},
        "derived": {"base": "mini", "depth": 2.0, "width": 1.5, "resolution": 1.25},
    }


def test_emitted_spec_reloads_with_identical_complexity(tmp_path):
    for member in family(load_spec(ODD), *PAPER, [-1, 0, 0.5, 1, 2, 3]):
        path = tmp_path / f"{member.name}.yaml"
        path.write_text(member.to_yaml(), encoding="utf-8")
        again = load_spec(path)
        assert again == member
        assert complexity(again) == complexity(member)


def test_scaling_composes_and_keeps_the_original_base():
    base = load_spec(MINI)
    once = scale(base, width=1.1, depth=1.2, name="once")
    twice = scale(once, width=1.1, depth=1.2, resolution=1.25, name="twice")
    assert twice.derived.model_dump() == {"base": "mini", "phi": None, "alpha": None, "beta": None, "gamma": None,
                                          "depth": 1.44, "width": 1.21, "resolution": 1.25}


def test_rules_in_the_spec_are_followed():
    base = load_spec({**MINI, "scaling": {"depth_rounding": "round", "scale_stem": False, "scale_head": False,
                                          "channel_divisor": 4, "resolution_divisor": 16}})
    member = scale(base, width=1.3, depth=1.25, resolution=1.3)
    assert member.stem.channels == 32 and member.head.channels == 1280
    assert [s.repeats for s in member.stages] == [1, 3, 3]         # round(1.25) = 1, round(2.5) = 3
    assert [s.channels for s in member.stages] == [20, 32, 52]      # 20.8, 31.2, 52 on multiples of 4
    assert member.resolution == 80                                  # 83.2 -> 5 * 16


def test_resolution_px_sets_the_size():
    member = scale(preset("efficientnet-b0"), width=1.1, depth=1.2, resolution_px=260, name="b2")
    assert member.resolution == 260
    assert member.derived.resolution == round(260 / 224, 6)
    c = complexity(member)
    assert (c.params, c.flops) == (9_109_994, 993_561_872)


def test_family_and_names():
    members = family(load_spec(MINI), *PAPER, [0, 1, 2])
    assert [m.name for m in members] == ["mini-phi0", "mini-phi1", "mini-phi2"]
    assert [m.resolution for m in members] == [64, 72, 84]
    assert member_name("mini", -0.5) == "mini-phi-0.5"
    assert member_name("mini", 2.0) == "mini-phi2"
    assert flops_factor(*PAPER) == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    assert round(flops_factor(*PAPER), 4) == 1.9203


def test_scaled_flops_grow_about_two_per_phi():
    base = preset("efficientnet-b0")
    f = [complexity(compound(base, *PAPER, phi)).flops for phi in range(4)]
    assert f == [385_814_752, 859_853_760, 1_810_522_464, 3_239_399_072]  # x2.23, x2.11, x1.79 (nominal 1.92)


def test_scaled_spec_is_valid_yaml_document():
    member = compound(load_spec(MINI), *PAPER, phi=1)
    assert spec_from_document(parse_yaml(member.to_yaml(), "m.yaml")) == member
    assert isinstance(member, Spec)


@pytest.mark.parametrize(("strategy", "expected"), [
    ("depth", (2.0, 1.0, 1.0)),
    ("width", (1.0, 2**0.5, 1.0)),
    ("resolution", (1.0, 1.0, 2**0.5)),
    ("d1", (2.0, 1.0, 1.0)),
    ("uniform", (2 ** (1 / 3), 2 ** (1 / 6), 2 ** (1 / 6))),  # each dimension a third of log 2
    ("fast", (2 ** 0.1, 2 ** 0.4, 2 ** 0.05)),  # pycls d1_w8_r1: width takes 8/10 of the growth
    ("d1_w2_r1", (2 ** 0.25, 2 ** 0.25, 2 ** 0.125)),
])
def test_strategy_factors(strategy, expected):
    from scaler.scaling import strategy_factors

    got = strategy_factors(strategy, 2.0)
    assert got == pytest.approx(expected, rel=1e-12)
    d, w, r = got
    assert d * w * w * r * r == pytest.approx(2.0, rel=1e-12)  # every strategy doubles the FLOPs


def test_single_dimension_strategies_are_exact():
    from scaler.scaling import strategy_factors

    # the grid's baselines: bit for bit what a hand-written sqrt gives, so their trial ids and specs never move
    assert strategy_factors("width", 2.0) == (1.0, math.sqrt(2.0), 1.0)
    assert strategy_factors("resolution", 2.0) == (1.0, 1.0, math.sqrt(2.0))
    assert strategy_factors("depth", 2.0) == (2.0, 1.0, 1.0)


@pytest.mark.parametrize("bad", ["diagonal", "d1_x2", "d-1_w1", "d0_w0_r0", "dw"])
def test_unknown_strategies_are_one_line_errors(bad):
    from scaler.scaling import strategy_factors

    with pytest.raises(ScalerError, match="strategy"):
        strategy_factors(bad, 2.0)


# --- MobileNetV2's head and networks without a head -----------------------------------------------------------------


@pytest.mark.parametrize("width, stem, head, params", [
    # torchvision's mobilenet_v2(width_mult=w): last_channel = make_divisible(1280 * max(1, w)); params equal its
    (0.5, 16, 1280, 1_968_680), (0.75, 24, 1280, 2_636_424), (1.4, 48, 1792, 6_108_776),
])
def test_mobilenet_v2_head_never_narrower(width, stem, head, params):
    member = scale(preset("mobilenet-v2"), width=width)
    assert (member.stem.channels, member.head.channels) == (stem, head)
    assert complexity(member).params == params


def test_head_narrows_without_the_rule():
    assert scale(preset("efficientnet-b0"), width=0.5).head.channels == 640
    assert not preset("efficientnet-b0").scaling.head_never_narrower


@pytest.mark.parametrize("width, depth, stem, channels, repeats, params, flops", [
    (0.5, 1, 32, [128, 256, 512, 1024], [3, 4, 6, 3], 6_917_640, 1_052_311_552),
    (1.5, 1, 96, [384, 768, 1536, 3072], [3, 4, 6, 3], 55_919_176, 9_110_618_112),
    (1, 2, 64, [256, 512, 1024, 2048], [6, 8, 12, 6], 46_979_368, 7_583_039_488),
])
def test_scaled_resnet50(width, depth, stem, channels, repeats, params, flops):
    member = scale(preset("resnet50"), width=width, depth=depth)
    assert member.head is None and member.stem.pool
    assert (member.stem.channels, [st.channels for st in member.stages], [st.repeats for st in member.stages]) == (
        stem, channels, repeats)
    c = complexity(member)
    assert (c.params, c.flops) == (params, flops)

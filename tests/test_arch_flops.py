"""Analytic params and FLOPs (multiply-accumulates): the presets against torchvision's figures to the unit, and the
counter against the built torch model (FlopCounterMode, ptflops' aten backend, sum of numel) on every preset and on
randomly generated specs."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from _specs import MINIMAL

from scaler.arch.flops import Cost, complexity, conv, human, linear, squeeze_excite
from scaler.arch.plan import plan
from scaler.catalog import PRESETS, load_spec, preset
from scaler.spec import Spec

# torchvision 0.29 (weights=None, 1000 classes): params, MACs at the model's resolution.
TORCHVISION = {
    "efficientnet-b0": (224, 5_288_548, 385_814_752),
    "efficientnet-b1": (240, 7_794_184, 686_802_832),
    "efficientnet-b2": (260, 9_109_994, 993_561_872),
    "efficientnet-b3": (300, 12_233_232, 1_827_141_392),
    "efficientnet-b4": (380, 19_341_616, 4_393_771_024),
    "efficientnet-b5": (456, 30_389_784, 10_266_384_752),
    "efficientnet-b6": (528, 43_040_704, 19_067_593_536),
    "efficientnet-b7": (600, 66_347_960, 37_745_884_192),
    "efficientnetv2-s": (384, 21_458_488, 8_365_617_152),
    "efficientnetv2-m": (480, 54_139_356, 24_582_460_384),
    "efficientnetv2-l": (480, 118_515_272, 56_079_699_008),
}

# Not in torchvision. Params agree with timm's tf_efficientnet_b8 / _l2 (87.41M, 480.31M); these pin the rest.
OTHERS = {
    "efficientnet-b8": (672, 87_413_142, 62_597_461_568),
    "efficientnet-l2": (800, 480_309_308, 475_703_653_280),
}



pytestmark = pytest.mark.usefixtures("one_thread")


# --- the presets, analytically --------------------------------------------------------------------------------------


def test_every_preset_is_pinned():
    assert set(PRESETS) == set(TORCHVISION) | set(OTHERS)


@pytest.mark.parametrize("name", [*TORCHVISION, *OTHERS])
def test_preset_params_and_flops(name):
    resolution, params, flops = {**TORCHVISION, **OTHERS}[name]
    c = complexity(preset(name))
    assert (c.resolution, c.params, c.flops) == (resolution, params, flops)


def test_b2_at_288():
    c = complexity(preset("efficientnet-b2"), 288)
    assert (c.resolution, c.params, c.flops) == (288, 9_109_994, 1_087_529_456)


def test_b0_per_stage():
    c = complexity(preset("efficientnet-b0"))
    assert (c.stem.params, c.stem.flops) == (928, 10_838_016)
    assert [(s.params, s.flops) for s in c.stages] == [
        (1_448, 10_035_712), (16_714, 54_945_216), (46_640, 37_939_584), (242_930, 43_555_200),
        (543_148, 86_102_400), (2_026_348, 91_528_224), (717_232, 29_520_000)]
    assert (c.head.params, c.head.flops) == (412_160, 20_070_400)
    assert (c.classifier.params, c.classifier.flops) == (1_281_000, 1_280_000)
    assert [s.se for s in c.stages] == [8, 4, 6, 10, 20, 28, 48]
    assert [(s.in_ch, s.out_ch) for s in c.stages] == [(32, 16), (16, 24), (24, 40), (40, 80), (80, 112),
                                                        (112, 192), (192, 320)]
    assert [(s.in_size, s.out_size) for s in c.stages] == [(112, 112), (112, 56), (56, 28), (28, 14), (14, 14),
                                                            (14, 7), (7, 7)]


def test_v2s_per_stage():
    c = complexity(preset("efficientnetv2-s"))
    assert (c.stem.params, c.stem.flops) == (696, 23_887_872)
    assert [(s.params, s.flops) for s in c.stages] == [
        (10_464, 382_205_952), (303_552, 2_781_609_984), (589_184, 1_351_876_608), (917_680, 448_880_640),
        (3_463_840, 1_587_437_568), (14_561_832, 1_741_252_608)]
    assert (c.head.params, c.head.flops) == (330_240, 47_185_920)
    assert [s.block for s in c.stages] == ["conv", "fused_mbconv", "fused_mbconv", "mbconv", "mbconv", "mbconv"]
    assert [s.se for s in c.stages] == [0, 0, 0, 16, 32, 40]


def test_b7_structure():
    spec = preset("efficientnet-b7")
    assert [s.repeats for s in spec.stages] == [4, 7, 7, 10, 10, 13, 4]
    assert [s.channels for s in spec.stages] == [32, 48, 80, 160, 224, 384, 640]
    assert spec.stem.channels == 64
    assert spec.head.channels == 2560
    assert (spec.resolution, spec.dropout) == (600, 0.5)


def test_totals_are_the_sum_of_the_parts():
    for name in PRESETS:
        c = complexity(preset(name))
        parts = [c.stem, c.head, c.classifier, *(Cost(s.params, s.flops) for s in c.stages)]
        assert c.params == sum(p.params for p in parts)
        assert c.flops == sum(p.flops for p in parts)


def test_resolution_changes_flops_not_params():
    spec = preset("efficientnet-b0")
    small, odd = complexity(spec, 32), complexity(spec, 33)
    assert small.params == odd.params == 5_288_548
    # 33 px: feature maps 17, 17, 9, 5, 3, 3, 2, 2 against 32 px's 16, 16, 8, 4, 2, 2, 1, 1
    assert (small.flops, odd.flops) == (9_742_048, 21_692_992)
    assert [s.out_size for s in odd.stages] == [17, 9, 5, 3, 3, 2, 2]


def test_minimal_example():
    c = complexity(load_spec(MINIMAL))
    assert (c.params, c.flops) == (132_300, 12_584_768)
    assert c.classifier == Cost(12_810, 12_800)


def test_layer_costs():
    assert conv(3, 32, 3, 112) == Cost(3 * 32 * 9 + 64, 3 * 32 * 9 * 112 * 112)
    assert conv(96, 96, 3, 56, groups=96) == Cost(96 * 9 + 192, 96 * 9 * 56 * 56)
    assert conv(8, 16, 1, 1, bias=True, bn=False) == Cost(8 * 16 + 16, 8 * 16)
    assert linear(1280, 1000) == Cost(1_281_000, 1_280_000)
    assert squeeze_excite(96, 4) == Cost(96 * 4 + 4 + 4 * 96 + 96, 2 * 96 * 4)


def test_to_dict():
    d = complexity(load_spec(MINIMAL)).to_dict()
    assert (d["name"], d["resolution"], d["params"], d["flops"]) == ("mini", 64, 132_300, 12_584_768)
    assert d["flops_unit"] == "multiply-accumulates per image"
    assert d["classifier"] == {"params": 12_810, "flops": 12_800}
    assert [(s["repeats"], s["out_ch"]) for s in d["stages"]] == [(1, 16), (2, 24), (2, 40)]


@pytest.mark.parametrize("n, text", [(385_814_752, "386M"), (5_288_548, "5.29M"), (37_745_884_192, "37.7B"),
                                     (999, "999"), (1_500, "1.5K"), (2.5e12, "2.5T")])
def test_human(n, text):
    assert human(n) == text


# --- against the built torch model ----------------------------------------------------------------------------------


def bias_adds(spec: Spec, resolution: int) -> int:
    """ptflops' aten backend adds one per bias element: the SE convs (on a 1x1 map) and the classifier."""
    p = plan(spec, resolution)
    return sum(b.se + b.mid for stage in p.stages for b in stage if b.se) + p.num_classes


def torch_counts(spec: Spec, resolution: int, device: str = "cpu") -> tuple[int, int, int, int]:
    """(FlopCounterMode total, ptflops aten MACs, ptflops params, sum of numel) of the built model."""
    import torch
    from ptflops import get_model_complexity_info
    from torch.utils.flop_counter import FlopCounterMode

    from scaler.arch.measured import measure_complexity
    from scaler.arch.torch_model import Network

    with torch.device(device):
        model = Network(spec).eval()
    x = torch.zeros(1, spec.in_channels, resolution, resolution, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    assert tuple(y.shape) == (1, spec.num_classes)
    macs, params = get_model_complexity_info(model, (spec.in_channels, resolution, resolution), as_strings=False,
                                             backend="aten", print_per_layer_stat=False, verbose=False)
    # scaler's own measurement (what a model it does not build from a spec is counted with) agrees too
    measured = measure_complexity(model, spec.in_channels, resolution, spec.num_classes)
    assert (2 * measured.flops, measured.params) == (counter.get_total_flops(), sum(p.numel() for p in
                                                                                   model.parameters()))
    return counter.get_total_flops(), int(macs), int(params), sum(p.numel() for p in model.parameters())


def check_against_torch(spec: Spec, resolution: int, device: str = "cpu") -> None:
    c = complexity(spec, resolution)
    total, macs, params, numel = torch_counts(spec, resolution, device)
    assert total == 2 * c.flops
    assert macs - bias_adds(spec, resolution) == c.flops
    assert params == numel == c.params


# Counting needs shapes only: the presets are built on the meta device (no memory, no init), at 32 px.
@pytest.mark.parametrize("name", PRESETS)
def test_preset_counts_match_torch(name):
    check_against_torch(preset(name), 32, device="meta")


def test_real_model_counts_match_torch():
    # the same check on real CPU tensors: the meta-device shortcut above counts what a real model runs
    # (the random specs below are all built for real too)
    check_against_torch(preset("efficientnet-b0"), 65, device="cpu")


def test_minimal_example_counts_match_torch():
    spec = load_spec(MINIMAL)
    total, macs, params, numel = torch_counts(spec, 64)
    assert (total, macs, params, numel) == (2 * 12_584_768, 12_584_768 + bias_adds(spec, 64), 132_300, 132_300)


BLOCKS = ("conv", "ds", "mbconv", "fused_mbconv")
CODES = {"conv": "cn", "ds": "ds", "mbconv": "ir", "fused_mbconv": "er"}


def random_spec(seed: int) -> dict[str, Any]:
    """A valid spec in file form, mixing block strings and mappings."""
    rng = random.Random(seed)
    stages: list[Any] = []
    for i in range(rng.randint(1, 4)):
        block = BLOCKS[seed % 4] if i == 0 else rng.choice(BLOCKS)
        st: dict[str, Any] = {
            "block": block, "repeats": rng.randint(1, 3), "kernel": rng.choice([1, 3, 5, 7]),
            "stride": rng.choice([1, 2]), "channels": rng.randint(1, 40),
            "expand": 1 if block == "ds" else rng.choice([1, 1.5, 2.5, 3, 4, 6]),
            "se": 0 if block == "conv" else rng.choice([0, 0.25, 0.5]),
        }
        skip = rng.choice([None, True, False])
        if skip is not None:
            st["skip"] = skip
        if rng.random() < 0.5:
            text = (f"{CODES[block]}_r{st['repeats']}_k{st['kernel']}_s{st['stride']}_e{st['expand']:g}"
                    f"_c{st['channels']}" + (f"_se{st['se']:g}" if st["se"] else "")
                    + ("" if skip is None else "_skip" if skip else "_noskip"))
            stages.append(text)
        else:
            stages.append(st)
    stem = {"channels": rng.randint(1, 32), "kernel": rng.choice([1, 3, 5, 7]), "stride": rng.choice([1, 2])}
    total = stem["stride"] * 2 ** sum(1 for s in stages if (s["stride"] if isinstance(s, dict) else
                                                            int(s.split("_s")[1].split("_")[0])) == 2)
    resolution = max(total, rng.choice(range(9, 72, 2)))
    return {
        "name": f"random-{seed}", "resolution": resolution, "num_classes": rng.randint(1, 20),
        "in_channels": rng.choice([1, 3]), "stem": stem, "stages": stages,
        "head": {"channels": rng.randint(1, 64)},
        "activation": rng.choice(["silu", "relu", "relu6", "gelu", "hardswish"]),
        "scaling": {"channel_divisor": rng.choice([1, 4, 8])},
    }


SEEDS = range(40)


def test_random_specs_cover_the_space():
    specs = [load_spec(random_spec(seed)) for seed in SEEDS]
    stages = [st for s in specs for st in s.stages]
    assert {st.block for st in stages} == set(BLOCKS)
    assert {st.kernel for st in stages} == {1, 3, 5, 7}
    assert {st.stride for st in stages} == {1, 2}
    assert {st.se for st in stages} == {0, 0.25, 0.5}
    assert {st.skip for st in stages} == {None, True, False}
    assert {2.5, 1.5} <= {st.expand for st in stages} and {1, 6} <= {st.expand for st in stages}
    assert {s.in_channels for s in specs} == {1, 3}
    assert {s.activation for s in specs} == {"silu", "relu", "relu6", "gelu", "hardswish"}
    assert any(s.resolution % 2 for s in specs) and any(s.stem.stride == 1 for s in specs)
    assert {s.scaling.channel_divisor for s in specs} == {1, 4, 8}
    # the plans exercise residuals, non-expanded fused blocks and SE on them
    blocks = [b for s in specs for stage in plan(s).stages for b in stage]
    assert any(b.residual for b in blocks) and any(not b.residual for b in blocks)
    assert any(b.block == "fused_mbconv" and not b.expanded and b.se for b in blocks)
    assert any(b.block == "fused_mbconv" and b.expanded and b.se for b in blocks)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_spec_counts_match_torch(seed):
    spec = load_spec(random_spec(seed))
    check_against_torch(spec, spec.resolution)


def test_v2_scaling_rules_in_emitted_specs_are_counted_exactly():
    """EfficientNetV2's rules: a resolution cap, and added depth only from a later stage on."""
    from scaler.scaling import compound

    v2s = preset("efficientnetv2-s")
    rules = v2s.scaling.model_copy(update={"max_resolution": 480, "depth_from": 5})
    base = v2s.model_copy(update={"scaling": rules})
    big = compound(base, 1.2, 1.1, 1.15, 4)
    assert big.resolution == 480 < round(384 * 1.15**4)  # 672 uncapped
    assert [st.repeats for st in big.stages][:4] == [st.repeats for st in v2s.stages][:4]
    assert [st.repeats for st in big.stages][4:] == [math.ceil(st.repeats * 1.2**4) for st in v2s.stages][4:]
    assert big.derived.resolution == pytest.approx(480 / 384)
    small = compound(base, 1.2, 1.1, 1.15, 1).model_copy(update={"num_classes": 10})
    assert small.resolution == 440  # below the cap: unchanged by it
    for spec in (big.model_copy(update={"num_classes": 10}), small):
        c = complexity(spec, 64)
        fcm, _, _, numel = torch_counts(spec, 64)
        assert (fcm // 2, numel) == (c.flops, c.params)


def test_measured_complexity_checks_the_output_and_restores_the_mode():
    import torch
    from torch import nn

    from scaler.arch.measured import measure_complexity
    from scaler.errors import ScalerError

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 5)).train()
    cost = measure_complexity(model, 3, 10, num_classes=5)
    # conv 3x3, 3 -> 8 channels on 10 x 10, then 8 x 5: MACs; biases are parameters, not MACs
    assert cost == Cost(params=8 * 3 * 9 + 8 + 8 * 5 + 5, flops=8 * 3 * 9 * 100 + 8 * 5)
    assert model.training
    with pytest.raises(ScalerError, match=r"the model's output is \(1, 5\), expected \(N, 10\)"):
        measure_complexity(model, 3, 10, num_classes=10)
    assert torch.is_grad_enabled()

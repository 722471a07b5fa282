"""Analytic params and FLOPs (multiply-accumulates): the presets against torchvision's figures to the unit, and the
counter against the built torch model (FlopCounterMode, ptflops' aten backend, sum of numel) on every preset and on
randomly generated specs."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from _specs import MINIMAL

from scaler.arch.counts import Counts
from scaler.arch.flops import block_cost, complexity, conv, human, linear, squeeze_excite
from scaler.arch.plan import plan
from scaler.catalog import PRESETS, load_spec, preset
from scaler.scaling import scale
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
    "resnet18": (224, 11_689_512, 1_814_073_344),
    "resnet34": (224, 21_797_672, 3_663_761_408),
    "resnet50": (224, 25_557_032, 4_089_184_256),
    "resnet101": (224, 44_549_160, 7_801_405_440),
    "mobilenet-v2": (224, 3_504_872, 300_774_272),
}

# torchvision's published GFLOPS (MACs) of the models' weights, to 3 decimals.
PUBLISHED_GMACS = {"resnet18": 1.814, "resnet34": 3.664, "resnet50": 4.089, "resnet101": 7.801,
                   "mobilenet-v2": 0.301}

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


@pytest.mark.parametrize("name", PUBLISHED_GMACS)
def test_published_flops(name):
    flops = complexity(preset(name)).flops
    assert round(flops / 1e9, 3) == PUBLISHED_GMACS[name]
    assert flops == pytest.approx(PUBLISHED_GMACS[name] * 1e9, rel=0.005)


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


def test_resnet50_per_stage():
    c = complexity(preset("resnet50"))
    # 7x7 stem conv at 112 px; its max-pool halves the map (not counted) before stage 1
    assert (c.stem.params, c.stem.flops) == (9_536, 118_013_952)
    assert [(s.params, s.flops) for s in c.stages] == [
        (215_808, 667_942_912), (1_219_584, 1_027_604_480), (7_098_368, 1_464_336_384),
        (14_964_736, 809_238_528)]
    assert (c.head.params, c.head.flops) == (0, 0)  # no head conv: the last stage is pooled into the classifier
    assert (c.classifier.params, c.classifier.flops) == (2_049_000, 2_048_000)
    assert [(s.in_size, s.out_size) for s in c.stages] == [(56, 56), (56, 28), (28, 14), (14, 7)]
    assert [(s.in_ch, s.out_ch) for s in c.stages] == [(64, 256), (256, 512), (512, 1024), (1024, 2048)]
    # bottleneck widths are channels / 4; every stage's first block projects its shortcut, the others add it
    blocks = [b for stage in plan(preset("resnet50")).stages for b in stage]
    assert [b.mid for b in blocks[:4]] == [64, 64, 64, 128]
    assert [i for i, b in enumerate(blocks) if b.projection] == [0, 3, 7, 13]
    assert all(b.residual for b in blocks)


def test_resnet18_projection_and_block_costs():
    blocks = [b for stage in plan(preset("resnet18")).stages for b in stage]
    assert [b.projection for b in blocks] == [False, False, True, False, True, False, True, False]
    b = blocks[2]  # 64 -> 128, stride 2, 56 -> 28 px: two 3x3 convs and a strided 1x1 projection
    assert (b.in_ch, b.mid, b.out_ch, b.in_size, b.out_size) == (64, 128, 128, 56, 28)
    # 3x3 64->128: 73,728 weights; 3x3 128->128: 147,456; 1x1 64->128: 8,192; + 2 x 3 x 128 BN; MACs at 28 x 28
    # activations: three convs of 128 x 28 x 28 outputs
    assert block_cost(b) == Counts(230_144, 179_830_784, 3 * 128 * 28 * 28)
    first = plan(preset("resnet50")).stages[0][0]  # 64 -> 64 (1x1) -> 64 (3x3) -> 256 (1x1), projected 64 -> 256
    assert block_cost(first) == Counts(75_008, 231_211_008, (64 + 64 + 256 + 256) * 56 * 56)


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
        parts = [c.stem, c.head, c.classifier, *(Counts(s.params, s.flops) for s in c.stages)]
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
    assert c.classifier == Counts(12_810, 12_800)


def test_layer_costs():
    assert conv(3, 32, 3, 112) == Counts(3 * 32 * 9 + 64, 3 * 32 * 9 * 112 * 112, 32 * 112 * 112)
    assert conv(96, 96, 3, 56, groups=96) == Counts(96 * 9 + 192, 96 * 9 * 56 * 56, 96 * 56 * 56)
    assert conv(8, 16, 1, 1, bias=True, bn=False) == Counts(8 * 16 + 16, 8 * 16, 16)
    assert linear(1280, 1000) == Counts(1_281_000, 1_280_000, 0)  # activations: convolutions' outputs only
    assert squeeze_excite(96, 4) == Counts(96 * 4 + 4 + 4 * 96 + 96, 2 * 96 * 4, 4 + 96)


def test_to_dict():
    d = complexity(load_spec(MINIMAL)).to_dict()
    assert (d["name"], d["resolution"], d["params"], d["flops"]) == ("mini", 64, 132_300, 12_584_768)
    assert d["flops_unit"] == "multiply-accumulates per image"
    assert d["classifier"] == {"params": 12_810, "flops": 12_800, "activations": 0}  # a linear layer, not a conv
    assert d["activations"] == sum(s["activations"] for s in d["stages"]) + d["stem"]["activations"] + \
        d["head"]["activations"]
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
    """(FlopCounterMode total, ptflops aten MACs, ptflops params, sum of numel, output elements of every Conv2d
    module) of the built model."""
    import torch
    from ptflops import get_model_complexity_info
    from torch.utils.flop_counter import FlopCounterMode

    from scaler.arch.measured import measure_complexity
    from scaler.arch.torch_model import Network

    with torch.device(device):
        model = Network(spec).eval()
    x = torch.zeros(1, spec.in_channels, resolution, resolution, device=device)
    outputs: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.numel()))
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    for h in hooks:
        h.remove()
    assert tuple(y.shape) == (1, spec.num_classes)
    macs, params = get_model_complexity_info(model, (spec.in_channels, resolution, resolution), as_strings=False,
                                             backend="aten", print_per_layer_stat=False, verbose=False)
    # scaler's own measurement (what a model it does not build from a spec is counted with) agrees too
    measured = measure_complexity(model, spec.in_channels, resolution, spec.num_classes)
    assert (2 * measured.flops, measured.params, measured.activations) == (
        counter.get_total_flops(), sum(p.numel() for p in model.parameters()), sum(outputs))
    return counter.get_total_flops(), int(macs), int(params), sum(p.numel() for p in model.parameters()), sum(outputs)


def check_against_torch(spec: Spec, resolution: int, device: str = "cpu") -> None:
    c = complexity(spec, resolution)
    total, macs, params, numel, activations = torch_counts(spec, resolution, device)
    assert total == 2 * c.flops
    assert macs - bias_adds(spec, resolution) == c.flops
    assert params == numel == c.params
    assert activations == c.activations


# Counting needs shapes only: the presets are built on the meta device (no memory, no init), at 32 px.
@pytest.mark.parametrize("name", PRESETS)
def test_preset_counts_match_torch(name):
    check_against_torch(preset(name), 32, device="meta")


@pytest.mark.parametrize(("name", "activations"), [("efficientnet-b0", 6_747_036), ("resnet50", 11_113_984),
                                                 ("mobilenet-v2", 6_678_112)])
def test_activations_at_the_published_resolution(name, activations):
    # the counts FAMS (Dollar et al.) uses as a runtime proxy; checked against the built model at 224 px
    assert complexity(preset(name)).activations == activations
    check_against_torch(preset(name), 224, device="meta")


def test_real_model_counts_match_torch():
    # the same check on real CPU tensors: the meta-device shortcut above counts what a real model runs
    # (the random specs below are all built for real too)
    check_against_torch(preset("efficientnet-b0"), 65, device="cpu")


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_real_resnet_counts_match_torch(name):
    # odd input: the stem conv gives 33 px, its max-pool 17 (the count takes conv_out(33, 2) = 17 as well)
    check_against_torch(preset(name), 65, device="cpu")


@pytest.mark.parametrize("width, depth", [(0.5, 1), (1.5, 1), (1, 2), (0.5, 2)])
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet-v2"])
def test_scaled_counts_match_torch(name, width, depth):
    check_against_torch(scale(preset(name), width=width, depth=depth), 32, device="meta")


def test_minimal_example_counts_match_torch():
    spec = load_spec(MINIMAL)
    total, macs, params, numel, activations = torch_counts(spec, 64)
    assert (total, macs, params, numel) == (2 * 12_584_768, 12_584_768 + bias_adds(spec, 64), 132_300, 132_300)
    assert activations == complexity(spec).activations


BLOCKS = ("conv", "ds", "mbconv", "fused_mbconv", "basic", "bottleneck")
CODES = {"conv": "cn", "ds": "ds", "mbconv": "ir", "fused_mbconv": "er", "basic": "bb", "bottleneck": "bt"}


def random_spec(seed: int) -> dict[str, Any]:
    """A valid spec in file form, mixing block strings and mappings."""
    rng = random.Random(seed)
    stages: list[Any] = []
    for i in range(rng.randint(1, 4)):
        block = BLOCKS[seed % len(BLOCKS)] if i == 0 else rng.choice(BLOCKS)
        st: dict[str, Any] = {
            "block": block, "repeats": rng.randint(1, 3), "kernel": rng.choice([1, 3, 5, 7]),
            "stride": rng.choice([1, 2]), "channels": rng.randint(1, 40),
            "expand": 1 if block in ("ds", "basic") else rng.choice([1, 1.5, 2.5, 3, 4, 6]),
            "se": 0 if block in ("conv", "basic", "bottleneck") else rng.choice([0, 0.25, 0.5]),
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
    stem = {"channels": rng.randint(1, 32), "kernel": rng.choice([1, 3, 5, 7]), "stride": rng.choice([1, 2]),
            "pool": rng.random() < 0.3}
    halvings = stem["pool"] + sum(1 for s in stages if (s["stride"] if isinstance(s, dict) else
                                                        int(s.split("_s")[1].split("_")[0])) == 2)
    total = stem["stride"] * 2 ** halvings
    resolution = max(total, rng.choice(range(9, 72, 2)))
    return {
        "name": f"random-{seed}", "resolution": resolution, "num_classes": rng.randint(1, 20),
        "in_channels": rng.choice([1, 3]), "stem": stem, "stages": stages,
        "head": None if rng.random() < 0.25 else {"channels": rng.randint(1, 64)},
        "activation": rng.choice(["silu", "relu", "relu6", "gelu", "hardswish"]),
        "scaling": {"channel_divisor": rng.choice([1, 4, 8])},
    }


SEEDS = range(48)


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
    # ResNet blocks with identity and projected shortcuts and none (noskip); stem max-pools; no head
    assert any(b.projection for b in blocks) and any(b.residual and not b.projection and b.block == "bottleneck"
                                                     for b in blocks)
    assert any(b.block in ("basic", "bottleneck") and not b.residual for b in blocks)
    assert any(s.stem.pool for s in specs) and any(s.head is None for s in specs)


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
        fcm, _, _, numel, _ = torch_counts(spec, 64)
        assert (fcm // 2, numel) == (c.flops, c.params)


def test_measured_complexity_checks_the_output_and_restores_the_mode():
    import torch
    from torch import nn

    from scaler.arch.measured import measure_complexity
    from scaler.errors import ScalerError

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 5)).train()
    cost = measure_complexity(model, 3, 10, num_classes=5)
    # conv 3x3, 3 -> 8 channels on 10 x 10, then 8 x 5: MACs; biases are parameters, not MACs; the conv's
    # 8 x 10 x 10 outputs are the activations
    assert cost == Counts(params=8 * 3 * 9 + 8 + 8 * 5 + 5, flops=8 * 3 * 9 * 100 + 8 * 5, activations=800)
    assert model.training
    with pytest.raises(ScalerError, match=r"the model's output is \(1, 5\), expected \(N, 10\)"):
        measure_complexity(model, 3, 10, num_classes=10)
    assert torch.is_grad_enabled()

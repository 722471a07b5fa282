"""The torch builder: every preset runs forward, and the modules are the layers the plan resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from _specs import MINIMAL
from torch import nn

from scaler.arch.plan import conv_out, plan
from scaler.arch.torch_model import Block, DropPath, Network, ResNetBlock, SqueezeExcite, build_model
from scaler.catalog import PRESETS, load_spec, preset

ALL_BLOCKS = {
    "name": "all", "resolution": 31, "num_classes": 5, "in_channels": 1, "activation": "hardswish",
    "stem": {"channels": 8, "kernel": 5, "stride": 1},
    "stages": ["cn_r2_k3_s1_e1_c8_skip", "er_r1_k3_s2_e1_c12_se0.25", "er_r2_k5_s1_e2.5_c12_se0.5",
               "ds_r1_k7_s2_e1_c12_noskip", "ir_r2_k1_s1_e3_c16"],
    "head": {"channels": 24},
}

# ResNet's blocks: identity and projected shortcuts (stride, channels), a bottleneck with e2, one without shortcut.
RESNET = {
    "name": "res", "resolution": 33, "num_classes": 7, "activation": "relu",
    "stem": {"channels": 8, "kernel": 7, "stride": 2, "pool": True},
    "stages": ["bb_r2_k3_s1_e1_c8", "bb_r1_k3_s2_e1_c16", "bt_r2_k3_s1_e4_c32", "bt_r1_k5_s2_e2_c32_noskip"],
    "head": None, "dropout": 0.0, "drop_path": 0.3,
}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_runs_forward(name):
    torch.manual_seed(0)
    model = Network(preset(name)).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 1000)
    assert torch.isfinite(y).all()


def test_odd_resolution_and_one_channel():
    spec = load_spec(ALL_BLOCKS)
    model = Network(spec).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(3, 1, 31, 31))
        y = model(torch.randn(3, 1, 31, 31))
    assert y.shape == (3, 5)
    p = plan(spec)
    assert p.feature_size == conv_out(conv_out(31, 2), 2) == 8
    assert feats.shape == (3, 24, 8, 8)
    # every block's output size is the plan's
    x = model.stem(torch.randn(1, 1, 31, 31))
    for stage, planned in zip(model.stages, p.stages, strict=True):
        for block, b in zip(stage, planned, strict=True):
            x = block(x)
            assert tuple(x.shape[1:]) == (b.out_ch, b.out_size, b.out_size)


def test_layers_follow_the_plan():
    model = Network(load_spec(ALL_BLOCKS))
    blocks = [b for stage in model.stages for b in stage]
    assert [len(stage) for stage in model.stages] == [2, 1, 2, 1, 2]

    def convs(block: Block) -> list[tuple[int, int, int, int, int]]:
        return [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.groups)
                for m in block.layers.modules() if isinstance(m, nn.Conv2d)]

    assert convs(blocks[0]) == [(8, 8, 3, 1, 1)]                                  # conv
    assert convs(blocks[2]) == [(8, 12, 3, 2, 1), (12, 2, 1, 1, 1), (2, 12, 1, 1, 1)]  # fused e1: SE on the output
    # fused e2.5: SE on the expanded width, squeezed to 0.5 x the block input
    assert convs(blocks[3]) == [(12, 32, 5, 1, 1), (32, 6, 1, 1, 1), (6, 32, 1, 1, 1), (32, 12, 1, 1, 1)]
    assert convs(blocks[5]) == [(12, 12, 7, 2, 12), (12, 12, 1, 1, 1)]            # ds: depthwise, projection
    assert convs(blocks[6]) == [(12, 40, 1, 1, 1), (40, 40, 1, 1, 40), (40, 16, 1, 1, 1)]  # mbconv e3 (36 -> 40)
    assert [b.residual for b in blocks] == [True, True, False, True, True, False, False, True]
    assert isinstance(blocks[0].layers[0][2], nn.Hardswish)


def test_b0_modules():
    model = Network(preset("efficientnet-b0"))
    se = [m for m in model.modules() if isinstance(m, SqueezeExcite)]
    assert [m.reduce.out_channels for m in se][:4] == [8, 4, 6, 6]
    assert len(se) == 16
    assert model.classifier.in_features == 1280 and model.classifier.out_features == 1000
    assert model.dropout.p == 0.2
    rates = [b.drop_path.p for stage in model.stages for b in stage if isinstance(b.drop_path, DropPath)]
    assert rates == pytest.approx([0.2 * i / 16 for i in (2, 4, 6, 7, 9, 10, 12, 13, 14)])
    assert sum(p.numel() for p in model.parameters()) == 5_288_548


def test_initialization():
    torch.manual_seed(0)
    model = Network(load_spec(MINIMAL))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
        elif (isinstance(m, nn.Conv2d) and m.bias is not None) or isinstance(m, nn.Linear):
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
    bound = 1 / 10**0.5
    assert model.classifier.weight.abs().max() <= bound


def test_eval_is_deterministic_and_training_drops_paths():
    torch.manual_seed(0)
    model = Network(load_spec({**MINIMAL, "drop_path": 0.5, "dropout": 0.0})).eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        drop = DropPath(0.5).train()
        ones = torch.ones(1000, 1, 2, 2)
        out = drop(ones)
        kept = (out[:, 0, 0, 0] != 0).float().mean().item()
        assert 0.4 < kept < 0.6
        assert set(out.unique().tolist()) <= {0.0, 2.0}
        assert torch.equal(DropPath(0.5).eval()(ones), ones)


def test_backward_reaches_every_parameter():
    torch.manual_seed(0)
    model = Network(load_spec(MINIMAL)).train()
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_build_model_sources(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(load_spec(MINIMAL).to_yaml(), encoding="utf-8")
    a, b = build_model(str(path)), build_model(load_spec(MINIMAL))
    assert a.spec_name == b.spec_name == "mini" and a.resolution == 64
    assert [tuple(p.shape) for p in a.parameters()] == [tuple(p.shape) for p in b.parameters()]
    assert build_model("efficientnet-b0").spec_name == "efficientnet-b0"


def test_importing_scaler_does_not_import_torch():
    code = ("import sys, scaler; from scaler import load_spec, complexity, compound;"
            "assert 'torch' not in sys.modules; scaler.build_model; assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("name", "eps", "momentum"), [
    ("efficientnet-b0", 1e-5, 0.1), ("efficientnet-b4", 1e-5, 0.1), ("efficientnet-b5", 1e-3, 0.01),
    ("efficientnet-b7", 1e-3, 0.01), ("efficientnetv2-s", 1e-3, 0.1), ("efficientnetv2-l", 1e-3, 0.1),
])
def test_presets_carry_torchvisions_batchnorm(name, eps, momentum):
    # torchvision: B0-B4 PyTorch's defaults; B5-B7 partial(BatchNorm2d, eps=0.001, momentum=0.01); V2 eps=1e-03.
    spec = preset(name)
    assert (spec.norm.eps, spec.norm.momentum) == (eps, momentum)
    model = Network(spec.model_copy(update={"resolution": 32}))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and {(m.eps, m.momentum) for m in bns} == {(eps, momentum)}


def test_norm_is_written_only_when_it_is_not_the_default(tmp_path):
    assert "norm" not in preset("efficientnet-b0").to_dict()
    assert preset("efficientnet-b6").to_dict()["norm"] == {"eps": 0.001, "momentum": 0.01}
    path = tmp_path / "b6.yaml"
    path.write_text(preset("efficientnet-b6").to_yaml())
    assert load_spec(path) == preset("efficientnet-b6")


def conv_shapes(module: nn.Module) -> list[tuple[int, int, int, int]]:
    return [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in module.modules()
            if isinstance(m, nn.Conv2d)]


def test_resnet_blocks_follow_the_plan():
    model = Network(load_spec(RESNET))
    blocks = [b for stage in model.stages for b in stage]
    assert all(isinstance(b, ResNetBlock) for b in blocks)
    layers = [conv_shapes(b.layers) for b in blocks]
    shortcuts = [conv_shapes(b.shortcut) for b in blocks]
    # basic: two 3x3 convs, the stride on the first; identity shortcut, or a strided 1x1 projection
    assert layers[0] == [(8, 8, 3, 1), (8, 8, 3, 1)] and shortcuts[0] == []
    assert layers[2] == [(8, 16, 3, 2), (16, 16, 3, 1)] and shortcuts[2] == [(8, 16, 1, 2)]
    # bottleneck: 1x1 to channels / expand, kxk with the stride, 1x1 out; projected where the channels change
    assert layers[3] == [(16, 8, 1, 1), (8, 8, 3, 1), (8, 32, 1, 1)] and shortcuts[3] == [(16, 32, 1, 1)]
    assert layers[4] == [(32, 8, 1, 1), (8, 8, 3, 1), (8, 32, 1, 1)] and shortcuts[4] == []
    assert layers[5] == [(32, 16, 1, 1), (16, 16, 5, 2), (16, 32, 1, 1)] and shortcuts[5] == []  # noskip
    assert [b.residual for b in blocks] == [True, True, True, True, True, False]
    # the branch ends in BN; the activation follows the add
    assert isinstance(blocks[0].layers[-1][2], nn.Identity) and isinstance(blocks[0].act, nn.ReLU)
    rates = [b.drop_path.p if isinstance(b.drop_path, DropPath) else 0 for b in blocks]
    assert rates == pytest.approx([0, 0.05, 0.1, 0.15, 0.2, 0])  # 0.3 x index / 6; none without a shortcut
    assert isinstance(model.stem[3], nn.MaxPool2d) and isinstance(model.head, nn.Identity)
    assert model.classifier.in_features == 32


def test_resnet_forward_follows_the_plan():
    torch.manual_seed(0)
    spec = load_spec(RESNET)
    model = Network(spec).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 3, 33, 33)).shape == (3, 7)
        x = model.stem(torch.randn(1, 3, 33, 33))
        p = plan(spec)
        assert (p.stem_size, p.stages[0][0].in_size) == (17, 9)  # conv 33 -> 17, max-pool 17 -> 9
        assert tuple(x.shape[1:]) == (8, 9, 9)
        for stage, planned in zip(model.stages, p.stages, strict=True):
            for block, b in zip(stage, planned, strict=True):
                x = block(x)
                assert tuple(x.shape[1:]) == (b.out_ch, b.out_size, b.out_size)


def test_resnet_backward_reaches_every_parameter():
    torch.manual_seed(0)
    model = Network(load_spec(RESNET)).train()
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 33, 33)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()] == []

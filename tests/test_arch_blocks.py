"""Block kinds (scaler/arch/blocks/): every registered kind is counted as it is built, and a kind of one's own,
registered here without touching scaler/, parses, plans, counts and builds like the built-in ones."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

import pytest
from pydantic import ValidationError

from scaler.arch.blocks import BlockKind, BlockPlan, Site, block_kind, block_kinds, block_plan, register, unregister
from scaler.arch.counts import Counts, conv
from scaler.arch.flops import complexity
from scaler.arch.plan import plan
from scaler.spec import Spec, spec_json_schema
from scaler.spec.blocks import BlockSyntax, block_names, register_syntax, syntax
from scaler.spec.model import StageSpec

BUILT_IN = ("conv", "ds", "mbconv", "fused_mbconv", "basic", "bottleneck")


def variants(name: str) -> list[Spec]:
    """Small networks of stages of kind ``name``: each (expand, se) its syntax allows; in each, a block that keeps
    its input's shape, one that strides and widens, one that widens without a stride, and one without a shortcut."""
    code = syntax(name).code
    specs = []
    for expand, se in product((1, 3), (0, 0.25)):
        options = f"e{expand}" + (f"_se{se}" if se else "")
        stages = [f"{code}_r2_k3_s1_{options}_c16", f"{code}_r1_k5_s2_{options}_c24",
                  f"{code}_r1_k3_s1_{options}_c32", f"{code}_r1_k3_s1_{options}_c32_noskip"]
        try:
            specs.append(Spec(name=f"{name}-e{expand}-se{se}", resolution=32, num_classes=10, stem={"channels": 16},
                              stages=stages, head={"channels": 64}, drop_path=0.1))
        except ValidationError:
            continue  # an option this kind does not have
    return specs


def assert_counted_as_built(spec: Spec) -> None:
    """Params, MACs and activations of the analytic count equal the traced count of the built network."""
    import torch

    from scaler.arch.measured import measure_complexity
    from scaler.arch.torch_model import Network

    with torch.device("meta"):
        model = Network(spec)
    counted = complexity(spec)
    built = measure_complexity(model, spec.in_channels, spec.resolution, spec.num_classes)
    assert Counts(counted.params, counted.flops, counted.activations) == built, spec.name


def test_every_kind_the_format_knows_is_a_registered_kind_in_the_same_order():
    assert block_names() == BUILT_IN == tuple(k.name for k in block_kinds())


@pytest.mark.parametrize("name", [kind.name for kind in block_kinds()])
def test_every_registered_kind_is_counted_as_it_is_built(name: str):
    specs = variants(name)
    assert specs, f"no spec of {name} validates"
    for spec in specs:
        assert_counted_as_built(spec)


def test_a_kind_is_registered_once():
    with pytest.raises(ValueError, match="registered already"):
        register(block_kind("mbconv"))
    with pytest.raises(ValueError, match="taken by 'mbconv'"):
        register_syntax(BlockSyntax("inverted", "ir"))
    with pytest.raises(ValueError, match="lower-case"):
        BlockSyntax("Toy", "ty")


# --- a kind of one's own -------------------------------------------------------------------------------------------
# "toy": a 1x1 convolution to the output width, then a kxk depthwise one with the stride and no activation; its
# input added where the shape allows. Everything scaler needs of it is below: no file under scaler/ changes.

def toy_plan(st: StageSpec, site: Site) -> BlockPlan:
    return block_plan(st, site, st.channels)


def toy_count(b: BlockPlan) -> Counts:
    return conv(b.in_ch, b.mid, 1, b.in_size) + conv(b.mid, b.out_ch, b.kernel, b.out_size, groups=b.mid)


def toy_module(b: BlockPlan, act, norm):
    from scaler.arch.layers import Block, ConvBNAct

    return Block([ConvBNAct(b.in_ch, b.mid, 1, act=act, norm=norm),
                  ConvBNAct(b.mid, b.out_ch, b.kernel, b.stride, groups=b.mid, act=None, norm=norm)],
                 b.residual, b.drop_path)


TOY = BlockKind(BlockSyntax("toy", "ty", fixed=(("se", 0, "toy blocks have no squeeze-excitation"),)),
                plan=toy_plan, count=toy_count, module=toy_module)


@pytest.fixture
def toy() -> Iterator[BlockKind]:
    yield register(TOY)
    unregister("toy")


def test_a_kind_of_ones_own_parses_plans_counts_and_builds(toy: BlockKind):
    spec = Spec(name="toy", resolution=32, num_classes=10, stem={"channels": 8}, head={"channels": 64},
                stages=["ty_r2_k3_s1_c16", {"block": "toy", "kernel": 5, "stride": 2, "channels": 24},
                        "ir_r1_k3_s1_e4_c24_se0.25"])
    assert [st.block for st in spec.stages] == ["toy", "toy", "mbconv"]
    assert Spec.model_validate(spec.to_dict()) == spec  # written back as ty_ block strings, read the same
    assert spec.to_dict()["stages"][1] == "ty_r1_k5_s2_e1_c24"
    first, second = plan(spec).stages[0]
    assert (first.residual, second.residual, first.mid) == (False, True, 16)  # 8 -> 16, then 16 -> 16: added
    assert_counted_as_built(spec)
    for each in variants("toy"):
        assert_counted_as_built(each)


def test_a_kind_of_ones_own_has_its_rules_and_is_in_the_schema(toy: BlockKind):
    with pytest.raises(ValidationError, match="toy blocks have no squeeze-excitation"):
        StageSpec.model_validate("ty_r1_k3_c16_se0.25")
    stage = spec_json_schema()["$defs"]["StageSpec"]["anyOf"]
    assert stage[0]["pattern"] == "^(cn|ds|ir|er|bb|bt|ty)(_[a-z]+[0-9.]*)*$"
    assert stage[1]["properties"]["block"]["enum"][-1] == "toy"


def test_an_unregistered_kind_is_forgotten_everywhere():
    register(TOY)
    unregister("toy")
    assert block_names() == BUILT_IN
    with pytest.raises(ValidationError, match=r"Input should be 'conv', 'ds', .* or 'bottleneck'"):
        StageSpec.model_validate({"block": "toy", "channels": 16})
    with pytest.raises(ValueError, match="unknown block type 'ty'"):
        StageSpec.model_validate("ty_r1_c16")
    assert "toy" not in spec_json_schema()["$defs"]["StageSpec"]["anyOf"][1]["properties"]["block"]["enum"]

"""The spec format: both stage forms, the round trips, and a located one-line error for every impossible value."""

from __future__ import annotations

import pytest
import yaml
from _specs import MINIMAL_YAML as MINIMAL

from scaler.catalog import load_spec
from scaler.errors import ScalerError
from scaler.spec import Spec, StageSpec, decode_block, parse_yaml, read_yaml, spec_from_document, spec_json_schema
from scaler.spec.document import format_loc


def write(tmp_path, text: str, name: str = "base.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --- the minimal example and the two stage forms ----------------------------------------------------------------


def test_minimal_example_is_accepted_as_written(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert spec.name == "mini"
    assert spec.resolution == 64
    assert spec.num_classes == 10
    assert spec.in_channels == 3
    assert (spec.stem.channels, spec.stem.kernel, spec.stem.stride) == (32, 3, 2)
    assert spec.head.channels == 1280
    assert spec.activation == "silu"
    assert spec.total_stride == 8
    assert spec.blocks == 5
    assert spec.stages == [
        StageSpec(block="ds", repeats=1, kernel=3, stride=1, expand=1, channels=16, se=0.25),
        StageSpec(block="mbconv", repeats=2, kernel=3, stride=2, expand=6, channels=24, se=0.25),
        StageSpec(block="mbconv", repeats=2, kernel=5, stride=2, expand=6, channels=40, se=0.25),
    ]
    assert [st.to_string() for st in spec.stages] == [
        "ds_r1_k3_s1_e1_c16_se0.25", "ir_r2_k3_s2_e6_c24_se0.25", "ir_r2_k5_s2_e6_c40_se0.25"]


def test_string_and_mapping_stage_are_the_same_network(tmp_path):
    as_string = MINIMAL.replace(
        "  - {block: mbconv, repeats: 2, kernel: 5, stride: 2, expand: 6, channels: 40, se: 0.25}",
        "  - ir_r2_k5_s2_e6_c40_se0.25")
    as_mapping = MINIMAL.replace(
        "  - ir_r2_k3_s2_e6_c24_se0.25",
        "  - block: mbconv\n    repeats: 2\n    kernel: 3\n    stride: 2\n    expand: 6\n    channels: 24\n"
        "    se: 0.25")
    assert as_string != MINIMAL != as_mapping
    a, b, c = (load_spec(write(tmp_path, t, f"{i}.yaml")) for i, t in enumerate((MINIMAL, as_string, as_mapping)))
    assert a == b == c


@pytest.mark.parametrize("text, mapping", [
    ("ds_r1_k3_s1_e1_c16_se0.25",
     {"block": "ds", "repeats": 1, "kernel": 3, "stride": 1, "expand": 1.0, "channels": 16, "se": 0.25}),
    ("ir_r2_k5_s2_e6_c40_se0.25",
     {"block": "mbconv", "repeats": 2, "kernel": 5, "stride": 2, "expand": 6.0, "channels": 40, "se": 0.25}),
    ("er_r4_k3_s2_e4_c48", {"block": "fused_mbconv", "repeats": 4, "kernel": 3, "stride": 2, "expand": 4.0,
                            "channels": 48}),
    ("cn_r2_k3_s1_e1_c24_skip", {"block": "conv", "repeats": 2, "kernel": 3, "stride": 1, "expand": 1.0,
                                 "channels": 24, "skip": True}),
    ("ir_k7_e2.5_c17_noskip", {"block": "mbconv", "kernel": 7, "expand": 2.5, "channels": 17, "skip": False}),
    ("ir_c8", {"block": "mbconv", "channels": 8}),
    ("bb_r2_k3_s2_e1_c128", {"block": "basic", "repeats": 2, "kernel": 3, "stride": 2, "expand": 1.0,
                             "channels": 128}),
    ("bt_r3_k3_s1_e4_c256", {"block": "bottleneck", "repeats": 3, "kernel": 3, "stride": 1, "expand": 4.0,
                             "channels": 256}),
])
def test_decode_block(text, mapping):
    assert decode_block(text) == mapping
    assert StageSpec.model_validate(text) == StageSpec.model_validate(mapping)


@pytest.mark.parametrize("text, canonical", [
    ("ds_r1_k3_s1_e1_c16_se0.25", "ds_r1_k3_s1_e1_c16_se0.25"),
    ("ir_c8", "ir_r1_k3_s1_e1_c8"),
    ("ir_k7_e2.5_c17_noskip", "ir_r1_k7_s1_e2.5_c17_noskip"),
    ("ir_c8_skip", "ir_r1_k3_s1_e1_c8_skip"),  # an explicit skip is kept, even where it is the default
    ("cn_r2_k3_s1_e1_c24_skip", "cn_r2_k3_s1_e1_c24_skip"),
    ("cn_c24_noskip", "cn_r1_k3_s1_e1_c24_noskip"),
    ("er_r4_k3_s2_e4_c48", "er_r4_k3_s2_e4_c48"),
    ("ir_r15_k3_s2_e6_c256_se0.5", "ir_r15_k3_s2_e6_c256_se0.5"),
    ("bb_r2_k3_s2_e1_c128", "bb_r2_k3_s2_e1_c128"),
    ("bb_c64_noskip", "bb_r1_k3_s1_e1_c64_noskip"),
    ("bt_r3_k3_s1_e4_c256", "bt_r3_k3_s1_e4_c256"),
    ("bt_r23_k5_s2_e2.5_c40_skip", "bt_r23_k5_s2_e2.5_c40_skip"),
])
def test_to_string_round_trip(text, canonical):
    st = StageSpec.model_validate(text)
    assert st.to_string() == canonical
    assert StageSpec.model_validate(st.to_string()) == st


@pytest.mark.parametrize("block, skip, residual", [
    ("conv", None, False), ("conv", True, True), ("ds", None, True), ("mbconv", None, True),
    ("fused_mbconv", None, True), ("mbconv", False, False), ("basic", None, True), ("bottleneck", None, True),
    ("bottleneck", False, False),
])
def test_residual_default(block, skip, residual):
    assert StageSpec(block=block, channels=8, skip=skip).residual is residual


def test_yaml_round_trip_is_identical(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    text = spec.to_yaml()
    # fully written out: one stage per line, small sections inline
    assert text == """\
name: mini
resolution: 64
num_classes: 10
in_channels: 3
stem: {channels: 32, kernel: 3, stride: 2}
stages:
- ds_r1_k3_s1_e1_c16_se0.25
- ir_r2_k3_s2_e6_c24_se0.25
- ir_r2_k5_s2_e6_c40_se0.25
head: {channels: 1280}
activation: silu
dropout: 0.2
drop_path: 0.2
scaling: {channel_divisor: 8, depth_rounding: ceil, scale_stem: true, scale_head: true, resolution_divisor: 4}
"""
    again = load_spec(write(tmp_path, text, "again.yaml"))
    assert again == spec
    assert again.to_yaml() == text


RESNET_YAML = """\
name: res
resolution: 64
num_classes: 10
in_channels: 3
stem: {channels: 16, kernel: 7, stride: 2, pool: true}
stages:
- bb_r2_k3_s1_e1_c16
- bt_r2_k3_s2_e4_c64
head: null
activation: relu
dropout: 0.0
drop_path: 0.0
scaling: {channel_divisor: 8, depth_rounding: ceil, scale_stem: true, scale_head: true, head_never_narrower: true,
  resolution_divisor: 4}
"""


def test_pool_no_head_and_head_rule_round_trip(tmp_path):
    spec = load_spec(write(tmp_path, RESNET_YAML))
    assert (spec.stem.pool, spec.head, spec.scaling.head_never_narrower) == (True, None, True)
    assert spec.total_stride == 2 * 2 * 2  # stem, its max-pool, one stride-2 stage
    assert spec.num_features == 64  # the classifier reads the last stage
    again = load_spec(write(tmp_path, spec.to_yaml(), "again.yaml"))
    assert again == spec
    data = spec.to_dict()
    assert data["head"] is None and list(data).index("head") == list(data).index("stages") + 1  # in its place


def test_options_off_by_default_are_left_out(tmp_path):
    # so that spec files and run settings written before they existed read back unchanged
    data = load_spec(write(tmp_path, MINIMAL)).to_dict()
    assert "pool" not in data["stem"] and "head_never_narrower" not in data["scaling"]
    assert data["head"] == {"channels": 1280}


def test_head_may_be_null_but_not_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, RESNET_YAML.replace("head: null\n", ""))
    with pytest.raises(ScalerError, match=r"^base\.yaml:1:1: head: required field is missing$"):
        load_spec("base.yaml")


def test_run_sections_are_ignored_by_the_network(tmp_path):
    text = MINIMAL + "search:\n  phi: 1\nproxy:\n  dataset: digits\n"
    assert load_spec(write(tmp_path, text)) == load_spec(write(tmp_path, MINIMAL, "plain.yaml"))


def test_load_spec_sources(tmp_path):
    from scaler.catalog import preset

    spec = load_spec(write(tmp_path, MINIMAL))
    assert load_spec(spec) is spec
    assert load_spec(yaml.safe_load(MINIMAL)) == spec
    assert load_spec("efficientnet-b0") == preset("efficientnet-b0")


def test_format_loc():
    assert format_loc(("stages", 2, "kernel")) == "stages[2].kernel"
    assert format_loc(("stem", "channels")) == "stem.channels"
    assert format_loc(()) == ""


# --- errors: file:line:col: field.path: problem ------------------------------------------------------------------

# Stage 3 (stages[2]) sits on line 7, column 5, as in the example `base.yaml:7:5: stages[2].kernel: ...`.
TEMPLATE = """\
name: mini
resolution: 64
stem: {channels: 32}
stages:
  - ds_r1_k3_s1_e1_c16_se0.25
  - ir_r2_k3_s2_e6_c24_se0.25
  - STAGE3
head: {channels: 1280}
"""

BAD_STAGES = [
    # kernel even or < 1
    ("ir_r2_k4_s2_e6_c40_se0.25", "base.yaml:7:5: stages[2].kernel: must be odd"),
    ("ir_r2_k0_s2_e6_c40", "base.yaml:7:5: stages[2].kernel: must be an odd number >= 1"),
    ("{block: mbconv, repeats: 2, kernel: 4, stride: 2, expand: 6, channels: 40, se: 0.25}",
     "base.yaml:7:41: stages[2].kernel: must be odd"),
    ("{block: mbconv, kernel: -3, channels: 40}", "base.yaml:7:29: stages[2].kernel: must be an odd number >= 1"),
    ("block: mbconv\n    channels: 40\n    kernel: 6", "base.yaml:9:13: stages[2].kernel: must be odd"),
    # stride not 1 or 2
    ("ir_r2_k3_s3_e6_c40", "base.yaml:7:5: stages[2].stride: must be 1 or 2"),
    ("{block: mbconv, stride: 0, channels: 40}", "base.yaml:7:29: stages[2].stride: must be 1 or 2"),
    # channels < 1
    ("ir_r2_k3_s2_e6_c0", "base.yaml:7:5: stages[2].channels: must be at least 1"),
    ("{block: mbconv, channels: -8}", "base.yaml:7:31: stages[2].channels: must be at least 1"),
    # expand < 1 (and not finite)
    ("ir_r2_k3_s2_e0.5_c40", "base.yaml:7:5: stages[2].expand: must be at least 1"),
    ("{block: mbconv, channels: 40, expand: .nan}", "base.yaml:7:43: stages[2].expand: must be at least 1"),
    ("{block: mbconv, channels: 40, expand: .inf}",
     "base.yaml:7:43: stages[2].expand: must be at most 64 (EfficientNet expands 6x)"),
    # sizes beyond scaler's limits (scaler/spec/limits.py): refused before anything is counted or built
    ("ir_r100000000_k3_s2_e4_c40",
     "base.yaml:7:5: stages[2].repeats: must be at most 1,000 (scaler's limit on blocks per stage; ResNet-1001 has "
     "111)"),
    ("ir_r2_k3_s2_e4_c1000000000",
     "base.yaml:7:5: stages[2].channels: must be at most 65,536 (scaler's limit on one layer's channels; ResNet-50 "
     "ends at 2048)"),
    ("ir_r2_k3_s2_e60_c2000",
     "base.yaml:7:5: stages[2].expand: the stage's expanded layer has 120,000 channels, more than 65,536 (scaler's "
     "limit on one layer's channels)"),
    # repeats < 1
    ("ir_r0_k3_s2_e6_c40", "base.yaml:7:5: stages[2].repeats: must be at least 1"),
    # se out of range
    ("ir_c40_se1.5", "base.yaml:7:5: stages[2].se: must be between 0 and 1"),
    # unknown block letters, unknown options, missing channels
    ("xx_r2_k3_s2_e6_c40",
     "base.yaml:7:5: stages[2]: unknown block type 'xx' in 'xx_r2_k3_s2_e6_c40' (expected one of cn, ds, ir, er, bb, "
     "bt)"),
    ("{block: ir, channels: 40}",
     "base.yaml:7:13: stages[2].block: Input should be 'conv', 'ds', 'mbconv', 'fused_mbconv', 'basic' or "
     "'bottleneck'"),
    ("ir_r2_q3_c40",
     "base.yaml:7:5: stages[2]: unknown block option 'q3' in 'ir_r2_q3_c40' (options: r k s e c se skip noskip)"),
    ("ir_r2_k3", "base.yaml:7:5: stages[2]: block 'ir_r2_k3' has no channels (add c<N>, e.g. c24)"),
    # non-numeric values
    ("ir_r2_k3.5_c40", "base.yaml:7:5: stages[2]: option 'k3.5' in 'ir_r2_k3.5_c40' is not a number"),
    ("{block: mbconv, kernel: five, channels: 40}",
     "base.yaml:7:29: stages[2].kernel: Input should be a valid integer, unable to parse string as an integer"),
    ("{block: mbconv, kernel: yes, channels: 40}", "base.yaml:7:29: stages[2].kernel: must be a number, got true"),
    ("{block: mbconv, channels: 40.5}",
     "base.yaml:7:31: stages[2].channels: Input should be a valid integer, got a number with a fractional part"),
    # not a stage at all; unknown keys; block rules
    ("42", "base.yaml:7:5: stages[2]: a stage is a block string like 'ir_r2_k3_s2_e6_c24_se0.25' or a mapping"),
    ("{block: mbconv, channels: 40, colour: red}", "base.yaml:7:35: stages[2]: unknown field 'colour'"),
    ("{block: mbconv, kernel: 3}", "base.yaml:7:5: stages[2].channels: required field is missing"),
    ("ds_e6_c40", "base.yaml:7:5: stages[2]: ds blocks have no expansion (expand must be 1; use mbconv)"),
    ("cn_c40_se0.25", "base.yaml:7:5: stages[2]: conv blocks have no squeeze-excitation (se must be 0)"),
    ("bb_r2_k3_s2_e2_c128", "base.yaml:7:5: stages[2]: basic blocks have no expansion (expand must be 1; use "
     "bottleneck)"),
    ("bt_r3_k3_s1_e4_c256_se0.25",
     "base.yaml:7:5: stages[2]: basic and bottleneck blocks have no squeeze-excitation (se must be 0)"),
    ("{block: basic, channels: 64, se: 0.25}",
     "base.yaml:7:5: stages[2]: basic and bottleneck blocks have no squeeze-excitation (se must be 0)"),
    ("{block: mbconv, channels: 40, kernel: 3, kernel: 5}", "base.yaml:7:46: stages[2].kernel: duplicate key 'kernel'"),
]


@pytest.mark.parametrize("stage, message", BAD_STAGES, ids=[m.split(": ", 1)[1] for _, m in BAD_STAGES])
def test_bad_stage_is_located(tmp_path, monkeypatch, stage, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, TEMPLATE.replace("STAGE3", stage))
    with pytest.raises(ScalerError) as e:
        load_spec("base.yaml")
    assert str(e.value) == message


BAD_FILES = [
    # resolution too small for the strides (total stride 2 * 2 = 4 here)
    ("name: m\nresolution: 3\nstem: {channels: 8}\nstages: [ir_s2_c8]\nhead: {channels: 8}\n",
     "base.yaml:2:13: resolution: 3 px is too small for a total stride of 4"),
    ("name: m\nresolution: 0\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:2:13: resolution: must be at least 1"),
    ("name: m\nresolution: 100000\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:2:13: resolution: must be at most 8,192 (px, scaler's limit on the input size; EfficientNet-L2 uses "
     "800)"),
    ("name: m\nresolution: 64\nnum_classes: 1000000000\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:14: num_classes: must be at most 1,000,000 (scaler's limit on classes; ImageNet-21k has 21,841)"),
    ("name: m\nresolution: big\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:2:13: resolution: Input should be a valid integer, unable to parse string as an integer"),
    # stem and head
    ("name: m\nresolution: 64\nstem: {channels: 0}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:18: stem.channels: must be at least 1"),
    ("name: m\nresolution: 64\nstem: {channels: 8, kernel: 2}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:29: stem.kernel: must be odd"),
    ("name: m\nresolution: 64\nstem: {channels: 8, stride: 4}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:29: stem.stride: must be 1 or 2"),
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: -1}\n",
     "base.yaml:5:18: head.channels: must be at least 1"),
    ("name: m\nresolution: 64\nstem: 32\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:7: stem: expected a mapping"),
    # empty or missing stages, missing fields
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages: []\nhead: {channels: 8}\n",
     "base.yaml:4:9: stages: List should have at least 1 item after validation, not 0"),
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages:\nhead: {channels: 8}\n",
     "base.yaml:4:8: stages: Input should be a valid list"),
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages: [ir_c8]\n",
     "base.yaml:1:1: head: required field is missing"),
    # unknown keys are rejected, duplicate keys too (located at the repeat)
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\ncolour: red\n",
     "base.yaml:6:1: unknown field 'colour'"),
    ("name: m\nresolution: 64\nstem: {channels: 8, width: 2}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:21: stem: unknown field 'width'"),
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\nresolution: 32\n",
     "base.yaml:6:1: resolution: duplicate key 'resolution'"),
    # other fields
    ("name: m\nresolution: 64\nactivation: tanh\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:13: activation: Input should be 'silu', 'relu', 'relu6', 'gelu' or 'hardswish'"),
    ("name: m\nresolution: 64\nnum_classes: 0\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n",
     "base.yaml:3:14: num_classes: must be at least 1"),
    ("name: m\nresolution: 64\nstem: {channels: 8}\nstages: [ir_c8]\nhead: {channels: 8}\n"
     "scaling: {channel_divisor: 0}\n",
     "base.yaml:6:28: scaling.channel_divisor: Input should be greater than or equal to 1"),
    # not a mapping, not YAML at all, empty
    ("- ir_c8\n- ir_c16\n",
     "base.yaml:1:1: a spec is a mapping of fields (name, resolution, stem, stages, head), got list"),
    ("just some words\n",
     "base.yaml:1:1: a spec is a mapping of fields (name, resolution, stem, stages, head), got str"),
    ("name: mini\nstem: {channels: 32\nstages: [\n", "base.yaml:3:7: not valid YAML: expected ',' or '}', but got ':'"),
    ("name: mini\n\tresolution: 64\n",
     "base.yaml:2:1: not valid YAML: found character '\\t' that cannot start any token"),
    ("name: mini\nresolution: 64: 3\n", "base.yaml:2:15: not valid YAML: mapping values are not allowed here"),
    ("", "base.yaml: the file is empty; a spec is a mapping of fields"),
    ("name: m\n[a]: 1\n", "base.yaml:2:1: mapping keys must be plain names"),
]


@pytest.mark.parametrize("text, message", BAD_FILES, ids=[m.split(": ", 1)[1][:60] for _, m in BAD_FILES])
def test_bad_file_is_located(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    with pytest.raises(ScalerError) as e:
        load_spec("base.yaml")
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_missing_file_and_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScalerError, match=r"^nope\.yaml: no such file$"):
        load_spec("nope.yaml")
    (tmp_path / "d").mkdir()
    with pytest.raises(ScalerError, match=r"^d: is a directory, expected a YAML file$"):
        read_yaml("d")


def test_error_parts():
    doc = parse_yaml(TEMPLATE.replace("STAGE3", "ir_r2_k4_c40"), "base.yaml")
    with pytest.raises(ScalerError) as e:
        spec_from_document(doc)
    err = e.value
    assert (err.where, err.field, err.message) == ("base.yaml:7:5", "stages[2].kernel", "must be odd")
    assert err.exit_code == 2


def test_positions_are_one_based():
    doc = parse_yaml(MINIMAL, "m.yaml")
    # values and keys are located separately: errors about a value point at the value, unknown keys at the key
    assert doc.positions[()] == (1, 1)
    assert doc.positions[("name",)] == (1, 7)
    assert doc.key_positions[("name",)] == (1, 1)
    assert doc.positions[("stem", "channels")] == (4, 18)
    assert doc.key_positions[("stem", "channels")] == (4, 8)
    assert doc.positions[("stages", 0)] == (6, 5)
    assert doc.positions[("stages", 2)] == (8, 5)
    assert doc.positions[("stages", 2, "kernel")] == (8, 41)
    assert doc.key_positions[("stages", 2, "kernel")] == (8, 33)
    assert doc.where(("stages", 2, "colour"), key=True) == "m.yaml:8:5"  # no such key: the stage
    assert doc.where(("stages", 1, "kernel")) == "m.yaml:7:5"  # inside a block string: the string's position
    assert doc.where(("nothing", "here")) == "m.yaml:1:1"  # the deepest node that exists: the root


# --- JSON Schema -------------------------------------------------------------------------------------------------


def test_json_schema_accepts_both_stage_forms():
    import jsonschema

    schema = spec_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    data = yaml.safe_load(MINIMAL)
    assert isinstance(data["stages"][0], str) and isinstance(data["stages"][2], dict)
    assert list(validator.iter_errors(data)) == []
    item = schema["$defs"]["StageSpec"]
    assert [alt.get("type") for alt in item["anyOf"]] == ["string", "object"]
    assert {"search": {"phi": 1}, "proxy": {}}.keys() <= schema["$defs"]["Spec"]["properties"].keys()
    for bad in ({**data, "colour": "red"}, {**data, "stages": [42]}, {**data, "stages": ["zz_c8"]},
                {**data, "stages": [{"block": "mbconv", "channels": 8, "colour": "red"}]},
                {k: v for k, v in data.items() if k != "head"}):
        assert list(validator.iter_errors(bad)), bad


@pytest.mark.parametrize("name", ["resnet50", "mobilenet-v2"])
def test_json_schema_accepts_pool_null_head_and_resnet_blocks(name):
    import jsonschema

    from scaler.catalog import preset

    jsonschema.validate(preset(name).to_dict(), spec_json_schema())


def test_spec_is_frozen_and_strict():
    spec = load_spec(yaml.safe_load(MINIMAL))
    with pytest.raises(Exception, match="frozen"):
        spec.resolution = 32  # type: ignore[misc]
    assert isinstance(spec, Spec)


def test_schema_keeps_the_minimums_of_optional_numbers():
    import jsonschema

    from scaler.catalog import preset

    schema = spec_json_schema()
    network = {"$defs": schema["$defs"], **schema["$defs"]["Spec"]}  # the branch for networks of stages
    good = preset("efficientnet-b0").to_dict()
    jsonschema.validate(good, schema)
    for field in ("max_resolution", "depth_from"):
        bad = {**good, "scaling": {**good["scaling"], field: 0}}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        with pytest.raises(jsonschema.ValidationError, match="less than the minimum of 1"):
            jsonschema.validate(bad, network)


def test_json_schema_takes_a_factory_spec_too():
    import jsonschema

    validator = jsonschema.Draft202012Validator(spec_json_schema())
    spec = {"name": "mine", "factory": "my_resnet:make_net", "path": "../examples", "resolution": 14,
            "num_classes": 10, "in_channels": 1, "scaling": {"resolution_divisor": 1}, "proxy": {"epochs": 5}}
    assert list(validator.iter_errors(spec)) == []
    for bad in ({**spec, "stages": ["ds_r1_k3_s1_e1_c16"]}, {k: v for k, v in spec.items() if k != "factory"},
                {**spec, "scaling": {"channel_divisor": 8}}):
        assert list(validator.iter_errors(bad)), bad


# Nine nested anchors of ten references each: 10**9 values once expanded (6.3 GB at 60 s before the bound)
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8))


@pytest.mark.parametrize("name", ["spec.yaml", "coefficients.yaml"])
def test_an_alias_bomb_is_one_located_line_before_it_expands(tmp_path, capsys, name):
    """Issue #32: specs and coefficient files read through one builder that counts values as aliases expand."""
    from _cli import user_error

    path = tmp_path / name
    path.write_text(MINIMAL + ALIAS_BOMB)
    command = ("info", str(path)) if name == "spec.yaml" else ("emit", "--coefficients", str(path), "--phi", "1",
                                                               "--out", str(tmp_path / "fam"))
    line = user_error(capsys, *command)
    assert line.startswith(f"error: {path}:") and line.endswith(
        "more than 100,000 values once its aliases (*name) are expanded; a spec or coefficients file is far smaller")
    assert not (tmp_path / "fam").exists()


def test_a_recursive_alias_is_one_located_line_and_merge_keys_still_read():
    with pytest.raises(ScalerError, match=r"^s\.yaml:1:9: an alias \(\*name\) refers to a value that contains it"):
        parse_yaml("stages: &a [*a]\n", "s.yaml")
    with pytest.raises(ScalerError, match=r"^s\.yaml:2:3: mapping keys must be plain names"):
        parse_yaml("name: x\n? &k [1, 2]\n: 3\n", "s.yaml")
    doc = parse_yaml("base: &b {name: q}\nother: {<<: *b, resolution: 3}\nthird: *b\n", "s.yaml")
    assert doc.data == {"base": {"name": "q"}, "other": {"name": "q", "resolution": 3}, "third": {"name": "q"}}

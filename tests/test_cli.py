"""The command line: emit, info, schema; one-line errors with exit status 2; no torch for the fast commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _runs import copy_run
from _specs import MINIMAL_YAML as MINIMAL

from scaler.cli.app import main
from scaler.cli.options import parse_phis
from scaler.errors import ScalerError

PAPER = ["--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15"]


def run(capsys, *args: str) -> tuple[int, str, str]:
    """The entry point in process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def run_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The entry point as the `scaler` console script runs it."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from scaler.cli.app import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=120)


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def mini(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mini.yaml").write_text(MINIMAL, encoding="utf-8")
    return tmp_path / "mini.yaml"


# --- emit ----------------------------------------------------------------------------------------------------------


def test_emit_preset_then_info(tmp_path, capsys):
    out = tmp_path / "specs"
    code, _, err = run(capsys, "emit", "--preset", "efficientnet-b4", "--out", str(out))
    assert (code, err) == (0, "")
    assert sorted(p.name for p in out.iterdir()) == ["efficientnet-b4.yaml"]
    text = (out / "efficientnet-b4.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ("# efficientnet-b4: 19,341,616 params, 4,393,771,024 FLOPs "
                                    "(multiply-accumulates) at 380px")
    data = yaml.safe_load(text)
    assert data["stages"][1] == "ir_r4_k3_s2_e6_c32_se0.25"
    assert data["dropout"] == 0.4
    code, stdout, err = run(capsys, "info", str(out / "efficientnet-b4.yaml"), "--json")
    assert (code, err) == (0, "")
    info = json.loads(stdout)
    assert (info["name"], info["resolution"], info["params"], info["flops"]) == (
        "efficientnet-b4", 380, 19_341_616, 4_393_771_024)


def test_emit_family(capsys, tmp_path):
    code, out, err = run(capsys, "emit", "--base", "efficientnet-b0", *PAPER, "--phi", "0..2",
                         "--out", str(tmp_path / "fam"), "--json")
    assert (code, err) == (0, "")
    assert sorted(p.name for p in (tmp_path / "fam").iterdir()) == [
        "efficientnet-b0-phi0.yaml", "efficientnet-b0-phi1.yaml", "efficientnet-b0-phi2.yaml"]
    rows = json.loads(out)
    assert [(r["name"], r["phi"], r["resolution"], r["blocks"], r["params"], r["flops"]) for r in rows] == [
        ("efficientnet-b0-phi0", 0.0, 224, 16, 5_288_548, 385_814_752),
        ("efficientnet-b0-phi1", 1.0, 256, 23, 9_109_994, 859_853_760),
        ("efficientnet-b0-phi2", 2.0, 296, 26, 12_255_408, 1_810_522_464),
    ]
    assert [r["depth"] for r in rows] == [1.0, 1.2, 1.44]
    assert [r["width"] for r in rows] == [1.0, 1.1, 1.21]
    assert rows[2]["path"] == str(tmp_path / "fam" / "efficientnet-b0-phi2.yaml")
    # each file reloads to the numbers it was written with, and records how it was derived
    code, out, _ = run(capsys, "info", str(tmp_path / "fam" / "efficientnet-b0-phi2.yaml"), "--json")
    info = json.loads(out)
    assert (code, info["params"], info["flops"]) == (0, 12_255_408, 1_810_522_464)
    assert info["derived"] == {"base": "efficientnet-b0", "phi": 2.0, "alpha": 1.2, "beta": 1.1, "gamma": 1.15,
                               "depth": 1.44, "width": 1.21, "resolution": 1.321429}


def test_emit_prints_the_studys_proxy_accuracy_beside_each_member(capsys, tmp_path):
    """From a grid whose study studied these coefficients: measured at the phi the study trained, the forecast
    (with its interval) beyond, nothing past the forecast; with another base, nothing."""
    from scaler.analysis.study_forecast import read_forecast

    grid = copy_run("quickstart", tmp_path / "grid", ("coefficients.yaml", "run.yaml", "results.csv", "study.csv",
                                                     "study.yaml", "forecast.csv"))
    code, out, err = run(capsys, "emit", "--coefficients", str(grid / "coefficients.yaml"), "--phi", "0..7",
                         "--out", str(tmp_path / "fam"), "--json")
    assert (code, err) == (0, "")
    acc = {r["phi"]: r["proxy_accuracy"] for r in json.loads(out)}
    studied = yaml.safe_load((grid / "study.yaml").read_text(encoding="utf-8"))["settings"]["max_phi"]
    forecast = {r.phi: r for r in read_forecast(grid / "forecast.csv").of("forecast") if r.strategy == "compound"}
    assert all(acc[phi]["measured"] and acc[phi]["seeds"] >= 2 for phi in range(studied + 1))
    for phi, r in forecast.items():
        assert acc[phi] == {"accuracy": r.accuracy, "low": r.low, "high": r.high, "level": r.level,
                            "measured": False}
    assert sorted(acc) == list(range(8)) and acc[7.0] is None and 7.0 not in forecast
    code, out, _ = run(capsys, "emit", "--coefficients", str(grid / "coefficients.yaml"), "--phi", "0..5",
                       "--out", str(tmp_path / "table"))
    assert code == 0 and "proxy acc." in out and " m │" in out
    code, out, _ = run(capsys, "emit", "--coefficients", str(grid / "coefficients.yaml"), "--base",
                       "efficientnet-b0", "--phi", "0..1", "--out", str(tmp_path / "other"), "--json")
    assert code == 0 and all("proxy_accuracy" not in r for r in json.loads(out))


def test_emit_phi_list_equals_range(capsys, tmp_path):
    for label, phi in (("list", "0,1,2"), ("range", "0..2"), ("step", "0..2:1")):
        code, _, err = run(capsys, "emit", "--base", "efficientnet-b0", *PAPER, "--phi", phi,
                           "--out", str(tmp_path / label))
        assert (code, err) == (0, "")
    files = {label: {p.name: p.read_text() for p in (tmp_path / label).iterdir()}
             for label in ("list", "range", "step")}
    assert len(files["list"]) == 3
    assert files["list"] == files["range"] == files["step"]


def test_emit_table(capsys, mini):
    code, out, err = run(capsys, "emit", "--base", "mini.yaml", *PAPER, "--phi=-1,0.5", "--out", "o")
    assert (code, err) == (0, "")
    assert "2 spec(s) written to o/" in out
    assert "mini-phi-1" in out and "mini-phi0.5" in out
    assert sorted(p.name for p in (mini.parent / "o").iterdir()) == ["mini-phi-1.yaml", "mini-phi0.5.yaml"]


@pytest.mark.parametrize("text, phis", [
    ("4", [4.0]),
    ("0,1,2", [0.0, 1.0, 2.0]),
    ("0..2", [0.0, 1.0, 2.0]),
    ("0..7", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
    ("0..2:0.5", [0.0, 0.5, 1.0, 1.5, 2.0]),
    ("-1..1", [-1.0, 0.0, 1.0]),
    ("0..1:0.1", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    ("0..1:0.3", [0.0, 0.3, 0.6, 0.9]),
    ("-0.5, 3", [-0.5, 3.0]),
    ("0..1,4", [0.0, 1.0, 4.0]),
])
def test_parse_phis(text, phis):
    assert parse_phis(text) == phis


@pytest.mark.parametrize("text", ["a", "2..1", "0..2:0", "0..2:-1", "1,,2", "", "nan", "0..inf", "0..1:nan"])
def test_parse_phis_errors(text):
    """Unreadable, empty, backwards and non-finite ranges are one line (a NaN phi once became a NaN multiplier)."""
    with pytest.raises(ScalerError) as e:
        parse_phis(text)
    assert str(e.value) == (f"--phi: cannot read {text!r}; use a number (4), a list (0,1,2) or a range (0..7, "
                            "0..2:0.5)")


def test_emit_explicit_width_and_depth(capsys, tmp_path):
    # B2 is B0 at width 1.1, depth 1.2 and 260 px
    code, out, err = run(capsys, "emit", "--base", "efficientnet-b0", "--width", "1.1", "--depth", "1.2",
                         "--resolution", str(260 / 224), "--name", "b2-like", "--out", str(tmp_path), "--json")
    assert (code, err) == (0, "")
    [row] = json.loads(out)
    assert (row["name"], row["phi"], row["resolution"], row["params"], row["flops"]) == (
        "b2-like", None, 260, 9_109_994, 993_561_872)
    data = yaml.safe_load((tmp_path / "b2-like.yaml").read_text())
    assert data["derived"] == {"base": "efficientnet-b0", "depth": 1.2, "width": 1.1, "resolution": 1.160714}
    code, out, err = run(capsys, "emit", "--base", "efficientnet-b0", "--depth", "2", "--out", str(tmp_path),
                         "--json")
    [row] = json.loads(out)
    assert (row["name"], row["blocks"], row["width"], row["resolution"]) == ("efficientnet-b0-scaled", 32, 1.0, 224)


def test_emit_phi_without_coefficients(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "emit", "--phi", "4")
    assert code == 2
    assert out == ""
    assert one_error_line(err) == (
        "error: --phi needs coefficients: run `scaler grid BASE.yaml` (it writes results/<name>/coefficients.yaml), "
        "or pass --coefficients FILE, or --alpha A --beta B --gamma G --base SPEC (the paper's: 1.2 1.1 1.15)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["emit"], "error: nothing to emit: give --preset NAME, --phi with coefficients, or --width/--depth with --base "
               "(see scaler emit --help)"),
    (["emit", "--preset", "efficientnet-b9"], "error: --preset: unknown preset 'efficientnet-b9'; presets: "
     "efficientnet-b0, efficientnet-b1, efficientnet-b2, efficientnet-b3, efficientnet-b4, efficientnet-b5, "
     "efficientnet-b6, efficientnet-b7, efficientnet-b8, efficientnet-l2, efficientnetv2-s, efficientnetv2-m, "
     "efficientnetv2-l, resnet18, resnet34, resnet50, resnet101, mobilenet-v2"),
    (["emit", "--base", "mini.yaml", "--alpha", "1.2", "--phi", "1"], "error: --alpha, --beta and --gamma go together"),
    (["emit", "--base", "mini.yaml", *PAPER, "--phi", "x"],
     "error: --phi: cannot read 'x'; use a number (4), a list (0,1,2) or a range (0..7, 0..2:0.5)"),
    (["emit", "--base", "mini.yaml", *PAPER, "--phi=-20"],
     "error: mini-phi-20: the scaled resolution, 4 px, is too small for a total stride of 8 (base 64 px)"),
    (["emit", "--base", "mini.yaml", "--width", "-1"], "error: width multiplier must be a positive number, got -1"),
    (["emit", "--base", "nope.yaml", *PAPER, "--phi", "1"], "error: nope.yaml: no such file"),
    (["info", "nope.yaml"], "error: nope.yaml: no such file"),
    (["info", "mini.yaml", "--resolution", "4"], "error: --resolution: 4 px is too small for a total stride of 8"),
])
def test_user_errors(capsys, mini, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert one_error_line(err) == message


@pytest.mark.parametrize("args, where, needle", [
    (["info", "mini.yaml", "--bogus"], "scaler info", "--bogus"),
    (["emit", "--phy", "2"], "scaler emit", "--phy"),
    (["bogus"], "scaler", "bogus"),
    (["info"], "scaler info", "SPEC"),
    (["info", "mini.yaml", "--resolution", "abc"], "scaler info", "abc"),
])
def test_usage_errors(capsys, mini, args, where, needle):
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    line = one_error_line(err)
    assert line.startswith(f"error: {where}: ")
    assert needle in line
    assert line.endswith(f"(see '{where} --help')")


# --- info ------------------------------------------------------------------------------------------------------------


def test_info_json(capsys, mini):
    code, out, err = run(capsys, "info", "mini.yaml", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["name"], data["resolution"], data["params"], data["flops"], data["blocks"]) == (
        "mini", 64, 132_300, 12_584_768, 5)
    assert [(s["repeats"], s["channels"], s["kernel"], s["stride"], s["expand"]) for s in data["stages"]] == [
        (1, 16, 3, 1, 1.0), (2, 24, 3, 2, 6.0), (2, 40, 5, 2, 6.0)]
    assert data["flops_unit"] == "multiply-accumulates per image"
    assert data["derived"] is None
    # activations: output elements of every convolution, per part and in total (tests/test_arch_flops.py checks
    # them against the built model's convolutions)
    assert data["activations"] == data["stem"]["activations"] + data["head"]["activations"] + sum(
        s["activations"] for s in data["stages"]) > 0


def test_info_preset_at_other_resolution(capsys):
    code, out, _ = run(capsys, "info", "efficientnet-b2", "--resolution", "288", "--json")
    data = json.loads(out)
    assert (code, data["resolution"], data["params"], data["flops"]) == (0, 288, 9_109_994, 1_087_529_456)


def test_info_table(capsys):
    code, out, err = run(capsys, "info", "efficientnet-b0")
    assert (code, err) == (0, "")
    assert "efficientnet-b0 at 224px: 5,288,548 params, 385,814,752 FLOPs" in out
    assert "2,026,348" in out and "91,528,224" in out  # stage 6
    assert "B0 = 0.39B" in out


@pytest.mark.parametrize("name, params, flops", [
    ("resnet50", 25_557_032, 4_089_184_256), ("resnet18", 11_689_512, 1_814_073_344),
    ("mobilenet-v2", 3_504_872, 300_774_272),
])
def test_info_resnet_and_mobilenet_presets(name, params, flops):
    from click.testing import CliRunner

    from scaler.cli.app import cli

    result = CliRunner().invoke(cli, ["info", name, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["name"], data["params"], data["flops"]) == (name, params, flops)
    table = CliRunner().invoke(cli, ["info", name], catch_exceptions=False, env={"COLUMNS": "200"}).stdout
    assert f"{name} at 224px: {params:,} params, {flops:,} FLOPs" in table
    # ResNet: the stem max-pools (224 -> 56) and there is no head row; the classifier reads the last stage
    rows = [line.split("│")[1:3] for line in table.splitlines() if line.count("│") > 2]
    names = [(row[0].strip(), row[1].strip()) for row in rows]
    if name.startswith("resnet"):
        assert ("stem", "conv+pool") in names and "head" not in dict(names)
        assert f"{data['stages'][-1]['out_ch']}→1000" in table
    else:
        assert ("stem", "conv") in names and ("head", "conv") in names


BAD_SPECS = [
    ("  - ir_r2_k4_s2_e6_c40_se0.25", "error: bad.yaml:8:5: stages[2].kernel: must be odd"),
    ("  - {block: mbconv, repeats: 2, kernel: 5, stride: 3, expand: 6, channels: 40, se: 0.25}",
     "error: bad.yaml:8:52: stages[2].stride: must be 1 or 2"),
    ("  - zz_r2_k5_s2_e6_c40", "error: bad.yaml:8:5: stages[2]: unknown block type 'zz' in 'zz_r2_k5_s2_e6_c40' "
                               "(expected one of cn, ds, ir, er, bb, bt)"),
]


@pytest.mark.parametrize("stage, message", BAD_SPECS)
def test_info_bad_spec_is_one_line(tmp_path, capsys, monkeypatch, stage, message):
    monkeypatch.chdir(tmp_path)
    lines = MINIMAL.splitlines()
    lines[7] = stage
    (tmp_path / "bad.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "info", "bad.yaml")
    assert code == 2
    assert out == ""
    assert one_error_line(err) == message


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    (tmp_path / "bad.yaml").write_text(MINIMAL.replace("resolution: 64", "resolution: -1"), encoding="utf-8")
    r = run_subprocess("info", "bad.yaml", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert one_error_line(r.stderr) == "error: bad.yaml:2:13: resolution: must be at least 1"


@pytest.mark.parametrize("text, message", [
    ("name: m\nstem: {channels: 8\n",
     "error: bad.yaml:3:1: not valid YAML: expected ',' or '}', but got '<stream end>'"),
    ("[1, 2]\n", "error: bad.yaml:1:1: a spec is a mapping of fields (name, resolution, stem, stages, head), got list"),
    (MINIMAL + "colour: red\n", "error: bad.yaml:10:1: unknown field 'colour'"),
    (MINIMAL + "name: again\n", "error: bad.yaml:10:1: name: duplicate key 'name'"),
    (MINIMAL.replace("resolution: 64", "resolution: 4"),
     "error: bad.yaml:2:13: resolution: 4 px is too small for a total stride of 8"),
    (MINIMAL.replace("stem: {channels: 32}", "stem: {channels: many}"),
     "error: bad.yaml:4:18: stem.channels: Input should be a valid integer, unable to parse string as an integer"),
    ("", "error: bad.yaml: the file is empty; a spec is a mapping of fields"),
])
def test_info_bad_spec(capsys, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "info", "bad.yaml")
    assert (code, out) == (2, "")
    assert one_error_line(err) == message


# --- schema, help --------------------------------------------------------------------------------------------------


def test_schema(capsys):
    import jsonschema

    code, out, err = run(capsys, "schema")
    assert (code, err) == (0, "")
    schema = json.loads(out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(MINIMAL), schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**yaml.safe_load(MINIMAL), "stages": [3.5]}, schema)


def test_help(capsys):
    code, out, err = run(capsys, "--help")
    assert (code, err) == (0, "")
    for command in ("emit", "info", "schema"):
        assert f"  {command} " in out


# --- torch stays out of the fast commands ----------------------------------------------------------------------------


def test_fast_commands_do_not_import_torch(tmp_path):
    (tmp_path / "mini.yaml").write_text(MINIMAL, encoding="utf-8")
    code = """
import contextlib, io, sys
from scaler.cli.app import main

def call(*args):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(list(args))
        except SystemExit as e:
            return e.code

results = [
    call("--help"),
    call("emit", "--help"),
    call("emit", "--preset", "efficientnet-b7", "--out", "out"),
    call("emit", "--base", "mini.yaml", "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.15", "--phi", "0..3",
         "--out", "out"),
    call("emit", "--base", "mini.yaml", "--width", "2", "--out", "out"),
    call("emit", "--phi", "4"),
    call("info", "mini.yaml", "--json"),
    call("info", "efficientnet-b0"),
    call("schema"),
]
assert results == [0, 0, 0, 0, 0, 2, 0, 0, 0], results
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not loaded, loaded[:5]
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout.strip()) == (0, "ok"), r.stderr
    assert len(list((tmp_path / "out").iterdir())) == 6

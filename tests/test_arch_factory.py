"""Factory networks: a user's ``module:function`` imported from the spec's folder, called with the multipliers,
measured on the built model; every way a factory can be wrong is one located line, exit 2."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch
from _cli import user_error
from _specs import TINY

from scaler.arch.factory import factory_cost
from scaler.arch.flops import complexity
from scaler.arch.torch_model import build_model
from scaler.catalog import load_spec
from scaler.scaling import compound, scale
from scaler.search.executors.ray import factory_modules
from scaler.spec import FactorySpec, Spec, parse_spec

# A factory that builds scaler's own network from a spec: through the factory path, the measured count must be
# the analytic count of the same network.
SPEC_FACTORY = """
from scaler.arch.torch_model import build_model
from scaler.scaling import scale
from scaler.spec import Spec

BASE = {base!r}

def make_net(depth, width, num_classes, in_channels):
    spec = Spec.model_validate({{**BASE, "num_classes": num_classes, "in_channels": in_channels}})
    return build_model(scale(spec, depth=depth, width=width) if (depth, width) != (1, 1) else spec)
"""

BAD = """
from torch import nn

NOT_CALLABLE = 3

def two_args(depth, width):
    return nn.Linear(1, 1)

def raises(depth, width, num_classes, in_channels):
    raise ValueError("width must be at most 2")

def returns_list(depth, width, num_classes, in_channels):
    return [nn.Linear(1, 1)]

def wrong_shape(depth, width, num_classes, in_channels):
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, num_classes + 1))

def fixed_size(depth, width, num_classes, in_channels):  # works at 16 px only
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 16 * 16, num_classes))

def data_dependent(depth, width, num_classes, in_channels):  # .item() cannot run on the meta device
    return DataDependent(in_channels, num_classes)

class DataDependent(nn.Module):
    def __init__(self, cin, n):
        super().__init__()
        self.conv = nn.Conv2d(cin, 8, 3, padding=1)
        self.fc = nn.Linear(8, n)

    def forward(self, x):
        y = self.conv(x)
        if y.abs().sum().item() >= 0:
            y = y.mean((2, 3))
        return self.fc(y)
"""


def write_factory(folder: Path, name: str, code: str, factory: str, resolution: int = 16) -> Path:
    (folder / f"{name}.py").write_text(textwrap.dedent(code))
    spec = folder / f"{name}-spec.yaml"
    spec.write_text(f"name: {name}\nresolution: {resolution}\nnum_classes: 10\nin_channels: 3\nfactory: {factory}\n")
    return spec


@pytest.fixture
def fresh_modules():
    """Factory modules written by a test are forgotten after it (each test writes its own)."""
    yield
    for name in ("bad", "broken", "specnet", "calls", "relnet"):
        sys.modules.pop(name, None)


def test_a_spec_network_counted_through_its_factory_equals_the_analytic_count(tmp_path: Path, fresh_modules):
    base = {**TINY, "num_classes": 10}
    path = write_factory(tmp_path, "specnet", SPEC_FACTORY.format(base=base), "specnet:make_net")
    factory = load_spec(path)
    spec = Spec.model_validate(base)
    for depth, width, resolution in ((1, 1, 16), (2, 1, 16), (1, 1.5, 24), (1.44, 1.21, 19), (1, 0.5, 32)):
        scaled = scale(factory, depth=depth, width=width, resolution_px=resolution)
        expected = complexity(scale(spec, depth=depth, width=width, resolution_px=resolution))
        got = complexity(scaled)
        assert got.measured and (got.params, got.flops, got.activations) == (
            expected.params, expected.flops, expected.activations)


def test_the_factory_is_called_with_the_real_multipliers(tmp_path: Path, fresh_modules):
    (tmp_path / "calls.py").write_text(textwrap.dedent("""
        from torch import nn
        CALLS = []

        def make(depth, width, num_classes, in_channels):
            CALLS.append((depth, width, num_classes, in_channels))
            return nn.Sequential(nn.Conv2d(in_channels, 4, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, num_classes))
    """))
    (tmp_path / "net.yaml").write_text("name: n\nfactory: calls:make\nresolution: 32\nnum_classes: 7\n"
                                      "in_channels: 1\n")
    base = load_spec(tmp_path / "net.yaml")
    member = compound(base, 1.2, 1.1, 1.15, 2)
    assert isinstance(member, FactorySpec)
    assert (member.depth, member.width, member.resolution) == (1.44, 1.21, 44)  # 32 x 1.3225 = 42.3 -> 44 (div 4)
    model = build_model(member)
    import calls

    assert calls.CALLS[-1] == (1.44, 1.21, 7, 1)
    assert model(torch.zeros(2, 1, 44, 44)).shape == (2, 7)
    # the spec travels as data (to workers, into results) and comes back the same
    assert parse_spec(member.to_dict()).to_dict() == member.to_dict()


@pytest.mark.parametrize(("factory", "problem"), [
    ("nope:make", "no module named 'nope' (looked in"),
    ("bad:missing", "has no attribute 'missing'"),
    ("bad:NOT_CALLABLE", "NOT_CALLABLE is an int, not a function"),
    ("bad:two_args", "two_args(depth, width) cannot be called as two_args(depth=, width=, num_classes=, "
                     "in_channels=)"),
    ("bad:raises", "raises(depth=1, width=1, num_classes=10, in_channels=3) raised ValueError: width must be at "
                   "most 2"),
    ("bad:returns_list", "returned a list, not a torch.nn.Module"),
    ("bad:wrong_shape", "at 16 px the model's output is (1, 11), expected (N, 10)"),
    ("broken:anything", "importing broken raised RuntimeError: boom"),
    ("bad", "'bad' is not module:function"),
])
def test_every_bad_factory_is_one_line_naming_the_file_and_the_factory(capsys, tmp_path: Path, monkeypatch,
                                                                        fresh_modules, factory: str, problem: str):
    monkeypatch.chdir(tmp_path)
    spec = write_factory(tmp_path, "bad", BAD, factory)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    line = user_error(capsys, "info", spec.name)
    assert line.startswith(f"error: {spec.name}:5:10: factory: ")
    assert problem in line and (factory in line or ":" not in factory)


def test_a_factory_that_fails_for_one_candidate_fails_before_anything_trains(capsys, tmp_path: Path, monkeypatch,
                                                                              fresh_modules):
    monkeypatch.chdir(tmp_path)
    spec = write_factory(tmp_path, "bad", BAD, "bad:fixed_size")
    assert complexity(load_spec(spec)).flops > 0  # fine at its own 16 px
    line = user_error(capsys, "grid", spec.name, "--dataset", "digits", "--out", "run", "--quiet")
    assert line.startswith(f"error: {spec.name}:5:10: factory: bad:fixed_size: the forward pass of one 1x")
    assert "image raised RuntimeError: mat1 and mat2 shapes cannot be multiplied" in line
    assert not (tmp_path / "run" / "results.csv").exists()


def test_code_the_meta_device_cannot_run_is_counted_on_the_cpu(tmp_path: Path, fresh_modules):
    spec = load_spec(write_factory(tmp_path, "bad", BAD, "bad:data_dependent"))
    cost = factory_cost(spec)
    assert (cost.params, cost.flops, cost.activations) == (3 * 8 * 9 + 8 + 8 * 10 + 10, 3 * 8 * 9 * 16 * 16 + 8 * 10,
                                                           8 * 16 * 16)


def test_the_path_is_relative_to_the_spec_and_becomes_absolute(tmp_path: Path, fresh_modules):
    (tmp_path / "code").mkdir()
    (tmp_path / "specs").mkdir()
    (tmp_path / "code" / "relnet.py").write_text(textwrap.dedent(SPEC_FACTORY.format(base={**TINY})))
    (tmp_path / "specs" / "net.yaml").write_text("name: n\nfactory: relnet:make_net\npath: ../code\n"
                                                 "resolution: 16\nnum_classes: 10\n")
    spec = load_spec(tmp_path / "specs" / "net.yaml")
    assert spec.path == str((tmp_path / "code").resolve())
    assert complexity(spec).flops == complexity(Spec.model_validate(TINY)).flops


def test_ray_ships_the_factorys_module_and_nothing_for_a_spec_network(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "single.py").write_text("")
    base = {"name": "n", "resolution": 16, "path": str(tmp_path)}

    assert factory_modules(parse_spec({**base, "factory": "pkg.models:make"})) == [str(tmp_path / "pkg")]
    assert factory_modules(parse_spec({**base, "factory": "single:make"})) == [str(tmp_path / "single.py")]
    assert factory_modules(parse_spec({**base, "factory": "installed.thing:make"})) == []  # on sys.path
    assert factory_modules(Spec.model_validate(TINY)) == []


MODULE_STATE = """
import torch
from torch import nn

OFFSET = torch.zeros(1)  # made when the module is imported

class Net(nn.Module):
    def __init__(self, cin, n):
        super().__init__()
        self.conv = nn.Conv2d(cin, 8, 3, padding=1)
        self.fc = nn.Linear(8, n)

    def forward(self, x):
        return self.fc(self.conv(x + OFFSET.to(x.device)).mean((2, 3)))

def make(depth, width, num_classes, in_channels):
    return Net(in_channels, num_classes)
"""


def test_counting_first_leaves_the_modules_own_tensors_real(tmp_path: Path, fresh_modules):
    spec = load_spec(write_factory(tmp_path, "calls", MODULE_STATE, "calls:make"))
    assert complexity(spec).flops > 0  # counted on the meta device
    import calls

    assert calls.OFFSET.device.type == "cpu"  # imported outside it
    assert build_model(spec)(torch.zeros(2, 3, 16, 16)).shape == (2, 10)


def test_match_flops_stops_at_the_smallest_size_a_factory_network_runs_at(tmp_path: Path, fresh_modules):
    from scaler.arch.rounding import match_resolution

    code = BAD + textwrap.dedent("""
        def unpadded(depth, width, num_classes, in_channels):  # a 5x5 conv without padding: 5 px at least
            return nn.Sequential(nn.Conv2d(in_channels, 4, 5), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, num_classes))
    """)
    spec = load_spec(write_factory(tmp_path, "bad", code, "bad:unpadded", resolution=8))
    assert match_resolution(spec, 1) == 8  # divisor 4: 4 px cannot run, so 8 is the floor
    assert match_resolution(spec, complexity(spec, 16).flops) == 16


def test_a_module_of_the_same_name_from_elsewhere_is_refused(capsys, tmp_path: Path, monkeypatch, fresh_modules):
    for folder, channels in (("a", 4), ("b", 64)):
        (tmp_path / folder).mkdir()
        write_factory(tmp_path / folder, "calls", MODULE_STATE.replace("8", str(channels)), "calls:make")
    assert complexity(load_spec(tmp_path / "a" / "calls-spec.yaml")).params == 3 * 4 * 9 + 4 + 4 * 10 + 10
    monkeypatch.chdir(tmp_path / "b")
    line = user_error(capsys, "info", "calls-spec.yaml")
    assert line.startswith("error: calls-spec.yaml:5:10: factory: calls:make: module calls is already imported from ")
    assert "rename one of them" in line


@pytest.mark.parametrize(("code", "problem"), [
    ("import sys\ndef make(depth, width, num_classes, in_channels):\n    sys.exit(3)\n",
     "make(depth=1, width=1, num_classes=10, in_channels=3) raised SystemExit: 3"),
    ("import sys\nsys.exit('no GPU here')\n", "importing calls raised SystemExit: no GPU here"),
])
def test_a_factory_that_exits_is_one_line_too(capsys, tmp_path: Path, monkeypatch, fresh_modules, code: str,
                                              problem: str):
    monkeypatch.chdir(tmp_path)
    write_factory(tmp_path, "calls", code, "calls:make")
    assert problem in user_error(capsys, "info", "calls-spec.yaml")


def test_a_missing_folder_and_a_bad_resolution_are_one_line(capsys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.yaml").write_text("name: n\nfactory: nowhere_net:make\npath: ../nowhere\nresolution: 16\n")
    line = user_error(capsys, "info", "net.yaml")
    assert line == f"error: net.yaml:2:10: factory: nowhere_net:make: path: the folder " \
                   f"{(tmp_path.parent / 'nowhere').resolve()} does not exist"
    write_factory(tmp_path, "bad", BAD, "bad:wrong_shape")
    for size in ("0", "-3"):
        assert user_error(capsys, "info", "bad-spec.yaml", "--resolution", size) == \
            f"error: --resolution: {size} px is not an image size"


def test_emit_writes_no_member_when_one_fails(capsys, tmp_path: Path, monkeypatch, fresh_modules):
    monkeypatch.chdir(tmp_path)
    code = MODULE_STATE + "\ndef capped(depth, width, num_classes, in_channels):\n" \
                          "    if width > 1.3:\n        raise ValueError('too wide')\n" \
                          "    return Net(in_channels, num_classes)\n"
    write_factory(tmp_path, "calls", code, "calls:capped")
    line = user_error(capsys, "emit", "--base", "calls-spec.yaml", "--alpha", "1.2", "--beta", "1.1", "--gamma",
                      "1.15", "--phi", "0..4", "--out", "family")
    assert "raised ValueError: too wide" in line and line.startswith("error: calls-spec.yaml:5:10: factory: ")
    assert not list((tmp_path / "family").glob("*.yaml"))

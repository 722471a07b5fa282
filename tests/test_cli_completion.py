"""Shell completion through click's own mechanism: command names, and the built-in spec names wherever a SPEC is
asked for (files are left to the shell)."""

from __future__ import annotations

from click.shell_completion import ShellComplete

from scaler.catalog import NAMES, PRESETS
from scaler.cli.app import cli


def complete(args: list[str], incomplete: str) -> list[tuple[str, str]]:
    """(type, value) of what `scaler ARGS INCOMPLETE<TAB>` offers."""
    found = ShellComplete(cli, {}, "scaler", "_SCALER_COMPLETE").get_completions(args, incomplete)
    return [(c.type, c.value) for c in found]


def test_preset_names_complete_where_a_spec_is_asked_for():
    v2 = [("plain", "efficientnetv2-s"), ("plain", "efficientnetv2-m"), ("plain", "efficientnetv2-l")]
    for args in (["info"], ["grid"], ["export"], ["bench"], ["emit", "--base"]):
        assert complete(args, "efficientnetv2") == [*v2, ("file", "efficientnetv2")], args
    assert complete(["emit", "--preset"], "resnet") == [("plain", n) for n in PRESETS if n.startswith("resnet")]
    assert complete(["emit", "--preset"], "resnet") == [("plain", "resnet18"), ("plain", "resnet34"),
                                                        ("plain", "resnet50"), ("plain", "resnet101")]
    assert complete(["info"], "") == [*(("plain", n) for n in NAMES), ("file", "")]


def test_quickstart_completes_as_a_spec_not_as_a_published_preset():
    for args in (["info"], ["grid"], ["emit", "--base"]):
        assert complete(args, "quick") == [("plain", "quickstart"), ("file", "quick")], args
    assert complete(["emit", "--preset"], "quick") == []


def test_commands_and_options_complete():
    assert complete([], "re") == [("plain", "report")]
    assert ("plain", "--preset") in complete(["emit"], "--pre")

"""The built-in specs by name: ``quickstart`` is specs/quickstart.yaml (network and run sections), so an installed
scaler runs the README's main job with no checkout; a file of that name still wins."""

from __future__ import annotations

from pathlib import Path

import yaml
from _cli import run_scaler

from scaler.catalog import EXAMPLES, NAMES, PRESETS, load_document, load_spec
from scaler.search.settings import load_grid_settings

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "specs" / "quickstart.yaml"


def test_the_quickstart_preset_is_the_committed_example():
    assert load_document("quickstart").data == yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    assert load_spec("quickstart") == load_spec(QUICKSTART)
    built_in, committed = load_grid_settings("quickstart"), load_grid_settings(QUICKSTART)
    assert (built_in.search, built_in.proxy) == (committed.search, committed.proxy)
    assert built_in.to_dict()["base"] == committed.to_dict()["base"]


def test_every_name_is_a_preset_or_an_example_never_both():
    assert (*PRESETS, *EXAMPLES) == NAMES
    assert not set(PRESETS) & set(EXAMPLES)
    for name in NAMES:
        assert load_spec(name).name == name


def test_a_loaded_example_is_a_copy():
    load_document("quickstart").data["proxy"]["epochs"] = 99
    assert load_document("quickstart").data["proxy"]["epochs"] == 5


def test_a_file_of_the_same_name_wins(tmp_path, monkeypatch):
    data = {**yaml.safe_load(QUICKSTART.read_text(encoding="utf-8")), "name": "mine"}
    (tmp_path / "quickstart").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_spec("quickstart").name == "mine"


def test_info_and_grid_take_quickstart_by_name_anywhere(tmp_path):
    """In a folder with no specs: info counts it, grid plans it into results/quickstart/ under that folder."""
    by_name = run_scaler("info", "quickstart", "--json", cwd=tmp_path).stdout
    assert by_name == run_scaler("info", str(QUICKSTART), "--json", cwd=tmp_path).stdout
    run_scaler("grid", "quickstart", "--dataset", "digits", "--limit", "0", "--quiet", cwd=tmp_path)
    recorded = yaml.safe_load((tmp_path / "results" / "quickstart" / "run.yaml").read_text(encoding="utf-8"))
    assert recorded["settings"]["base_path"] == "quickstart"
    assert recorded["settings"]["base"] == load_spec(QUICKSTART).to_dict()

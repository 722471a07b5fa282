"""Candidates, grid settings and proxies (no training here)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _specs import TINY_YAML as TINY

from scaler.errors import ScalerError
from scaler.search import Candidate, Range, SearchConfig, candidates, load_grid_settings, plan_trials, proxy_spec
from scaler.spec import load_spec


def test_range_values_are_exact_grid_points():
    assert Range(min=1.0, max=1.4).values(0.05) == [1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.35, 1.4]
    assert Range.model_validate([1.0, 1.2]).values(0.1) == [1.0, 1.1, 1.2]
    with pytest.raises(ValueError):
        Range.model_validate([1.3, 1.0])


def test_solve_mode_candidates_lie_exactly_on_the_constraint():
    cfg = SearchConfig()
    cands = candidates(cfg)
    kinds = [c.kind for c in cands]
    assert kinds[:4] == ["base", "depth", "width", "resolution"]
    assert cands[1] == Candidate("depth", 2.0, 1.0, 1.0, 1.0)
    assert cands[2].beta == pytest.approx(math.sqrt(2)) and cands[3].gamma == pytest.approx(math.sqrt(2))
    comp = [c for c in cands if c.kind == "compound"]
    assert len(comp) == 37
    for c in comp:
        assert c.alpha * c.beta**2 * c.gamma**2 == pytest.approx(2.0, rel=1e-9)
        assert 1.0 <= c.alpha <= 2.0 and 1.0 <= c.beta <= 1.4 and 1.0 <= c.gamma <= 1.4
        assert sum(abs(m - 1) < 1e-9 for m in (c.alpha, c.beta, c.gamma)) < 2
    assert len({c.key for c in cands}) == len(cands)
    assert any(c.beta == 1.1 and c.gamma == 1.15 for c in comp)  # the paper's beta, gamma; alpha solved


def test_filter_mode_reaches_the_papers_coefficients():
    cfg = SearchConfig(mode="filter", step=0.05, tolerance=0.05)
    comp = [(c.alpha, c.beta, c.gamma) for c in candidates(cfg) if c.kind == "compound"]
    assert (1.2, 1.1, 1.15) in comp
    for a, b, g in comp:
        assert abs(a * b * b * g * g / 2 - 1) <= 0.05 + 1e-12
    assert (1.2, 1.1, 1.15) not in [(c.alpha, c.beta, c.gamma) for c in
                                    candidates(SearchConfig(mode="filter", tolerance=0.03))]


def test_flops_factor_and_phi_set_the_baselines():
    cands = candidates(SearchConfig(flops_factor=3.0, phi=2.0, step=0.1))
    depth = next(c for c in cands if c.kind == "depth")
    assert (depth.alpha, depth.phi) == (3.0, 2.0)
    for c in cands:
        if c.kind == "compound":
            assert c.alpha * c.beta**2 * c.gamma**2 == pytest.approx(3.0)


def test_grid_settings_from_the_spec_file_and_flags(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "search: {step: 0.2, beta: [1.0, 1.2]}\nproxy: {dataset: digits, epochs: 3}\n")
    s = load_grid_settings(path, {"proxy.epochs": 7, "proxy.subset": 100})
    assert s.search.step == 0.2 and s.search.beta.max == 1.2
    assert (s.proxy.epochs, s.proxy.subset, s.proxy.dataset) == (7, 100, "digits")
    assert s.base == load_spec(path)


@pytest.mark.parametrize(("extra", "where", "message"), [
    ("search: {step: -1}\n", ":9:16: search.step:", "greater than 0"),
    ("search:\n  mode: grid\n", ":10:9: search.mode:", "'solve' or 'filter'"),
    ("proxy:\n  epochs: two\n", ":10:11: proxy.epochs:", "valid integer"),
    ("proxy:\n  lr_typo: 1\n", ":10:3: proxy.lr_typo:", "unknown field"),
    ("search: [1, 2]\n", ":9:9: search:", "expected a mapping"),
])
def test_bad_grid_settings_name_file_line_and_field(tmp_path: Path, extra: str, where: str, message: str):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + extra)
    with pytest.raises(ScalerError) as err:
        load_grid_settings(path)
    text = str(err.value)
    assert text.startswith(str(path) + where), text
    assert message in text


def test_proxy_takes_the_datasets_classes_and_channels(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "proxy: {width: 2.0, resolution: 24, dropout: 0.0}\n")
    s = load_grid_settings(path)
    proxy = proxy_spec(s.base, s.proxy, num_classes=7, in_channels=1)
    assert (proxy.num_classes, proxy.in_channels, proxy.resolution, proxy.dropout) == (7, 1, 24, 0.0)
    assert proxy.stem.channels == 16 and proxy.stages[1].channels == 32


def test_trials_are_seed_major_with_real_costs(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.2]}\nproxy: {seeds: 2}\n")
    s = load_grid_settings(path)
    trials = plan_trials(s, num_classes=10, in_channels=1)
    ids = [t.trial_id for t in trials]
    assert ids == ["base-s0", "depth-s0", "width-s0", "resolution-s0", "a1.389-b1.000-g1.200-s0",
                   "a1.389-b1.200-g1.000-s0", "base-s1", "depth-s1", "width-s1", "resolution-s1",
                   "a1.389-b1.000-g1.200-s1", "a1.389-b1.200-g1.000-s1"]
    assert trials[0].image_size == max(t.spec["resolution"] for t in trials) == 24

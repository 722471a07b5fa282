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


def test_match_flops_trials_record_the_gamma_used(tmp_path: Path):
    from scaler.cost import match_resolution
    from scaler.flops import complexity
    from scaler.scaling import compound
    from scaler.search import trial_row

    p = tmp_path / "tiny.yaml"
    p.write_text(TINY + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.4], match_flops: true}\n")
    assert [r.candidate.kind for r in plan_trials(load_grid_settings(p), 10, 1)][:4] == \
        ["base", "depth", "width", "resolution"]
    settings = load_grid_settings(p)
    proxy = proxy_spec(settings.base, settings.proxy, 10, 1)
    rows = [trial_row(t) for t in plan_trials(settings, 10, 1)]
    assert rows[0]["kind"] == "base" and rows[0]["gamma_used"] == 1.0
    assert [(r["kind"], r["resolution"]) for r in rows[1:3]] == [("depth", 16), ("width", 16)]  # one-dimensional
    for r in rows[3:]:
        nominal = compound(proxy, r["alpha"], r["beta"], r["gamma"], r["phi"])
        assert r["resolution"] == match_resolution(nominal, 2 * complexity(proxy).flops)
        assert r["gamma_used"] == pytest.approx((r["resolution"] / 16) ** (1 / r["phi"]), abs=1e-6)
        assert r["blocks"] == nominal.blocks  # depth and width are the candidate's own
    assert any(r["resolution"] != compound(proxy, r["alpha"], r["beta"], r["gamma"], 1).resolution for r in rows[3:])


def test_ray_resources_per_trial():
    from scaler.ray_executor import RayOptions, trial_resources

    cpu_box, gpu_box = {"CPU": 8.0}, {"CPU": 16.0, "GPU": 4.0}
    assert trial_resources([cpu_box], RayOptions(), "auto") == (8.0, 0.0)  # a whole node: threads as local
    assert trial_resources([{"GPU": 1.0}, cpu_box], RayOptions(), "auto") == (8.0, 0.0)  # CPU-less head ignored
    assert trial_resources([gpu_box], RayOptions(), "auto") == (4.0, 1.0)  # its CPUs per GPU: 4 trials at once
    assert trial_resources([gpu_box], RayOptions(), "cpu") == (16.0, 0.0)  # --device cpu takes no GPU
    assert trial_resources([cpu_box], RayOptions(cpus_per_trial=2), "auto") == (2.0, 0.0)
    with pytest.raises(ScalerError, match="no node of the Ray cluster has 8 CPU"):
        trial_resources([{"CPU": 4.0}], RayOptions(cpus_per_trial=8), "auto")
    with pytest.raises(ScalerError, match=r"no node of the Ray cluster has 1 CPU.* and 1 GPU.*largest: 8 CPUs, 0"):
        trial_resources([cpu_box], RayOptions(gpus_per_trial=1), "auto")
    with pytest.raises(ScalerError, match="--device cuda"):
        trial_resources([cpu_box], RayOptions(), "cuda")

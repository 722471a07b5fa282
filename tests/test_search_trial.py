"""Candidates, grid settings and proxies (no training here)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _specs import TINY_YAML as TINY

from scaler.arch.flops import complexity
from scaler.catalog import load_spec
from scaler.config import Range, SearchConfig
from scaler.errors import ScalerError
from scaler.search.candidates import Candidate, candidates, proxy_spec
from scaler.search.grid import confirm_trials
from scaler.search.settings import load_grid_settings
from scaler.search.trial import plan_trials
from scaler.spec import Spec


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


QUICKSTART = Path(__file__).parents[1] / "specs" / "quickstart.yaml"


@pytest.mark.parametrize("match", [False, True])
def test_downward_candidates_lie_on_the_constraint_and_record_what_they_really_cost(match: bool):
    """phi = -1 shrinks every candidate towards half the base's FLOPs: the compound candidates keep
    alpha * beta^2 * gamma^2 = 2 and train at alpha^-1, beta^-1, gamma^-1; the baselines are the same factor in one
    dimension. Rounding on the quickstart's 9-block, 14 px proxy keeps the single-dimension members at 0.62-0.66x
    of the base instead of 0.5x (with --match-flops the resolution-only member stops at 9 px, the smallest input
    this network runs on), and every row says so."""
    from scaler.config import ProxyConfig

    trials = plan_trials(load_spec(QUICKSTART), SearchConfig(phi=-1, step=0.1, match_flops=match),
                         ProxyConfig(dataset="fashion", seeds=1), 10, 1)
    rows = {t.candidate.key: (t.candidate, t.row()) for t in trials}
    assert rows["base"][1].flops == 1_849_504
    for c, r in rows.values():
        if c.kind == "compound":
            assert c.phi == -1 and c.alpha * c.beta**2 * c.gamma**2 == pytest.approx(2.0)
            assert (r.depth, r.width) == (round(1 / c.alpha, 6), round(1 / c.beta, 6))
    baselines = {k: (rows[k][1].flops, rows[k][1].resolution, rows[k][1].flops_ratio)
                 for k in ("depth", "width", "resolution")}
    resolution = (1_154_784, 9, 0.624375) if match else (1_184_576, 10, 0.640483)
    assert baselines == {"depth": (1_200_704, 14, 0.649203), "width": (1_215_664, 14, 0.657292),
                         "resolution": resolution}
    assert (rows["depth"][1].depth_real, rows["width"][1].width_real) == (0.666667, 0.75)  # 6 of 9 blocks; 3/4
    # the real multiplier per unit of phi, as for phi > 0: (input / base input) ** (1 / phi)
    assert rows["resolution"][1].gamma_used == round((resolution[1] / 14) ** -1, 6)
    ratios = [r.flops_ratio for c, r in rows.values() if c.kind == "compound"]
    assert (min(ratios), max(ratios)) == ((0.449651, 0.577599) if match else (0.478156, 0.810656))


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
    ("proxy:\n  lr_typo: 1\n", ":10:3: proxy:", "unknown field 'lr_typo'"),
    ("search: [1, 2]\n", ":9:9: search:", "expected a mapping"),
    ("search: {phi: 0}\n", ":9:15: search.phi:", "phi 0 is the base itself: search at phi 1 to grow it, or at phi -1"),
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
    trials = plan_trials(s.base, s.search, s.proxy, num_classes=10, in_channels=1)
    ids = [t.trial_id for t in trials]
    assert ids == ["base-s0", "depth-s0", "width-s0", "resolution-s0", "a1.389-b1.000-g1.200-s0",
                   "a1.389-b1.200-g1.000-s0", "base-s1", "depth-s1", "width-s1", "resolution-s1",
                   "a1.389-b1.000-g1.200-s1", "a1.389-b1.200-g1.000-s1"]
    assert trials[0].image_size == 24  # the largest input of the plan: resolution-only, 16 x sqrt(2) -> 24 px


def test_match_flops_trials_record_the_gamma_used(tmp_path: Path):

    p = tmp_path / "tiny.yaml"
    p.write_text(TINY + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.4], match_flops: true}\n")
    s = load_grid_settings(p)
    trials = plan_trials(s.base, s.search, s.proxy, 10, 1)
    rows = [t.row() for t in trials]
    assert [r.activations for r in rows] == [complexity(Spec.model_validate(t.spec)).activations for t in trials]
    # (id, input px, gamma used, blocks, real FLOPs ratio). Depth- and width-only keep 16 px (one-dimensional);
    # resolution-only is matched too (24 px, x2.24 is closer to 2 than 20 px); the wider, deeper a1.389-b1.2 has
    # to shrink its input to 12 px; a1.02's ceil rounding adds a block to each stage (3 -> 5 blocks).
    assert [(r.trial_id, r.resolution, r.gamma_used, r.blocks, r.flops_ratio) for r in rows] == [
        ("base-s0", 16, 1.0, 3, 1.0),
        ("depth-s0", 16, 1.0, 6, 1.886918),
        ("width-s0", 16, 1.0, 3, 2.563747),
        ("resolution-s0", 24, 1.5, 3, 2.236142),
        ("a1.389-b1.000-g1.200-s0", 20, 1.25, 5, 2.364468),
        ("a1.389-b1.200-g1.000-s0", 12, 0.75, 5, 2.106707),
    ]
    # a1.020-b1.000-g1.400 matched to 20 px is the very network of a1.389-b1.000-g1.200: planned once
    assert rows[4].aliases == "a1.020-b1.000-g1.400"


def test_candidates_that_round_to_one_network_are_planned_once():
    s = load_grid_settings(Path(__file__).parents[1] / "specs" / "quickstart.yaml")
    trials = plan_trials(s.base, s.search, s.proxy, num_classes=10, in_channels=1)
    assert len(candidates(s.search)) == 15 and len(trials) == 13
    assert {t.trial_id: t.aliases for t in trials if t.aliases} == {
        "width-s0": ("a1.020-b1.400-g1.000",), "resolution-s0": ("a1.020-b1.000-g1.400",)}


def _rows(trials, accuracy: dict[str, float]) -> dict[str, dict[str, str]]:
    return {t.trial_id: {"trial_id": t.trial_id, "status": "ok", "flops": "100",
                         "accuracy": str(accuracy[t.candidate.key])} for t in trials}


def test_the_confirmation_round_retrains_the_base_and_the_top_candidates(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.2]}\n")
    s = load_grid_settings(path)
    plan = plan_trials(s.base, s.search, s.proxy, num_classes=10, in_channels=1)
    acc = {"base": 0.5, "depth": 0.6, "width": 0.7, "resolution": 0.65, "a1.389-b1.000-g1.200": 0.7,
           "a1.389-b1.200-g1.000": 0.9}
    extra = confirm_trials(plan, _rows(plan, acc), top=2, seeds=2)
    # width and a1.389-b1.000-g1.200 tie at 0.7 and cost the same: the name decides, never the row order
    assert [t.trial_id for t in extra] == ["base-s1", "a1.389-b1.200-g1.000-s1", "a1.389-b1.000-g1.200-s1",
                                           "base-s2", "a1.389-b1.200-g1.000-s2", "a1.389-b1.000-g1.200-s2"]
    assert extra[1].spec == plan[5].spec and extra[1].seed == 1
    assert confirm_trials(plan, dict(reversed(_rows(plan, acc).items())), top=2, seeds=2) == extra
    assert confirm_trials(plan, _rows(plan[:-1], acc), top=2, seeds=2) == []  # the grid is not finished
    assert confirm_trials(plan, _rows(plan, acc), top=0, seeds=2) == []


def test_ray_resources_per_trial():
    from scaler.search.executors.ray import RayOptions, trial_resources

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


def test_an_empty_plan_is_a_one_line_error(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    # no (alpha, beta, gamma) with alpha <= 1.1 lies on alpha * beta^2 * gamma^2 = 2 inside these ranges
    path.write_text(TINY + "search: {baselines: false, alpha: [1.0, 1.1], beta: [1.0, 1.1], gamma: [1.0, 1.1]}\n")
    s = load_grid_settings(path)
    with pytest.raises(ScalerError, match="no candidate to train"):
        plan_trials(s.base, s.search, s.proxy, 10, 1)


def test_a_seed_offset_gives_new_trials_and_its_confirmation_round_follows_it(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + "search: {step: 0.2, beta: [1.0, 1.2], gamma: [1.0, 1.2]}\nproxy: {seed_offset: 100}\n")
    s = load_grid_settings(path)
    plan = plan_trials(s.base, s.search, s.proxy, num_classes=10, in_channels=1)
    assert {t.seed for t in plan} == {100} and plan[0].trial_id == "base-s100"
    acc = {t.candidate.key: 0.5 for t in plan}
    extra = confirm_trials(plan, _rows(plan, acc), top=1, seeds=2)
    assert [t.trial_id for t in extra] == ["base-s101", "a1.389-b1.000-g1.200-s101", "base-s102",
                                           "a1.389-b1.000-g1.200-s102"]


def test_inputs_larger_than_the_data_are_named_as_upsampled(tmp_path: Path):
    from scaler.search.trial import upsampling_note

    s = load_grid_settings(Path(__file__).parents[1] / "specs" / "quickstart.yaml")
    plan = plan_trials(s.base, s.search, s.proxy, num_classes=10, in_channels=1)
    assert upsampling_note(plan, native=28) is None  # the 14 px quickstart grows to 20 px: every pixel is real
    assert upsampling_note(plan, native=17) == (
        "note: the data's images are 17 px; a1.183-b1.000-g1.300 (18 px), resolution (20 px) train on upsampled "
        "images: their extra resolution adds pixels but no information")

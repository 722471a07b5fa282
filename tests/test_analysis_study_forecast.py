"""A study's forecast: from study.csv to forecast.csv, its back-test, and the targets the study plans."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _rows import append_row
from _specs import TINY

from scaler.analysis.study_forecast import (
    Target,
    current_forecast,
    family_accuracy,
    read_forecast,
    study_forecast,
    study_points,
    write_forecast,
)
from scaler.config import ProxyConfig
from scaler.errors import ScalerError
from scaler.results import RunDir
from scaler.search.candidates import Candidate, candidate_spec, proxy_spec
from scaler.search.study import STUDY_COLUMNS, forecast_targets, same_as_compound
from scaler.search.trial import make_trials
from scaler.spec import Spec

BASE_FLOPS = 1_000_000
# error = a + b (FLOPs / FLOPs_0)^-c, c shared
TRUTH = {"compound": (0.08, 0.06), "width": (0.11, 0.03)}  # a + b: the shared base's error
C = 0.7


def _true_error(strategy: str, phi: float) -> float:
    a, b = TRUTH[strategy]
    return a + b * (2.0**phi) ** -C


def _study(tmp_path: Path, max_phi: int, noise: float = 0.0, seed: int = 0,
           flat: tuple[str, ...] = ()) -> Path:
    """study.csv of strategies that follow TRUTH exactly (plus ``noise``) at FLOPs = 2^phi x the base, and
    ``flat`` ones whose accuracy falls with FLOPs."""
    rng = np.random.default_rng(seed)
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = RunDir(tmp_path, csv_name="study.csv", columns=STUDY_COLUMNS)
    rows = [("base", 0, 1 - 0.14)]
    for phi in range(1, max_phi + 1):
        rows += [(s, phi, 1 - _true_error(s, phi)) for s in TRUTH]
        rows += [(s, phi, 0.86 - 0.01 * phi) for s in flat]
    for kind, phi, acc in rows:
        for s in (1000, 1001):
            append_row(run, {"trial_id": f"{kind}-phi{phi}-s{s}", "kind": kind, "alpha": 1, "beta": 1, "gamma": 1,
                             "phi": phi, "flops": BASE_FLOPS * 2**phi, "accuracy": acc + rng.normal(0, noise),
                             "status": "ok", "seed": s, "strategy": kind})
    return run.csv


def _targets(*phis: int) -> list[Target]:
    return [Target(s, phi, BASE_FLOPS * 2**phi, 32) for phi in phis for s in TRUTH]


def test_points_put_the_shared_base_under_every_strategy(tmp_path: Path):
    points, base = study_points(_study(tmp_path, 2))
    assert base == BASE_FLOPS and sorted(points) == ["compound", "width"]
    assert sorted(points["width"]) == [0.0, 1.0, 2.0]
    assert points["width"][0.0].errors == pytest.approx((0.14, 0.14))
    assert points["width"][2.0].mean == pytest.approx(_true_error("width", 2))


def test_exact_data_forecast_and_back_test_hit_the_truth(tmp_path: Path):
    result = study_forecast(_study(tmp_path, 3), _targets(4, 5), resamples=20)
    made = {(r.strategy, r.phi): r for r in result.of("forecast")}
    assert sorted(made) == [("compound", 4), ("compound", 5), ("width", 4), ("width", 5)]
    for (s, phi), r in made.items():
        assert r.accuracy == pytest.approx(1 - _true_error(s, phi), abs=1e-4)
        assert r.exponent == pytest.approx(C, abs=1e-3) and r.flops_ratio == 2.0**phi and r.level == 0.9
    tests = {r.strategy: r for r in result.of("back-test")}
    assert sorted(tests) == ["compound", "width"]
    for s, r in tests.items():  # phi 3 predicted from phi 0..2
        assert r.phi == 3 and r.measured == pytest.approx(1 - _true_error(s, 3))
        assert r.accuracy == pytest.approx(r.measured, abs=1e-4)


def test_noisy_forecast_is_close_and_its_back_test_is_judged(tmp_path: Path):
    result = study_forecast(_study(tmp_path, 3, noise=0.003, seed=4), _targets(4), resamples=100)
    for r in result.of("forecast"):
        assert r.low < r.accuracy < r.high
        assert r.accuracy == pytest.approx(1 - _true_error(r.strategy, 4), abs=0.01)
    for r in result.of("back-test"):
        assert r.measured is not None and r.covered == (r.low <= r.measured <= r.high)


def test_strategies_that_do_not_rise_or_have_too_few_points_say_why(tmp_path: Path):
    result = study_forecast(_study(tmp_path, 3, flat=("depth",)), [*_targets(4), Target("depth", 4, 1.6e7, 32)],
                            resamples=10)
    assert {r.strategy for r in result.of("forecast")} == {"compound", "width"}
    assert [(r.strategy, r.note) for r in result.of("skipped")] == [("depth", "accuracy does not rise with FLOPs")]
    short = study_forecast(_study(tmp_path / "short", 1), _targets(2), resamples=10)
    assert short.of("forecast") == []
    assert {r.note for r in short.of("skipped")} == {"2 measured phi (needs 3)"}
    assert {r.note for r in short.of("back-test")} == {"no back-test: without phi 1, 1 measured phi (needs 3)"}


def test_forecast_csv_round_trips_and_a_bad_one_names_its_line(tmp_path: Path):
    result = study_forecast(_study(tmp_path, 3, flat=("depth",)), _targets(4), resamples=10)
    path = write_forecast(tmp_path / "forecast.csv", result)
    back = read_forecast(path)
    assert [(r.row, r.strategy, r.phi, r.note) for r in back.rows] == [
        (r.row, r.strategy, r.phi, r.note) for r in result.rows]
    assert [r.accuracy for r in back.rows] == pytest.approx([r.accuracy for r in result.rows], abs=1e-6)
    assert path.read_text().splitlines()[1].startswith("forecast,compound,4,16000000,16,32,")
    path.write_text(path.read_text().replace(",16000000,", ",lots,", 1))
    with pytest.raises(ScalerError, match=r"forecast\.csv: line 2: not a forecast row"):
        read_forecast(path)


def test_a_study_without_a_finished_base_cannot_forecast(tmp_path: Path):
    run = RunDir(tmp_path, csv_name="study.csv", columns=STUDY_COLUMNS)
    append_row(run, {"trial_id": "width-phi1-s1000", "kind": "width", "alpha": 1, "beta": 1.4, "gamma": 1,
                     "phi": 1, "flops": 2, "accuracy": 0.8, "status": "ok", "seed": 1000, "strategy": "width"})
    with pytest.raises(ScalerError, match="no finished base trial"):
        study_forecast(run.csv, [])


def test_targets_cost_what_the_study_would_record_for_them():
    base = proxy_spec(Spec.model_validate(TINY), ProxyConfig(dataset="digits"), 10, 1)
    coefficients = (1.2, 1.1, 1.15)
    targets = forecast_targets(base, coefficients, 2.0, False, 0, 2, ("compound", "width"))
    assert [(t[0], t[1]) for t in targets] == [("compound", 1.0), ("width", 1.0), ("compound", 2.0), ("width", 2.0)]
    for kind, phi, flops, resolution in targets:
        c = Candidate("compound", *coefficients, phi) if kind == "compound" else Candidate(
            "width", 1.0, 2**0.5, 1.0, phi)
        spec = candidate_spec(base, c)
        (trial,) = make_trials(base, [(c, spec, "x")], ProxyConfig(dataset="digits", seeds=1))
        row = trial.row()
        assert (flops, resolution) == (row.flops, row.resolution)


def test_a_strategy_that_builds_the_compound_networks_is_trained_once():
    base = proxy_spec(Spec.model_validate(TINY), ProxyConfig(dataset="digits"), 10, 1)
    members = []
    for phi in (1.0, 2.0):
        for c in (Candidate("compound", 1.0, 1.0, 2**0.5, phi), Candidate("resolution", 1.0, 1.0, 2**0.5, phi),
                  Candidate("width", 1.0, 2**0.5, 1.0, phi)):
            members.append((c, candidate_spec(base, c), f"{c.kind}-phi{phi:g}"))
    assert same_as_compound(members) == {"resolution": [1.0, 2.0]}
    assert same_as_compound([m for m in members if m[0].kind != "compound"]) == {}


def test_a_network_with_one_seed_gets_no_interval_and_says_so(tmp_path: Path):
    csv_path = _study(tmp_path, 3)
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(line for line in lines if "width-phi2-s1001" not in line) + "\n")
    result = study_forecast(csv_path, _targets(4), resamples=10)
    assert {r.strategy for r in result.of("forecast")} == {"compound"}
    assert [r.note for r in result.of("skipped")] == [
        "a measured phi with one seed: no interval (train 2 seeds per network)"]


def test_targets_inside_the_measured_range_are_not_forecast(tmp_path: Path):
    result = study_forecast(_study(tmp_path, 3), _targets(2, 3, 4), resamples=10)
    assert sorted({r.phi for r in result.of("forecast")}) == [4]


def test_the_back_test_interval_also_carries_the_measured_means_seed_noise(tmp_path: Path):
    from scaler.analysis.forecast import forecast

    csv_path = _study(tmp_path, 3, noise=0.004, seed=2)
    result = study_forecast(csv_path, [], resamples=100)
    measured, _ = study_points(csv_path)
    for r in result.of("back-test"):
        train = {s: [q for phi, q in p.items() if phi != 3] for s, p in measured.items()}
        (fit_only,) = [f for f in forecast(train, {r.strategy: [r.flops]}, resamples=100)[0]]
        assert r.high - r.low > (fit_only.high - fit_only.low) * 1.05  # wider than the fit's own interval
        assert r.low < r.accuracy < r.high


def test_the_shared_base_is_one_draw_in_every_strategy():
    from scaler.analysis.forecast import Point, _resampled

    base = Point(1.0, (0.10, 0.20, 0.30))
    data = {"a": [base, Point(2.0, (0.05, 0.06, 0.07))], "b": [base, Point(2.0, (0.08, 0.09, 0.1))]}
    rng = np.random.default_rng(0)
    for _ in range(20):
        drawn = _resampled(data, rng)
        assert drawn["a"][0] is drawn["b"][0]


def _blank_accuracy(text: str) -> str:
    lines = text.splitlines()
    cells = lines[1].split(",")
    cells[6] = ""  # the first forecast row's accuracy
    return "\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n"


@pytest.mark.parametrize(("edit", "message"), [
    (_blank_accuracy, "line 2: a forecast row needs accuracy"),
    (lambda t: t.replace("forecast,compound", "guess,compound", 1), "line 2: row must be one of"),
    (lambda t: t.replace(",16000000,", ",lots,", 1), "line 2: not a forecast row"),
])
def test_a_bad_forecast_file_is_one_line_naming_the_line(tmp_path: Path, edit, message: str):
    result = study_forecast(_study(tmp_path, 3), _targets(4), resamples=10)
    path = write_forecast(tmp_path / "forecast.csv", result)
    path.write_text(edit(path.read_text()))
    with pytest.raises(ScalerError, match=re.escape(message)):
        read_forecast(path)


def _grid_with_study(tmp_path: Path, match_flops: bool = False) -> Path:
    """A grid directory whose study (of coefficients 1.2, 1.1, 1.15) has a current forecast."""
    import yaml

    csv_path = _study(tmp_path, 3)
    settings = {"coefficients": {"alpha": 1.2, "beta": 1.1, "gamma": 1.15}, "max_phi": 3, "match_flops": match_flops}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({"schema_version": 2, "settings": settings}))
    write_forecast(tmp_path / "forecast.csv", study_forecast(csv_path, _targets(4), resamples=10))
    return tmp_path


def test_family_accuracy_is_the_studys_own_family_only(tmp_path: Path):
    grid = _grid_with_study(tmp_path / "grid")
    acc = family_accuracy(grid, (1.2, 1.1, 1.15))
    assert sorted(acc) == [0, 1, 2, 3, 4] and acc[3]["measured"] and not acc[4]["measured"]
    assert acc[3]["accuracy"] == pytest.approx(1 - _true_error("compound", 3))
    assert family_accuracy(grid, (1.2, 1.1, 1.16)) == {}  # other coefficients: another family
    assert family_accuracy(_grid_with_study(tmp_path / "match", match_flops=True), (1.2, 1.1, 1.15)) == {}


def test_a_forecast_older_than_the_studys_trials_is_stale(tmp_path: Path):
    grid = _grid_with_study(tmp_path)
    assert current_forecast(grid) is not None
    run = RunDir(grid, csv_name="study.csv", columns=STUDY_COLUMNS)
    append_row(run, {"trial_id": "compound-phi4-s1000", "kind": "compound", "alpha": 1.2, "beta": 1.1,
                     "gamma": 1.15, "phi": 4, "flops": BASE_FLOPS * 16, "accuracy": 0.9, "status": "ok",
                     "seed": 1000, "strategy": "compound"})
    assert current_forecast(grid) is None
    assert not any(not v["measured"] for v in family_accuracy(grid, (1.2, 1.1, 1.15)).values())

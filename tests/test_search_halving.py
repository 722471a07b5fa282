"""Successive halving: rung arithmetic, promotion with ties at the cut, baselines carried to the last rung,
checkpoints handed from rung to rung, resume in the middle of a rung, and the racing round. The driver runs the
real plan; a deterministic fake executor stands in for training (known accuracies)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _specs import TINY_YAML, fake_trial

from scaler.results import RunDir, read_results
from scaler.search.candidates import BASE
from scaler.search.driver import run_grid
from scaler.search.halving import more_seeds, promote, race_members, rung_budgets
from scaler.search.settings import load_grid_settings
from scaler.search.trial import Trial, plan_trials
from scaler.ui.progress import PlainUI

SPEC = TINY_YAML + """\
dropout: 0.0
drop_path: 0.0
search: {step: 0.05, beta: [1.0, 1.2], gamma: [1.0, 1.2], strategy: halving, eta: 3, rungs: 2, max_seeds: 3}
proxy: {dataset: digits, epochs: 9}
"""


def trial(kind: str, a: float = 1.0, b: float = 1.0, g: float = 1.0, seed: int = 0) -> Trial:
    return fake_trial(kind, a, b, g, seed)


def test_rung_budgets_divide_the_full_budget_by_eta():
    assert rung_budgets(9, 3, 2) == [1, 3, 9]
    assert rung_budgets(5, 3, 2) == pytest.approx([5 / 9, 5 / 3, 5])  # under one epoch: a fraction of the data
    assert rung_budgets(8, 2, 3) == [1, 2, 4, 8]
    assert rung_budgets(5, 3, 1) == pytest.approx([5 / 3, 5])


def test_promote_keeps_the_top_third_of_compound_ties_at_the_cut_and_every_baseline():
    compound = [trial("compound", 1 + i / 10, 1.1, 1.1) for i in range(7)]
    forced = [trial("base"), trial("depth", 2), trial("width", 1, 1.4), trial("resolution", 1, 1, 1.4)]
    trials = forced + compound
    acc = [0.90, 0.80, 0.70, 0.70, 0.60, 0.50, 0.40]  # ceil(7/3) = 3; the 3rd and 4th tie at the cut
    rows = {t.trial_id: {"status": "ok", "accuracy": str(a)} for t, a in zip(compound, acc, strict=True)}
    rows |= {t.trial_id: {"status": "ok", "accuracy": "0.1"} for t in forced[:3]}  # worst of all: still go on
    rows[forced[3].trial_id] = {"status": "failed", "accuracy": ""}  # even failed
    going = promote(trials, rows, eta=3)
    assert going == forced + compound[:4]
    # no tie: exactly the top three; a failed compound candidate counts in n but never goes on
    rows[compound[3].trial_id] = {"status": "ok", "accuracy": "0.65"}
    rows[compound[0].trial_id] = {"status": "failed", "accuracy": ""}
    assert promote(trials, rows, eta=3) == forced + compound[1:4]
    # eta 2 of 7: four go on; and promotion ranks by the mean over a candidate's seeds
    assert len(promote(compound, {t.trial_id: {"status": "ok", "accuracy": "0.5"} for t in compound}, 2)) == 7


def test_more_seeds_brings_networks_to_the_count_from_the_first_seed():
    base, depth = trial("base", seed=4), trial("depth", 2, seed=4)
    base = dataclasses.replace(base, rung=2, resume=b"x", checkpoint=True)
    extra = more_seeds([base, depth], [BASE.key, "nope"], 3)
    assert [t.trial_id for t in extra] == ["base-s5-r2", "base-s6-r2"]
    assert all(t.resume is None and not t.checkpoint and t.rung == 2 for t in extra)
    assert more_seeds([base, *extra], [BASE.key], 3) == []


# -- the driver, with a fake executor ----------------------------------------------------------------------------


class FakeExecutor:
    """Known accuracies: each candidate's ``quality`` plus a per-rung shift, with a small seed effect. Records
    what it was asked to run; returns a checkpoint when asked for one; stops (as if killed) after ``die_after``."""

    device = "cpu"

    def __init__(self, quality: dict[str, float], die_after: int | None = None):
        self.quality, self.die_after = quality, die_after
        self.ran: list[Trial] = []

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        return "fake", {"executor": "fake"}

    def run(self, trials: Sequence[Trial], report: Any = None,
            data: Any = None) -> Iterator[tuple[Trial, Any, dict[str, Any]]]:
        for t in trials:
            if self.die_after is not None and len(self.ran) >= self.die_after:
                raise KeyboardInterrupt
            self.ran.append(t)
            acc = self.quality[t.candidate.key] + 0.01 * t.rung + 0.001 * (t.seed % 3)
            row = dataclasses.replace(t.row(), status="ok", accuracy=acc, train_seconds=1.0,
                                      test_accuracy=acc - 0.01 if t.final else float("nan"))
            record: dict[str, Any] = {"trial_id": t.trial_id}
            if t.checkpoint:
                record["checkpoint"] = f"after {t.trial_id}".encode()
            yield t, row, record


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    return load_grid_settings(spec)


def qualities(settings: Any, tmp_path: Path) -> dict[str, float]:
    """Every planned candidate's known quality: compound ones spread 0.50 .. 0.80 in plan order, the best two
    tied; the base 0.55, the baselines 0.60 .. 0.62."""
    keys = [t.candidate.key for t in plan_trials(settings.base, settings.search, settings.proxy, 10, 1)]
    compound = [k for k in keys if k.startswith("a")]
    q = {k: 0.50 + 0.3 * i / len(compound) for i, k in enumerate(compound)}
    q[compound[-2]] = q[compound[-1]]  # a tie at the top
    q |= {"base": 0.55, "depth": 0.60, "width": 0.61, "resolution": 0.62}
    return q


def test_halving_runs_rungs_carries_baselines_hands_checkpoints_on_and_races_the_tie_set(settings, tmp_path):
    quality = qualities(settings, tmp_path)
    compound = sorted((k for k in quality if k.startswith("a")), key=quality.get, reverse=True)
    fake = FakeExecutor(quality)
    out = run_grid(settings, tmp_path / "run", fake, PlainUI()).out
    by_rung: dict[int, list[Trial]] = {}
    for t in fake.ran:
        by_rung.setdefault(t.rung, []).append(t)
    n = len(compound)
    assert n == 6
    r0 = {t.candidate.key for t in by_rung[0]}
    assert r0 == set(quality) and [t.budget for t in by_rung[0]] == [1.0] * len(r0)  # 9 / 3^2 epochs
    r1 = {t.candidate.key for t in by_rung[1]}
    top = -(-n // 3)
    assert r1 == {"base", "depth", "width", "resolution", *compound[:top]}
    assert all(t.budget == 3.0 and t.resume == f"after {t.trial_id[:-1]}0".encode() for t in by_rung[1])
    last = [t for t in by_rung[2] if t.seed == 0]
    assert -(-top // 3) == 1  # one goes on from rung 1, but the best two tie exactly at the cut: both do
    assert {t.candidate.key for t in last} == {"base", "depth", "width", "resolution", *compound[:2]}
    assert all(t.final and t.resume == f"after {t.trial_id[:-1]}1".encode() and not t.checkpoint for t in last)
    # the base has 3 seeds at the last rung (the noise); the race brings the tie set to 3 seeds, from scratch
    seeds = {(t.candidate.key, t.seed) for t in by_rung[2]}
    assert {("base", 1), ("base", 2)} <= seeds and all(t.resume is None for t in by_rung[2] if t.seed)
    rows = read_results(out)
    assert set(rows["rung"]) == {0, 1, 2} and rows.groupby("rung")["budget"].first().tolist() == [1, 3, 9]
    assert rows[rows["rung"] < 2]["test_accuracy"].isna().all()  # test only at the full budget
    assert rows[rows["rung"] == 2]["test_accuracy"].notna().all()
    assert rows["trial_id"].is_unique
    assert not (out / "checkpoints").exists()  # removed when the run completed
    raced = race_members(rows, [t.trial_id for t in last] + ["base-s1-r2", "base-s2-r2"])
    assert {k for k, s in seeds if s == 2} == set(raced)


def test_a_run_killed_mid_rung_resumes_where_it_stopped_and_continues_from_checkpoints(settings, tmp_path):
    quality = qualities(settings, tmp_path)
    whole = FakeExecutor(quality)
    run_grid(settings, tmp_path / "whole", whole, PlainUI(), keep_checkpoints=True)
    first_rung = sum(t.rung == 0 for t in whole.ran)
    killed = FakeExecutor(quality, die_after=first_rung + 2)  # two trials into rung 1
    with pytest.raises(KeyboardInterrupt):
        run_grid(settings, tmp_path / "cut", killed, PlainUI())
    assert len(RunDir(tmp_path / "cut").rows()) == first_rung + 2
    assert (tmp_path / "cut" / "checkpoints").exists()  # kept for the rest of the run
    resumed = FakeExecutor(quality)
    run_grid(settings, tmp_path / "cut", resumed, PlainUI())
    assert [t.trial_id for t in killed.ran + resumed.ran] == [t.trial_id for t in whole.ran]
    assert [t.resume for t in killed.ran + resumed.ran] == [t.resume for t in whole.ran]
    cols = ["trial_id", "rung", "budget", "accuracy", "seed"]
    assert read_results(tmp_path / "cut")[cols].equals(read_results(tmp_path / "whole")[cols])
    assert (tmp_path / "whole" / "checkpoints").exists()  # --keep-checkpoints
    # rerunning a complete run trains nothing
    again = FakeExecutor(quality)
    run_grid(settings, tmp_path / "cut", again, PlainUI())
    assert again.ran == []


def test_a_limit_stops_between_rungs_and_the_fit_reads_the_highest_rung(settings, tmp_path):
    quality = qualities(settings, tmp_path)
    fake = FakeExecutor(quality)
    run_grid(settings, tmp_path / "run", fake, PlainUI(), limit=len(quality) + 1)
    assert {t.rung for t in fake.ran} == {0, 1}
    from scaler.analysis.rungs import final_rung

    assert set(final_rung(read_results(tmp_path / "run"))["rung"]) == {1}
    from scaler.analysis.fit import fit_run
    from scaler.api.grids import _fit

    assert _fit(RunDir(tmp_path / "run")) is None  # rung 1 holds only the base so far: nothing to fit, no error
    run_grid(settings, tmp_path / "run", FakeExecutor(quality), PlainUI(), limit=5)  # rung 1 done
    fitted = fit_run(tmp_path / "run" / "results.csv")
    assert fitted.partial is not None
    assert fitted.partial.startswith("decided on rung 1 (3 of 9 epochs): the run has not reached the full budget")
    # the seeds of rung 0 decided the cuts: they may not change under a resumed halving run
    from scaler.errors import ScalerError

    more = dataclasses.replace(settings, proxy=settings.proxy.model_copy(update={"seeds": 2}))
    with pytest.raises(ScalerError, match=r"proxy\.seeds"):
        run_grid(more, tmp_path / "run", FakeExecutor(quality), PlainUI())


def test_a_run_begun_before_halving_existed_resumes_as_a_grid_and_refuses_halving(settings, tmp_path):
    import yaml

    from scaler.errors import ScalerError

    quality = qualities(settings, tmp_path)
    grid = dataclasses.replace(settings, search=settings.search.model_copy(update={"strategy": "grid"}))
    run_grid(grid, tmp_path / "old", FakeExecutor(quality), PlainUI(), limit=2)
    run_yaml = tmp_path / "old" / "run.yaml"
    data = yaml.safe_load(run_yaml.read_text())
    for key in ("strategy", "eta", "rungs", "max_seeds"):  # as an older scaler wrote it
        del data["settings"]["search"][key]
    run_yaml.write_text(yaml.safe_dump(data))
    with pytest.raises(ScalerError, match=r"was run as a grid, before successive halving became the default: add "
                       r"--strategy grid to resume it"):
        run_grid(settings, tmp_path / "old", FakeExecutor(quality), PlainUI())
    more = FakeExecutor(quality)
    run_grid(grid, tmp_path / "old", more, PlainUI(), limit=1)
    assert len(more.ran) == 1

"""The search seam: a strategy registered by name proposes batches from the run's history and the driver runs and
records them (resuming what is recorded, stopping at --limit); trials carry their row from planning, so nothing is
counted again after it; the executor trains on the data the driver loaded."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from _specs import TINY_YAML

from scaler.errors import ScalerError
from scaler.results import RunDir
from scaler.search import strategies
from scaler.search.driver import run_grid
from scaler.search.executors.inprocess import InProcessExecutor
from scaler.search.runner import run_plan
from scaler.search.settings import load_grid_settings
from scaler.search.strategy import Batch, Stepwise
from scaler.search.trial import Plan, Trial, plan_trials
from scaler.ui.progress import PlainUI

SPEC = TINY_YAML + """\
search: {step: 0.1, beta: [1.0, 1.2], gamma: [1.0, 1.2], strategy: STRATEGY}
proxy: {dataset: digits, epochs: 1, subset: 200}
"""


class Toy(Stepwise):
    """The base first; then, having seen its row, the plan's first compound candidate on seed 7; then done."""

    name = "toy"
    resumable = ()
    seen: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = list(plan.trials)

    def batches(self) -> Iterator[Batch]:
        base = next(t for t in self.plan if t.candidate.kind == "base")
        yield Batch((base,), "toy base", 1)
        Toy.seen.append(dict(self.rows[base.trial_id]))
        first = next(t for t in self.plan if t.candidate.kind == "compound")
        again = dataclasses.replace(first, seed=7, trial_id=f"{first.candidate.key}-s7")
        yield Batch((again,), "toy more", 2, note="toy: one more")


class Scripted:
    """Accuracy from the trial id's length; never trains, never counts (its rows are the trials' own)."""

    device = "cpu"

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.data: list[Any] = []

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        return "scripted", {"executor": "scripted"}

    def run(self, trials: Sequence[Trial], report: Any = None, data: Any = None) -> Iterator[tuple[Any, ...]]:
        for t in trials:
            self.ran.append(t.trial_id)
            self.data.append(data)
            row = t.row(self.device)
            row.status, row.accuracy, row.message = "ok", len(t.trial_id) / 100, ""
            yield t, row, {"trial_id": t.trial_id}


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(strategies.STRATEGIES, "toy", Toy)
    Toy.seen = []
    spec = tmp_path / "toy.yaml"
    spec.write_text(SPEC.replace("STRATEGY", "toy"))
    return spec


def test_a_registered_strategy_runs_through_the_driver_and_resumes(toy: Path, tmp_path: Path):
    settings = load_grid_settings(toy)
    first = Scripted()
    run_grid(settings, tmp_path / "run", first, PlainUI())
    compound = next(t for t in plan_trials(settings.base, settings.search, settings.proxy, 10, 1)
                    if t.candidate.kind == "compound")
    assert first.ran == ["base-s0", f"{compound.candidate.key}-s7"]
    assert Toy.seen[0]["status"] == "ok" and float(Toy.seen[0]["accuracy"]) == len("base-s0") / 100
    rows = RunDir(tmp_path / "run").rows()
    assert [r["trial_id"] for r in rows] == first.ran and rows[1]["seed"] == "7"
    again = Scripted()
    run_grid(settings, tmp_path / "run", again, PlainUI())  # both recorded: nothing to train
    assert again.ran == [] and len(Toy.seen) == 2


def test_the_driver_asks_no_further_batch_once_the_limit_is_spent(toy: Path, tmp_path: Path):
    settings = load_grid_settings(toy)
    ex = Scripted()
    outcome = run_grid(settings, tmp_path / "run", ex, PlainUI(), limit=1)
    assert ex.ran == ["base-s0"] and outcome.ran == 1
    run_grid(settings, tmp_path / "run", ex, PlainUI(), limit=1)  # the next command goes on
    assert len(ex.ran) == 2


def test_an_unknown_strategy_is_a_one_line_error_naming_file_line_and_field(tmp_path: Path):
    spec = tmp_path / "odd.yaml"
    spec.write_text(SPEC.replace("STRATEGY", "annealing"))
    with pytest.raises(ScalerError) as e:
        load_grid_settings(spec)
    assert e.value.field == "search.strategy" and "unknown strategy 'annealing': use one of" in e.value.message
    assert str(spec) in str(e.value.where) and ":" in str(e.value.where).removeprefix(str(spec))


def test_trials_carry_their_row_from_planning_so_nothing_counts_again(toy: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    settings = load_grid_settings(toy)
    plan = plan_trials(settings.base, settings.search, settings.proxy, 10, 1)

    def no_counting(*_: Any, **__: Any) -> Any:
        raise AssertionError("counted again after planning")

    monkeypatch.setattr("scaler.arch.flops.complexity", no_counting)
    monkeypatch.setattr("scaler.search.trial.complexity", no_counting)
    monkeypatch.setattr("scaler.search.trial.real_scale", no_counting)
    failed = plan[3].row("cuda", "worker died\nwhile training")
    assert (failed.flops, failed.params, failed.flops_ratio) == (plan[3].planned.flops, plan[3].planned.params,
                                                                 plan[3].planned.flops_ratio)
    assert failed.status == "failed" and failed.message == "worker died while training" and failed.device == "cuda"
    run = RunDir(tmp_path / "run")
    run.lock()
    try:  # recording, and checking recorded rows on resume, read the planned rows
        assert run_plan(run, plan, settings.to_dict(), Scripted(), PlainUI()) == (len(plan), 0)
        assert run_plan(run, plan, settings.to_dict(), Scripted(), PlainUI()) == (0, 0)
    finally:
        run.unlock()


def test_the_executor_trains_on_the_data_the_driver_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import scaler.search.driver as driver
    import scaler.search.worker as worker

    loads: list[str] = []
    real = worker.load_trial_data

    def counted(trial: Trial) -> Any:
        loads.append(trial.trial_id)
        return real(trial)

    monkeypatch.setattr(worker, "load_trial_data", counted)
    monkeypatch.setattr(driver, "load_trial_data", counted)
    spec = tmp_path / "grid.yaml"
    spec.write_text(SPEC.replace("STRATEGY", "grid"))
    run_grid(load_grid_settings(spec), tmp_path / "run", InProcessExecutor(), PlainUI(), limit=2)
    assert len(loads) == 1  # the driver's; the two trials trained on it
    assert [r["status"] for r in RunDir(tmp_path / "run").rows()] == ["ok", "ok"]

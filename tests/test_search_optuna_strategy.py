"""The Optuna strategy through the seam: proposals on the constraint with alpha solved and inside its range, the
base and baselines first, the same network trained once, the racing round, and a rerun that resumes the sampler's
study from its journal after an interruption. A scripted executor stands in for training (a known accuracy
surface over beta and gamma). CI installs the optuna extra and sets SCALER_REQUIRE_OPTUNA=1: these fail there
rather than skip."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _specs import TINY_YAML

from scaler.errors import ScalerError
from scaler.results import RunDir
from scaler.search.driver import run_grid
from scaler.search.settings import load_grid_settings
from scaler.search.trial import Trial
from scaler.ui.progress import PlainUI

if os.environ.get("SCALER_REQUIRE_OPTUNA") != "1":
    pytest.importorskip("optuna")

SPEC = TINY_YAML + """\
search: {alpha: [1.0, 2.0], beta: [1.0, 1.4], gamma: [1.0, 1.4], strategy: optuna, trials: TRIALS, max_seeds: 3,
         sampler: SAMPLER}
proxy: {dataset: digits, epochs: 2, subset: 200}
"""


class Surface:
    """Accuracy peaks at beta 1.1, gamma 1.2 with a small seed effect; stops as if killed after ``die_after``."""

    device = "cpu"

    def __init__(self, die_after: int | None = None) -> None:
        self.ran: list[Trial] = []
        self.die_after = die_after

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        return "surface", {"executor": "surface"}

    def run(self, trials: Sequence[Trial], report: Any = None, data: Any = None) -> Iterator[tuple[Any, ...]]:
        for t in trials:
            if self.die_after is not None and len(self.ran) >= self.die_after:
                raise KeyboardInterrupt
            self.ran.append(t)
            c = t.candidate
            acc = 0.9 - (c.beta - 1.1) ** 2 - (c.gamma - 1.2) ** 2 if c.kind == "compound" else 0.8
            row = t.row(self.device)
            row.status, row.accuracy, row.message = "ok", acc + 0.001 * (t.seed % 3), ""
            yield t, row, {"trial_id": t.trial_id}


def _settings(tmp_path: Path, trials: int = 10, sampler: str = "tpe") -> Any:
    spec = tmp_path / "optuna.yaml"
    spec.write_text(SPEC.replace("TRIALS", str(trials)).replace("SAMPLER", sampler))
    return load_grid_settings(spec)


def test_optuna_proposes_on_the_constraint_trains_each_network_once_and_races(tmp_path: Path):
    settings = _settings(tmp_path)
    ex = Surface()
    run_grid(settings, tmp_path / "run", ex, PlainUI())
    ids = [t.trial_id for t in ex.ran]
    assert len(ids) == len(set(ids))  # nothing trained twice
    assert ids[:4] == ["base-s0", "depth-s0", "width-s0", "resolution-s0"]
    compound = [t for t in ex.ran if t.candidate.kind == "compound" and t.seed == 0]
    assert 1 <= len(compound) <= 10  # proposals that round to a network trained already train nothing
    for t in compound:
        c = t.candidate
        assert c.alpha * c.beta**2 * c.gamma**2 == pytest.approx(2.0)
        assert 1.0 <= c.alpha <= 2.0 and 1.0 <= c.beta <= 1.4 and 1.0 <= c.gamma <= 1.4
    networks = {(t.planned.flops, t.planned.params, t.spec.resolution) for t in ex.ran if t.seed == 0}
    assert len(networks) == len([t for t in ex.ran if t.seed == 0])  # distinct networks
    raced = {t.candidate.key for t in ex.ran if t.seed > 0 and t.candidate.kind == "compound"}
    assert raced  # the race: the tie set (under the base's seed noise) gets seeds
    cuts = (tmp_path / "run" / "cuts.yaml").read_text()
    assert all(k in cuts for k in raced) and "race after 10 trials" in cuts
    assert (tmp_path / "run" / "optuna.journal").exists() and (tmp_path / "run" / "cuts.yaml").exists()
    proposed = _proposals(tmp_path / "run")
    assert len(proposed) == 10 and all(p.state.name == "COMPLETE" for p in proposed)


def test_optuna_resumes_its_study_after_an_interruption(tmp_path: Path):
    settings = _settings(tmp_path, trials=8)
    whole = Surface()
    run_grid(settings, tmp_path / "whole", whole, PlainUI())
    killed = Surface(die_after=7)  # the forced 6, and one proposal
    with pytest.raises(KeyboardInterrupt):
        run_grid(settings, tmp_path / "run", killed, PlainUI())
    resumed = Surface()
    run_grid(settings, tmp_path / "run", resumed, PlainUI())
    ids = [t.trial_id for t in killed.ran + resumed.ran]
    assert len(ids) == len(set(ids))  # what the first run recorded is not trained again
    assert {t.trial_id for t in killed.ran} <= {r["trial_id"] for r in RunDir(tmp_path / "run").rows()}
    assert resumed.ran[0].candidate.kind == "compound"  # straight on with the sampler's proposals
    again = Surface()
    run_grid(settings, tmp_path / "run", again, PlainUI())
    assert again.ran == []  # complete: nothing left


def _proposals(run: Path) -> list[Any]:
    import optuna

    study = optuna.load_study(study_name="scaler", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(run / "optuna.journal"))))
    return [p for p in study.trials if "trial_id" in p.user_attrs]


def test_more_trials_on_a_finished_search_sample_on(tmp_path: Path):
    first = Surface()
    run_grid(_settings(tmp_path, trials=4), tmp_path / "run", first, PlainUI())
    assert len(_proposals(tmp_path / "run")) == 4
    more = Surface()
    run_grid(_settings(tmp_path, trials=6), tmp_path / "run", more, PlainUI())  # a settings change it allows
    assert len(_proposals(tmp_path / "run")) == 6
    assert not {t.trial_id for t in more.ran} & {t.trial_id for t in first.ran}


def test_the_gp_sampler_runs_too(tmp_path: Path):
    ex = Surface()
    run_grid(_settings(tmp_path, trials=5, sampler="gp"), tmp_path / "run", ex, PlainUI())
    assert any(t.candidate.kind == "compound" for t in ex.ran)


def test_a_range_with_no_point_on_the_constraint_is_a_one_line_error(tmp_path: Path):
    spec = tmp_path / "off.yaml"
    spec.write_text(SPEC.replace("TRIALS", "3").replace("SAMPLER", "tpe").replace("alpha: [1.0, 2.0]",
                                                                                  "alpha: [1.0, 1.01]")
                    .replace("beta: [1.0, 1.4]", "beta: [1.0, 1.05]").replace("gamma: [1.0, 1.4]",
                                                                            "gamma: [1.0, 1.05]"))
    with pytest.raises(ScalerError, match="optuna proposed no candidate on the constraint"):
        run_grid(load_grid_settings(spec), tmp_path / "run", Surface(), PlainUI())

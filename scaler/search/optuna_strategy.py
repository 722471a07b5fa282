"""The Optuna strategy (``search.strategy: optuna``, ``pip install 'scaler[optuna]'``): a sampler (TPE or a
Gaussian process) proposes beta and gamma on their continuous ranges, alpha is solved from the constraint (a
proposal whose alpha leaves its range is rejected and does not count), and each proposal trains at the full
budget. First the base (with its seeds, which measure the noise) and the single-dimension baselines; then
``search.trials`` proposals, a few per batch; then the racing round halving uses, so the finalists have the same
seeds. Two proposals whose rounding gives the same network train once: the second is told the first's accuracy.

The sampler's study lives in the run directory (``optuna.journal``), so a rerun resumes it: proposals whose
trial was recorded are told, those that were not are trained again. No torch.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.results import read_results
from scaler.search.candidates import BASE, Candidate, network_identity
from scaler.search.halving import Cuts, race_members
from scaler.search.strategy import Batch, Stepwise
from scaler.search.trial import Plan, Trial

JOURNAL = "optuna.journal"
PER_BATCH = 4  # proposals asked before any is told: enough for a few workers, few enough for the sampler to learn
REJECTS_PER_TRIAL = 50  # proposals off the alpha range allowed per accepted one before the search gives up
DIGITS = 3  # beta and gamma are proposed to this many decimals (the candidate's name shows them)


class OptunaSearch(Stepwise):
    name = "optuna"
    # more trials on a finished search sample on from where it stopped; the rungs are halving's
    resumable = ("search.trials", "search.eta", "search.rungs")

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan, self.search = plan, plan.search
        self.first = min(t.seed for t in plan.trials)
        self.known: dict[str, Trial] = {}  # every trial of the first seed, by id: the forced ones, the proposals'
        self.networks: dict[str, str] = {}  # network identity -> the trial id that trains it

    def batches(self) -> Iterator[Batch]:
        assert self.history is not None
        run, s = self.history.run, self.search
        study = _study(run.path / JOURNAL, s.sampler, s.sampler_seed)
        forced = [t for t in self.plan.trials if t.candidate.kind != "compound" and t.seed == self.first]
        for t in forced:
            self._add(t)
        forced += self._more_seeds([t for t in forced if t.candidate.kind == BASE.kind], s.max_seeds)
        for proposal in study.get_trials(deepcopy=False):  # an earlier run's proposals
            if "trial_id" in proposal.user_attrs and (c := self._candidate(_Fixed(proposal.params))):
                self._add(self.plan.trial(c, self.first))
        planned = len(forced)
        yield Batch(tuple(forced), "baselines", planned,
                    note=f"optuna ({s.sampler}, seed {s.sampler_seed}): the base and the single-dimension "
                         f"baselines first, then {s.trials} proposals on the constraint")
        while True:
            pending = self._tell(study)
            left = s.trials - _proposed(study)
            if not pending and left <= 0:
                break
            batch = pending + [t for t in self._ask(study, min(PER_BATCH, max(0, left))) if t not in pending]
            if batch:
                planned += len(batch)
                yield Batch(tuple(batch), f"optuna {min(_proposed(study), s.trials)}/{s.trials}", planned)
        # frozen per number of proposals: more trials on a finished search race again, over all of them
        decided = [*self.known, *(t.trial_id for t in forced)]  # the base's seeds measure the noise
        members = Cuts(run).race(lambda: race_members(read_results(run.csv), list(dict.fromkeys(decided))),
                                 key=f"race after {s.trials} trials")
        extra = self._more_seeds([t for t in self.known.values() if t.candidate.key in members], s.max_seeds)
        if extra:
            yield Batch(tuple(extra), "race", planned + len(extra),
                        note=f"race: the tie set and the base ({', '.join(members)}) get {s.max_seeds} seeds "
                             "each; the choice is made once, on all of them")

    def _add(self, trial: Trial) -> str:
        """Know ``trial``; returns the id of the trial that trains its network (it, or one known before)."""
        same = self.networks.setdefault(network_identity(trial.spec), trial.trial_id)
        if same == trial.trial_id:
            self.known[trial.trial_id] = trial
        return same

    def _ask(self, study: Any, n: int) -> list[Trial]:
        """Up to ``n`` new proposals on the constraint, as the trials to train: a proposal whose network is known
        trains nothing (it is told that network's accuracy)."""
        out: list[Trial] = []
        asked = rejected = 0
        while asked < n:
            proposal = study.ask()
            c = self._candidate(proposal)
            if c is None:
                study.tell(proposal, state=_state("FAIL"))
                rejected += 1
                if rejected > REJECTS_PER_TRIAL * n:
                    raise ScalerError("optuna proposed no candidate on the constraint inside search.alpha's range "
                                      f"in {rejected} tries: widen search.alpha, beta or gamma", field="search")
                continue
            asked += 1
            trial = self.plan.trial(c, self.first)
            new = trial.trial_id not in self.known
            same = self._add(trial)
            proposal.set_user_attr("trial_id", same)
            if new and same == trial.trial_id:
                out.append(trial)
        return out

    def _candidate(self, proposal: Any) -> Candidate | None:
        """The compound candidate of a proposal, or None when its alpha leaves the range."""
        s = self.search
        beta = round(proposal.suggest_float("beta", s.beta.min, s.beta.max), DIGITS)
        gamma = round(proposal.suggest_float("gamma", s.gamma.min, s.gamma.max), DIGITS)
        alpha = round(s.flops_factor / (beta * beta * gamma * gamma), 10)
        if not s.alpha.min - 1e-9 <= alpha <= s.alpha.max + 1e-9:
            return None
        return Candidate("compound", alpha, beta, gamma, s.phi)

    def _tell(self, study: Any) -> list[Trial]:
        """Tell the sampler what the run recorded for its open proposals; the trials of those not recorded yet
        (a run stopped before them), to train now."""
        pending: list[Trial] = []
        for proposal in study.get_trials(deepcopy=False, states=(_state("RUNNING"),)):
            trial_id = proposal.user_attrs.get("trial_id")
            row = self.rows.get(trial_id) if trial_id else None
            if row is None:
                if trial_id in self.known and self.known[trial_id] not in pending:
                    pending.append(self.known[trial_id])
                continue
            if row.get("status") == "ok":
                study.tell(proposal.number, float(row["accuracy"]))
            else:
                study.tell(proposal.number, state=_state("FAIL"))
        return pending

    def _more_seeds(self, trials: list[Trial], seeds: int) -> list[Trial]:
        """Trials that bring each of ``trials``' networks to ``seeds`` seeds from the first, at the full budget."""
        return [dataclasses.replace(t, seed=seed, trial_id=f"{t.candidate.key}-s{seed}")
                for seed in range(self.first + 1, self.first + seeds) for t in trials]


class _Fixed:
    """A finished proposal's parameters, asked again (what ``_candidate`` reads)."""

    def __init__(self, params: dict[str, float]) -> None:
        self.params = params

    def suggest_float(self, name: str, low: float, high: float) -> float:
        return self.params[name]


def _proposed(study: Any) -> int:
    """Proposals that landed on the constraint (rejected ones do not count)."""
    return sum(1 for p in study.get_trials(deepcopy=False) if "trial_id" in p.user_attrs)


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return getattr(TrialState, name)


def _study(path: Path, sampler: str, seed: int) -> Any:
    """The run's Optuna study, created or resumed from its journal file."""
    try:
        import optuna
    except ImportError:
        raise ScalerError("search.strategy optuna needs Optuna: pip install 'scaler[optuna]'",
                          field="search.strategy") from None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        made = optuna.samplers.GPSampler(seed=seed) if sampler == "gp" else optuna.samplers.TPESampler(seed=seed)
        storage = JournalStorage(JournalFileBackend(str(path)))
        return optuna.create_study(study_name="scaler", storage=storage, sampler=made, direction="maximize",
                                   load_if_exists=True)


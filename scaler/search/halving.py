"""Successive halving over the feasible grid (``search.strategy: halving``), synchronous, with the constraint's
own rules: every candidate trains a short budget; each cut keeps the best 1/eta of the compound candidates (exact
ties at the cut go on together); the base and the single-dimension baselines always go on, so "does compound beat
one dimension?" is answered at the full budget. A promoted trial continues from its rung's checkpoint on the full
schedule, so it ends where training straight through would. After the last rung, the members of the tie set get
more seeds in one round (racing); the choice is made once, on those.

A cut, once made (the next rung has started), is frozen in ``DIR/cuts.yaml``, and so is the race's membership: a
rerun that retrains a failed trial of an earlier rung cannot move them (it does not retrain those at all: their
outcome would change nothing). Before its cut, a rung's retried trial counts like any other.

The strategy decides rungs; the driver runs them; executors only run trials. No torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import yaml

from scaler.errors import ScalerError
from scaler.evidence.selection import choose, summarize
from scaler.results import RunDir, read_results
from scaler.search.candidates import BASE, BASELINES
from scaler.search.strategy import SAMPLER_SETTINGS, Batch, Stepwise
from scaler.search.trial import Plan, Trial
from scaler.storage import write_atomic

FORCED = (BASE.kind, *BASELINES)  # kinds that reach the last rung whatever their rank


def rung_budgets(full: float, eta: int, rungs: int) -> list[float]:
    """Epochs of each rung: full/eta^rungs, ..., full/eta, full."""
    return [full / eta**k for k in range(rungs, 0, -1)] + [float(full)]


def at_rung(trial: Trial, rung: int, budget: float, *, last: bool, resume: bytes | None = None) -> Trial:
    """``trial`` (a plan's, or a previous rung's) at ``rung``: its own id, its budget, and the checkpoint it
    continues from. Every rung but the last keeps a checkpoint for the next."""
    return dataclasses.replace(trial, trial_id=rung_id(trial.candidate.key, trial.seed, rung), rung=rung,
                               budget=None if last else budget, resume=resume, checkpoint=not last)


def rung_id(key: str, seed: int, rung: int) -> str:
    return f"{key}-s{seed}-r{rung}"


def promote(trials: Sequence[Trial], rows: Mapping[str, Mapping[str, str]], eta: int) -> list[Trial]:
    """The trials of a finished rung that go on: the base and the baselines, and the top ceil(n / eta) of the n
    compound candidates by mean validation accuracy over their successful trials; every candidate with exactly
    the accuracy at the cut goes on too. Order is kept."""
    scores: dict[str, list[float]] = {}
    compound = {t.candidate.key for t in trials if t.candidate.kind not in FORCED}
    for t in trials:
        row = rows.get(t.trial_id, {})
        if t.candidate.key in compound and row.get("status") == "ok":
            scores.setdefault(t.candidate.key, []).append(float(row["accuracy"]))
    means = {k: sum(v) / len(v) for k, v in scores.items()}
    keep = math.ceil(len(compound) / eta)
    ranked = sorted(means.values(), reverse=True)
    cut = ranked[keep - 1] if len(ranked) >= keep else -math.inf
    going = {k for k, m in means.items() if m >= cut}
    return [t for t in trials if t.candidate.kind in FORCED or t.candidate.key in going]


def more_seeds(trials: Sequence[Trial], networks: Sequence[str], seeds: int) -> list[Trial]:
    """Full-budget trials that bring each of ``networks`` (among ``trials``' candidates) to ``seeds`` seeds,
    counting from the first seed of ``trials``; trained from scratch."""
    if not trials:
        return []
    first = min(t.seed for t in trials)
    have = {(t.candidate.key, t.seed) for t in trials}
    one = {t.candidate.key: t for t in trials}
    return [dataclasses.replace(one[k], seed=s, trial_id=rung_id(k, s, one[k].rung), resume=None, checkpoint=False)
            for s in range(first, first + seeds) for k in networks if k in one and (k, s) not in have]


class Cuts:
    """The decisions a halving run has made, frozen in ``DIR/cuts.yaml``: which candidates went on after each
    rung, and which networks raced."""

    def __init__(self, run: RunDir):
        self.path = run.path / "cuts.yaml"
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
        if not isinstance(data, dict):
            raise ScalerError("not the halving run's cuts (a mapping of rungs and the race); move it aside only "
                              "with the run's results (--fresh)", where=self.path)
        self.data: dict[str, Any] = data

    def made(self, rung: int) -> bool:
        return rung in (self.data.get("cuts") or {})

    def promote(self, rung: int, trials: Sequence[Trial], rows: Mapping[str, Mapping[str, str]],
                eta: int) -> list[Trial]:
        """:func:`promote`, the first time; the recorded cut from then on."""
        cuts = self.data.setdefault("cuts", {})
        if rung not in cuts:
            cuts[rung] = sorted({t.candidate.key for t in promote(trials, rows, eta)})
            self._save()
        return [t for t in trials if t.candidate.key in set(cuts[rung])]

    def race(self, members: Callable[[], Sequence[str]], key: str = "race") -> list[str]:
        """The networks that race: ``members()`` the first time; the recorded ones (under ``key``) from then
        on."""
        if key not in self.data:
            self.data[key] = list(members())
            self._save()
        return list(self.data[key])

    def _save(self) -> None:
        write_atomic(self.path, yaml.safe_dump(self.data, sort_keys=False))


class SuccessiveHalving(Stepwise):
    """The rungs of ``plan`` and then the racing round, each a batch. A rung's cut is made (and frozen) when
    every trial of the rung is recorded."""

    name = "halving"
    resumable = SAMPLER_SETTINGS  # the seeds of rung 0 decide the cuts: they may not change

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan, self.search = list(plan.trials), plan.search

    def batches(self) -> Iterator[Batch]:
        assert self.history is not None
        run, search, epochs = self.history.run, self.search, self.plan[0].proxy.epochs
        budgets = rung_budgets(float(epochs), search.eta, search.rungs)
        last = len(budgets) - 1
        cuts = Cuts(run)
        planned = 0
        current, trials = list(self.plan), []
        for k, budget in enumerate(budgets):
            trials = [at_rung(t, k, budget, last=k == last,
                              resume=run.checkpoint(rung_id(t.candidate.key, t.seed, k - 1)) if k else None)
                      for t in current]
            if k == last:  # the base's seeds measure the noise the racing round's tie set needs
                trials += more_seeds(trials, [BASE.key], search.max_seeds)
            planned += len(trials)
            names = sorted({t.candidate.key for t in trials})
            yield Batch(tuple(trials), f"rung {k}/{last}", planned,
                        note=f"rung {k}/{last}: {len(names)} candidates at {budget:.3g} epoch(s) of {epochs}: "
                             f"{', '.join(names)}",
                        retry_failed=not (cuts.made(k) or (k == last and "race" in cuts.data)))
            if k < last:
                current = cuts.promote(k, trials, self.rows, search.eta)
        members = cuts.race(lambda: race_members(read_results(run.csv), [t.trial_id for t in trials]))
        extra = more_seeds(trials, members, search.max_seeds)
        if extra:
            yield Batch(tuple(extra), "race", planned + len(extra),
                        note=f"race: the tie set at the full budget and the base ({', '.join(members)}) get "
                             f"{search.max_seeds} seeds each; the choice is made once, on all of them")


def race_members(df: Any, trial_ids: Sequence[str]) -> list[str]:
    """The networks the racing round gives more seeds: the tie set of the last rung's ``trial_ids`` (the noise
    from the base's seeds there), and the base. Nothing when that noise is unknown (one base seed)."""
    rows = df[df["trial_id"].isin(set(trial_ids))]
    if not (rows["status"] == "ok").any():
        return []
    table = summarize(rows)
    try:
        selection = choose(table)
    except ScalerError:  # only the base succeeded, or no finite noise: nothing to race
        return []
    if selection.noise is None:
        return []
    base = table[table["kind"] == "base"]["candidate"].tolist()
    return base + [m for m in selection.tie_set if m not in base]

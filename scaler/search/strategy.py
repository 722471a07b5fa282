"""The search seam: a strategy proposes the next batch of trials from what the run has recorded, until it has
nothing more to ask; the driver runs each batch and records it. Grid and halving are strategies
(:mod:`scaler.search.strategies` names them); so is anything that can say what to train next. No torch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from scaler.results import RunDir
from scaler.search.trial import Trial

SAMPLER_SETTINGS = ("search.trials", "search.sampler", "search.sampler_seed")  # optuna's: nothing to other strategies
Rows = Mapping[str, Mapping[str, str]]  # the recorded rows of a run by trial id (the last row of each trial)


@dataclass(frozen=True)
class History:
    """What a strategy sees: the rows recorded so far, and the run directory where it keeps what it decided
    (halving's cuts) and finds checkpoints."""

    rows: Rows
    run: RunDir


@dataclass(frozen=True)
class Batch:
    """Trials a strategy asks for next. ``label`` names the round in the log; ``planned`` counts the run's trials
    so far, this batch included (what run.yaml records); ``note`` is said before it runs. With ``retry_failed``
    False a rerun does not retrain its failed trials: a decision already rests on them."""

    trials: tuple[Trial, ...]
    label: str
    planned: int
    note: str | None = None
    retry_failed: bool = True


class Strategy(Protocol):
    """One search strategy. ``propose`` is called first with the run's history, then again each time every
    trial of the batch it returned is recorded; None means the search is complete. ``resumable``: settings a
    rerun may change without starting over (e.g. the grid's seeds: more seeds train only what is new)."""

    name: str
    resumable: tuple[str, ...]

    def propose(self, history: History) -> Batch | None: ...


class Stepwise:
    """A strategy written as a generator of batches (:meth:`batches`), each resumed with the history recorded
    after the previous one: propose is ask, the next call is tell."""

    def __init__(self) -> None:
        self._steps: Iterator[Batch] | None = None
        self.history: History | None = None

    def propose(self, history: History) -> Batch | None:
        self.history = history
        if self._steps is None:
            self._steps = self.batches()
        return next(self._steps, None)

    def batches(self) -> Iterator[Batch]:
        raise NotImplementedError

    @property
    def rows(self) -> Rows:
        assert self.history is not None, "propose() first"
        return self.history.rows


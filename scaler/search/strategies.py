"""The registry of search strategies: ``search.strategy`` names one. A strategy is made from the run's
:class:`~scaler.search.trial.Plan` (the grid's trials, and how to make any other candidate's) and proposes
batches (:class:`scaler.search.strategy.Strategy`). No torch."""

from __future__ import annotations

from collections.abc import Callable

from scaler.errors import ScalerError
from scaler.search.grid import GridSearch
from scaler.search.halving import SuccessiveHalving
from scaler.search.optuna_strategy import OptunaSearch
from scaler.search.strategy import Strategy
from scaler.search.trial import Plan

StrategyFactory = Callable[[Plan], Strategy]

STRATEGIES: dict[str, StrategyFactory] = {
    "grid": GridSearch, "halving": SuccessiveHalving, "optuna": OptunaSearch,
}


def register_strategy(name: str, factory: StrategyFactory) -> None:
    """Add (or replace) the strategy ``search.strategy: name`` makes."""
    STRATEGIES[name] = factory


def strategy_factory(name: str) -> StrategyFactory:
    """What makes the strategy ``name``; a class may name the settings a rerun may change (``resumable``)."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ScalerError(f"unknown search strategy {name!r}: use one of {', '.join(sorted(STRATEGIES))}",
                          field="search.strategy") from None

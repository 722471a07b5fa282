"""The grid strategy (``search.strategy: grid``): every candidate at the full budget, then the confirmation round,
which gives the base and the best candidates more seeds so the seed noise is measured. No torch."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from scaler.search.candidates import BASE
from scaler.search.strategy import SAMPLER_SETTINGS, Batch, Rows, Stepwise
from scaler.search.trial import Plan, Trial


class GridSearch(Stepwise):
    name = "grid"
    resumable = ("proxy.seeds", *SAMPLER_SETTINGS)  # more seeds on a finished grid train only the new ones

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan, self.search = list(plan.trials), plan.search

    def batches(self) -> Iterator[Batch]:
        yield Batch(tuple(self.plan), "grid", len(self.plan))
        s = self.search
        extra = confirm_trials(self.plan, self.rows, s.confirm, s.confirm_seeds)
        if extra:
            yield Batch(tuple(extra), "confirm", len(self.plan) + len(extra),
                        note=f"confirm: the base and the top {s.confirm} candidates by validation accuracy get "
                             f"{s.confirm_seeds} more seed(s), to measure the seed noise")


def confirm_trials(plan: Sequence[Trial], rows: Rows, top: int, seeds: int) -> list[Trial]:
    """The confirmation round of a finished plan: the base and the ``top`` candidates with the highest mean
    validation accuracy in ``rows`` (ties: fewer FLOPs, then the name), each again with ``seeds`` new seeds
    after the plan's. Empty while a trial of the plan has no row or when nothing succeeded."""
    if top <= 0 or any(t.trial_id not in rows for t in plan):
        return []
    scores: dict[str, list[float]] = {}
    first: dict[str, Trial] = {}
    for t in plan:
        first.setdefault(t.candidate.key, t)
        if rows[t.trial_id].get("status") == "ok":
            scores.setdefault(t.candidate.key, []).append(float(rows[t.trial_id]["accuracy"]))
    flops = {t.candidate.key: int(float(rows[t.trial_id].get("flops") or 0)) for t in plan}
    ranked = sorted((k for k in scores if first[k].candidate.kind != "base"),
                    key=lambda k: (-sum(scores[k]) / len(scores[k]), flops[k], k))
    chosen = ([BASE.key] if BASE.key in scores else []) + ranked[:top]
    start = 1 + max(t.seed for t in plan)
    return [dataclasses.replace(first[k], seed=s, trial_id=f"{k}-s{s}")
            for s in range(start, start + seeds) for k in chosen]

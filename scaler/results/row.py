"""The one schema of a results row (:class:`TrialRow`), its columns and what ``accuracy`` means by version."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, get_type_hints

# What the columns of a results directory mean. 1: `accuracy` is scored on the dataset's evaluation split (its
# test split when it ships one), which also ranked the candidates. 2: `accuracy` is validation (carved from the
# training images), `test_accuracy` the test split, scored once per trial. Directories written before the version
# was recorded are version 1.
SCHEMA_VERSION = 2
SCHEMA_SPLITS = {1: "test", 2: "validation"}  # what `accuracy` was scored on, by schema version
NAN = float("nan")
PACKAGES = ("scaler", "torch", "numpy", "pandas", "scipy", "matplotlib")  # recorded in run.yaml's environment


@dataclass
class TrialRow:
    """One row of results.csv: what a trial is, what it costs (known before training) and what training gave.

    The field order is the column order. ``accuracy`` is top-1 on the validation split (what every decision
    reads), ``test_accuracy`` on the test split (reported, never decides), ``flops`` real
    multiply-accumulates per image after rounding; the ``*_real`` multipliers and ``flops_ratio`` compare the
    trial's network with the base's (:mod:`scaler.arch.rounding`)."""

    trial_id: str
    kind: str  # base | depth | width | resolution | compound (a study also uses its strategy names)
    alpha: float
    beta: float
    gamma: float
    phi: float
    depth: float  # nominal multipliers: alpha**phi, beta**phi
    width: float
    resolution: int  # input size, px
    params: int
    flops: int
    accuracy: float = NAN
    test_accuracy: float = NAN
    seed: int = 0
    epochs: int = 0
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    status: str = "failed"  # ok | diverged | failed: failed until training says otherwise
    flops_ratio: float = NAN
    depth_real: float = NAN
    width_real: float = NAN
    resolution_real: float = NAN
    gamma_used: float = NAN
    blocks: int = 0
    loss: float = NAN
    train_step_ms: float = NAN
    latency_ms: float = NAN
    latency_batch_ms: float = NAN
    device: str = ""
    message: str = ""
    aliases: str = ""  # space-separated: other candidates that are this very network (not trained again)
    rung: int = 0  # successive halving: the rung (0: cheapest); a grid's trials are all rung 0 at full budget
    budget: float = NAN  # epochs trained (a rung's budget; a continued trial's total, not only its own part)
    activations: int = 0  # output elements of every convolution per image (FAMS's runtime proxy)
    attempts: int = 1  # trainings this trial took, across worker deaths, failures and reruns (the last is this row)
    micro_batch: int = 0  # images per forward pass: the batch size, or less where out of memory split it (0: none)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_name(kind: str, alpha: float, beta: float, gamma: float) -> str:
    """A candidate's name, the prefix of its trial ids: ``a1.200-b1.100-g1.150`` for compound, else the kind."""
    return f"a{alpha:.3f}-b{beta:.3f}-g{gamma:.3f}" if kind == "compound" else kind


COLUMNS = tuple(f.name for f in fields(TrialRow))
REQUIRED = ("trial_id", "kind", "alpha", "beta", "gamma", "flops", "accuracy", "status")
NUMERIC = tuple(name for name, kind in get_type_hints(TrialRow).items() if kind in (float, int))


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.10g}"
    return "" if v is None else str(v)


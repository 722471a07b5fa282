"""Objectives on hand-made results: what each one scores, and the latency objective's soft budget (MnasNet)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from _cli import run_scaler, user_error
from _rows import append_row
from _specs import TINY

from scaler.analysis.score import add_score, cost_column
from scaler.config import SearchConfig
from scaler.errors import ScalerError
from scaler.results import RunDir
from scaler.search.candidates import candidates


def table(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"status": ["ok"] * n, "kind": ["compound"] * n, **columns})


def test_latency_score_is_accuracy_times_latency_over_the_budget_to_the_w():
    df = table(accuracy=[0.80, 0.80, 0.82], latency_ms=[5.0, 10.0, 20.0], device=["cpu"] * 3)
    info = add_score(df, "latency", budget_ms=10.0)
    assert info == {"name": "latency", "w": -0.07, "budget_ms": 10.0, "device": "cpu"}
    # at the budget: its accuracy; half the budget: 2^0.07 more; twice: 2^-0.07 less (about 4.7%)
    assert df["score"].tolist() == pytest.approx([0.80 * 2**0.07, 0.80, 0.82 * 2**-0.07])
    # 2 points more accuracy at twice the latency does not pay under the soft constraint
    assert df["score"].idxmax() == 0
    add_score(df, "latency", budget_ms=10.0, w=-1.0)  # a harsher exponent
    assert df["score"].tolist() == pytest.approx([1.6, 0.80, 0.41])
    assert cost_column("latency") == "latency_ms"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"objective": "latency"}, "objective latency needs --latency-budget-ms T"),
    ({"objective": "latency", "budget_ms": 0.0}, "objective latency needs --latency-budget-ms T"),
    ({"objective": "accuracy", "budget_ms": 5.0}, "--latency-budget-ms belongs to --objective latency"),
    ({"objective": "latency", "budget_ms": 5.0, "v": -0.1}, "--v has no meaning under objective latency"),
])
def test_latency_objective_errors(kwargs, message):
    df = table(accuracy=[0.8], latency_ms=[1.0])
    with pytest.raises(ScalerError, match=message):
        add_score(df, **kwargs)


def test_latency_objective_needs_measured_latencies():
    with pytest.raises(ScalerError, match="needs the latency_ms column"):
        add_score(table(accuracy=[0.8]), "latency", budget_ms=5.0)
    with pytest.raises(ScalerError, match="needs the latency_ms column"):
        add_score(table(accuracy=[0.8], latency_ms=[math.nan]), "latency", budget_ms=5.0)


def hand_made_grid(root: Path) -> Path:
    """A grid's directory without training: every candidate 3 seeds; the fastest ones slightly less accurate."""
    run = RunDir(root)
    root.mkdir(parents=True)
    search = SearchConfig(step=0.1)
    for i, c in enumerate(candidates(search)):
        latency = 1.0 + 0.2 * i
        for seed in range(3):
            append_row(run, {"trial_id": f"{c.key}-s{seed}", "kind": c.kind, "alpha": c.alpha, "beta": c.beta,
                             "gamma": c.gamma, "phi": c.phi, "flops": 1000 + 10 * i, "params": 100 + i,
                             "status": "ok", "seed": seed, "latency_ms": latency, "device": "cpu",
                             "accuracy": 0.80 + 0.004 * i + 0.001 * seed})
    settings = {"base": TINY, "search": search.model_dump(mode="json"),
                "proxy": {"dataset": "digits", "epochs": 1}}
    run.write_settings(settings, {})
    return run.csv


def test_fit_under_a_latency_budget(tmp_path: Path, capsys, monkeypatch):
    csv = hand_made_grid(tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    run_scaler("fit", str(csv), "--out", "accuracy.yaml", cwd=tmp_path)
    plain = yaml.safe_load((tmp_path / "accuracy.yaml").read_text())
    out = run_scaler("fit", str(csv), "--objective", "latency", "--latency-budget-ms", "1.5", "--out",
                     "latency.yaml", cwd=tmp_path).stdout
    assert "objective:     latency (w = -0.07; budget 1.5 ms at batch 1 on cpu)" in out
    doc = yaml.safe_load((tmp_path / "latency.yaml").read_text())
    assert doc["objective"] == {"name": "latency", "w": -0.07, "budget_ms": 1.5, "device": "cpu"}
    assert doc["selection"]["rule"].startswith("lowest latency_ms inside the tie set")
    df = pd.read_csv(csv)
    df = df[df["kind"] != "base"]
    df["score"] = df["accuracy"] * (df["latency_ms"] / 1.5) ** -0.07
    scores = df.assign(candidate=df["trial_id"].str.rsplit("-s", n=1).str[0]).groupby("candidate")["score"].mean()
    assert doc["selection"]["highest"] == scores.idxmax()
    # accuracy alone prefers the slowest candidates; the budget moves the choice to faster ones
    chosen = doc["best"]["candidate"]
    assert df.loc[df["trial_id"].str.startswith(chosen), "latency_ms"].iloc[0] < \
        df.loc[df["trial_id"].str.startswith(plain["best"]["candidate"]), "latency_ms"].iloc[0]
    assert user_error(capsys, "fit", str(csv), "--objective", "latency") == (
        "error: objective latency needs --latency-budget-ms T, the batch-1 latency you can afford on the trials' "
        "device (scaler does not guess it from FLOPs)")

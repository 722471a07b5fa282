"""What "best" means: the objective's score of every trial (accuracy, or accuracy traded against FLOPs or against
step time and parameters). No torch."""

from __future__ import annotations

from typing import Any

from scaler.errors import ScalerError

OBJECTIVES = ("accuracy", "flops", "training", "latency")
# Default exponents: the MnasNet/EfficientNet FLOPs reward, EfficientNetV2's step time and parameters, and
# MnasNet's soft latency constraint (alpha = beta = -0.07).
DEFAULT_EXPONENTS = {"accuracy": {}, "flops": {"w": -0.07}, "training": {"w": -0.07, "v": -0.05},
                     "latency": {"w": -0.07}}


def add_score(df: Any, objective: str = "accuracy", *, w: float | None = None, v: float | None = None,
              target: float | None = None, budget_ms: float | None = None) -> dict[str, Any]:
    """Add a ``score`` column to ``df`` (in place) and return how it was computed.

    - ``accuracy``: the accuracy;
    - ``flops``: accuracy x (FLOPs / target)^w, target = the base's FLOPs x ``target`` (default factor**phi);
    - ``training``: accuracy x (train_step_ms / base's)^w x (params / base's)^v;
    - ``latency``: accuracy x (latency_ms / budget_ms)^w, MnasNet's soft constraint; the budget is the user's.
    Base values are the mean over the base trials' seeds."""
    if objective not in OBJECTIVES:
        raise ScalerError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    exps = dict(DEFAULT_EXPONENTS[objective])
    for name, value in (("w", w), ("v", v)):
        if value is not None:
            if name not in exps:
                raise ScalerError(f"--{name} has no meaning under objective {objective} (w: flops, training, "
                                  "latency; v: training)")
            exps[name] = value
    if budget_ms is not None and objective != "latency":
        raise ScalerError("--latency-budget-ms belongs to --objective latency")
    info: dict[str, Any] = {"name": objective, **exps}
    if objective == "accuracy":
        df["score"] = df["accuracy"]
        return info
    score = {"flops": _flops_score, "training": _training_score, "latency": _latency_score}[objective]
    info.update(score(df, exps, target=target, budget_ms=budget_ms))
    return info


def _flops_score(df: Any, exps: dict[str, float], *, target: float | None, **_: Any) -> dict[str, Any]:
    ok = df[df["status"] == "ok"]
    base = ok[ok["kind"] == "base"]
    if not base.empty:
        base_flops = float(base["flops"].mean())
    elif "flops_ratio" in ok.columns and ok["flops_ratio"].notna().any():
        base_flops = float((ok["flops"] / ok["flops_ratio"]).median())
    else:
        raise ScalerError("objective flops needs the base trial (or a flops_ratio column) to set the target",
                          where=df.attrs.get("path"))
    target_flops = base_flops * (target if target is not None else 1.0)
    df["score"] = df["accuracy"] * (df["flops"] / target_flops) ** exps["w"]
    return {"target_flops": round(target_flops)}


def _training_score(df: Any, exps: dict[str, float], **_: Any) -> dict[str, Any]:
    where = df.attrs.get("path")
    ok = df[df["status"] == "ok"]
    base = ok[ok["kind"] == "base"]
    missing = [c for c in ("train_step_ms", "params") if c not in df.columns or not ok[c].notna().any()]
    if missing:
        raise ScalerError(f"objective training needs the column(s) {', '.join(missing)} (written by scaler grid "
                          "since it records step times)", where=where)
    if base.empty or base["train_step_ms"].isna().all():
        raise ScalerError("objective training normalises by the base trial's step time; the results have none",
                          where=where)
    step0, params0 = float(base["train_step_ms"].mean()), float(base["params"].mean())
    df["score"] = (df["accuracy"] * (df["train_step_ms"] / step0) ** exps["w"]
                   * (df["params"] / params0) ** exps["v"])
    return {"base_train_step_ms": round(step0, 3), "base_params": int(params0)}


def _latency_score(df: Any, exps: dict[str, float], *, budget_ms: float | None, **_: Any) -> dict[str, Any]:
    """MnasNet's reward: a network at the budget scores its accuracy, one twice as slow 2^w of it (w = -0.07:
    about 5% less). The budget is required: no FLOPs figure says what a device can afford."""
    where = df.attrs.get("path")
    if budget_ms is None or not budget_ms > 0:
        raise ScalerError("objective latency needs --latency-budget-ms T, the batch-1 latency you can afford on "
                          "the trials' device (scaler does not guess it from FLOPs)")
    ok = df[df["status"] == "ok"]
    if "latency_ms" not in df.columns or not ok["latency_ms"].notna().any():
        raise ScalerError("objective latency needs the latency_ms column (measured by scaler grid at the last "
                          "rung of every trial)", where=where)
    devices = sorted({str(d) for d in ok.get("device", []) if isinstance(d, str) and d})
    if len(devices) > 1:
        raise ScalerError(f"objective latency: the trials measured their latency on {', '.join(devices)}; one "
                          "budget cannot score latencies of different devices", where=where)
    df["score"] = df["accuracy"] * (df["latency_ms"] / budget_ms) ** exps["w"]
    return {"budget_ms": budget_ms, "device": devices[0] if devices else "unknown"}


def cost_column(objective: str) -> str:
    """The cost that decides between candidates the evidence cannot separate: real FLOPs for ``accuracy`` and
    ``flops``, the training step time for ``training``, the latency for ``latency``."""
    return {"training": "train_step_ms", "latency": "latency_ms"}.get(objective, "flops")

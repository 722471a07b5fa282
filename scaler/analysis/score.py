"""What "best" means: the objective's score of every trial (accuracy, or accuracy traded against FLOPs or against
step time and parameters). No torch."""

from __future__ import annotations

from typing import Any

from scaler.errors import ScalerError

OBJECTIVES = ("accuracy", "flops", "training")
# Default exponents: the MnasNet/EfficientNet FLOPs reward, and EfficientNetV2's step time and parameters.
DEFAULT_EXPONENTS = {"accuracy": {}, "flops": {"w": -0.07}, "training": {"w": -0.07, "v": -0.05}}


def add_score(df: Any, objective: str = "accuracy", *, w: float | None = None, v: float | None = None,
              target: float | None = None) -> dict[str, Any]:
    """Add a ``score`` column to ``df`` (in place) and return how it was computed.

    - ``accuracy``: the accuracy;
    - ``flops``: accuracy x (FLOPs / target)^w, target = the base's FLOPs x ``target`` (default factor**phi);
    - ``training``: accuracy x (train_step_ms / base's)^w x (params / base's)^v.
    Base values are the mean over the base trials' seeds."""
    if objective not in OBJECTIVES:
        raise ScalerError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    exps = dict(DEFAULT_EXPONENTS[objective])
    for name, value in (("w", w), ("v", v)):
        if value is not None:
            if name not in exps:
                raise ScalerError(f"--{name} has no meaning under objective {objective} (w: flops, training; "
                                  "v: training)")
            exps[name] = value
    where = df.attrs.get("path")
    info: dict[str, Any] = {"name": objective, **exps}
    if objective == "accuracy":
        df["score"] = df["accuracy"]
        return info
    ok = df[df["status"] == "ok"]
    base = ok[ok["kind"] == "base"]
    if objective == "flops":
        if not base.empty:
            base_flops = float(base["flops"].mean())
        elif "flops_ratio" in ok.columns and ok["flops_ratio"].notna().any():
            base_flops = float((ok["flops"] / ok["flops_ratio"]).median())
        else:
            raise ScalerError("objective flops needs the base trial (or a flops_ratio column) to set the target",
                              where=where)
        target_flops = base_flops * (target if target is not None else 1.0)
        df["score"] = df["accuracy"] * (df["flops"] / target_flops) ** exps["w"]
        info["target_flops"] = round(target_flops)
        return info
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
    info.update(base_train_step_ms=round(step0, 3), base_params=int(params0))
    return info


def cost_column(objective: str) -> str:
    """The cost that decides between candidates the evidence cannot separate: real FLOPs for ``accuracy`` and
    ``flops``, the training step time for ``training``."""
    return "train_step_ms" if objective == "training" else "flops"

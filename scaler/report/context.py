"""What a run's report says, as plain data for the template: the answer, the tables, the study and its forecast,
the settings and where it ran. Everything is read from the run directory's own files; nothing reads the test
split to decide (test accuracy appears only beside validation). No torch for a spec network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scaler.analysis.rungs import final_rung
from scaler.analysis.study import summarize_study
from scaler.analysis.study_forecast import current_forecast, family_accuracy, same_coefficients
from scaler.arch.flops import complexity, human
from scaler.arch.rounding import real_scale, rounding_notes
from scaler.coefficients import read_coefficients
from scaler.errors import ScalerError
from scaler.evidence.selection import summarize
from scaler.results import SCHEMA_SPLITS, read_results, read_run_yaml
from scaler.scaling import compound
from scaler.storage import lock_holder

FAMILY_PHIS = (0, 1, 2, 3, 4)


def run_context(run_dir: Path) -> dict[str, Any]:
    """Everything the report shows for the grid in ``run_dir`` (and its study, when it has one). A grid without
    coefficients.yaml (cut short by --limit, still running, or stopped before its first compound trial) gets its
    tables and settings and, in place of the answer, what it still lacks (``pending``); never a partial answer."""
    for needed in ("results.csv", "run.yaml"):
        if not (run_dir / needed).exists():
            raise ScalerError(f"not a grid directory: {needed} is missing (run `scaler grid` first)", where=run_dir)
    run = read_run_yaml(run_dir / "run.yaml")
    rows = read_results(run_dir / "results.csv")
    df = final_rung(rows)
    shown = {"name": run_dir.resolve().name, "path": str(run_dir), "subject": subject(run), "cost": cost_table(df),
             "settings": _settings(run), "environment": run.get("environment") or {}}
    if not (run_dir / "coefficients.yaml").exists():
        ok = bool((df["status"] == "ok").any())
        return {**shown, "answer": None, "pending": pending(run_dir, run, rows, df), "results": results_table(df, {})
                if ok else [], "family": None, "study": None, "forecast": None}
    fit = read_coefficients(run_dir / "coefficients.yaml").data  # every field it shows checked
    study = _study(run_dir, fit)
    results = results_table(df, fit)
    said = answer(fit, run)
    said["chosen"] = said["chosen"] or (results[0]["candidate"] if results else "")  # files of an older scaler
    shown["subject"]["selected_on"] = said["selected_on"]
    return {**shown, "answer": said, "pending": None, "results": results, "family": family_table(run_dir),
            "study": study, "forecast": _forecast(run_dir) if study and study["current"] else None}


def subject(run: dict[str, Any]) -> dict[str, Any]:
    """What the run scales, on which data, ranked on which split (the fit's own split replaces it, once fitted)."""
    settings = run.get("settings") or {}
    return {"base": (settings.get("base") or {}).get("name", ""),
            "dataset": (settings.get("proxy") or {}).get("dataset", ""),
            "selected_on": SCHEMA_SPLITS.get(run.get("schema_version"), "validation")}


def pending(run_dir: Path, run: dict[str, Any], rows: Any, df: Any) -> dict[str, Any]:
    """How far a grid without a fit has come: trials finished (every rung, a retried trial once), failed,
    planned so far (run.yaml's ``trials``: later stages, confirmation and halving rungs, add to it), the rung the
    tables show (halving: the highest reached, ``df``), the compound trials there (what `scaler fit` would fit) and
    the run still writing the directory, if one is."""
    top = df[df["status"] == "ok"]
    planned, search = run.get("trials"), (run.get("settings") or {}).get("search") or {}
    halving = search.get("strategy") == "halving" and "rung" in top.columns and not top.empty
    return {"finished": len(rows), "failed": int((rows["status"] != "ok").sum()),
            "planned": int(planned) if isinstance(planned, int | float) else None,
            "rung": f"{int(top['rung'].fillna(0).max())}/{search.get('rungs')}" if halving else None,
            "compound": int((top["kind"] == "compound").sum()), "running": lock_holder(run_dir)}


def answer(fit: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The question and the answer: the chosen coefficients with their bootstrap intervals, the tie set and
    compound against the best single dimension."""
    settings = run.get("settings") or {}
    best, sel = fit.get("best") or {}, fit.get("selection") or {}
    boot = fit.get("bootstrap") or {}
    intervals = boot.get("winner_interval") or {}
    proxy = settings.get("proxy") or {}
    return {
        "base": (settings.get("base") or {}).get("name", ""),
        "dataset": proxy.get("dataset", ""),
        "factor": fit.get("flops_factor", 2.0),
        "coefficients": [(k, fit.get(k), intervals.get(k)) for k in ("alpha", "beta", "gamma")],
        "level": boot.get("level", 0.95),
        "chosen": best.get("candidate") or sel.get("chosen") or "",
        "selected_on": fit.get("selected_on") or SCHEMA_SPLITS.get(run.get("schema_version"), "validation"),
        "objective": (fit.get("objective") or {}).get("name", "accuracy"),
        "partial": fit.get("partial"),
        "accuracy": best.get("accuracy"),
        "accuracy_std": best.get("accuracy_std"),
        "test_accuracy": best.get("test_accuracy"),
        "seeds": best.get("seeds"),
        "flops_ratio": best.get("flops_ratio"),
        "source": fit.get("source", ""),
        "rule": sel.get("rule", ""),
        "tie_set": sel.get("tie_set", []),
        "noise": sel.get("noise") or {},
        "wins": boot.get("wins") or {},
        "compound_vs_single": fit.get("compound_vs_best_single"),
        "comparisons": sel.get("comparisons", []),
        "fit_reason": None if (fit.get("fit") or {}).get("ok") else (fit.get("fit") or {}).get("reason"),
    }


def results_table(df: Any, fit: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per network at the run's final budget: validation mean ± std over seeds, test, cost, verdicts."""
    sel = fit.get("selection", {})
    ties, wins = set(sel.get("tie_set", [])), (fit.get("bootstrap") or {}).get("wins") or {}
    rows = []
    for _, r in summarize(df).iterrows():
        name = str(r["candidate"])
        rows.append({
            "candidate": name, "kind": str(r["kind"]), "aliases": str(r.get("aliases") or ""),
            "alpha": float(r["alpha"]), "beta": float(r["beta"]), "gamma": float(r["gamma"]),
            "flops": float(r["flops"]), "flops_ratio": _num(r.get("flops_ratio")),
            "params": _num(r.get("params")), "accuracy": float(r["accuracy"]),
            "accuracy_std": _num(r["accuracy_std"]), "seeds": int(r["seeds"]),
            "test_accuracy": _num(r.get("test_accuracy")), "tie": name in ties,
            "chosen": name == sel.get("chosen"), "wins": wins.get(name)})
    return rows


def cost_table(df: Any) -> list[dict[str, Any]]:
    """Nominal against real multipliers of every network: what rounding did to each candidate's cost."""
    rows = []
    ok = df[df["status"] == "ok"].drop_duplicates("trial_id")
    for _, r in ok.drop_duplicates(["kind", "alpha", "beta", "gamma"]).iterrows():
        phi = float(r.get("phi", 1) or 0)
        rows.append({
            "candidate": str(r["trial_id"]).rsplit("-s", 1)[0], "kind": str(r["kind"]),
            "nominal": [float(r["alpha"]) ** phi, float(r["beta"]) ** phi, float(r["gamma"]) ** phi],
            "real": [_num(r.get(k)) for k in ("depth_real", "width_real", "resolution_real")],
            "resolution": int(r["resolution"]), "flops_ratio": _num(r.get("flops_ratio")),
            "target": float(r["alpha"]) ** phi * float(r["beta"]) ** (2 * phi) * float(r["gamma"]) ** (2 * phi)})
    return sorted(rows, key=lambda x: (x["kind"] != "base", x["flops_ratio"] or 0))


def family_table(run_dir: Path) -> dict[str, Any]:
    """The family ``scaler emit`` writes from these coefficients, phi = 0..4 of the full base, with each member's
    rounding; beside it the study's proxy accuracy (measured or forecast) at the same phi, when there is one."""
    coef = read_coefficients(run_dir / "coefficients.yaml")
    base = coef.base
    base_flops = complexity(base).flops
    proxy_acc = family_accuracy(run_dir, (coef.alpha, coef.beta, coef.gamma))
    phis = FAMILY_PHIS if coef.direction == "up" else tuple(-p for p in FAMILY_PHIS)
    members, stop = [], ""
    for phi in phis:
        try:  # shrinking stops where the input gets too small for the network's stride
            m = compound(base, coef.alpha, coef.beta, coef.gamma, phi)
        except ScalerError as e:
            stop = str(e)
            break
        c, real = complexity(m), real_scale(base, m)
        members.append({
            "name": m.name, "phi": phi, "resolution": c.resolution, "params": human(c.params),
            "flops": human(c.flops), "flops_ratio": c.flops / base_flops, "target": (coef.alpha * coef.beta**2
                                                                                    * coef.gamma**2) ** phi,
            "real": [real.depth, real.width, real.resolution],
            "nominal": [coef.alpha**phi, coef.beta**phi, coef.gamma**phi],
            "notes": rounding_notes(base, m, coef.alpha**phi, coef.beta**phi, coef.gamma**phi) if phi else [],
            "proxy": proxy_acc.get(float(phi))})
    return {"base": base.name, "coefficients": (coef.alpha, coef.beta, coef.gamma), "members": members,
            "proxy": bool(proxy_acc), "stop": stop,
            "phis": "..".join(str(f(m["phi"] for m in members)) for f in (min, max))}


def _study(run_dir: Path, fit: dict[str, Any]) -> dict[str, Any] | None:
    """The study's verdicts per phi, when the run has one."""
    csv = run_dir / "study.csv"
    if not csv.exists():
        return None
    try:
        rows = summarize_study(csv)
    except ScalerError:
        return None
    settings = (read_run_yaml(run_dir / "study.yaml").get("settings") or {}) if (
        run_dir / "study.yaml").exists() else {}
    coef = settings.get("coefficients") or {}
    current = same_coefficients(coef, tuple(float(fit.get(k, -1)) for k in ("alpha", "beta", "gamma")))
    phis = [row["phi"] for row in rows] or [0.0]
    return {"rows": rows, "coefficients": coef, "max_phi": settings.get("max_phi"),
            "span": f"{min(phis):g}…{max(phis):g}", "down": settings.get("down") or {}, "current": current,
            "seeds": (settings.get("proxy") or {}).get("seeds"), "first_seed": settings.get("first_seed")}


def _forecast(run_dir: Path) -> dict[str, Any] | None:
    """forecast.csv by kind of row, when the study has one fitted on its trials as they are now."""
    result = current_forecast(run_dir)
    if result is None:
        return None
    return {"rows": result.of("forecast"), "skipped": result.of("skipped"), "back_tests": result.of("back-test")}


def _settings(run: dict[str, Any]) -> dict[str, Any]:
    """The settings a reviewer checks: search, proxy training, data split and seeds, and the full run.yaml."""
    s = run.get("settings") or {}
    proxy = s.get("proxy") or {}
    return {
        "search": s.get("search") or {}, "proxy": proxy,
        "split": {k: proxy.get(k) for k in ("dataset", "subset", "val_fraction", "test_fraction")},
        "execution": {k: run.get(k) for k in ("device", "executor", "workers", "threads_per_worker", "trials")},
        "yaml": yaml.safe_dump({k: v for k, v in run.items() if k != "environment"}, sort_keys=False, width=110),
    }


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f

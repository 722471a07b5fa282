"""Pictures of a grid: accuracy against FLOPs with the Pareto front, the coefficient map, training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.analysis import surface
from scaler.analysis.curves import curves_plot
from scaler.analysis.figure import FLOPS_LABEL, KIND_STYLE, RUN_COLOURS, log_axis, save, setup
from scaler.analysis.rungs import final_rung
from scaler.coefficients import read_coefficients
from scaler.errors import ScalerError
from scaler.evidence.selection import summarize
from scaler.results import SCHEMA_SPLITS, read_results
from scaler.scaling import SINGLE_DIMENSIONS

# --x: results column, axis label, title word
X_AXES: dict[str, tuple[str, str, str]] = {
    "flops": ("flops", FLOPS_LABEL, "FLOPs"),
    "params": ("params", "parameters (log scale)", "parameters"),
    "activations": ("activations", "activations per image (output elements of every convolution, log scale)",
                    "activations"),
    "latency": ("latency_ms", "inference latency at batch 1 (ms on the trial's device, log scale)", "latency"),
    "train_step": ("train_step_ms", "training step time (ms per batch on the trial's device, log scale)",
                   "training step time"),
}


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (lower FLOPs, higher accuracy), by increasing FLOPs."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _chosen(csv_path: Path) -> dict[str, Any] | None:
    """The coefficients file beside a results CSV, every field the map marks checked; None when there is none."""
    coef = csv_path.parent / "coefficients.yaml"
    return read_coefficients(coef).data if coef.exists() else None


def pareto_plot(runs: list[tuple[str, Any]], out: Path, formats: list[str], x: str = "flops") -> list[Path]:
    """Accuracy against FLOPs (or ``x``, a key of :data:`X_AXES`) for every successful candidate, with each
    run's Pareto front. Files: ``pareto.*`` for FLOPs, ``pareto-<x>.*`` otherwise."""
    return save(pareto_figure(runs, x), out, "pareto" if x == "flops" else f"pareto-{x}", formats)


def pareto_figure(runs: list[tuple[str, Any]], x: str = "flops") -> Any:
    """The Pareto figure: one errorbar series per (run, kind), one dashed step line per run's front."""
    col, xlabel, word = X_AXES[x]
    for _, df in runs:
        if col not in df.columns or not df.loc[df["status"] == "ok", col].notna().all():
            raise ScalerError(f"--x {x}: the results have no {col} for every successful trial (results written "
                              "before scaler recorded it lack it: plot another --x, or rerun the grid)",
                              where=df.attrs.get("path"))
    x = col
    plt = setup()
    fig, ax = plt.subplots(figsize=(8.0, 5.0))
    notes = []
    overlay = len(runs) > 1
    tables = [summarize(df) for _, df in runs]
    for r, ((label, df), table) in enumerate(zip(runs, tables, strict=True)):
        failed = int((df["status"] != "ok").sum())
        if failed:
            notes.append(f"{label}: {failed} failed/diverged trial(s) not shown")
        edge = RUN_COLOURS[r % len(RUN_COLOURS)]
        for kind, (colour, marker, name) in KIND_STYLE.items():
            sub = table[table["kind"] == kind]
            if sub.empty:
                continue
            yerr = sub["accuracy_std"].fillna(0).to_numpy() if (sub["seeds"] > 1).any() else None
            ax.errorbar(sub[x], sub["accuracy"], yerr=yerr, fmt=marker, color=colour, ms=7, capsize=3,
                        mec=edge if overlay else "white", mew=1.5 if overlay else 0.8, alpha=0.9,
                        label=f"{name}" + (f" [{label}]" if overlay else ""))
        pts = list(zip(table[x].tolist(), table["accuracy"].tolist(), strict=True))
        front = pareto_front(pts)
        fx, fy = [pts[i][0] for i in front], [pts[i][1] for i in front]
        ax.step(fx, fy, where="post", color=edge, lw=1.4, ls="--", alpha=0.8,
                label="Pareto front" + (f" [{label}]" if overlay else ""))
        chosen = _chosen(Path(df.attrs["path"]))
        if chosen and "best" in chosen:
            b = chosen["best"]
            hit = table[((table["alpha"] - b["alpha"]).abs() < 1e-6) & ((table["beta"] - b["beta"]).abs() < 1e-6)
                        & ((table["gamma"] - b["gamma"]).abs() < 1e-6) & (table["kind"] != "base")]
            if not hit.empty:
                h = hit.iloc[0]
                # Named in the legend, not annotated in place: a label there always overlaps some other point.
                ax.scatter([h[x]], [h["accuracy"]], s=260, facecolors="none", edgecolors="#D55E00", lw=2, zorder=5,
                           label=f"chosen: α={b['alpha']:.2f}, β={b['beta']:.2f}, γ={b['gamma']:.2f}"
                           + (f" [{label}]" if overlay else ""))
    log_axis(ax, [v for table in tables for v in table[x]])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{split_of(runs[0][1])} accuracy (top-1)")
    ax.set_title(f"Accuracy vs {word} of the grid's proxies" + (" (mean ± std over seeds)" if any(
        (table["seeds"] > 1).any() for table in tables) else ""))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=9)
    if notes:
        fig.text(0.01, -0.02, "; ".join(notes), fontsize=8, color="#555555", ha="left", va="top")
    return fig


def coefficient_map(label: str, df: Any, out: Path, formats: list[str]) -> list[Path]:
    """Write ``coefficients.<format>`` (see :func:`coefficient_figure`); [] without a candidate to map."""
    return save(coefficient_figure(label, df), out, "coefficients", formats)


def coefficient_figure(label: str, df: Any) -> Any:
    """Accuracy over the constraint surface: (beta, gamma) with alpha solved; best and fitted optimum marked.
    None when the table has no candidate on the constraint."""
    import numpy as np

    plt = setup()
    table = summarize(df)
    on = table[table["kind"].isin(["compound", *SINGLE_DIMENSIONS])]
    if on.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 5.0))
    chosen = _chosen(Path(df.attrs["path"])) or {}
    fit = chosen.get("fit") or {}
    betas, gammas = on["beta"].to_numpy(), on["gamma"].to_numpy()
    lo, hi = float(on["accuracy"].min()), float(on["accuracy"].max())
    norm = matplotlib_normalize(lo, hi if hi > lo else lo + 1e-3)
    # The fit's surface is of the objective's score; shade it on this accuracy scale only when that is accuracy.
    of_accuracy = (chosen.get("objective") or {}).get("name", "accuracy") == "accuracy"
    if fit.get("ok") and fit.get("surface") and of_accuracy:
        c = fit["surface"]
        bs = np.linspace(betas.min(), betas.max(), 160)
        gs = np.linspace(gammas.min(), gammas.max(), 160)
        B, G = np.meshgrid(bs, gs, indexing="xy")
        Z = surface.evaluate(c, [np.log(B), np.log(G)])
        alphas = float(chosen.get("flops_factor", 2.0)) / (B * B * G * G)
        inside = (alphas >= float(on["alpha"].min()) - 1e-9) & (alphas <= float(on["alpha"].max()) + 1e-9)
        Z = np.where(inside, Z, np.nan)  # only where alpha is in range
        ax.contourf(B, G, np.clip(Z, lo, hi), levels=12, cmap="viridis", norm=norm, alpha=0.35)
    sc = ax.scatter(betas, gammas, c=on["accuracy"], cmap="viridis", norm=norm, s=140, edgecolors="black",
                    lw=0.6, zorder=3)
    split = chosen.get("selected_on", "validation")
    fig.colorbar(sc, ax=ax, label=f"{split} accuracy (dots: measured; shading: quadratic fit)", pad=0.02)
    pad_b = 0.06 * max(float(betas.max() - betas.min()), 0.05)
    pad_g = 0.06 * max(float(gammas.max() - gammas.min()), 0.05)
    ax.set_xlim(float(betas.min()) - pad_b, float(betas.max()) + pad_b)
    ax.set_ylim(float(gammas.min()) - pad_g, float(gammas.max()) + 2 * pad_g)
    for _, r in on.iterrows():
        ax.annotate(f"α={r['alpha']:.2f}", (r["beta"], r["gamma"]), xytext=(0, 9), textcoords="offset points",
                    ha="center", fontsize=7, color="#333333")
    _mark_choice(ax, on, chosen)
    ax.set_xlabel("β (width coefficient)")
    ax.set_ylabel("γ (resolution coefficient)")
    ax.set_title(f"{label}: accuracy on α·β²·γ² = {chosen.get('flops_factor', 2):g} (α solved)", pad=14)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False, fontsize=8, ncol=1)
    return fig


def _mark_choice(ax: Any, on: Any, chosen: dict[str, Any]) -> None:
    """The tie set (rings, each with its share of bootstrap wins), the choice (star), the fit's optimum (X) and
    the bootstrap interval of that optimum (dashed box)."""
    from matplotlib.patches import Rectangle

    sel, boot, fit = chosen.get("selection") or {}, chosen.get("bootstrap") or {}, chosen.get("fit") or {}
    ties = on[on["candidate"].isin(sel.get("tie_set", []))]
    if not ties.empty:
        ax.scatter(ties["beta"], ties["gamma"], s=420, facecolors="none", edgecolors="#CC79A7", lw=1.8, zorder=4,
                   label=f"tie set: not separable from the best at α = {sel.get('alpha', 0.05):g} (bootstrap wins)")
        for _, r in ties.iterrows():
            share = (boot.get("wins") or {}).get(r["candidate"])
            if share is not None:
                ax.annotate(f"{share:.0%}", (r["beta"], r["gamma"]), xytext=(0, -17), textcoords="offset points",
                            ha="center", fontsize=7, color="#CC79A7")
    if "best" in chosen:
        b = chosen["best"]
        ax.scatter([b["beta"]], [b["gamma"]], marker="*", s=420, color="#D55E00", edgecolors="white", zorder=5,
                   label=f"chosen: fewest FLOPs in the tie set ({b['accuracy']:.4f})")
    if fit.get("ok"):
        use = "" if fit.get("usable") else "; not used: " + str(fit.get("why_not", ""))[:60]
        ax.scatter([fit["beta"]], [fit["gamma"]], marker="X", s=220, color="#E69F00", edgecolors="black", zorder=5,
                   label=f"fit optimum (α={fit['alpha']:.2f}, β={fit['beta']:.2f}, γ={fit['gamma']:.2f}){use}")
        box = boot.get("fit_interval")
        if box:
            (b0, b1), (g0, g1) = box["beta"], box["gamma"]
            ax.add_patch(Rectangle((b0, g0), b1 - b0, g1 - g0, fill=False, ls="--", lw=1.2, ec="#E69F00",
                                   zorder=2, label=f"fit optimum, {boot.get('level', 0.95):.0%} bootstrap interval"))


def split_of(df: Any) -> str:
    """What a results table's ``accuracy`` was scored on: validation, or the test split for schema 1."""
    return SCHEMA_SPLITS.get(df.attrs.get("schema_version"), "validation")


def matplotlib_normalize(lo: float, hi: float) -> Any:
    from matplotlib.colors import Normalize

    return Normalize(vmin=lo, vmax=hi)


def plot_results(csv_paths: list[Path], out: Path | None = None, formats: tuple[str, ...] = ("png", "svg"),
                 x: str = "flops") -> list[Path]:
    """Draw every plot for one or more results CSVs; returns the files written."""
    fmts = [f.strip().lower() for f in formats if f.strip()]
    bad = [f for f in fmts if f not in ("png", "svg", "pdf")]
    if bad or not fmts:
        raise ScalerError(f"--format: unknown format(s) {', '.join(bad) or '(none)'}; use png, svg or pdf")
    runs = []
    for p in csv_paths:
        df = final_rung(read_results(p))  # a halving run: its last rung (earlier rungs only ranked)
        if not (df["status"] == "ok").any():
            raise ScalerError("no successful trial to plot (every trial failed or diverged)", where=df.attrs["path"])
        runs.append((Path(df.attrs["path"]).parent.name, df))
    out = out or Path(runs[0][1].attrs["path"]).parent / "plots"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScalerError(f"cannot create the output directory: {e.strerror}", where=out) from None
    paths = pareto_plot(runs, out, fmts, x=x)
    if len(runs) == 1:
        label, df = runs[0]
        paths += coefficient_map(label, df, out, fmts)
        paths += curves_plot(label, df, out, fmts)
    return paths

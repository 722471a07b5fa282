"""The study's figure: accuracy against FLOPs, one line per scaling strategy (the paper's Figure 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.analysis.figure import FLOPS_LABEL, KIND_STYLE, STUDY_ORDER, log_axis, save, setup
from scaler.analysis.study import study_table
from scaler.analysis.study_forecast import read_forecast


def study_plot(csv_path: str | Path, out: Path, formats: list[str]) -> list[Path]:
    """Write ``study.<format>`` (see :func:`study_figure`)."""
    return save(study_figure(csv_path), out, "study", formats)


def study_figure(csv_path: str | Path) -> Any:
    """Accuracy against FLOPs, one line per strategy (the paper's Figure 8), with the forecast's fan."""
    plt = setup()
    table, _ = study_table(csv_path)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    present = set(table["strategy"])
    for strategy in [k for k in STUDY_ORDER if k in present] + sorted(present - set(STUDY_ORDER)):
        sub = table[table["strategy"] == strategy].sort_values("phi")
        colour, marker, name = KIND_STYLE.get(strategy, ("#999999", "P", strategy))
        yerr = sub["accuracy_std"].fillna(0).to_numpy() if (sub["seeds"] > 1).any() else None
        same = _same_as_compound(table, strategy)
        label = "compound scaling (fitted)" if strategy == "compound" else f"{name} scaling" + (
            f" (= compound at φ {', '.join(f'{p:g}' for p in same)})".replace("-", "−") if same else "")
        ax.errorbar(sub["flops"], sub["accuracy"], yerr=yerr, color=colour, marker=marker, ms=7, lw=1.8,
                    capsize=3, label=label, zorder=4 if strategy == "compound" else 2)
    fan = _fan(ax, Path(csv_path).with_name("forecast.csv"), table)
    log_axis(ax, table["flops"].tolist() + fan)
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel("validation accuracy (top-1)")
    span = f"{int(table['phi'].min())}…{int(table['phi'].max())}".replace("-", "−")
    ax.set_title(f"Scaling strategies at equal FLOPs factors (φ = {span})" + ("\nforecast beyond the measured φ: "
                 "dashed, band: its interval of the mean (seed noise only)" if fan else ""))
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: "forecast" in labels[i])  # measured lines first
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left", bbox_to_anchor=(1.02, 1.0),
              frameon=False, fontsize=9)
    return fig


def _same_as_compound(table: Any, strategy: str) -> list[float]:
    """The phi at which ``strategy`` is the compound network itself (same FLOPs at the same phi: a fitted set
    that scales one dimension only), drawn under compound's line."""
    if strategy == "compound":
        return []
    mine = table[(table["strategy"] == strategy) & (table["phi"] != 0)].set_index("phi")["flops"]
    compound = table[table["strategy"] == "compound"].set_index("phi")["flops"]
    return [float(p) for p, f in mine.items() if p in compound.index and compound[p] == f]


def _fan(ax: Any, path: Path, table: Any) -> list[float]:
    """forecast.csv, when the study has one: per strategy a dashed line from its largest measured phi through the
    forecast phi, with the prediction interval as a band. Returns the FLOPs drawn (for the axis)."""
    if not path.exists():
        return []
    rows = read_forecast(path).of("forecast")
    drawn: list[float] = []
    for strategy in sorted({r.strategy for r in rows}):
        mine = sorted((r for r in rows if r.strategy == strategy), key=lambda r: r.phi or 0)
        last = table[table["strategy"] == strategy].sort_values("phi").tail(1)
        if last.empty:
            continue
        colour = KIND_STYLE.get(strategy, ("#999999", "P", strategy))[0]
        x = [float(last["flops"].iloc[0])] + [r.flops or 0.0 for r in mine]
        y = [float(last["accuracy"].iloc[0])] + [r.accuracy or 0.0 for r in mine]
        low = [y[0]] + [r.low or 0.0 for r in mine]
        high = [y[0]] + [r.high or 0.0 for r in mine]
        ax.plot(x, y, color=colour, ls="--", lw=1.5, marker="o", mfc="white", ms=5, zorder=3)
        ax.fill_between(x, low, high, color=colour, alpha=0.15, lw=0,
                        label=f"{strategy}: forecast, {mine[0].level:.0%} interval")
        drawn += x
    return drawn

"""What every figure of scaler shares: matplotlib set up headless, the colours and markers of each kind of
network, the FLOPs axis, saving in several formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scaler.arch.flops import human
from scaler.scaling import SINGLE_DIMENSIONS

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
KIND_STYLE: dict[str, tuple[str, str, str]] = {
    "compound": ("#0072B2", "o", "compound"),
    "base": ("#000000", "s", "base (φ = 0)"),
    "depth": ("#E69F00", "^", "depth only"),
    "width": ("#009E73", "v", "width only"),
    "resolution": ("#CC79A7", "D", "resolution only"),
    "uniform": ("#56B4E9", "P", "uniform (d1_w1_r1)"),
    "fast": ("#D55E00", "X", "fast (d1_w8_r1)"),
}
STUDY_ORDER = ("compound", *SINGLE_DIMENSIONS, "uniform", "fast")  # legend order of the study plot
RUN_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
FLOPS_LABEL = "real FLOPs per image (multiply-accumulates after rounding, log scale)"

def setup() -> Any:
    """pyplot with scaler's style: on the Agg backend (no display needed), except inside a Jupyter kernel, whose
    inline backend shows the figures the Python API returns."""
    import sys

    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 160, "font.size": 10, "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.fonttype": "none"})
    return plt


def save(fig: Any, out: Path, stem: str, formats: list[str]) -> list[Path]:
    """Write ``out/stem.<format>`` for every format and close the figure; returns the paths ([] for no figure:
    nothing to draw)."""
    if fig is None:
        return []
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out / f"{stem}.{fmt}"
        fig.savefig(p, bbox_inches="tight")
        paths.append(p)
    setup().close(fig)
    return paths


def log_axis(ax: Any, values: list[float]) -> None:
    """Log x-axis with plain-number labels (2M, 500k): under one decade of range at 1-9 x 10^k, under two at
    1, 2 and 5 x 10^k (matplotlib would label only the powers of ten, often none or one, or crowd the minors)."""
    from matplotlib import ticker

    ax.set_xscale("log")
    vals = [v for v in values if v and v > 0]
    if not vals or max(vals) / min(vals) >= 100:
        return
    subs = (1.0, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8) if max(vals) / min(vals) < 10 else (1.0, 2.0, 5.0)
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: human(v) if v >= 1000 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())

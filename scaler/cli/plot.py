"""``scaler plot``: Pareto plot, coefficient map and training curves of one or more grids (no torch)."""

from __future__ import annotations

from pathlib import Path

import click

from scaler.cli.options import formats


@click.command("plot")
@click.argument("csvs", metavar="RESULTS_CSV...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Directory for the figures "
              "[default: plots/ beside the first CSV].")
@click.option("--format", "fmt", default="png,svg", show_default=True, help="Comma-separated: png, svg, pdf.")
@click.option("--x", "x_axis", type=click.Choice(["flops", "params", "activations", "latency", "train_step"]),
              default="flops", show_default=True, help="x-axis of the Pareto plot: real FLOPs, parameters, "
              "activations (output elements of every convolution: FAMS's runtime proxy), inference latency (batch 1) "
              "or training step time, as measured by each trial.")
def command(csvs: tuple[Path, ...], out_dir: Path | None, fmt: str, x_axis: str) -> None:
    """Pareto plot (accuracy vs FLOPs, front as a step line), coefficient map and training curves.

    Several CSVs overlay as separate runs. PNG at 160 dpi plus SVG by default.
    """
    from scaler.api.figures import plot_files

    for p in plot_files(list(csvs), out_dir, tuple(formats(fmt)), x=x_axis):
        click.echo(str(p))

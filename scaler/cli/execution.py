"""How grid and study run their trials: the executor flags, the executor they ask for, and the live display."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from scaler.cli.options import console
from scaler.errors import ScalerError


def observer(quiet: bool) -> Any:
    """The live rich display, or plain lines with ``--quiet``."""
    from scaler.ui.progress import PlainUI, RichUI

    return PlainUI() if quiet else RichUI(console())


def executor_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--workers, --device and the Ray flags, collected by :func:`make_executor`."""
    options = [
        click.option("--workers", type=click.IntRange(min=1), help="Trials at once, each in its own process; the "
                     "CPU threads are split among them [default: 1; local executor only]."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
                     help="auto picks CUDA when present (bf16 autocast there)."),
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="local: this machine (--workers processes); ray: one Ray task per trial (pip install "
                     "'scaler[ray]')."),
        click.option("--ray-address", help="Ray cluster to join (auto or HOST:PORT) [default: start a local Ray]."),
        click.option("--cpus-per-trial", type=click.FloatRange(min=0, min_open=True), help="Ray: CPUs (and torch "
                     "threads) per trial [default: a node's CPUs per GPU with GPUs, else a whole node's]."),
        click.option("--gpus-per-trial", type=click.FloatRange(min=0), help="Ray: GPUs per trial [default: 1 when "
                     "the cluster has GPUs and --device is not cpu, else 0]."),
        click.option("--retries", type=click.IntRange(min=0), help="Ray: times a trial is retried when its worker "
                     "dies [default: 2]."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def make_executor(workers: int | None, device: str, executor: str, ray_address: str | None,
                  cpus_per_trial: float | None, gpus_per_trial: float | None, retries: int | None) -> Any:
    """The executor the flags ask for; flags of the other executor are one-line errors."""
    if executor == "ray":
        from scaler.search.executors.ray import RayExecutor, RayOptions, import_ray

        import_ray()  # fail fast, before any work, when Ray is not installed
        if workers is not None:
            raise ScalerError("--workers is for the local executor; under Ray, --cpus-per-trial and "
                              "--gpus-per-trial decide how many trials run at once")
        options = RayOptions(address=ray_address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                             retries=2 if retries is None else retries)
        return RayExecutor(options, device)
    if any(v is not None for v in (ray_address, cpus_per_trial, gpus_per_trial, retries)):
        raise ScalerError("--ray-address, --cpus-per-trial, --gpus-per-trial and --retries need --executor ray")
    from scaler.search.executors.pool import local_executor
    from scaler.train.measure import resolve_device

    return local_executor(workers or 1, str(resolve_device(device)))

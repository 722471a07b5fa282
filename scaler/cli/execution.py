"""How grid and study run their trials: the executor flags, collected for the API (:mod:`scaler.api.execution`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

EXECUTION_FLAGS = ("workers", "device", "executor", "ray_address", "cpus_per_trial", "gpus_per_trial", "retries",
                   "max_attempts", "no_retry")


def executor_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--workers, --device and the Ray flags, collected by :func:`execution`."""
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
        click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Trainings a trial may take in all: a failure, a worker's death and a Ray retry each "
                     "count one. Rerunning the same command retrains the trials recorded as failed (not diverged) "
                     "until they succeed or reach this."),
        click.option("--no-retry", is_flag=True, help="A trial recorded as failed stays failed on rerun."),
        click.option("--retries", type=click.IntRange(min=0), hidden=True,
                     help="Deprecated: --max-attempts N+1."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def execution(workers: int | None, device: str, executor: str, ray_address: str | None,
              cpus_per_trial: float | None, gpus_per_trial: float | None, retries: int | None,
              max_attempts: int, no_retry: bool) -> Any:
    """What the executor flags ask for (checked when the run starts)."""
    from scaler.api.execution import Execution

    if retries is not None:  # the Ray-only flag it replaces: attempts = retries + the first
        max_attempts = retries + 1
    return Execution(executor=executor, workers=workers, device=device, ray_address=ray_address,
                     cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, max_attempts=max_attempts,
                     retry=not no_retry)

"""Where trials run: the executor asked for (this machine's processes, or Ray) and the live display."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaler.errors import ScalerError


@dataclass(frozen=True)
class Execution:
    """How trials run. ``workers``: trials at once on this machine; the Ray settings need ``executor="ray"``."""

    executor: str = "local"  # local | ray
    workers: int | None = None
    device: str = "auto"  # auto | cpu | cuda
    ray_address: str | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    max_attempts: int = 3  # trainings a trial may take in all: failures, worker deaths and reruns count alike
    retry: bool = True  # a rerun retrains the trials recorded as failed that have attempts left

    def attempts(self) -> Any:
        """The runner's policy: :class:`scaler.search.runner.Attempts`."""
        from scaler.search.runner import Attempts

        if self.max_attempts < 1:
            raise ScalerError(f"--max-attempts must be at least 1, got {self.max_attempts}")
        return Attempts(most=self.max_attempts, rerun_failed=self.retry)


def make_executor(how: Execution) -> Any:
    """The executor ``how`` asks for; settings of the other executor are one-line errors."""
    if how.executor == "ray":
        from scaler.search.executors.ray import RayExecutor, RayOptions, import_ray

        import_ray()  # fail fast, before any work, when Ray is not installed
        if how.workers is not None:
            raise ScalerError("--workers is for the local executor; under Ray, --cpus-per-trial and "
                              "--gpus-per-trial decide how many trials run at once")
        options = RayOptions(address=how.ray_address, cpus_per_trial=how.cpus_per_trial,
                             gpus_per_trial=how.gpus_per_trial)
        return RayExecutor(options, how.device)
    if how.executor != "local":
        raise ScalerError(f"executor must be local or ray, not {how.executor!r}")
    if any(v is not None for v in (how.ray_address, how.cpus_per_trial, how.gpus_per_trial)):
        raise ScalerError("--ray-address, --cpus-per-trial and --gpus-per-trial need --executor ray")
    from scaler.search.executors.pool import local_executor
    from scaler.train.measure import resolve_device

    return local_executor(how.workers or 1, str(resolve_device(how.device)))


def observer(progress: bool, console: Any = None) -> Any:
    """Live rich bars (in a terminal, or in a notebook with ipywidgets), or plain log lines (``progress=False``,
    or a notebook without ipywidgets, where rich cannot redraw in place)."""
    import importlib.util

    from scaler.ui.progress import PlainUI, RichUI

    if progress and console is None:
        from rich.console import Console

        console = Console()
    if not progress or (console.is_jupyter and importlib.util.find_spec("ipywidgets") is None):
        return PlainUI()
    return RichUI(console)


def available_cores() -> int:
    """The CPU cores this process may use."""
    from scaler.search.executors.base import available_cores as cores

    return cores()

"""Trials as Ray tasks: ``scaler grid --executor ray``. Imported only when asked for; the local executor never
imports Ray.

The driver stays the only writer of the results directory: it submits one task per trial, yields each row as its
task finishes and appends it itself. The dataset goes into Ray's object store once. A task whose worker dies
(process killed, node lost) is retried by Ray while the trial has attempts left (``Trial.max_attempts``, the same
count as every executor's); a training that raises inside :func:`scaler.search.worker.run_trial` is already a
``failed`` row, retrained by the next run of the command. Ctrl-C cancels what is still
running or queued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaler.errors import ScalerError
from scaler.results import TrialRow
from scaler.search.executors.base import Finished, Stateless
from scaler.search.trial import Trial
from scaler.search.worker import Outcome, Reporter, load_trial_data, run_reporting, timed_out
from scaler.spec import FactorySpec, NetSpec

INSTALL_HINT = "--executor ray needs Ray: pip install 'scaler[ray]' (or pip install 'ray>=2.9')"


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: start a local Ray instance; "auto" or HOST:PORT: join a cluster
    cpus_per_trial: float | None = None  # default: see trial_resources
    gpus_per_trial: float | None = None


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ScalerError(INSTALL_HINT) from None
    return ray


def trial_resources(nodes: list[dict[str, float]], options: RayOptions, device: str) -> tuple[float, float]:
    """(CPUs, GPUs) per trial from the live nodes' resources: GPUs default to 1 when a node has one (0 with
    --device cpu); CPUs to a whole node's, or its CPUs per GPU when trials take GPUs. Refuses requests that no
    node can satisfy (the tasks would wait forever)."""
    nodes = [n for n in nodes if n.get("CPU", 0) > 0]
    if not nodes:
        raise ScalerError("the Ray cluster has no live node with CPUs")
    gpus = options.gpus_per_trial
    if gpus is None:
        gpus = 1.0 if device != "cpu" and any(n.get("GPU", 0) >= 1 for n in nodes) else 0.0
    if device == "cuda" and not gpus:
        raise ScalerError("--device cuda with --executor ray needs GPUs in the cluster (and --gpus-per-trial > 0)")
    cpus = options.cpus_per_trial
    if cpus is None:
        if gpus:
            per_gpu = [float(n["CPU"] // max(1.0, n.get("GPU", 0) / gpus)) for n in nodes if n.get("GPU", 0) >= gpus]
            cpus = max([1.0, *per_gpu])
        else:
            cpus = max(n["CPU"] for n in nodes)
    if not any(n["CPU"] >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
        biggest = max(nodes, key=lambda n: (n.get("GPU", 0), n["CPU"]))
        raise ScalerError(f"no node of the Ray cluster has {cpus:g} CPU(s) and {gpus:g} GPU(s) for a trial (largest: "
                          f"{biggest['CPU']:g} CPUs, {biggest.get('GPU', 0):g} GPUs); lower --cpus-per-trial or "
                          "--gpus-per-trial")
    return float(cpus), float(gpus)


def _trial_task(trial: Trial, data: Any, device: str, threads: int, queue: Any) -> Outcome:
    return run_reporting(trial, queue, device=device, threads=threads, data=data)


@dataclass(frozen=True)
class RayExecutor(Stateless):
    """One Ray task per trial (``--executor ray``)."""

    options: RayOptions
    device: str = "auto"  # the workers' devices decide

    def describe(self, trials: int) -> tuple[str, dict[str, Any]]:
        o = self.options
        return (f"Ray ({o.address or 'local instance'})",
                {"executor": "ray", "ray_address": o.address, "cpus_per_trial": o.cpus_per_trial,
                 "gpus_per_trial": o.gpus_per_trial})

    def run(self, trials: Sequence[Trial], report: Reporter | None = None, data: Any = None) -> Iterator[Finished]:
        yield from execute_ray(trials, device=self.device, options=self.options, report=report, data=data)


def execute_ray(trials: Sequence[Trial], *, device: str, options: RayOptions,
                report: Reporter | None = None, data: Any = None) -> Iterator[Finished]:
    """Run ``trials`` as Ray tasks, yielding (trial, row, record) as each finishes. ``data``: the dataset the
    driver loaded (loaded here when not given), shipped once."""
    if not trials:
        return
    ray = import_ray()
    from ray.util.queue import Queue

    started_here = not ray.is_initialized()
    if started_here:
        try:  # "local" starts a fresh instance even when RAY_ADDRESS or a `ray start` cluster is around
            modules = factory_modules(trials[0].spec)  # Ray uploads local code only for a whole job, at init
            ray.init(address=options.address or "local", include_dashboard=False, log_to_driver=False,
                     configure_logging=False, runtime_env={"py_modules": modules} if modules else None)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ScalerError(f"cannot reach the Ray cluster: {str(e).splitlines()[0]}",
                              where=options.address or "local Ray") from None
    try:
        cpus, gpus = trial_resources([n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")], options,
                                     device)
        threads = max(1, int(cpus))
        dev = device if device != "auto" else ("cuda" if gpus else "cpu")
        data_ref = ray.put(data if data is not None else load_trial_data(trials[0]))  # once, for every task
        queue = Queue(maxsize=10_000)
        task = ray.remote(num_cpus=cpus, num_gpus=gpus, retry_exceptions=False)(_trial_task)
        refs = {task.options(max_retries=max(0, t.max_attempts - t.attempt)).remote(t, data_ref, dev, threads, queue): t
                for t in trials}
        yield from _watch(ray, refs, queue, dev, report)
    finally:
        if started_here:
            ray.shutdown()


def _watch(ray: Any, refs: dict[Any, Trial], queue: Any, device: str,
           report: Reporter | None) -> Iterator[Finished]:
    """Yield each task's trial as it finishes, pass on the workers' events, and stop the tasks past their time
    limit; on any exception (Ctrl-C included) cancel what is still running or queued."""
    from ray.util.queue import Empty

    pending, started = list(refs), {}
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.25)
            while True:
                try:
                    tid, info = queue.get_nowait()
                except Empty:
                    break
                if info.get("event") == "start":
                    started[tid] = time.monotonic()
                if report is not None:
                    report(tid, info)
            for ref in done:
                yield (refs[ref], *_result(ray, ref, refs[ref], device))
            for ref in _overdue(pending, refs, started):
                pending.remove(ref)
                ray.cancel(ref, force=True)  # kills the task's worker process; Ray starts another
                t = refs[ref]
                yield t, t.row(device, timed_out(t, time.monotonic() - started[t.trial_id])), None
    except BaseException:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise


def _overdue(pending: list[Any], refs: dict[Any, Trial], started: dict[str, float]) -> list[Any]:
    """The tasks that have run past their trial's ``proxy.trial_timeout`` since their worker began them."""
    now = time.monotonic()
    return [ref for ref in pending if (limit := refs[ref].proxy.trial_timeout) is not None
            and refs[ref].trial_id in started and now - started[refs[ref].trial_id] > limit]


def factory_modules(spec: NetSpec) -> list[str]:
    """The user's code a factory network needs on Ray's workers, which may be other machines: the factory's
    top-level module (a file or a package folder) from the spec's folder, for Ray to ship in the tasks' runtime
    environment (a job's: when Ray was started before scaler, the workers import from the spec's folder, which
    must then exist on them). Empty for spec networks, and for factories importable from sys.path (installed
    packages)."""
    if not isinstance(spec, FactorySpec) or not spec.path:
        return []
    top = Path(spec.path) / spec.factory.partition(":")[0].split(".")[0]
    # Python's order within one folder: a package (with __init__.py), a module file, a namespace folder
    found = [p for p in (top / "__init__.py", top.with_suffix(".py"), top) if p.exists()]
    return [str(found[0].parent if found[0].name == "__init__.py" else found[0])] if found else []


def _result(ray: Any, ref: Any, trial: Trial, device: str) -> tuple[TrialRow, dict[str, Any] | None]:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = e.cause
        if isinstance(cause, ScalerError):
            raise cause from None  # bad data or settings: the same for every trial
        message = f"{type(cause).__name__}: {cause}"
    except ray.exceptions.RayError as e:  # the worker or node died on each of the trial's attempts left
        message = f"worker died on attempts {trial.attempt}-{trial.max_attempts}: {type(e).__name__}: " \
                  f"{str(e).splitlines()[0]}"
        return dataclasses.replace(trial.row(device, message), attempts=trial.max_attempts), None
    return trial.row(device, message), None

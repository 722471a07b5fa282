"""The worker side of a search: one :class:`Trial` in, one results row and its per-epoch record out.

Runs wherever the executor puts it (this process, a pool worker, a Ray task); it never writes the results
directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
from collections.abc import Callable
from typing import Any

from scaler.config import ProxyConfig
from scaler.errors import ScalerError
from scaler.results import TrialRow
from scaler.search.trial import Trial, one_line

Reporter = Callable[[str, dict[str, Any]], None]
Outcome = tuple[TrialRow, dict[str, Any]]


def load_proxy_data(proxy: ProxyConfig, image_size: int | None = None) -> Any:
    """The dataset a proxy trains on, split as its settings say (cached per process by
    :func:`scaler.data.datasets.load_dataset`)."""
    from scaler.data.datasets import load_dataset

    return load_dataset(proxy.dataset, val_fraction=proxy.val_fraction, test_fraction=proxy.test_fraction,
                        subset=proxy.subset, image_size=image_size)


def load_trial_data(trial: Trial) -> Any:
    """The trial's dataset.

    Arrays (digits, MNIST, IDX, npz) stay at their own size and every batch is resized to the trial's
    resolution, so a trial sees the same pixels whatever else its grid or study holds. Image folders of mixed
    sizes must be decoded to one size: the largest resolution of the plan."""
    proxy = trial.proxy
    return load_proxy_data(proxy, trial.image_size if proxy.dataset.startswith("imagefolder:") else None)


def run_trial(trial: Trial, *, device: str = "cpu", threads: int | None = None, report: Reporter | None = None,
              data: Any = None) -> Outcome:
    """Train one proxy and return (results row, per-epoch record). A training that raises is recorded as
    ``failed``; only a :class:`ScalerError` (bad data or settings) propagates. ``data`` is the loaded dataset
    when the caller has it (the Ray executor ships it once); by default it is loaded (and cached) here. Sets the
    process's torch threads to ``threads`` (when given) before training."""
    from scaler.train.loop import configure_torch

    row = trial.row(device)
    record: dict[str, Any] = {"trial_id": trial.trial_id, "spec": trial.spec.model_dump(mode="json"), "curve": [],
                              "worker": {"host": socket.gethostname(), "pid": os.getpid()}}
    config = trial.proxy.training()

    def forward(event: str) -> Callable[[dict[str, Any]], None] | None:
        return (lambda info: report(trial.trial_id, {"event": event, **info})) if report else None

    try:
        data = data if data is not None else load_trial_data(trial)
        spec = trial.spec
        configure_torch(device, threads)
        model, res = _train_fitting(trial, spec, data, config, device, forward, record)
        row = dataclasses.replace(
            row, accuracy=round(res.accuracy, 6), test_accuracy=round(res.test_accuracy, 6),
            loss=round(res.loss, 6), status=res.status, message=res.message,
            train_seconds=round(res.train_seconds, 3), images_per_second=round(res.images_per_second, 1),
            train_step_ms=round(res.train_step_ms, 3), micro_batch=res.micro_batch)
        if res.checkpoint is not None:
            record["checkpoint"] = res.checkpoint  # the driver keeps it for the next rung, not in the JSON
        if res.status == "ok" and trial.final:  # the cheap rungs only rank; cost is measured at the last
            row.latency_ms, row.latency_batch_ms = _latencies(model, spec, (1, config.batch_size), device)
        record["curve"] = res.curve
    except ScalerError:
        raise
    except Exception as e:  # what training measured so far stays in the row
        row = dataclasses.replace(row, status="failed", message=one_line(f"{type(e).__name__}: {e}"))
    record["row"] = row.as_dict()
    return row, record


def _train_fitting(trial: Trial, spec: Any, data: Any, config: Any, device: str,
                   forward: Callable[[str], Any], record: dict[str, Any]) -> tuple[Any, Any]:
    """Build and train the trial's network; when the device runs out of memory, again from the start with each
    batch split into micro-batches half as large (gradients accumulate to the same batch), down to one image.
    Each split that did not fit is kept in ``record["out_of_memory"]``."""
    import torch

    from scaler.arch.torch_model import build_model
    from scaler.train.loop import train
    from scaler.train.memory import free_memory, is_out_of_memory, smaller_micro_batch

    micro: int | None = config.batch_size
    while True:
        torch.manual_seed(trial.seed)
        model = build_model(spec)
        try:
            return model, train(model, data, config, resolution=spec.resolution, seed=trial.seed, device=device,
                                on_step=forward("step"), on_epoch=forward("epoch"), budget=trial.budget,
                                resume=trial.resume, checkpoint=trial.checkpoint, micro_batch=micro)
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            record.setdefault("out_of_memory", []).append({"micro_batch": micro, "message": one_line(str(e), 300)})
            error = one_line(f"{type(e).__name__}: {e}", 300)
        del model
        free_memory(device)
        tried, micro = micro, smaller_micro_batch(micro)
        if micro is None:
            raise MemoryError(f"out of memory even with the batch of {config.batch_size} split into micro-batches "
                              f"of {tried} image(s): {error}")


def _latencies(model: Any, spec: Any, batches: tuple[int, ...], device: str) -> tuple[float, ...]:
    """Inference latency (ms) at each batch size; NaN where the device runs out of memory."""
    from scaler.train.measure import measure_latency
    from scaler.train.memory import free_memory, is_out_of_memory

    out = []
    for bs in batches:
        try:
            out.append(round(measure_latency(model, spec.in_channels, spec.resolution, bs, device=device), 3))
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            free_memory(device)
            out.append(float("nan"))
    return tuple(out)


def timed_out(trial: Trial, seconds: float) -> str:
    """The message of a trial stopped by its time limit."""
    return (f"timed out: stopped after {seconds:.0f} s, over its limit of {trial.proxy.trial_timeout:g} s "
            "(--trial-timeout, proxy.trial_timeout)")


def run_reporting(trial: Trial, queue: Any, *, device: str, threads: int, data: Any = None) -> Outcome:
    """:func:`run_trial` in a worker (a process of the pool, a Ray task): its events go to ``queue`` for the
    driver's display, best-effort."""

    def report(trial_id: str, info: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # progress is best-effort
            queue.put_nowait((trial_id, info))

    report(trial.trial_id, {"event": "start"})
    return run_trial(trial, device=device, threads=threads, report=report, data=data)

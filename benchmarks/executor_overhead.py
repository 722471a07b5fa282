"""Per-trial overhead of the Ray executor against the local one, on a trivial trial, and Ray's start-up time.

    python benchmarks/executor_overhead.py [--trials 8]

A trivial trial: a 3-block network trained for one epoch on 64 digits images (tens of milliseconds). Both
executors run the same trials one at a time (the Ray task asks for all CPUs), in one process; Ray is started
locally by the script. Last line: key=value pairs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scaler.config import ProxyConfig
from scaler.search.candidates import Candidate
from scaler.search.executors.base import available_cores
from scaler.search.executors.inprocess import InProcessExecutor
from scaler.search.executors.ray import RayExecutor, RayOptions, import_ray
from scaler.search.trial import Trial, make_trials
from scaler.spec import Spec

SPEC = {"name": "trivial", "resolution": 8, "num_classes": 10, "in_channels": 1, "stem": {"channels": 8},
        "stages": ["ds_r1_k3_s1_e1_c8", "ir_r2_k3_s2_e2_c16"], "head": {"channels": 32}, "dropout": 0.0,
        "drop_path": 0.0}


def trivial_trials(n: int) -> list[Trial]:
    spec = Spec.model_validate(SPEC)
    proxy = ProxyConfig(dataset="digits", subset=64, epochs=1, batch_size=64, bn_calibration=0, seeds=n)
    return make_trials(spec, [(Candidate("base", 1.0, 1.0, 1.0, 0.0), spec, "base")], proxy)


def timed(run: object) -> list[float]:
    """Seconds between consecutive finished trials (the first counts from the start)."""
    out, t = [], time.perf_counter()
    for _ in run:  # type: ignore[attr-defined]
        now = time.perf_counter()
        out.append(now - t)
        t = now
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    args = ap.parse_args()
    cores = available_cores()
    trials = trivial_trials(args.trials + 1)
    local_executor = InProcessExecutor("cpu")  # one trial at a time, all available cores' threads
    list(local_executor.run(trials[:1]))  # warm: data cache, oneDNN
    local = timed(local_executor.run(trials[1:]))

    ray = import_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=cores, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup = time.perf_counter() - t0
    try:
        ray_executor = RayExecutor(RayOptions(cpus_per_trial=cores), "cpu")
        t0 = time.perf_counter()
        list(ray_executor.run(trials[:1]))  # first task: worker process start-up
        first_task = time.perf_counter() - t0
        remote = timed(ray_executor.run(trials[1:]))
    finally:
        ray.shutdown()

    local_ms, ray_ms = 1000 * statistics.median(local), 1000 * statistics.median(remote[1:] or remote)
    print(f"trivial trial, {args.trials} runs each, {cores} CPU(s)")
    print(f"  local executor   median {local_ms:8.1f} ms/trial")
    print(f"  Ray executor     median {ray_ms:8.1f} ms/trial (first of the batch {1000 * remote[0]:.0f} ms)")
    print(f"  Ray start-up     {startup:8.2f} s (ray.init), first task {first_task:.2f} s")
    print(f"local_ms={local_ms:.1f} ray_ms={ray_ms:.1f} overhead_ms={ray_ms - local_ms:.1f} "
          f"ray_startup_s={startup:.2f} first_task_s={first_task:.2f} trials={args.trials}")


if __name__ == "__main__":
    main()

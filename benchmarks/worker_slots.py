"""Worker slots kept across a run's rounds against a new pool per round (what scaler did before issue #28: a
process pool per rung, confirmation round and race), on the same trivial trials, in one process.

    python benchmarks/worker_slots.py [--rounds 3] [--trials 4] [--workers 2]

Each round hands ``--trials`` trivial trials (a 3-block network, one epoch on 64 digits images) to ``--workers``
worker processes, as a halving run's rungs do. "kept": one executor for every round (its workers start once);
"fresh": an executor per round, closed after it (every round pays the workers' start-up: the interpreter, torch
and the dataset). Last line: key=value pairs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.executor_overhead import trivial_trials
from scaler.search.executors.pool import PoolExecutor


def rounds_kept(rounds: int, trials: int, workers: int) -> float:
    """Seconds for every round on one executor."""
    t0 = time.perf_counter()
    with PoolExecutor(workers, "cpu") as executor:
        for _ in range(rounds):
            list(executor.run(trivial_trials(trials)))
    return time.perf_counter() - t0


def rounds_fresh(rounds: int, trials: int, workers: int) -> float:
    """Seconds for every round, each on a new executor."""
    t0 = time.perf_counter()
    for _ in range(rounds):
        with PoolExecutor(workers, "cpu") as executor:
            list(executor.run(trivial_trials(trials)))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    fresh = rounds_fresh(args.rounds, args.trials, args.workers)
    kept = rounds_kept(args.rounds, args.trials, args.workers)
    print(f"{args.rounds} rounds x {args.trials} trivial trials on {args.workers} workers")
    print(f"  a new pool per round  {fresh:7.2f} s")
    print(f"  slots kept            {kept:7.2f} s")
    print(f"fresh_s={fresh:.2f} kept_s={kept:.2f} speedup={fresh / kept:.2f} rounds={args.rounds} "
          f"trials={args.trials} workers={args.workers}")


if __name__ == "__main__":
    main()

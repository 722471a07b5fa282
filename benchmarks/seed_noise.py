"""Seed noise of a grid's proxies: retrain a few finished candidates with more seeds, in one process.

    python benchmarks/seed_noise.py results/quickstart --seeds 3 --candidates base,resolution,a1.389-b1.200-g1.000

Prints per-candidate accuracy over seeds, the pooled seed std, and the accuracy spread of the grid's candidates
(seed 0) against it. The rows are appended to the grid's results.csv (same trial ids, seeds 1..K-1), so a later
`scaler fit` sees them too. Last line: key=value pairs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from scaler.config import ProxyConfig, SearchConfig
from scaler.results import RunDir, read_run_yaml
from scaler.search.plan import plan_trials
from scaler.search.trial import run_trial
from scaler.spec import Spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grid_dir", type=Path)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--candidates", default="base,resolution,width",
                    help="comma-separated candidate keys (trial ids without -sN)")
    args = ap.parse_args()
    recorded = read_run_yaml(args.grid_dir / "run.yaml")["settings"]
    proxy = ProxyConfig.model_validate({**recorded["proxy"], "seeds": args.seeds})
    base = Spec.model_validate(recorded["base"])
    search = SearchConfig.model_validate(recorded["search"])
    from scaler.data.registry import load_dataset

    data = load_dataset(proxy.dataset, val_fraction=proxy.val_fraction, subset=proxy.subset)
    trials = {t.trial_id: t for t in plan_trials(base, search, proxy, data.num_classes, data.channels)}
    run = RunDir(args.grid_dir)
    run.lock()
    try:
        done = {r["trial_id"]: r for r in run.rows()}
        keys = [k.strip() for k in args.candidates.split(",") if k.strip()]
        acc: dict[str, list[float]] = {}
        for key in keys:
            for seed in range(args.seeds):
                tid = f"{key}-s{seed}"
                if tid not in trials:
                    sys.exit(f"unknown trial {tid}; candidates look like {next(iter(trials))[:-3]}")
                if tid in done:
                    a = float(done[tid]["accuracy"])
                else:
                    row, record = run_trial(trials[tid], threads=None)
                    run.append(row, record)
                    a = float(row.accuracy)
                    print(f"{tid}: {a:.4f} ({row.train_seconds:.0f}s)", flush=True)
                acc.setdefault(key, []).append(a)
        seed0 = [float(r["accuracy"]) for r in run.rows() if r["trial_id"].endswith("-s0") and r["status"] == "ok"]
    finally:
        run.unlock()
    print(f"{'candidate':34s} {'mean':>8s} {'std':>8s}  seeds")
    for key, values in acc.items():
        print(f"{key:34s} {statistics.mean(values):8.4f} {statistics.stdev(values):8.4f}  "
              + " ".join(f"{v:.4f}" for v in values))
    pooled = statistics.mean(statistics.variance(v) for v in acc.values()) ** 0.5
    spread = max(seed0) - min(seed0)
    print(f"pooled seed std {pooled:.4f}; seed-0 accuracy spread over {len(seed0)} trials {spread:.4f} "
          f"({spread / pooled:.1f}x the seed std)")
    print(f"seed_std={pooled:.5f} spread={spread:.5f} spread_over_std={spread / pooled:.2f} "
          f"candidates={len(acc)} seeds={args.seeds}")


if __name__ == "__main__":
    main()

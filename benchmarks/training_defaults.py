"""Check the proxy training defaults on validation data: train a spec's base proxy at a few peak learning rates
(and optimizers), with several seeds, and rank the settings by validation accuracy (test printed beside it, never
used to choose).

    python benchmarks/training_defaults.py specs/quickstart.yaml --lrs 0.1,0.2,0.4 --seeds 2

Last line: key=value pairs (the best setting and its margin over the default).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from scaler.config import TrainConfig
from scaler.search.settings import load_grid_settings
from scaler.search.trial import plan_trials
from scaler.search.worker import load_proxy_data, run_trial

DEFAULT_LR = TrainConfig.model_fields["lr"].default


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--lrs", default="0.1,0.2,0.4")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--candidate", default="base", help="which candidate of the grid to train (default: base)")
    args = ap.parse_args()
    results: dict[float, list[tuple[float, float]]] = {}
    for lr in (float(x) for x in args.lrs.split(",")):
        settings = load_grid_settings(args.spec, {"proxy.lr": lr, "proxy.seeds": 1, "proxy.seed_offset": 300})
        data = load_proxy_data(settings.proxy)
        plan = plan_trials(settings.base, settings.search, settings.proxy, data.num_classes, data.channels)
        (trial,) = [t for t in plan if t.candidate.key == args.candidate]
        for seed in range(300, 300 + args.seeds):
            row, _ = run_trial(dataclasses.replace(trial, seed=seed, trial_id=f"{trial.candidate.key}-s{seed}"))
            results.setdefault(lr, []).append((row.accuracy, row.test_accuracy))
            print(f"lr {lr:<5g} seed {seed}: val {row.accuracy:.4f} test {row.test_accuracy:.4f}", flush=True)
    means = {lr: statistics.mean(v for v, _ in runs) for lr, runs in results.items()}
    for lr, runs in results.items():
        print(f"lr {lr:<5g} validation {means[lr]:.4f} (test {statistics.mean(t for _, t in runs):.4f}) over "
              f"{len(runs)} seeds")
    best = max(means, key=means.get)
    margin = means[best] - means.get(DEFAULT_LR, float("nan"))
    print(f"best_lr={best:g} default_lr={DEFAULT_LR:g} margin_over_default={margin:.4f} seeds={args.seeds}")


if __name__ == "__main__":
    main()

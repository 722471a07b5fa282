"""Progressive learning (EfficientNetV2) on the quickstart proxy: training time and accuracy with and without it.

    python benchmarks/progressive.py [--spec specs/quickstart.yaml] [--seeds 2] [--candidates base,resolution]

Trains each candidate of the spec's grid with the same epochs, data and seeds, once plainly and once with
``proxy.progressive`` (default settings: 4 stages, image size from half the trial's resolution up, dropout,
augmentation and mixup ramped). Evaluation is at the trial's resolution both ways. Last line: key=value pairs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scaler.config import ProgressiveConfig
from scaler.search.settings import load_grid_settings
from scaler.search.trial import plan_trials
from scaler.search.worker import load_proxy_data, run_trial


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=os.path.join(os.path.dirname(__file__), "..", "specs", "quickstart.yaml"))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--candidates", default="base,resolution", help="comma-separated candidate keys")
    args = ap.parse_args()

    keys = args.candidates.split(",")
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {"plain": {}, "progressive": {}}
    for mode in runs:
        overrides = {"proxy.seeds": args.seeds}
        if mode == "progressive":
            overrides["proxy.progressive"] = ProgressiveConfig().model_dump()
        settings = load_grid_settings(args.spec, overrides)
        data = load_proxy_data(settings.proxy)
        trials = plan_trials(settings.base, settings.search, settings.proxy, data.num_classes, data.channels)
        for trial in trials:
            if trial.candidate.key not in keys:
                continue
            row, _ = run_trial(trial)
            if row.status != "ok":
                sys.exit(f"{mode} {trial.trial_id}: {row.status}: {row.message}")
            runs[mode].setdefault(trial.candidate.key, []).append((row.train_seconds, row.accuracy))
            print(f"{mode:<12} {trial.trial_id:<18} {row.train_seconds:7.1f} s  accuracy {row.accuracy:.4f}",
                  flush=True)

    print(f"\n{'candidate':<12} {'plain s':>8} {'prog s':>8} {'speedup':>8} {'plain acc':>10} {'prog acc':>10} "
          f"{'delta':>7}")
    totals = {m: [0.0] for m in runs}
    diffs = []
    for key in keys:
        p, q = runs["plain"][key], runs["progressive"][key]
        ps, qs = sum(t for t, _ in p), sum(t for t, _ in q)
        pa, qa = statistics.mean(a for _, a in p), statistics.mean(a for _, a in q)
        totals["plain"][0] += ps
        totals["progressive"][0] += qs
        diffs += [b - a for (_, a), (_, b) in zip(p, q, strict=True)]
        print(f"{key:<12} {ps:8.1f} {qs:8.1f} {ps / qs:7.2f}x {pa:10.4f} {qa:10.4f} {qa - pa:+7.4f}")
    noise = [statistics.stdev([a for _, a in runs[m][k]]) for m in runs for k in keys if args.seeds > 1]
    seed_std = statistics.mean(noise) if noise else float("nan")
    speedup = totals["plain"][0] / totals["progressive"][0]
    delta = statistics.mean(diffs)
    print(f"speedup={speedup:.3f} accuracy_delta={delta:+.4f} seed_std={seed_std:.4f} seeds={args.seeds} "
          f"plain_seconds={totals['plain'][0]:.1f} progressive_seconds={totals['progressive'][0]:.1f}")


if __name__ == "__main__":
    main()

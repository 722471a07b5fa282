"""Do short proxies rank the strategies as longer ones do? Retrain a grid's base, its chosen compound candidate
and the depth-, width- and resolution-only baselines at 1x, 2x and 4x the grid's epochs, with 2 seeds each.

    python benchmarks/proxy_fidelity.py results/quickstart-grid --factors 1,2,4 --seeds 2

Validation accuracy decides the rankings (test accuracy is printed beside it). Prints the mean per candidate and
training length, the tie set at each length (Hsu's MCB on the pooled seed noise), and Kendall's tau between the
rankings of every pair of lengths. Rows go to GRID_DIR/fidelity/results.csv (resumable: a rerun trains only what
is missing; seeds 500.. so they never repeat the grid's). Last line: key=value pairs.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

from scaler.config import ProxyConfig, SearchConfig
from scaler.evidence.stats import Group, pooled_noise, tie_set
from scaler.results import COLUMNS, RunDir, read_run_yaml
from scaler.search.trial import plan_trials
from scaler.search.worker import load_proxy_data, run_trial
from scaler.spec import Spec

FIRST_SEED = 500
STRATEGIES = ("base", "depth", "width", "resolution")


def plan(grid_dir: Path, factors: list[int], seeds: int) -> list:
    """One trial per (training length, candidate, seed): the grid's own trials with longer training."""
    import yaml

    recorded = read_run_yaml(grid_dir / "run.yaml")["settings"]
    chosen = yaml.safe_load((grid_dir / "coefficients.yaml").read_text())["best"]["candidate"]
    base, search = Spec.model_validate(recorded["base"]), SearchConfig.model_validate(recorded["search"])
    trials = []
    for factor in factors:
        proxy = ProxyConfig.model_validate({**recorded["proxy"], "epochs": recorded["proxy"]["epochs"] * factor,
                                            "seeds": 1})
        data = load_proxy_data(proxy)
        grid = {t.candidate.key: t for t in plan_trials(base, search, proxy, data.num_classes, data.channels)}
        for key in dict.fromkeys((*STRATEGIES, chosen)):
            for seed in range(FIRST_SEED, FIRST_SEED + seeds):
                trials.append(dataclasses.replace(grid[key], seed=seed, trial_id=f"{key}-e{proxy.epochs}-s{seed}"))
    return trials


def run(grid_dir: Path, trials: list) -> list[dict[str, str]]:
    out = RunDir(grid_dir / "fidelity", columns=(*COLUMNS, "strategy"))
    out.lock()
    try:
        done = {r["trial_id"] for r in out.rows()}
        for t in trials:
            if t.trial_id in done:
                continue
            row, record = run_trial(t)
            out.append(row, record, strategy=t.candidate.key)
            print(f"{t.trial_id:36s} {row.status} val {row.accuracy:.4f} test {row.test_accuracy:.4f} "
                  f"({row.train_seconds:.0f} s)", flush=True)
        return out.rows()
    finally:
        out.unlock()


def report(rows: list[dict[str, str]]) -> dict[str, float]:
    """Rankings per training length, tie sets, and Kendall's tau between lengths."""
    from scipy.stats import kendalltau

    by: dict[int, dict[str, list[tuple[float, float]]]] = {}
    for r in rows:
        if r["status"] == "ok":
            by.setdefault(int(r["epochs"]), {}).setdefault(r["strategy"], []).append(
                (float(r["accuracy"]), float(r["test_accuracy"])))
    means = {e: {k: sum(a for a, _ in v) / len(v) for k, v in c.items()} for e, c in sorted(by.items())}
    groups = [Group.of(f"{e}:{k}", [a for a, _ in v]) for e, c in by.items() for k, v in c.items()]
    noise = pooled_noise(groups)
    summary: dict[str, float] = {}
    for epochs, cands in by.items():
        ranked = sorted(cands, key=lambda k: -means[epochs][k])
        ties = tie_set([Group.of(k, [a for a, _ in cands[k]]) for k in ranked], noise).members if noise else ()
        print(f"{epochs:3d} epochs: " + "  ".join(
            f"{k} {means[epochs][k]:.4f} (test {sum(t for _, t in cands[k]) / len(cands[k]):.4f})" for k in ranked)
            + f"\n            tie set: {', '.join(ties)}")
        summary[f"winner_{epochs}ep"] = ranked[0]
    for a, b in itertools.combinations(sorted(means), 2):
        keys = sorted(set(means[a]) & set(means[b]))
        tau = kendalltau([means[a][k] for k in keys], [means[b][k] for k in keys]).statistic
        print(f"Kendall tau, {a} vs {b} epochs: {tau:+.2f} over {len(keys)} candidates")
        summary[f"tau_{a}_{b}"] = round(float(tau), 3)
    if noise:
        summary["seed_std"], summary["df"] = round(noise.sigma, 5), noise.df
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grid_dir", type=Path)
    ap.add_argument("--factors", default="1,2,4", help="training lengths, as multiples of the grid's epochs")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    factors = [int(f) for f in args.factors.split(",")]
    summary = report(run(args.grid_dir, plan(args.grid_dir, factors, args.seeds)))
    print(" ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()

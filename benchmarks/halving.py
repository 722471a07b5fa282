"""Successive halving against the full grid on the quickstart: compute, choice and regret.

    PYTHONPATH=. python benchmarks/halving.py [--reference results/quickstart-reference]
                                              [--out results/quickstart-halving] [--offsets 100,200,300]

The reference is the full grid with 3 seeds for every candidate (`scaler grid specs/quickstart.yaml --seeds 3
--confirm 0 --out results/quickstart-reference`: long, run once, committed). Each halving run is `scaler grid
specs/quickstart.yaml --strategy halving --seed-offset N --out OUT/offset-N` (resumable; a finished run is only
read). Seeds from 100 on never repeat the reference's (0, 1, 2).

For each run: training compute (sum of train_seconds; also the machine-independent sum of FLOPs x epochs
trained) as a share of the reference's, per phase; whether its choice is in the reference's tie set; its regret
(the reference mean of the reference's best candidate minus the reference mean of halving's choice, in units of
the reference's seed noise); Kendall's tau between its rungs. Last line: key=value pairs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from scaler.evidence.selection import network_noise, select, summarize
from scaler.results import read_results

SPEC = "specs/quickstart.yaml"


def run_halving(out: Path, offset: int) -> None:
    """Run (or resume, or only read) one halving quickstart in a real process, as a user would."""
    subprocess.run([sys.executable, "-m", "scaler.cli", "grid", SPEC, "--strategy", "halving", "--seed-offset",
                    str(offset), "--out", str(out), "--quiet"], check=True)


def reference_of(path: Path) -> dict[str, Any]:
    """The reference's per-network means, its tie set, its best network and its seed noise."""
    df = read_results(path)
    table = summarize(df)
    noise = network_noise(table)
    sel = select(table, noise=noise)
    pool = table[table["kind"] != "base"]
    return {"rows": df, "mean": dict(zip(table["candidate"], table["accuracy"], strict=True)),
            "tie_set": sel["tie_set"], "best": str(pool.iloc[0]["candidate"]), "sigma": noise.sigma,
            "seeds": dict(zip(table["candidate"], table["seeds"], strict=True))}


def phases(df: Any) -> dict[str, tuple[float, float]]:
    """(train seconds, FLOPs x epochs) per phase of a halving run: each rung on its own seed, the base's extra
    seeds at the last rung (the noise) and the racing round. A continued trial trained only its rung's share."""
    first = int(df["seed"].min())
    budgets = df[df["seed"] == first].groupby("rung")["budget"].first().to_dict()
    out: dict[str, tuple[float, float]] = {}
    for _, r in df.iterrows():
        rung = int(r["rung"])
        own = r["seed"] == first
        trained = r["budget"] - (budgets[rung - 1] if own and rung else 0.0)
        phase = f"rung {rung}" if own else ("base seeds" if r["kind"] == "base" else "race")
        seconds, work = out.get(phase, (0.0, 0.0))
        out[phase] = (seconds + float(r["train_seconds"]), work + float(r["flops"]) * trained)
    return out


def measure(out: Path, ref: dict[str, Any]) -> dict[str, Any]:
    df = read_results(out)
    coef = yaml.safe_load((out / "coefficients.yaml").read_text())
    chosen = coef["selection"]["chosen"]
    rdf = ref["rows"]
    ref_seconds = float(rdf["train_seconds"].sum())
    ref_work = float((rdf["flops"] * rdf["epochs"]).sum())
    parts = phases(df)
    seconds = sum(s for s, _ in parts.values())
    work = sum(w for _, w in parts.values())
    regret = (ref["mean"][ref["best"]] - ref["mean"][chosen]) / ref["sigma"]
    return {"chosen": chosen, "in_tie_set": chosen in ref["tie_set"], "regret": regret,
            "share": seconds / ref_seconds, "work_share": work / ref_work,
            "phases": {k: (s / ref_seconds, w / ref_work) for k, (s, w) in parts.items()},
            "rungs": coef.get("rungs", []), "tie_set": coef["selection"].get("tie_set", []),
            "trials": len(df), "choice_seeds": int(coef["best"]["seeds"])}


def grid_choice(path: Path, ref: dict[str, Any]) -> dict[str, Any]:
    """A finished default grid, refitted with today's rule, measured like a halving run."""
    from scaler.analysis.fit import fit_results

    df = read_results(path)
    fit = fit_results(df, factor=2.0, phi=1.0, alpha_range=(1.0, 2.0), beta_range=(1.0, 1.4),
                      gamma_range=(1.0, 1.4))
    chosen = fit.selection.chosen
    return {"trials": len(df), "share": df["train_seconds"].sum() / ref["rows"]["train_seconds"].sum(),
            "chosen": chosen, "seeds": fit.best.seeds, "in_tie_set": chosen in ref["tie_set"],
            "regret": (ref["mean"][ref["best"]] - ref["mean"][chosen]) / ref["sigma"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, default=Path("results/quickstart-reference"))
    ap.add_argument("--out", type=Path, default=Path("results/quickstart-halving"))
    ap.add_argument("--offsets", default="100,200,300")
    ap.add_argument("--grids", default="results/quickstart-grid,results/quickstart-seed100",
                    help="finished default grids (1 seed, then the confirmation round) to compare, refitted here")
    args = ap.parse_args()
    ref = reference_of(args.reference)
    print(f"reference: {len(ref['rows'])} trials, {ref['rows']['train_seconds'].sum() / 60:.1f} min of training; "
          f"seed noise {100 * ref['sigma']:.2f} points; best {ref['best']} "
          f"({ref['mean'][ref['best']]:.4f}); tie set {', '.join(ref['tie_set'])}")
    results = []
    for offset in (int(x) for x in args.offsets.split(",")):
        out = args.out / f"offset-{offset}"
        run_halving(out, offset)
        m = measure(out, ref)
        results.append(m)
        taus = "; ".join(f"rungs {r['rungs'][0]}->{r['rungs'][1]}: tau {r['tau']} [{r['interval'][0]}, "
                         f"{r['interval'][1]}] over {r['candidates']}" for r in m["rungs"])
        print(f"offset {offset}: {m['trials']} trials, compute {100 * m['share']:.0f}% of the reference "
              f"(FLOPs x epochs {100 * m['work_share']:.0f}%); chose {m['chosen']} ({m['choice_seeds']} seeds, "
              f"reference mean {ref['mean'][m['chosen']]:.4f}), in the reference tie set: {m['in_tie_set']}, "
              f"regret {m['regret']:.2f} sigma; its tie set {', '.join(m['tie_set'])}; {taus}")
        print("  compute by phase (seconds, FLOPs x epochs, % of the reference): " + ", ".join(
            f"{k} {100 * s:.1f}/{100 * w:.1f}" for k, (s, w) in sorted(m["phases"].items())))
    for grid in (Path(g) for g in args.grids.split(",") if g):
        g = grid_choice(grid, ref)
        print(f"default grid {grid}: {g['trials']} trials, compute {100 * g['share']:.0f}% of the reference; "
              f"chose {g['chosen']} ({g['seeds']} seed(s)), in the reference tie set: {g['in_tie_set']}, "
              f"regret {g['regret']:.2f} sigma")
    tau = {k: min((r["rungs"][k]["tau"] for r in results if len(r["rungs"]) > k and r["rungs"][k]["tau"]
                   is not None), default=float("nan")) for k in (0, 1)}
    print(f"runs={len(results)} share_max={max(r['share'] for r in results):.3f} "
          f"share_mean={sum(r['share'] for r in results) / len(results):.3f} "
          f"work_share_max={max(r['work_share'] for r in results):.3f} "
          f"in_tie_set={sum(r['in_tie_set'] for r in results)}/{len(results)} "
          f"regret_max_sigma={max(r['regret'] for r in results):.2f} "
          f"tau01_min={tau[0]:.2f} tau12_min={tau[1]:.2f}")


if __name__ == "__main__":
    main()

"""``scaler grid``: train a proxy for every (alpha, beta, gamma) candidate on real data, then fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scaler.cli.execution import EXECUTION_FLAGS, execution, executor_options
from scaler.cli.options import LIMIT_HELP, TRIAL_TIMEOUT_HELP, complete_spec, console
from scaler.cli.report import announce
from scaler.cli.verdict import print_fit


@click.command("grid")
@click.argument("spec_path", metavar="BASE_SPEC", shell_complete=complete_spec)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Results directory "
              "[default: results/<base name>/].")
@click.option("--dataset", help="digits | mnist5k | fashion | idx:DIR | npz:FILE | imagefolder:DIR.")
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs per proxy.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Training batch size.")
@click.option("--subset", type=click.IntRange(min=1), help="Use at most N training images (stratified).")
@click.option("--limit", type=click.IntRange(min=0), help=LIMIT_HELP)
@click.option("--seeds", type=click.IntRange(min=1), help="Train every candidate with K seeds (noise estimate).")
@click.option("--seed-offset", type=click.IntRange(min=0), help="First seed (default 0): rerun a grid on new seeds "
              "to check that its conclusions hold.")
@click.option("--confirm", type=click.IntRange(min=0), help="After the grid, retrain the base and the top K "
              "candidates with search.confirm_seeds (default 2) more seeds, so the seed noise is measured and ties "
              "are named (default 3; 0: off).")
@click.option("--strategy", type=click.Choice(["grid", "halving", "optuna"]), help="grid: every candidate for "
              "every epoch, then --confirm; halving: successive halving (short rungs first, the best 1/eta of the "
              "compound candidates go on; base and baselines always reach the full budget), then up to --max-seeds "
              "seeds for the tie set [default: halving]; optuna: --trials proposals of a sampler over continuous "
              "beta and gamma (alpha from the constraint), then the same race (pip install 'scaler[optuna]').")
@click.option("--trials", type=click.IntRange(min=1), help="Optuna: compound candidates the sampler proposes "
              "before the race [default: 20].")
@click.option("--sampler", type=click.Choice(["tpe", "gp"]), help="Optuna: tree-structured Parzen estimator or "
              "Gaussian process [default: tpe].")
@click.option("--sampler-seed", type=click.IntRange(min=0), help="Optuna: the sampler's seed [default: 0].")
@click.option("--eta", type=click.IntRange(min=2), help="Halving: keep 1/eta per cut; rungs grow eta-fold "
              "[default: 3].")
@click.option("--rungs", type=click.IntRange(min=1), help="Halving: cuts; budgets are epochs/eta^rungs, ..., "
              "epochs [default: 2].")
@click.option("--max-seeds", type=click.IntRange(min=1), help="Halving and optuna: seeds of each tie-set member "
              "and the base in the racing round [default: 3].")
@click.option("--keep-checkpoints", is_flag=True, help="Halving: keep the rungs' checkpoints (DIR/checkpoints/) "
              "after the run completes.")
@click.option("--mode", type=click.Choice(["solve", "filter"]), help="solve: alpha from the constraint; "
              "filter: full grid within --tolerance.")
@click.option("--step", type=float, help="Grid step of the coefficients (default 0.05).")
@click.option("--phi", type=float, help="Compound coefficient of the candidates (default 1). Below 0 the grid "
              "searches how to shrink the base: --phi -1 trains every candidate and baseline at about half its "
              "FLOPs (1 / flops_factor).")
@click.option("--flops-factor", type=float, help="FLOPs growth per unit of phi (default 2).")
@click.option("--match-flops/--no-match-flops", default=None, help="Give every candidate the input size that "
              "brings its real FLOPs (after rounding) closest to the target, so candidates are compared at equal "
              "cost; the gamma used is recorded.")
@click.option("--progressive", is_flag=True, default=None, help="Train proxies with EfficientNetV2 progressive "
              "learning (image size and regularization grow by stage; settings under proxy.progressive).")
@click.option("--tensorboard", is_flag=True, default=None, help="Write one TensorBoard run per trial under "
              "DIR/tensorboard/<trial>/ (loss, validation accuracy, learning rate; FLOPs, params and coefficients as "
              "hparams): tensorboard --logdir DIR/tensorboard. Needs pip install 'scaler[tensorboard]'.")
@click.option("--trial-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help=TRIAL_TIMEOUT_HELP)
@executor_options
@click.option("--fresh", is_flag=True, help="Start over; the old results are moved to DIR/previous/.")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of live bars.")
def command(spec_path: str, out_dir: Path | None, limit: int | None, fresh: bool, quiet: bool,
            keep_checkpoints: bool, **flags: Any) -> None:
    """Search alpha, beta, gamma: train a proxy for every candidate on real data, then fit.

    Candidates satisfy alpha * beta^2 * gamma^2 = FLOPs factor (default 2). The base (phi = 0) and the
    depth-, width- and resolution-only baselines at the same factor are trained too; then the base and the top
    candidates again with more seeds (--confirm), so the fit can tell real differences from seed noise. With
    --strategy halving, candidates first train short rungs and only the best go on; then the tie set gets
    more seeds. Every
    decision reads the validation split; the test split is scored once per trial and only reported. Settings
    come from the
    spec's `search:` and `proxy:` sections (see README); flags override them. Rerunning the same command
    resumes: finished trials are skipped. BASE_SPEC is a YAML file, a preset name or quickstart (the README's
    main job, built in: specs/quickstart.yaml).

    \b
    Writes  DIR/results.csv       one row per finished trial (accuracy, FLOPs, cost, timing)
            DIR/trials/<id>.json  per-epoch curve of each trial
            DIR/run.yaml          the resolved settings (reproduce the run exactly)
            DIR/coefficients.yaml the fitted alpha, beta, gamma; next: scaler emit --phi 0..4
            DIR/plots/            Pareto plot, coefficient map, training curves (PNG and SVG)
            DIR/report.html       all of it on one self-contained page (scaler report)
    """
    from scaler.api.grids import grid

    how = execution(**{k: flags.pop(k) for k in EXECUTION_FLAGS})
    run = grid(spec_path, out_dir, limit=limit, fresh=fresh, keep_checkpoints=keep_checkpoints, progress=not quiet,
               console=None if quiet else console(), execution=how, **flags)  # unset flags keep the file's values
    if run.fitted is None:  # the report says how far it got, without an answer
        click.echo(f"no successful compound trial yet: nothing fitted ({run.path / 'results.csv'})")
    else:
        print_fit(run.fitted, None if quiet else console())
    announce(run.path, run.reported, run.warnings[0] if run.warnings else None)

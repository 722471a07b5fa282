"""``scaler.grid``: search alpha, beta, gamma by training real proxies, then fit: what ``scaler grid`` runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaler.api.execution import Execution, make_executor, observer
from scaler.api.figures import refresh_report
from scaler.api.runs import Run
from scaler.errors import ScalerError
from scaler.spec.paths import plain_name

if TYPE_CHECKING:
    from scaler.analysis.outcome import FitOutcome
    from scaler.results import RunDir

# setting name -> the key in the spec's sections (a dotted key such as "search.tolerance" is taken as it is)
SETTINGS = {
    "dataset": "proxy.dataset", "epochs": "proxy.epochs", "batch_size": "proxy.batch_size",
    "subset": "proxy.subset", "seeds": "proxy.seeds", "progressive": "proxy.progressive", "mode": "search.mode",
    "step": "search.step", "phi": "search.phi", "flops_factor": "search.flops_factor",
    "match_flops": "search.match_flops", "confirm": "search.confirm", "seed_offset": "proxy.seed_offset",
    "strategy": "search.strategy", "eta": "search.eta", "rungs": "search.rungs", "max_seeds": "search.max_seeds",
    "tensorboard": "proxy.tensorboard", "trial_timeout": "proxy.trial_timeout", "trials": "search.trials",
    "sampler": "search.sampler", "sampler_seed": "search.sampler_seed",
}


def grid(spec: str | Path, out: str | Path | None = None, *, limit: int | None = None, fresh: bool = False,
         keep_checkpoints: bool = False, progress: bool = True, console: Any = None,
         execution: Execution | None = None, **settings: Any) -> Run:
    """Search alpha, beta, gamma for the base ``spec`` (a YAML file or a preset name), as ``scaler grid`` does.

    ``settings`` override the spec's ``search:`` and ``proxy:`` sections: ``epochs=1``, ``dataset="digits"``,
    ``phi=-1``, or any dotted key (``**{"search.tolerance": 0.1}``). The run goes to ``out`` (default
    ``results/<base name>/``); calling again resumes it. ``limit``: train at most that many more trials.
    Returns the :class:`Run`, fitted (``run.coefficients``) once a compound candidate has finished; its figures
    (``plots/``) and ``report.html`` are written either way (``run.reported``; a failure is a warning in
    ``run.warnings``, the results stay safe).
    """
    from scaler.search.driver import run_grid
    from scaler.search.settings import load_grid_settings

    unknown = [k for k in settings if k not in SETTINGS and "." not in k]
    if unknown:
        raise ScalerError(f"unknown setting(s) {', '.join(unknown)}: use {', '.join(SETTINGS)} or a dotted key of "
                          "the spec's search: or proxy: section")
    overrides = {SETTINGS.get(k, k): v for k, v in settings.items() if v is not None}
    loaded = load_grid_settings(spec, overrides)
    # a plain name cannot leave results/; results/<name> may be a symlink the user made to a bigger disk
    with make_executor(execution or Execution()) as executor:
        outcome = run_grid(loaded, Path(out) if out else Path("results") / plain_name(loaded.base.name), executor,
                           observer(progress, console), limit=limit, fresh=fresh, finish=_fit,
                           keep_checkpoints=keep_checkpoints, attempts=(execution or Execution()).attempts())
    reported, warning = refresh_report(outcome.out)  # figures and report.html, as `scaler grid` writes them
    return Run(outcome.out, ran=outcome.ran, failed=outcome.failed, fitted=outcome.finished, reported=reported,
               warnings=[warning] if warning else [])


def _fit(run: RunDir) -> FitOutcome | None:
    """The grid's fit, when it has a successful compound trial to fit."""
    from scaler.analysis.fit import fit_run
    from scaler.analysis.rungs import final_rung
    from scaler.results import read_results

    if not run.csv.exists():
        return None
    last = final_rung(read_results(run.csv))  # a halving run decides on its last rung
    if not ((last["kind"] == "compound") & (last["status"] == "ok")).any():
        return None
    return fit_run(run.csv)


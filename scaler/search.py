"""The (alpha, beta, gamma) grid: candidates under alpha * beta^2 * gamma^2 = factor, proxies, trials.

A trial is a pure function of (candidate, settings) -> results row (:func:`run_trial`); the driver
(:func:`run_grid`) plans the trials, runs them in-process or in worker processes, and is the only writer of the
results directory (:mod:`scaler.results`).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scaler.errors import ScalerError
from scaler.scaling import compound, scale
from scaler.spec import Document, Spec, read_yaml, spec_from_document, validation_error
from scaler.train import TrainConfig

KINDS = ("base", "depth", "width", "resolution", "compound")


class Range(BaseModel):
    """A closed interval of a coefficient, written ``[lo, hi]`` or ``{min: lo, max: hi}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float
    max: float

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            if len(data) != 2:
                raise ValueError("a range is [min, max]")
            return {"min": data[0], "max": data[1]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not 0 < self.min <= self.max:
            raise ValueError("needs 0 < min <= max")
        return self

    def values(self, step: float) -> list[float]:
        """Grid points min, min + step, ... <= max, rounded so that 1.0 + 4 * 0.05 is exactly 1.2."""
        n = math.floor((self.max - self.min) / step + 1e-9)
        return [round(self.min + i * step, 10) for i in range(n + 1)]

    def __contains__(self, x: float) -> bool:
        return self.min - 1e-9 <= x <= self.max + 1e-9


class SearchConfig(BaseModel):
    """Which (alpha, beta, gamma) to try. Under ``solve`` alpha is solved from the constraint (every candidate is
    exactly on it); under ``filter`` the full grid is kept where the product is within ``tolerance``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phi: float = Field(1.0, gt=0, description="compound coefficient of the candidates")
    flops_factor: float = Field(2.0, gt=1, description="target FLOPs growth per unit of phi")
    mode: Literal["solve", "filter"] = "solve"
    alpha: Range = Range(min=1.0, max=2.0)
    beta: Range = Range(min=1.0, max=1.4)
    gamma: Range = Range(min=1.0, max=1.4)
    step: float = Field(0.05, gt=0, description="grid step of beta and gamma (and alpha under filter)")
    tolerance: float = Field(0.05, ge=0, description="filter mode: relative distance to the constraint")
    baselines: bool = Field(True, description="also train the base and depth-, width-, resolution-only")
    use: Literal["best", "fit"] = Field("best", description="which coefficients emit uses: the best measured "
                                        "candidate or the smooth fit's optimum")
    match_flops: bool = Field(False, description="give every candidate the input size (on the resolution divisor) "
                              "that brings its real FLOPs closest to the target; the gamma used is recorded")

    @property
    def target(self) -> float:
        """Target real FLOPs ratio of the candidates: flops_factor ** phi."""
        return self.flops_factor**self.phi


@dataclass(frozen=True)
class Candidate:
    kind: str
    alpha: float
    beta: float
    gamma: float
    phi: float

    @property
    def key(self) -> str:
        if self.kind == "compound":
            return f"a{self.alpha:.3f}-b{self.beta:.3f}-g{self.gamma:.3f}"
        return self.kind


def candidates(cfg: SearchConfig) -> list[Candidate]:
    """Base, the three single-dimension baselines, then the compound candidates, in a stable order."""
    factor, phi = cfg.flops_factor, cfg.phi
    out: list[Candidate] = []
    if cfg.baselines:
        root = math.sqrt(factor)
        out += [Candidate("base", 1.0, 1.0, 1.0, 0.0), Candidate("depth", factor, 1.0, 1.0, phi),
                Candidate("width", 1.0, root, 1.0, phi), Candidate("resolution", 1.0, 1.0, root, phi)]
    points: list[tuple[float, float, float]] = []
    if cfg.mode == "solve":
        for b in cfg.beta.values(cfg.step):
            for g in cfg.gamma.values(cfg.step):
                a = round(factor / (b * b * g * g), 10)
                if a in cfg.alpha:
                    points.append((a, b, g))
    else:
        for a in cfg.alpha.values(cfg.step):
            for b in cfg.beta.values(cfg.step):
                for g in cfg.gamma.values(cfg.step):
                    if abs(a * b * b * g * g / factor - 1) <= cfg.tolerance + 1e-12:
                        points.append((a, b, g))
    for a, b, g in points:
        # Points with two multipliers at 1 are the single-dimension baselines, trained under their own kind.
        if sum(abs(m - 1) < 1e-9 for m in (a, b, g)) >= 2:
            continue
        out.append(Candidate("compound", a, b, g, phi))
    return out


# --- proxy settings --------------------------------------------------------------------------------------------


class ProxyConfig(TrainConfig):
    """How the small proxy network is derived from the base, what it trains on, and how (the training settings
    are inherited from :class:`scaler.train.TrainConfig`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field("digits", description="digits | mnist5k | fashion | idx:DIR | npz:FILE | imagefolder:DIR")
    width: float = Field(1.0, gt=0, description="width multiplier from the base spec to the proxy")
    depth: float = Field(1.0, gt=0, description="depth multiplier from the base spec to the proxy")
    resolution: int | None = Field(None, ge=1, description="proxy input size (default: the base's)")
    dropout: float | None = Field(None, ge=0, lt=1, description="override the spec's dropout")
    drop_path: float | None = Field(None, ge=0, lt=1, description="override the spec's drop_path")
    subset: int | None = Field(None, ge=1, description="use at most this many training images")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="validation share when the data has no test split")
    seeds: int = Field(1, ge=1, description="train every candidate with seeds 0..seeds-1")

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a dataset")
        return v


def proxy_spec(base: Spec, proxy: ProxyConfig, num_classes: int, in_channels: int) -> Spec:
    """The proxy base network: the base spec shrunk by the proxy multipliers, sized for the dataset."""
    spec = base
    if proxy.width != 1 or proxy.depth != 1 or proxy.resolution is not None:
        spec = scale(base, width=proxy.width, depth=proxy.depth, resolution_px=proxy.resolution,
                     name=f"{base.name}-proxy")
    update: dict[str, Any] = {"num_classes": num_classes, "in_channels": in_channels}
    if proxy.dropout is not None:
        update["dropout"] = proxy.dropout
    if proxy.drop_path is not None:
        update["drop_path"] = proxy.drop_path
    data = spec.model_dump()
    data.update(update)
    try:
        return Spec.model_validate(data)
    except ValidationError as e:
        raise ScalerError(f"the proxy of {base.name} is not a valid network: {e.errors()[0]['msg']}") from None


def candidate_spec(proxy: Spec, c: Candidate, *, match_flops: bool = False, factor: float = 2.0) -> Spec:
    """The proxy network scaled to one candidate. With ``match_flops`` a compound candidate's (or the
    resolution-only baseline's) input size is the one, on the resolution divisor, that brings its real FLOPs
    closest to ``factor ** phi`` times the proxy's. The depth- and width-only baselines keep the base's input
    size: moving it would make them two-dimensional."""
    if c.kind == "base":
        return proxy
    spec = compound(proxy, c.alpha, c.beta, c.gamma, c.phi, name=f"{proxy.name}-{c.key}")
    if match_flops and c.kind in ("compound", "resolution"):
        from scaler.cost import match_resolution, with_resolution
        from scaler.flops import complexity

        spec = with_resolution(spec, match_resolution(spec, complexity(proxy).flops * factor**c.phi))
    return spec


# --- the run settings as a file --------------------------------------------------------------------------------


@dataclass
class GridSettings:
    base: Spec
    base_path: str
    search: SearchConfig
    proxy: ProxyConfig

    def to_dict(self) -> dict[str, Any]:
        return {"base_path": self.base_path, "search": self.search.model_dump(mode="json"),
                "proxy": self.proxy.model_dump(mode="json"), "base": self.base.to_dict()}


def load_grid_settings(path: str | Path, overrides: dict[str, Any] | None = None) -> GridSettings:
    """Read a base spec and its optional ``search:`` and ``proxy:`` sections; ``overrides`` (CLI flags, keys
    ``proxy.epochs`` style) win over the file."""
    from scaler.presets import PRESETS, preset

    text = str(path)
    if not Path(text).exists() and text in PRESETS:
        doc = Document(data=preset(text).to_dict(), path=text)
    else:
        doc = read_yaml(path)
    base = spec_from_document(doc)
    sections: dict[str, Any] = {}
    for name in ("search", "proxy"):
        raw = doc.data.get(name) or {}
        if not isinstance(raw, dict):
            raise doc.error((name,), "expected a mapping of settings")
        sections[name] = dict(raw)
    for key, value in (overrides or {}).items():
        section, _, field = key.partition(".")
        if key == "proxy.progressive" and value is True:  # --progressive: the file's settings, or the defaults
            value = sections["proxy"].get("progressive") or {}
        sections[section][field] = value
    try:
        search = SearchConfig.model_validate(sections["search"])
    except ValidationError as e:
        raise validation_error(doc, e, ("search",)) from None
    try:
        proxy = ProxyConfig.model_validate(sections["proxy"])
    except ValidationError as e:
        raise validation_error(doc, e, ("proxy",)) from None
    return GridSettings(base=base, base_path=text, search=search, proxy=proxy)


# --- trials ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """Everything one training needs; picklable, so it can run in another process or machine."""

    trial_id: str
    candidate: Candidate
    seed: int
    spec: dict[str, Any]
    proxy: dict[str, Any]
    base: dict[str, Any]  # the proxy's base network (phi = 0): what the real multipliers are measured against
    image_size: int


def plan_trials(settings: GridSettings, num_classes: int, in_channels: int) -> list[Trial]:
    """Every (candidate, seed), seed-major: a run cut short has covered all candidates at seed 0 first."""
    proxy = proxy_spec(settings.base, settings.proxy, num_classes, in_channels)
    cands = candidates(settings.search)
    search = settings.search
    specs = {c.key: candidate_spec(proxy, c, match_flops=search.match_flops, factor=search.flops_factor)
             for c in cands}
    return make_trials(proxy, [(c, specs[c.key], c.key) for c in cands], settings.proxy)


def make_trials(proxy: Spec, members: list[tuple[Candidate, Spec, str]], settings: ProxyConfig) -> list[Trial]:
    """Trials of (candidate, its spec, its id prefix) for every seed, seed-major."""
    image_size = max(s.resolution for _, s, _ in members)
    proxy_dump, base = settings.model_dump(mode="json"), proxy.model_dump(mode="json")
    return [
        Trial(trial_id=f"{key}-s{seed}", candidate=c, seed=seed, spec=spec.model_dump(mode="json"),
              proxy=proxy_dump, base=base, image_size=image_size)
        for seed in range(settings.seeds)
        for c, spec, key in members
    ]


def cost_warning(trials: list[Trial], target: float, tolerance: float = 0.10, matched: bool = False) -> str | None:
    """The pre-training warning of :func:`scaler.cost.spread_warning` for a plan's candidates (baselines and
    compound; not the base)."""
    from scaler.cost import rounding_notes, spread_warning

    if not trials:
        return None
    proxy = Spec.model_validate(trials[0].base)
    ratios: dict[str, float] = {}
    notes: dict[str, list[str]] = {}
    for t in trials:
        c = t.candidate
        if c.kind == "base" or c.key in ratios:
            continue
        row = trial_row(t)
        ratios[c.key] = row["flops_ratio"]
        spec = Spec.model_validate(t.spec)
        notes[c.key] = rounding_notes(proxy, spec, c.alpha**c.phi, c.beta**c.phi, c.gamma**c.phi)
    return spread_warning(ratios, target, notes, tolerance, matched)


def load_trial_data(trial: Trial) -> Any:
    """The trial's dataset (cached per process by :func:`scaler.data.load_dataset`).

    Arrays (digits, MNIST, IDX, npz) stay at their own size and every batch is resized to the trial's
    resolution, so a trial sees the same pixels whatever else its grid or study holds. Image folders of mixed
    sizes must be decoded to one size: the largest resolution of the plan."""
    from scaler.data import load_dataset

    p = trial.proxy
    size = trial.image_size if p["dataset"].startswith("imagefolder:") else None
    return load_dataset(p["dataset"], val_fraction=p["val_fraction"], subset=p["subset"], image_size=size)


def trial_row(trial: Trial, device: str = "cpu") -> dict[str, Any]:
    """The results row of a trial before training: what it is and what it costs (status ``failed`` until
    training says otherwise)."""
    from scaler.cost import real_scale
    from scaler.flops import complexity

    spec = Spec.model_validate(trial.spec)
    cost = complexity(spec)
    real = real_scale(Spec.model_validate(trial.base), spec)
    c = trial.candidate
    return {
        "trial_id": trial.trial_id, "kind": c.kind, "alpha": c.alpha, "beta": c.beta, "gamma": c.gamma,
        "phi": c.phi, "depth": round(c.alpha**c.phi, 6), "width": round(c.beta**c.phi, 6),
        "resolution": spec.resolution, "params": cost.params, "flops": cost.flops,
        "accuracy": float("nan"), "seed": trial.seed, "epochs": trial.proxy["epochs"],
        "train_seconds": 0.0, "images_per_second": 0.0, "status": "failed",
        "train_step_ms": float("nan"), "latency_ms": float("nan"), "latency_batch_ms": float("nan"),
        "flops_ratio": round(real.flops_ratio, 6), "depth_real": round(real.depth, 6),
        "width_real": round(real.width, 6), "resolution_real": round(real.resolution, 6),
        "gamma_used": round(real.resolution ** (1 / c.phi), 6) if c.phi else 1.0,
        "blocks": spec.blocks, "loss": float("nan"), "device": device, "message": "", "strategy": c.kind,
    }


def run_trial(trial: Trial, *, device: str = "cpu", threads: int | None = None,
              report: Callable[[str, dict[str, Any]], None] | None = None,
              data: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train one proxy and return (results row, per-epoch record). A training that raises is recorded as
    ``failed``; only a :class:`ScalerError` (bad data or settings) propagates. ``data`` is the loaded dataset
    when the caller has it (the Ray executor ships it once); by default it is loaded (and cached) here."""
    import torch

    from scaler.model import build_model
    from scaler.train import measure_latency, train

    row = trial_row(trial, device)
    record: dict[str, Any] = {"trial_id": trial.trial_id, "spec": trial.spec, "curve": []}
    tc = TrainConfig.model_validate({k: v for k, v in trial.proxy.items() if k in TrainConfig.model_fields})

    def forward(event: str) -> Callable[[dict[str, Any]], None] | None:
        return (lambda info: report(trial.trial_id, {"event": event, **info})) if report else None

    try:
        data = data if data is not None else load_trial_data(trial)
        spec = Spec.model_validate(trial.spec)
        torch.manual_seed(trial.seed)
        model = build_model(spec)
        res = train(model, data, tc, resolution=spec.resolution, seed=trial.seed, device=device, threads=threads,
                    on_step=forward("step"), on_epoch=forward("epoch"))
        row.update(accuracy=round(res.accuracy, 6), loss=round(res.loss, 6), status=res.status,
                   message=res.message, train_seconds=round(res.train_seconds, 3),
                   images_per_second=round(res.images_per_second, 1), train_step_ms=round(res.train_step_ms, 3))
        if res.status == "ok":
            for col, bs in (("latency_ms", 1), ("latency_batch_ms", tc.batch_size)):
                row[col] = round(measure_latency(model, spec.in_channels, spec.resolution, bs, device=device), 3)
        record["curve"] = res.curve
    except ScalerError:
        raise
    except Exception as e:
        row.update(status="failed", message=f"{type(e).__name__}: {e}".replace("\n", " ")[:500])
    record["row"] = row
    return row, record


# --- executing trials ------------------------------------------------------------------------------------------


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


_WORKER: dict[str, Any] = {}


def _init_worker(threads: int, queue: Any, device: str) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(threads=threads, queue=queue, device=device)


Reporter = Callable[[str, dict[str, Any]], None]


def run_reporting(trial: Trial, queue: Any, *, device: str, threads: int,
                  data: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`run_trial` in a worker (a process of the pool, a Ray task): its events go to ``queue`` for the
    driver's display, best-effort."""

    def report(trial_id: str, info: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # progress is best-effort
            queue.put_nowait((trial_id, info))

    report(trial.trial_id, {"event": "start"})
    return run_trial(trial, device=device, threads=threads, report=report, data=data)


def _run_in_worker(trial: Trial) -> tuple[dict[str, Any], dict[str, Any]]:
    return run_reporting(trial, _WORKER["queue"], device=_WORKER["device"], threads=_WORKER["threads"])


def execute(trials: list[Trial], *, workers: int, device: str, threads: int, report: Reporter | None = None,
            ray: Any = None) -> Iterator[tuple[Trial, dict[str, Any], dict[str, Any] | None]]:
    """Run trials, yielding (trial, row, record) as each finishes. ``report(trial_id, info)`` receives
    ``start``, ``step`` and ``epoch`` events. With ``workers > 1`` each trial runs in a spawned process with
    ``threads`` threads; a worker that dies yields a ``failed`` row. With ``ray`` (a
    :class:`scaler.ray_executor.RayOptions`) each trial is a Ray task."""
    if ray is not None:
        from scaler.ray_executor import execute_ray

        yield from execute_ray(trials, device=device, options=ray, report=report)
        return
    if workers <= 1:
        import torch

        torch.set_num_threads(threads)
        for t in trials:
            if report:
                report(t.trial_id, {"event": "start"})
            row, record = run_trial(t, device=device, threads=threads, report=report)
            yield t, row, record
        return
    yield from _execute_pool(trials, workers=workers, device=device, threads=threads, report=report)


def _execute_pool(trials: list[Trial], *, workers: int, device: str, threads: int,
                  report: Reporter | None) -> Iterator[tuple[Trial, dict[str, Any], dict[str, Any] | None]]:
    import multiprocessing as mp
    import queue as queue_mod
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = mp.get_context("spawn")
    manager = ctx.Manager()
    q = manager.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                               initargs=(threads, q, device))
    try:
        futures = {pool.submit(_run_in_worker, t): t for t in trials}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            while True:
                try:
                    tid, info = q.get_nowait()
                except (queue_mod.Empty, EOFError, OSError):
                    break
                if report:
                    report(tid, info)
            for f in done:
                t = futures[f]
                try:
                    row, record = f.result()
                except ScalerError:
                    raise
                except Exception as e:  # the worker process died (killed, out of memory)
                    row, record = trial_row(t, device), None
                    row["message"] = f"worker died: {type(e).__name__}: {e}".replace("\n", " ")[:500]
                yield t, row, record
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for p in list((getattr(pool, "_processes", None) or {}).values()):
            if p.is_alive():
                p.terminate()
        manager.shutdown()


# --- the driver ------------------------------------------------------------------------------------------------


@dataclass
class GridOutcome:
    out: Path
    planned: int
    ran: int
    skipped: int
    failed: int
    coefficients: Path | None
    fit: dict[str, Any] | None


def run_grid(settings: GridSettings, out: str | Path, *, limit: int | None = None, workers: int = 1,
             device: str = "auto", fresh: bool = False, quiet: bool = False, console: Any = None,
             ray: Any = None) -> GridOutcome:
    """Plan, run (resuming what is already recorded) and fit a grid; the results land in ``out``."""
    from scaler.data import load_dataset
    from scaler.fit import fit_run
    from scaler.results import RunDir
    from scaler.train import resolve_device

    say = (lambda msg: print(msg, flush=True)) if console is None else console.print
    run = RunDir(out)
    run.lock()
    try:
        if fresh:
            moved = run.move_aside()
            if moved:
                say(f"previous results moved to {moved}")
        settings_dict = settings.to_dict()
        run.check_settings(settings_dict, ignore=("proxy.seeds",))
        dev = device if ray is not None else str(resolve_device(device))  # Ray: the workers' devices decide
        p = settings.proxy
        data = load_dataset(p.dataset, val_fraction=p.val_fraction, subset=p.subset)
        say(f"data: {data.name}: {len(data.y_train)} train / {len(data.y_val)} validation images, "
            f"{data.channels}x{data.image_size}px, {data.num_classes} classes ({data.split})")
        trials = plan_trials(settings, data.num_classes, data.channels)
        warning = cost_warning(trials, settings.search.target, matched=settings.search.match_flops)
        if warning:
            say(warning)
        load_trial_data(trials[0])  # bad image folders fail here, before any work; later loads hit the cache
        ran, failed = run_planned(run, trials, settings_dict, limit=limit, workers=workers, device=dev,
                                  quiet=quiet, console=console, epochs=p.epochs, what="grid", say=say, ray=ray)
        coef_path, fit = None, None
        rows = run.rows()
        if any(r.get("kind") == "compound" and r.get("status") == "ok" for r in rows):
            coef_path, fit = fit_run(run.csv)
        return GridOutcome(out=run.path, planned=len(trials), ran=ran, skipped=len(trials) - ran,
                           failed=failed, coefficients=coef_path, fit=fit)
    finally:
        run.unlock()


def run_planned(run: Any, trials: list[Trial], settings_dict: dict[str, Any], *, limit: int | None, workers: int,
                device: str, quiet: bool, console: Any, epochs: int, what: str,
                say: Callable[[str], None], ray: Any = None) -> tuple[int, int]:
    """Run the trials of a plan that ``run`` has not recorded yet; returns (trials run, failed)."""
    from scaler.progress import PlainUI, RichUI

    run.repair()
    header = run.header()
    missing = [c for c in run.columns if header is not None and c not in header]
    if missing:
        say(f"note: {run.csv} was begun by an older scaler; its rows keep their columns, so {', '.join(missing)} "
            "will not be recorded (--fresh starts a complete file, keeping the old one)")
    done_ids = {r["trial_id"] for r in run.rows()}
    todo = [t for t in trials if t.trial_id not in done_ids]
    if limit is not None:
        todo = todo[:limit]
    workers = max(1, min(workers, len(todo) or 1))
    threads = max(1, available_cores() // workers)
    if ray is not None:
        where = f"Ray ({ray.address or 'local instance'})"
        execution = {"executor": "ray", "ray_address": ray.address, "cpus_per_trial": ray.cpus_per_trial,
                     "gpus_per_trial": ray.gpus_per_trial, "retries": ray.retries}
    else:
        where = f"{device} with {workers} worker(s) x {threads} thread(s)"
        execution = {"executor": "local", "workers": workers, "threads_per_worker": threads}
    run.write_settings(settings_dict, {"device": device, **execution, "trials": len(trials)})
    seeds = len({t.seed for t in trials}) or 1
    say(f"{what}: {len(trials)} trials ({len(trials) // seeds} candidates x {seeds} seed(s)), "
        f"{len(done_ids & {t.trial_id for t in trials})} already done, running {len(todo)} on {where}; "
        f"results in {run.path}/")
    ui = PlainUI(len(todo), 0, epochs) if quiet or console is None else RichUI(len(todo), 0, epochs, console, [])
    failed = 0
    with ui:
        for _trial, row, record in execute(todo, workers=workers, device=device, threads=threads, report=ui.report,
                                           ray=ray):
            run.append(row, record)
            failed += row.get("status") != "ok"
            ui.finished(row)
    return len(todo), failed

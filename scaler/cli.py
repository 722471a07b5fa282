"""The ``scaler`` command line. Thin: parse flags, call the library, print.

torch is imported only by the commands that train; ``scaler --help``, ``emit``, ``info`` and ``schema`` stay fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from scaler.errors import ScalerError

FLOPS_NOTE = "FLOPs are multiply-accumulates per image (the EfficientNet paper's unit: B0 = 0.39B)."


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="scaler", prog_name="scaler")
def cli() -> None:
    """EfficientNet-style compound model scaling.

    \b
    Typical loop:
      scaler info specs/quickstart.yaml          # what the base costs
      scaler grid specs/quickstart.yaml          # search alpha, beta, gamma on real proxies
      scaler emit --phi 0..4                     # the scaled family, from the newest grid's coefficients
      scaler plot results/quickstart/results.csv # accuracy vs FLOPs, Pareto front
    """


# --- helpers ---------------------------------------------------------------------------------------------------


def parse_phis(text: str) -> list[float]:
    """``4`` | ``0,1,2`` | ``0..7`` | ``0..2:0.5`` | ``-1..1`` -> list of phi values."""
    out: list[float] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if ".." in part:
                lo_s, rest = part.split("..", 1)
                hi_s, _, step_s = rest.partition(":")
                lo, hi, step = float(lo_s), float(hi_s), float(step_s or 1)
                if step <= 0 or hi < lo:
                    raise ValueError
                n = round((hi - lo) / step)
                out.extend(round(lo + i * step, 10) for i in range(n + 1) if lo + i * step <= hi + 1e-9)
            else:
                out.append(float(part))
    except ValueError:
        raise ScalerError(f"--phi: cannot read {text!r}; use a number (4), a list (0,1,2) or a range (0..7, "
                          "0..2:0.5)") from None
    return out


def _newest_coefficients() -> Path | None:
    found = sorted(Path("results").glob("*/coefficients.yaml"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _console() -> Any:
    import os

    from rich.console import Console

    # Piped output keeps whole tables (rich would wrap them to 80 columns).
    width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
    return Console(width=width)


def _fmt_int(n: int) -> str:
    return f"{n:,}"


# --- emit ------------------------------------------------------------------------------------------------------


@cli.command()
@click.option("--preset", metavar="NAME", help="Write a published model's spec (efficientnet-b0..b8, -l2, "
              "efficientnetv2-s/m/l).")
@click.option("--base", "base_path", metavar="SPEC", help="Base spec to scale: a YAML file or a preset name.")
@click.option("--alpha", type=float, help="Depth coefficient: depth = alpha^phi.")
@click.option("--beta", type=float, help="Width coefficient: width = beta^phi.")
@click.option("--gamma", type=float, help="Resolution coefficient: resolution = gamma^phi.")
@click.option("--phi", "phi_text", metavar="PHI", help="Compound coefficient: 4, a list 0,1,2 or a range 0..7.")
@click.option("--coefficients", "coef_path", type=click.Path(path_type=Path), metavar="FILE",
              help="coefficients.yaml written by `scaler grid` / `scaler fit` (alpha, beta, gamma and the base).")
@click.option("--width", type=float, help="Explicit width multiplier instead of compound scaling.")
@click.option("--depth", type=float, help="Explicit depth multiplier instead of compound scaling.")
@click.option("--resolution", type=float, help="Explicit resolution multiplier (with --width/--depth).")
@click.option("--name", help="Name of the emitted spec (single member only).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("specs"), show_default=True,
              help="Directory the YAML specs are written to.")
@click.option("--json", "as_json", is_flag=True, help="Print the members as JSON instead of a table.")
def emit(preset: str | None, base_path: str | None, alpha: float | None, beta: float | None,
         gamma: float | None, phi_text: str | None, coef_path: Path | None, width: float | None,
         depth: float | None, resolution: float | None, name: str | None, out_dir: Path, as_json: bool) -> None:
    """Write scaled network specs (YAML), one per member, and show what each costs.

    \b
    scaler emit --preset efficientnet-b4 --out specs/
    scaler emit --base specs/efficientnet-b0.yaml --alpha 1.2 --beta 1.1 --gamma 1.15 --phi 0..4
    scaler emit --coefficients results/quickstart/coefficients.yaml --phi 0..4
    scaler emit --phi 4                      # newest results/*/coefficients.yaml
    scaler emit --base specs/quickstart.yaml --width 1.5 --depth 2
    """
    from scaler import scaling
    from scaler.presets import PRESETS
    from scaler.presets import preset as get_preset
    from scaler.spec import Spec, load_spec

    members: list[Spec]
    note = ""
    explicit = any(v is not None for v in (width, depth, resolution))
    if preset:
        if preset not in PRESETS:
            raise ScalerError(f"--preset: unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
        if base_path or phi_text or explicit:
            raise ScalerError("--preset writes a published spec as is; do not combine it with --base, --phi or "
                              "multipliers")
        members = [get_preset(preset)]
        base = members[0]
    else:
        if explicit:
            if phi_text or coef_path or any(v is not None for v in (alpha, beta, gamma)):
                raise ScalerError("--width/--depth/--resolution apply explicit multipliers; do not combine them "
                                  "with --phi, --alpha/--beta/--gamma or --coefficients")
            if not base_path:
                raise ScalerError("--width/--depth/--resolution need --base SPEC")
            base = load_spec(base_path)
            members = [scaling.scale(base, width=1.0 if width is None else width,
                                     depth=1.0 if depth is None else depth,
                                     resolution=1.0 if resolution is None else resolution,
                                     name=name or f"{base.name}-scaled")]
        else:
            if phi_text is None:
                raise ScalerError("nothing to emit: give --preset NAME, --phi with coefficients, or "
                                  "--width/--depth with --base (see scaler emit --help)")
            phis = parse_phis(phi_text)
            given = [v is not None for v in (alpha, beta, gamma)]
            if any(given) and not all(given):
                raise ScalerError("--alpha, --beta and --gamma go together")
            if all(given):
                if not base_path:
                    raise ScalerError("--alpha/--beta/--gamma need --base SPEC (a YAML file or a preset name)")
                base = load_spec(base_path)
            else:
                from scaler.fit import read_coefficients

                if coef_path is None:
                    coef_path = _newest_coefficients()
                    if coef_path is None:
                        raise ScalerError(
                            "--phi needs coefficients: run `scaler grid BASE.yaml` (it writes "
                            "results/<name>/coefficients.yaml), or pass --coefficients FILE, or "
                            "--alpha A --beta B --gamma G --base SPEC (the paper's: 1.2 1.1 1.15)")
                    note = f"coefficients from {coef_path} (newest under results/)"
                coef = read_coefficients(coef_path)
                alpha, beta, gamma = coef.alpha, coef.beta, coef.gamma
                base = load_spec(base_path) if base_path else coef.base
            assert alpha is not None and beta is not None and gamma is not None
            if min(alpha, beta, gamma) <= 0:
                raise ScalerError("--alpha, --beta and --gamma must be positive")
            members = scaling.family(base, alpha, beta, gamma, phis)
            if name:
                if len(members) > 1:
                    raise ScalerError("--name names a single member; drop it or give one phi")
                members = [members[0].model_copy(update={"name": name})]

    _write_members(members, base, out_dir, note, as_json)


def _write_members(members: list[Any], base: Any, out_dir: Path, note: str, as_json: bool) -> None:
    from scaler.flops import complexity, human

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScalerError(f"cannot create the output directory: {e.strerror}", where=out_dir) from None
    base_flops = complexity(base).flops
    rows = []
    for m in members:
        c = complexity(m)
        path = out_dir / f"{m.name}.yaml"
        header = (f"# {m.name}: {c.params:,} params, {c.flops:,} FLOPs (multiply-accumulates) at {c.resolution}px\n"
                  "# written by `scaler emit`; the stages are timm-style block strings (see README)\n")
        path.write_text(header + m.to_yaml(), encoding="utf-8")
        d = m.derived
        rows.append({"name": m.name, "phi": d.phi if d else None, "depth": d.depth if d else 1.0,
                     "width": d.width if d else 1.0, "resolution": c.resolution, "blocks": m.blocks,
                     "params": c.params, "flops": c.flops, "flops_ratio": c.flops / base_flops,
                     "path": str(path)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} spec(s) written to {out_dir}/", caption=FLOPS_NOTE)
    for col in ("name", "φ", "depth", "width", "res", "blocks", "params", "FLOPs", "× base"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in rows:
        table.add_row(r["name"], "-" if r["phi"] is None else f"{r['phi']:g}", f"{r['depth']:.3g}",
                      f"{r['width']:.3g}", str(r["resolution"]), str(r["blocks"]), human(r["params"]),
                      human(r["flops"]), f"{r['flops_ratio']:.2f}")
    console = _console()
    if note:
        console.print(note)
    console.print(table)


# --- info / schema ---------------------------------------------------------------------------------------------


@cli.command()
@click.argument("spec_path", metavar="SPEC")
@click.option("--resolution", type=int, help="Count at this input size instead of the spec's.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (params, flops, per-stage repeats/channels).")
def info(spec_path: str, resolution: int | None, as_json: bool) -> None:
    """Per-stage params and FLOPs of a spec (a YAML file or a preset name), counted analytically."""
    from scaler.flops import complexity, human
    from scaler.spec import load_spec

    spec = load_spec(spec_path)
    if resolution is not None and resolution < spec.total_stride:
        raise ScalerError(f"--resolution: {resolution} px is too small for a total stride of {spec.total_stride}")
    c = complexity(spec, resolution)
    if as_json:
        data = c.to_dict()
        for s, st in zip(data["stages"], spec.stages, strict=True):
            s["channels"] = s["out_ch"]
            s["expand"] = st.expand
            s["se_ratio"] = st.se
        data["blocks"] = spec.blocks
        data["derived"] = spec.derived.model_dump() if spec.derived else None
        click.echo(json.dumps(data, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"{spec.name} at {c.resolution}px: {c.params:,} params, {c.flops:,} FLOPs",
                  caption=FLOPS_NOTE)
    for col in ("stage", "block", "repeats", "kernel", "stride", "expand", "in→out", "SE", "size", "params",
                "FLOPs"):
        table.add_column(col, justify="left" if col in ("block", "in→out", "size") else "right")
    table.add_row("stem", "conv", "1", str(spec.stem.kernel), str(spec.stem.stride), "-",
                  f"{spec.in_channels}→{spec.stem.channels}", "-", f"{c.resolution}→{c.stages[0].in_size}",
                  _fmt_int(c.stem.params), _fmt_int(c.stem.flops))
    for s, st in zip(c.stages, spec.stages, strict=True):
        table.add_row(str(s.index), s.block, str(s.repeats), str(s.kernel), str(s.stride), f"{st.expand:g}",
                      f"{s.in_ch}→{s.out_ch}", str(s.se or "-"), f"{s.in_size}→{s.out_size}",
                      _fmt_int(s.params), _fmt_int(s.flops))
    table.add_row("head", "conv", "1", "1", "1", "-", f"{spec.stages[-1].channels}→{spec.head.channels}", "-",
                  str(c.stages[-1].out_size), _fmt_int(c.head.params), _fmt_int(c.head.flops))
    table.add_row("fc", "linear", "", "", "", "", f"{spec.head.channels}→{spec.num_classes}", "", "",
                  _fmt_int(c.classifier.params), _fmt_int(c.classifier.flops))
    table.add_section()
    table.add_row("total", "", str(spec.blocks), "", "", "", "", "", "", human(c.params), human(c.flops))
    _console().print(table)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec format (point your editor's YAML plugin at it)."""
    from scaler.spec import spec_json_schema

    click.echo(json.dumps(spec_json_schema(), indent=2))


# --- grid / fit -----------------------------------------------------------------------------------------------


@cli.command()
@click.argument("spec_path", metavar="BASE_SPEC")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Results directory "
              "[default: results/<base name>/].")
@click.option("--dataset", help="digits | mnist5k | fashion | idx:DIR | npz:FILE | imagefolder:DIR.")
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs per proxy.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Training batch size.")
@click.option("--subset", type=click.IntRange(min=1), help="Use at most N training images (stratified).")
@click.option("--limit", type=click.IntRange(min=0), help="Run only the first N trials (smoke runs).")
@click.option("--seeds", type=click.IntRange(min=1), help="Train every candidate with K seeds (noise estimate).")
@click.option("--workers", type=click.IntRange(min=1), help="Trials at once, each in its own process; the CPU "
              "threads are split among them [default: 1; local executor only].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto picks CUDA when present (bf16 autocast there).")
@click.option("--mode", type=click.Choice(["solve", "filter"]), help="solve: alpha from the constraint; "
              "filter: full grid within --tolerance.")
@click.option("--step", type=float, help="Grid step of the coefficients (default 0.05).")
@click.option("--phi", type=float, help="Compound coefficient of the candidates (default 1).")
@click.option("--flops-factor", type=float, help="FLOPs growth per unit of phi (default 2).")
@click.option("--match-flops/--no-match-flops", default=None, help="Give every candidate the input size that "
              "brings its real FLOPs (after rounding) closest to the target, so candidates are compared at equal "
              "cost; the gamma used is recorded.")
@click.option("--progressive", is_flag=True, default=None, help="Train proxies with EfficientNetV2 progressive "
              "learning (image size and regularization grow by stage; settings under proxy.progressive).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine (--workers processes); ray: one Ray task per trial (pip install "
              "'scaler[ray]').")
@click.option("--ray-address", help="Ray cluster to join (auto or HOST:PORT) [default: start a local Ray].")
@click.option("--cpus-per-trial", type=click.FloatRange(min=0, min_open=True), help="Ray: CPUs (and torch threads) "
              "per trial [default: a node's CPUs per GPU with GPUs, else a whole node's].")
@click.option("--gpus-per-trial", type=click.FloatRange(min=0), help="Ray: GPUs per trial [default: 1 when the "
              "cluster has GPUs and --device is not cpu, else 0].")
@click.option("--retries", type=click.IntRange(min=0), help="Ray: times a trial is retried when its worker dies "
              "[default: 2].")
@click.option("--fresh", is_flag=True, help="Start over; the old results are moved to DIR/previous/.")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of live bars.")
def grid(spec_path: str, out_dir: Path | None, dataset: str | None, epochs: int | None, batch_size: int | None,
         subset: int | None, limit: int | None, seeds: int | None, workers: int | None, device: str,
         mode: str | None, step: float | None, phi: float | None, flops_factor: float | None, match_flops: bool | None,
         progressive: bool | None, executor: str, ray_address: str | None, cpus_per_trial: float | None,
         gpus_per_trial: float | None, retries: int | None, fresh: bool, quiet: bool) -> None:
    """Search alpha, beta, gamma: train a proxy for every candidate on real data, then fit.

    Candidates satisfy alpha * beta^2 * gamma^2 = FLOPs factor (default 2). The base (phi = 0) and the
    depth-, width- and resolution-only baselines at the same factor are trained too. Settings come from the
    spec's `search:` and `proxy:` sections (see README); flags override them. Rerunning the same command
    resumes: finished trials are skipped.

    \b
    Writes  DIR/results.csv       one row per finished trial (accuracy, FLOPs, cost, timing)
            DIR/trials/<id>.json  per-epoch curve of each trial
            DIR/run.yaml          the resolved settings (reproduce the run exactly)
            DIR/coefficients.yaml the fitted alpha, beta, gamma; next: scaler emit --phi 0..4
    """
    from scaler.search import load_grid_settings, run_grid

    overrides = {k: v for k, v in {
        "proxy.dataset": dataset, "proxy.epochs": epochs, "proxy.batch_size": batch_size, "proxy.subset": subset,
        "proxy.seeds": seeds, "search.mode": mode, "search.step": step, "search.phi": phi,
        "search.flops_factor": flops_factor, "search.match_flops": match_flops,
        "proxy.progressive": progressive}.items() if v is not None}
    settings = load_grid_settings(spec_path, overrides)
    ray = None
    if executor == "ray":
        from scaler.ray_executor import RayOptions, import_ray

        import_ray()  # fail fast, before any work, when Ray is not installed
        if workers is not None:
            raise ScalerError("--workers is for the local executor; under Ray, --cpus-per-trial and "
                              "--gpus-per-trial decide how many trials run at once")
        ray = RayOptions(address=ray_address, cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial,
                         retries=2 if retries is None else retries)
    elif any(v is not None for v in (ray_address, cpus_per_trial, gpus_per_trial, retries)):
        raise ScalerError("--ray-address, --cpus-per-trial, --gpus-per-trial and --retries need --executor ray")
    out = out_dir or Path("results") / settings.base.name
    console = None if quiet else _console()
    outcome = run_grid(settings, out, limit=limit, workers=workers or 1, device=device, fresh=fresh, quiet=quiet,
                       console=console, ray=ray)
    if outcome.fit is None:
        click.echo(f"no successful compound trial yet: nothing fitted ({outcome.out}/results.csv)")
        return
    _print_fit(outcome.coefficients, outcome.fit, console)


def _print_fit(path: Path | None, fit: dict[str, Any], console: Any) -> None:
    best, noise = fit["best"], fit.get("noise", {})
    lines = [
        f"best measured: alpha {best['alpha']:.3f}  beta {best['beta']:.3f}  gamma {best['gamma']:.3f}  "
        f"accuracy {best['accuracy']:.4f}  ({best['seeds']} seed(s), FLOPs x{best.get('flops_ratio', 0):.2f})",
    ]
    if best.get("real"):
        r = best["real"]
        lines.append(f"  after rounding: alpha {r['alpha']:.3f}  beta {r['beta']:.3f}  gamma {r['gamma']:.3f}  "
                     "(real depth, width, resolution multipliers of the trained network)")
    f = fit.get("fit", {})
    if f.get("ok"):
        edge = " (on the search boundary: widen the range)" if f["on_boundary"] else ""
        lines.append(f"smooth fit:    alpha {f['alpha']:.3f}  beta {f['beta']:.3f}  gamma {f['gamma']:.3f}  "
                     f"predicted {f['predicted_accuracy']:.4f}  R² {f['r2']:.2f} over {f['points']} points{edge}")
    else:
        lines.append(f"smooth fit:    not fitted ({f.get('reason', 'n/a')})")
    fr = fit.get("fit_real", {})
    if fr.get("ok"):
        edge = " (on the boundary of the measured multipliers)" if fr["on_boundary"] else ""
        lines.append(f"real fit:      alpha {fr['alpha']:.3f}  beta {fr['beta']:.3f}  gamma {fr['gamma']:.3f}  "
                     f"predicted {fr['predicted_accuracy']:.4f}  R² {fr['r2']:.2f} on the real multipliers{edge}")
    elif fr:
        lines.append(f"real fit:      not fitted ({fr.get('reason', 'n/a')})")
    if fit.get("baselines"):
        lines.append("baselines:     " + "  ".join(f"{k} {v:.4f}" for k, v in fit["baselines"].items()))
    if "compound_minus_best_single" in fit:
        lines.append(f"compound - best single-dimension baseline: {fit['compound_minus_best_single']:+.4f}")
    obj = fit.get("objective") or {}
    if obj.get("name", "accuracy") != "accuracy":
        exps = ", ".join(f"{k} = {obj[k]:g}" for k in ("w", "v") if k in obj)
        lines.append(f"objective:     {obj['name']} ({exps}); best and fits maximize it, ranking is on it")
    if noise.get("verdict"):
        lines.append(f"ranking:       {noise['verdict']}")
    lines.append(f"chosen ({fit['source']}, {fit.get('form', 'nominal')} form): alpha {fit['alpha']}, "
                 f"beta {fit['beta']}, gamma {fit['gamma']} -> {path}")
    lines.append(f"next:          scaler emit --coefficients {path} --phi 0..4")
    text = "\n".join(lines)
    if console is not None:
        from rich.panel import Panel

        console.print(Panel(text, title="coefficients", expand=False))
    else:
        click.echo(text)


@cli.command()
@click.argument("results", metavar="RESULTS_CSV", type=click.Path(path_type=Path))
@click.option("--use", type=click.Choice(["best", "fit"]), help="Which coefficients emit uses: the best "
              "measured candidate or the smooth fit's optimum (default: the grid's search.use).")
@click.option("--form", type=click.Choice(["real", "nominal"]), default="real", show_default=True,
              help="Coefficients emit uses: the real multipliers of the rounded proxies, or the nominal ones the "
              "candidates asked for. Both are written either way.")
@click.option("--objective", type=click.Choice(["accuracy", "flops", "training"]), default="accuracy",
              show_default=True, help="What best means. accuracy; flops: accuracy x (FLOPs/target)^w (the "
              "EfficientNet reward); training: accuracy x step_time^w x params^v, both relative to the base "
              "(EfficientNetV2's training-aware objective).")
@click.option("--w", "w", type=float, help="Exponent of FLOPs or step time [default: -0.07].")
@click.option("--v", "v", type=float, help="Exponent of params under --objective training [default: -0.05].")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Where to write [default: "
              "coefficients.yaml beside the CSV].")
def fit(results: Path, use: str | None, form: str, objective: str, w: float | None, v: float | None,
        out_path: Path | None) -> None:
    """Fit alpha, beta, gamma from a grid's results.csv and write coefficients.yaml.

    Reports the best measured candidate (nominal and after rounding), a quadratic fit over nominal (log beta,
    log gamma) on the constraint surface, a quadratic fit over the real (log depth, log width, log resolution)
    of the trained networks, the seed noise and whether the winner beats the runner-up by more than twice it.
    """
    from scaler.fit import fit_run

    path, data = fit_run(results, use=use, form=form, objective=objective, w=w, v=v, out=out_path)
    _print_fit(path, data, _console())


# --- plot / study ---------------------------------------------------------------------------------------------


def _formats(text: str) -> list[str]:
    return [f for f in (x.strip().lower() for x in text.split(",")) if f]


@cli.command()
@click.argument("csvs", metavar="RESULTS_CSV...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Directory for the figures "
              "[default: plots/ beside the first CSV].")
@click.option("--format", "fmt", default="png,svg", show_default=True, help="Comma-separated: png, svg, pdf.")
@click.option("--x", "x_axis", type=click.Choice(["flops", "params", "latency", "train_step"]), default="flops",
              show_default=True, help="x-axis of the Pareto plot: real FLOPs, parameters, inference latency "
              "(batch 1) or training step time, as measured by each trial.")
def plot(csvs: tuple[Path, ...], out_dir: Path | None, fmt: str, x_axis: str) -> None:
    """Pareto plot (accuracy vs FLOPs, front as a step line), coefficient map and training curves.

    Several CSVs overlay as separate runs. PNG at 160 dpi plus SVG by default.
    """
    from scaler.plot import plot_results

    for p in plot_results(list(csvs), out_dir, tuple(_formats(fmt)), x=x_axis):
        click.echo(str(p))


@cli.command()
@click.argument("grid_dir", metavar="GRID_DIR", type=click.Path(path_type=Path))
@click.option("--max-phi", type=click.IntRange(min=1), default=3, show_default=True,
              help="Train phi = 0..K of every strategy.")
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs per proxy (default: the grid's).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Training batch size (default: the grid's).")
@click.option("--subset", type=click.IntRange(min=1), help="Use at most N training images.")
@click.option("--seeds", type=click.IntRange(min=1), help="Seeds per network (noise estimate).")
@click.option("--limit", type=click.IntRange(min=0), help="Run only the first N trials.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--format", "fmt", default="png,svg", show_default=True, help="Figure formats.")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of live bars.")
def study(grid_dir: Path, max_phi: int, epochs: int | None, batch_size: int | None, subset: int | None,
          seeds: int | None, limit: int | None, workers: int, device: str, fmt: str, quiet: bool) -> None:
    """Does the fitted compound family beat width-, depth- and resolution-only scaling at equal FLOPs?

    Trains phi = 0..K of the compound family (the grid's coefficients) and of the three single-dimension
    families with the grid's proxy and training settings; resumable like grid. Writes GRID_DIR/study.csv and
    GRID_DIR/plots/study.png|svg, and says at each FLOPs level which strategy won, against the seed noise.
    """
    from scaler.study import run_study, study_plot

    overrides = {k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "subset": subset,
                                   "seeds": seeds}.items() if v is not None}
    console = None if quiet else _console()
    outcome = run_study(grid_dir, max_phi=max_phi, overrides=overrides, limit=limit, workers=workers,
                        device=device, quiet=quiet, console=console)
    if not outcome.summary:
        click.echo("no finished study trials yet")
        return
    for path in study_plot(outcome.csv, grid_dir / "plots", _formats(fmt)):
        click.echo(str(path))
    for row in outcome.summary:
        accs = "  ".join(f"{k} {v:.4f}" for k, v in sorted(row["accuracies"].items(), key=lambda kv: -kv[1]))
        verdict = f"; winner by {row['margin']:+.4f} over {row['runner_up']}, {row['verdict']}" \
            if "margin" in row else ""
        click.echo(f"phi {row['phi']:g}: {accs}{verdict}")


# --- entry point -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors print one line and exit 2, never a traceback."""
    try:
        rv = cli.main(args=argv, prog_name="scaler", standalone_mode=False)
    except ScalerError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        where = e.ctx.command_path if isinstance(e, click.UsageError) and e.ctx else "scaler"
        hint = f" (see '{where} --help')" if isinstance(e, click.UsageError) else ""
        click.echo(f"error: {where}: {e.format_message()}{hint}".replace("\n", " "), err=True)
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()

"""``scaler bench``: inference latency of networks on this machine (PyTorch eager, ONNX Runtime), as a table and a
CSV that ``scaler emit --max-latency-ms`` reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scaler.cli.options import complete_spec, console


@click.command("bench")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...", shell_complete=complete_spec)
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True,
              help="The second batch size measured (batch 1 always is).")
@click.option("--runtime", "runtimes", type=click.Choice(["eager", "onnxruntime"]), multiple=True,
              help="Repeatable [default: eager, and onnxruntime when the deploy extra is installed].")
@click.option("--threads", type=click.IntRange(min=1), help="Intra-op threads, at most this machine's cores "
              "[default: all of them].")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Device of the eager runs (ONNX Runtime runs on the CPU).")
@click.option("--min-seconds", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Time each figure over blocks of calls lasting at least this long.")
@click.option("--layout", type=click.Choice(["channels_last", "contiguous"]), default="channels_last",
              show_default=True, help="Memory format of the eager runs (channels-last is what training uses).")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=Path("bench.csv"), show_default=True,
              help="The CSV written (emit --latencies reads it).")
def command(specs: tuple[str, ...], batch: int, runtimes: tuple[str, ...], threads: int | None, device: str,
            min_seconds: float, layout: str, out_path: Path) -> None:
    """Latency of each network (YAML files, preset names, an emitted family's files) at batch 1 and --batch.

    Median and interquartile range of one call, by torch.utils.benchmark (blocked_autorange after 3 warm-up
    calls), at the stated thread count: PyTorch eager (eval, inference mode, float32, channels-last unless
    --layout contiguous) and ONNX
    Runtime on the file `scaler export` writes. Latency belongs to this machine: bench where the model will run.

    \b
    scaler bench efficientnet-b0 efficientnet-b1 efficientnet-b2 efficientnet-b3 --out results/bench-cpu.csv
    scaler bench specs/*-phi*.yaml --runtime eager --batch 32
    """
    from scaler.api.deploy import bench, check_threads, write_latencies
    from scaler.api.deploy import runtimes as checked_runtimes
    from scaler.api.execution import available_cores
    from scaler.api.specs import complexity, load_spec, refuse_overwrite

    refuse_overwrite(out_path, [("a spec", s) for s in specs], "bench", "--out")
    runtimes = checked_runtimes(runtimes, device)
    networks = [load_spec(s) for s in specs]  # every spec is read and counted before anything is timed
    for spec in networks:
        complexity(spec)
    if threads is not None:
        check_threads(threads)
    threads = threads or available_cores()
    rows = []
    with console().status("") as status:
        for spec in networks:
            status.update(f"timing {spec.name} ({', '.join(runtimes)}; batch 1 and {batch}; {threads} threads)")
            rows += bench(spec, batches=sorted({1, batch}), runtimes=runtimes, device=device,
                          threads=threads, min_seconds=min_seconds, layout=layout)
            write_latencies(rows, out_path)  # after every network: a failure later keeps what was measured
    console().print(_table(rows, out_path, threads))


def _table(rows: list[Any], out_path: Path, threads: int) -> Any:
    from rich.table import Table

    from scaler.api.specs import human

    table = Table(title=f"latency per call, median (IQR), {threads} thread(s) -> {out_path}",
                  caption="torch.utils.benchmark blocked_autorange after 3 warm-up calls; FLOPs are "
                          "multiply-accumulates, acts the output elements of every convolution, per image")
    for col in ("name", "res", "params", "FLOPs", "acts", "runtime", "device", "batch", "ms", "IQR ms", "img/s"):
        table.add_column(col, justify="left" if col in ("name", "runtime", "device") else "right")
    for r in rows:
        table.add_row(r.name, str(r.resolution), human(r.params), human(r.flops), human(r.activations), r.runtime,
                      r.device, str(r.batch), f"{r.median_ms:.3g}", f"{r.iqr_ms:.2g}",
                      f"{1000 * r.batch / r.median_ms:.0f}")
    return table

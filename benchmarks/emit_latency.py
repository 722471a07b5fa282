"""Cold start of the CLI: `scaler emit --preset efficientnet-b7 --out <tmp>` and `scaler --help`, each run as a
fresh process.

    python benchmarks/emit_latency.py [--runs 7]

Runs the `scaler` console script next to this Python (or `python -m scaler.cli.app` where there is none), --runs times
each, and reports the median wall time (target: emit < 0.5 s). Also checks that neither command imports torch.
Prints a table, then a last line of key=value pairs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def scaler_command() -> list[str]:
    script = Path(sys.executable).with_name("scaler")
    if script.exists():
        return [str(script)]
    found = shutil.which("scaler")
    return [found] if found else [sys.executable, "-m", "scaler.cli.app"]


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        out.append(time.perf_counter() - t0)
    return out


def imports_torch(args: list[str]) -> bool:
    code = ("import contextlib, io, sys\nfrom scaler.cli.app import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try: main({args!r})\n    except SystemExit: pass\n"
            "print(int('torch' in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return r.stdout.strip().endswith("1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--preset", default="efficientnet-b7")
    args = ap.parse_args()
    runs = max(5, args.runs)
    cmd = scaler_command()
    with tempfile.TemporaryDirectory() as tmp:
        emit = [*cmd, "emit", "--preset", args.preset, "--out", tmp]
        timed(emit, 1)  # warm the OS file cache once; every timed run is still a fresh interpreter
        emit_s = timed(emit, runs)
        written = sorted(p.name for p in Path(tmp).iterdir())
        help_s = timed([*cmd, "--help"], runs)
        python_s = timed([sys.executable, "-c", "pass"], runs)
        torch_emit = imports_torch(["emit", "--preset", args.preset, "--out", tmp])
    torch_help = imports_torch(["--help"])
    emit_med, help_med, py_med = (statistics.median(v) for v in (emit_s, help_s, python_s))

    def fmt(v: list[float]) -> str:
        return " ".join(f"{x:.3f}" for x in v)

    rows = [
        ("command", " ".join(Path(c).name if i == 0 else c for i, c in enumerate(emit[:-1])) + " <tmp>"),
        ("written", ", ".join(written)),
        (f"emit median of {runs}", f"{emit_med:.3f} s (target < 0.5 s)  runs: {fmt(emit_s)}"),
        (f"--help median of {runs}", f"{help_med:.3f} s  runs: {fmt(help_s)}"),
        ("bare python -c pass", f"{py_med:.3f} s"),
        ("imports torch", f"emit: {'yes' if torch_emit else 'no'}, --help: {'yes' if torch_help else 'no'}"),
        ("cpus", str(os.cpu_count())),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"emit_median_s={emit_med:.3f} help_median_s={help_med:.3f} python_median_s={py_med:.3f} runs={runs} "
          f"emit_under_target={int(emit_med < 0.5)} torch_imported_emit={int(torch_emit)} "
          f"torch_imported_help={int(torch_help)}")


if __name__ == "__main__":
    main()

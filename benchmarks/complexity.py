"""Analytic params and FLOPs vs ptflops (aten backend) on the built torch model.

    python benchmarks/complexity.py [--preset efficientnet-b7] [--resolution 600] [--repeats 20]

Counts the preset both ways, checks they agree (ptflops' aten backend adds one per bias element: the SE convs and
the classifier), and times each. The analytic count is the median of --repeats calls on the loaded spec; ptflops
is one call on the built model (its time excludes building the model, which is shown separately).
Prints a table, then a last line of key=value pairs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scaler.arch.flops import complexity
from scaler.arch.plan import plan
from scaler.catalog import preset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="efficientnet-b7")
    ap.add_argument("--resolution", type=int, help="input size (default: the preset's)")
    ap.add_argument("--repeats", type=int, default=20, help="analytic calls to take the median of")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    spec = preset(args.preset)
    load_s = time.perf_counter() - t0
    res = args.resolution or spec.resolution

    times = []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        c = complexity(spec, res)
        times.append(time.perf_counter() - t0)
    analytic_s = statistics.median(times)

    import torch
    from ptflops import get_model_complexity_info

    from scaler.arch.torch_model import Network

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = Network(spec).eval()
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        pt_macs, pt_params = get_model_complexity_info(model, (spec.in_channels, res, res), as_strings=False,
                                                       backend="aten", print_per_layer_stat=False, verbose=False)
    ptflops_s = time.perf_counter() - t0
    p = plan(spec, res)
    bias = sum(b.se + b.mid for stage in p.stages for b in stage if b.se) + p.num_classes
    pt_macs, pt_params = int(pt_macs), int(pt_params)
    match = pt_macs - bias == c.flops and pt_params == c.params
    speedup = ptflops_s / analytic_s

    rows = [
        ("model", f"{spec.name} at {res}px ({spec.blocks} blocks), {args.threads} threads, torch {torch.__version__}"),
        ("analytic params", f"{c.params:,}"),
        ("analytic FLOPs (MACs)", f"{c.flops:,}"),
        ("ptflops params", f"{pt_params:,}"),
        ("ptflops aten MACs", f"{pt_macs:,} (= analytic + {bias:,} bias adds: {'match' if match else 'MISMATCH'})"),
        ("analytic time", f"{analytic_s * 1e3:.3f} ms (median of {len(times)}; preset load {load_s * 1e3:.1f} ms)"),
        ("ptflops time", f"{ptflops_s:.2f} s (+ {build_s:.2f} s to build the model)"),
        ("speed ratio", f"{speedup:,.0f}x (target >= 100x; {(ptflops_s + build_s) / analytic_s:,.0f}x with the "
                        "build)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"model={spec.name} resolution={res} params={c.params} flops={c.flops} ptflops_macs={pt_macs} "
          f"ptflops_params={pt_params} bias_adds={bias} match={int(match)} analytic_s={analytic_s:.6f} "
          f"ptflops_s={ptflops_s:.3f} build_s={build_s:.3f} speedup={speedup:.0f}")
    if not match:
        sys.exit(1)


if __name__ == "__main__":
    main()

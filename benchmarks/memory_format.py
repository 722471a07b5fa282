"""Channels-last (what the training loop and the grid's latency use) against the default contiguous layout on the
CPU, in the same process: a training step of the quickstart proxy, and eval-mode inference of EfficientNet-B0 at
batch 1 and 8 (what `scaler bench --layout` chooses between).

    PYTHONPATH=. python benchmarks/memory_format.py [--steps 30] [--batch-size 128] [--threads 2]

Forward, backward and SGD step on random 1x14x14 images (the quickstart's proxy input), median over --steps after
3 warm-up steps; inference: torch.utils.benchmark's median of one call (1 s of blocks). Last line: key=value pairs
(ratios > 1: channels-last is slower).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils import benchmark

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scaler.arch.torch_model import build_model
from scaler.catalog import load_spec

LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def step_ms(layout: torch.memory_format, steps: int, batch: int) -> float:
    spec = load_spec(os.path.join(os.path.dirname(__file__), "..", "specs", "quickstart.yaml"))
    torch.manual_seed(0)
    model = build_model(spec).to(memory_format=layout).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution).contiguous(memory_format=layout)
    y = torch.randint(0, spec.num_classes, (batch,))
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def inference_ms(layout: torch.memory_format, batch: int) -> float:
    spec = load_spec("efficientnet-b0")
    torch.manual_seed(0)
    model = build_model(spec).to(memory_format=layout).eval()
    x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution).contiguous(memory_format=layout)

    def call() -> None:
        with torch.inference_mode():
            model(x)

    for _ in range(3):
        call()
    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=torch.get_num_threads())
    return 1000 * timer.blocked_autorange(min_run_time=1.0).median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    step = {name: step_ms(layout, args.steps, args.batch_size) for name, layout in LAYOUTS.items()}
    infer = {(name, b): inference_ms(layout, b) for name, layout in LAYOUTS.items() for b in (1, 8)}
    for name in LAYOUTS:
        print(f"{name:14s} quickstart train step {step[name]:8.2f} ms (batch {args.batch_size})   B0 inference "
              f"{infer[name, 1]:7.2f} ms (batch 1) {infer[name, 8]:7.2f} ms (batch 8)")
    ratio = {b: infer["channels_last", b] / infer["contiguous", b] for b in (1, 8)}
    print(f"threads={args.threads} train_step_ratio={step['channels_last'] / step['contiguous']:.3f} "
          f"b0_batch1_ratio={ratio[1]:.3f} b0_batch8_ratio={ratio[8]:.3f}")


if __name__ == "__main__":
    main()

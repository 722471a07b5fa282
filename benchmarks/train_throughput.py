"""Training throughput: scaler's in-memory loop vs a plain PyTorch DataLoader loop, same model and data.

    PYTHONPATH=. python benchmarks/train_throughput.py [--steps 30] [--batch-size 128] [--resolution 28]

Prints a table, then a last line of key=value pairs. GFLOP/s counts training as 3x the forward MACs
x 2 FLOPs (FlopCounterMode, conv + matmul only) and is compared with this machine's fp32 matmul peak.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scaler.arch.torch_model import build_model
from scaler.catalog import load_spec
from scaler.config import AugmentConfig, TrainConfig
from scaler.data.datasets import Dataset, load_dataset
from scaler.train.loop import configure_torch, train


def make_model(data: Dataset) -> tuple[nn.Module, str]:
    """The quickstart spec's network, sized for the dataset."""
    spec = load_spec(os.path.join(os.path.dirname(__file__), "..", "specs", "quickstart.yaml"))
    spec = spec.model_copy(update={"in_channels": data.channels, "num_classes": data.num_classes})
    return build_model(spec), f"specs/quickstart.yaml ({spec.name})"


def forward_macs(model: nn.Module, channels: int, resolution: int) -> float:
    """Forward MACs per image: FlopCounterMode's conv + matmul FLOPs / 2."""
    model = copy.deepcopy(model).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, channels, resolution, resolution))
    return counter.get_total_flops() / 2


def peak_gflops(repeats: int = 5, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def baseline_train(model: nn.Module, data: Dataset, *, steps: int, batch_size: int, resolution: int,
                   lr: float, seed: int) -> float:
    """A plain PyTorch loop: DataLoader over float NCHW tensors, per-batch resize; returns images/s."""
    torch.manual_seed(seed)
    mean, std = data.mean[0], data.std[0]
    x = (data.x_train.float() / 255 - mean) / std
    loader = DataLoader(TensorDataset(x, data.y_train), batch_size=batch_size, shuffle=True, drop_last=True)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-5)
    model.train()
    done, t0 = 0, time.perf_counter()
    while done < steps:
        for xb, yb in loader:
            xb = F.interpolate(xb, size=(resolution, resolution), mode="bilinear", align_corners=False)
            loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # the usual per-step logging
            done += 1
            if done == steps:
                break
    return steps * batch_size / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist5k")
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per measured run")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--resolution", type=int, default=28, help="28: specs/quickstart.yaml's resolution")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=3, help="measured runs per loop (best is reported)")
    args = ap.parse_args()
    configure_torch("cpu", args.threads)
    load_before = os.getloadavg()[0]  # other processes on these cores make every figure here meaningless

    data = load_dataset(args.dataset)
    bs, res = args.batch_size, args.resolution
    # Train exactly `steps` steps in one epoch: a subset of steps*bs images (no eval cost in train time).
    sub = load_dataset(args.dataset, subset=args.steps * bs) if args.steps * bs < len(data.y_train) else data
    steps = len(sub.y_train) // bs
    torch.manual_seed(0)
    model, source = make_model(data)
    macs = forward_macs(model, data.channels, res)
    config = TrainConfig(epochs=1, batch_size=bs, warmup_epochs=0.0,
                         augment=AugmentConfig(translate=0.1, scale=0.1))

    # Warm up both paths (oneDNN primitive caches, allocator), then interleave measured runs.
    warm = load_dataset(args.dataset, subset=4 * bs)
    train(copy.deepcopy(model), warm, config, resolution=res, seed=0)
    baseline_train(copy.deepcopy(model), warm, steps=4, batch_size=bs, resolution=res, lr=config.lr, seed=0)
    scaler_runs, base_runs = [], []
    for r in range(args.repeats):
        result = train(copy.deepcopy(model), sub, config, resolution=res, seed=r)
        scaler_runs.append(result.images_per_second)
        base_runs.append(baseline_train(copy.deepcopy(model), sub, steps=steps, batch_size=bs, resolution=res,
                                        lr=config.lr, seed=r))
    scaler_ips, baseline_ips = max(scaler_runs), max(base_runs)
    gflops = scaler_ips * 3 * macs * 2 / 1e9
    peak = peak_gflops()

    def runs(values: list[float]) -> str:
        return ", ".join(f"{v:,.0f}" for v in values)

    rows = [
        ("model", source),
        ("dataset", f"{data.name} ({data.channels}x{data.image_size}x{data.image_size} -> {res}x{res})"),
        ("forward MACs / image", f"{macs / 1e6:.2f} M"),
        ("threads / batch / steps", f"{args.threads} / {bs} / {steps} (best of {args.repeats})"),
        ("scaler train()", f"{scaler_ips:,.0f} img/s  runs: {runs(scaler_runs)}"),
        ("baseline DataLoader", f"{baseline_ips:,.0f} img/s  runs: {runs(base_runs)}"),
        ("speedup", f"{scaler_ips / baseline_ips:.2f}x"),
        ("scaler GFLOP/s", f"{gflops:.1f}"),
        ("fp32 mm peak GFLOP/s", f"{peak:.1f} (torch.mm 2048^3, best of 5)"),
        ("share of peak", f"{gflops / peak:.1%}"),
        ("1-min load average", f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
                               f"(should be well under {os.cpu_count()} for clean numbers)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    speedup = scaler_ips / baseline_ips
    print(f"scaler_ips={scaler_ips:.1f} baseline_ips={baseline_ips:.1f} speedup={speedup:.3f} "
          f"gflops={gflops:.2f} peak_gflops={peak:.1f} peak_share={gflops / peak:.4f}")


if __name__ == "__main__":
    main()

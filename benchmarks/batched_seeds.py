"""Several seeds of one network trained as one batched model (torch.func.stack_module_state + vmap) against the
same seeds one after the other, in the same process: forward, backward and SGD step of the quickstart proxy.

    PYTHONPATH=. python benchmarks/batched_seeds.py [--seeds 3] [--steps 20] [--batch-size 128]

The racing round would adopt the batched form only at >= 1.5x. BatchNorm's running statistics cannot be updated
in place under vmap, so the batched models run BatchNorm on batch statistics only (torch.func's
replace_all_batch_norm_modules_): this measures the speed the batched form could reach at best. Last line:
key=value pairs.
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
from torch.func import functional_call, grad_and_value, replace_all_batch_norm_modules_, stack_module_state

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scaler.arch.torch_model import build_model
from scaler.catalog import load_spec


def models(seeds: int) -> tuple[list[nn.Module], int]:
    spec = load_spec(os.path.join(os.path.dirname(__file__), "..", "specs", "quickstart.yaml"))
    spec = spec.model_copy(update={"in_channels": 1, "num_classes": 10})
    out = []
    for s in range(seeds):
        torch.manual_seed(s)
        out.append(build_model(spec))
    return out, spec.resolution


def sequential(nets: list[nn.Module], xs: torch.Tensor, ys: torch.Tensor, steps: int) -> float:
    """Seconds per step of all seeds, one model after the other (as scaler trains them today)."""
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in nets]
    for m in nets:
        m.train()
    t0 = 0.0
    for i in range(steps + 2):
        if i == 2:
            t0 = time.perf_counter()
        for k, (m, opt) in enumerate(zip(nets, opts, strict=True)):
            loss = F.cross_entropy(m(xs[k]), ys[k])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / steps


def batched(nets: list[nn.Module], xs: torch.Tensor, ys: torch.Tensor, steps: int) -> float:
    """Seconds per step of all seeds as one vmapped model (plain SGD with momentum on the stacked tensors)."""
    nets = [copy.deepcopy(m) for m in nets]
    for m in nets:
        replace_all_batch_norm_modules_(m)
        m.train()
    params, buffers = stack_module_state(nets)
    base = copy.deepcopy(nets[0]).to("meta")

    def loss_of(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    step = torch.vmap(grad_and_value(loss_of), in_dims=(0, 0, 0, 0), randomness="different")
    momentum = {k: torch.zeros_like(v) for k, v in params.items()}
    t0 = 0.0
    for i in range(steps + 2):
        if i == 2:
            t0 = time.perf_counter()
        grads, _ = step(params, buffers, xs, ys)
        with torch.no_grad():
            for k, g in grads.items():
                momentum[k].mul_(0.9).add_(g)
                params[k].sub_(0.1 * momentum[k])
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    nets, px = models(args.seeds)
    xs = torch.randn(args.seeds, args.batch_size, 1, px, px).contiguous(memory_format=torch.contiguous_format)
    ys = torch.randint(0, 10, (args.seeds, args.batch_size))
    seq = sequential([copy.deepcopy(m) for m in nets], xs, ys, args.steps)
    bat = batched(nets, xs, ys, args.steps)
    print(f"{args.seeds} seeds of the quickstart proxy ({px} px), batch {args.batch_size}, {torch.get_num_threads()} "
          f"threads: one after the other {1000 * seq:.1f} ms per step of all seeds; vmapped {1000 * bat:.1f} ms")
    print(f"seeds={args.seeds} sequential_ms={1000 * seq:.1f} batched_ms={1000 * bat:.1f} speedup={seq / bat:.2f}")


if __name__ == "__main__":
    main()

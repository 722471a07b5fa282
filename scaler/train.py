"""Proxy training: a short, deterministic, allocation-light training loop over an in-memory dataset."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pydantic
import torch
import torch.nn.functional as F
from torch import nn

from scaler.data import AugmentConfig, BatchTransform, Dataset
from scaler.errors import ScalerError

__all__ = [
    "AugmentConfig",
    "ProgressiveConfig",
    "StageSettings",
    "TrainConfig",
    "TrainResult",
    "build_optimizer",
    "evaluate",
    "learning_rate",
    "measure_latency",
    "progressive_schedule",
    "recalibrate_bn",
    "resolve_device",
    "train",
]

LOG_EVERY = 10  # optimizer steps between on_step calls
DIVERGENCE_FACTOR = 100.0  # a loss this many times a uniform guess's (ln K) counts as diverged


class ProgressiveConfig(pydantic.BaseModel):
    """EfficientNetV2 progressive learning: training split into ``stages``; the image size grows from
    ``start_scale`` x the trial's resolution to the resolution, and regularization grows with it. Evaluation is
    always at the trial's resolution."""

    model_config = pydantic.ConfigDict(extra="forbid")

    stages: int = pydantic.Field(4, ge=1, description="training stages (epochs are split evenly; at most one "
                                 "per epoch)")
    start_scale: float = pydantic.Field(0.5, gt=0, le=1, description="first image size / the trial's "
                                        "resolution (V2-S: 128/300)")
    dropout: tuple[float, float] = pydantic.Field((0.0, 0.2), description="classifier dropout, first to last")
    augment: tuple[float, float] = pydantic.Field((0.25, 1.0), description="augmentation magnitude (multiplies "
                                                  "augment.translate and augment.scale), first to last")
    mixup: tuple[float, float] = pydantic.Field((0.0, 0.2), description="mixup alpha, first to last (0: off)")

    @pydantic.field_validator("dropout", "augment", "mixup")
    @classmethod
    def _ranges(cls, v: tuple[float, float], info: pydantic.ValidationInfo) -> tuple[float, float]:
        hi = {"dropout": 0.99, "augment": 1.0, "mixup": 10.0}[info.field_name]
        if not all(0 <= x <= hi for x in v):
            raise ValueError(f"both ends must lie in [0, {hi:g}]")
        return v


@dataclass(frozen=True)
class StageSettings:
    """What one progressive-learning stage trains with (epochs are 1-based, inclusive)."""

    first_epoch: int
    last_epoch: int
    image_size: int
    dropout: float
    augment: float
    mixup: float


def progressive_schedule(cfg: ProgressiveConfig, epochs: int, resolution: int) -> list[StageSettings]:
    """Per-stage settings: with ratio (i + 1) / stages, image size ``start + (final - start) * ratio`` (start =
    ``start_scale * resolution``, rounded to whole pixels) and each magnitude ``first + (last - first) * ratio``,
    as in EfficientNetV2's code; the last stage trains at the trial's own resolution and full regularization.
    Epochs are split as evenly as possible, earlier stages taking the shorter share; a run shorter than
    ``stages`` epochs has one stage per epoch."""
    stages = min(cfg.stages, epochs)
    start = cfg.start_scale * resolution
    out = []
    for i in range(stages):
        ratio = (i + 1) / stages
        first, last = i * epochs // stages + 1, (i + 1) * epochs // stages
        ramp = {k: round(lo + (hi - lo) * ratio, 6) for k, (lo, hi) in
                (("dropout", cfg.dropout), ("augment", cfg.augment), ("mixup", cfg.mixup))}
        out.append(StageSettings(first_epoch=first, last_epoch=last,
                                 image_size=max(1, round(start + (resolution - start) * ratio)), **ramp))
    return out


class TrainConfig(pydantic.BaseModel):
    """Hyper-parameters of one proxy training run.

    The defaults were chosen on specs/quickstart.yaml: 87.4% (mean of 3 seeds) on a 10k Fashion-MNIST subset
    in 5 epochs, 0.5 points above lr 0.1 and 2-3 above AdamW 3e-3 / RMSprop 0.01; ~98% on digits and mnist5k.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    epochs: int = pydantic.Field(10, ge=1)
    batch_size: int = pydantic.Field(128, ge=1)
    optimizer: Literal["sgd", "rmsprop", "adamw"] = "sgd"
    lr: float = pydantic.Field(0.2, gt=0, description="peak learning rate, reached after warm-up")
    momentum: float = pydantic.Field(0.9, ge=0, lt=1, description="SGD (Nesterov) and RMSprop momentum")
    weight_decay: float = pydantic.Field(
        5e-5, ge=0, description="L2 for sgd/rmsprop, decoupled for adamw; never on BN or bias parameters"
    )
    warmup_epochs: float = pydantic.Field(1.0, ge=0, description="linear warm-up, may be fractional")
    schedule: Literal["cosine", "constant"] = "cosine"
    label_smoothing: float = pydantic.Field(0.1, ge=0, lt=1)
    augment: AugmentConfig = AugmentConfig()
    eval_batch_size: int = pydantic.Field(512, ge=1)
    curve_val_images: int = pydantic.Field(
        2000, ge=0, description="validation images scored after each intermediate epoch (a fixed random "
        "subset; 0: all); the final accuracy always uses the whole validation set"
    )
    bn_calibration: int = pydantic.Field(
        1024, ge=0, description="training images that re-estimate BatchNorm statistics before each "
        "evaluation (0: off); short runs otherwise evaluate with running averages that have not caught up"
    )
    progressive: ProgressiveConfig | None = pydantic.Field(
        None, description="EfficientNetV2 progressive learning (image size and regularization grow by stage)"
    )


@dataclass
class TrainResult:
    """Outcome of :func:`train`. ``accuracy`` is top-1 on the validation set, in [0, 1]."""

    accuracy: float
    loss: float
    curve: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    train_step_ms: float = float("nan")  # mean wall time of one optimizer step (batch_size images), data included
    status: str = "ok"  # "ok" | "diverged" | "failed" (set by callers that catch exceptions)
    message: str = ""


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; asking for CUDA without it is a user error."""
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ScalerError("CUDA was requested but torch sees no GPU (use --device cpu or auto)",
                              where=device)
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ScalerError("unknown device; expected auto, cpu, cuda or cuda:N", where=device)


def learning_rate(
    step: int, total_steps: int, *, base_lr: float, warmup_steps: int, schedule: str = "cosine"
) -> float:
    """LR for optimizer step ``step`` (0-based): linear warm-up to ``base_lr``, then cosine to 0 or constant.

    Warm-up step ``i`` uses ``base_lr * (i + 1) / warmup_steps`` so the first step already moves; the cosine
    covers the remaining steps and would reach 0 one step after the last.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """The configured optimizer, with weight decay only on weights (not on BN/bias/1-D parameters)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [g for g in ({"params": decay, "weight_decay": config.weight_decay},
                          {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    # foreach: one multi-tensor kernel per op instead of one per parameter (big win for small models).
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
                               foreach=True)
    if config.optimizer == "rmsprop":
        # TF-style EfficientNet settings (decay 0.9); torch adds eps outside the sqrt, hence the larger value.
        return torch.optim.RMSprop(groups, lr=config.lr, alpha=0.9, eps=1e-3, momentum=config.momentum,
                                   foreach=True)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999), foreach=True)


def _autocast(device: torch.device) -> torch.autocast:
    # bf16 on CUDA (no loss scaling needed); CPU stays fp32 for exact run-to-run repeatability.
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module,
    x: torch.Tensor,
    transform: BatchTransform,
    *,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over the uint8 images ``x`` ("precise BN").

    Only the BN layers run in training mode (dropout and stochastic depth stay off), so the statistics match
    what evaluation sees. With momentum 0.1, a run of a few dozen steps still carries much of the initial
    mean 0 / variance 1 and of the early, fast-changing activations: eval accuracy can sit at chance while
    the training loss is fine.
    """
    device = torch.device(device)
    bns = [m for m in model.modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns or len(x) == 0:
        return
    was_training = model.training
    momenta = [m.momentum for m in bns]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
        m.train()
    try:
        for start in range(0, len(x), batch_size):
            with _autocast(device):
                model(transform.eval(x[start : start + batch_size].to(device, non_blocking=True)))
    finally:
        for m, momentum in zip(bns, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    transform: BatchTransform,
    *,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on uint8 images ``x`` with labels ``y``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    try:
        for start in range(0, len(y), batch_size):
            xb = x[start : start + batch_size].to(device, non_blocking=True)
            yb = y[start : start + batch_size].to(device, non_blocking=True)
            with _autocast(device):
                logits = model(transform.eval(xb))
            correct += (logits.argmax(1) == yb).sum()
    finally:
        model.train(was_training)
    return correct.item() / max(1, len(y))


def train(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    *,
    resolution: int,
    seed: int,
    device: str = "cpu",
    threads: int | None = None,
    on_step: Callable[[dict], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data`` at ``resolution`` px and return its validation accuracy.

    Bitwise repeatable on CPU for a given ``seed`` and thread count. A non-finite loss, or one above 100x
    that of a uniform guess, stops training with ``status="diverged"`` (accuracy 0, loss NaN). Exceptions
    propagate to the caller.
    """
    dev = resolve_device(device)
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(seed)  # dropout / stochastic depth inside the model
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True

    model.to(dev, memory_format=torch.channels_last)
    model.train()
    # The whole uint8 dataset moves to the device once: batches are then index_select gathers, never copies
    # from the host.
    x_train, y_train = data.x_train.to(dev), data.y_train.to(dev)
    x_val, y_val = data.x_val.to(dev), data.y_val.to(dev)
    x_curve, y_curve = x_val, y_val
    if 0 < config.curve_val_images < len(y_val):
        # The same images for every trial and seed, so curves are comparable.
        pick = torch.randperm(len(y_val), generator=torch.Generator().manual_seed(0))
        pick = pick[: config.curve_val_images]
        x_curve, y_curve = x_val.index_select(0, pick.to(dev)), y_val.index_select(0, pick.to(dev))
    n = len(y_train)
    batch_size = min(config.batch_size, n)  # tiny subsets: one full batch per epoch rather than none
    steps_per_epoch = n // batch_size  # drop_last
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    transform = BatchTransform(data.mean, data.std, resolution, config.augment)  # evaluation: always here
    schedule = progressive_schedule(config.progressive, config.epochs, resolution) if config.progressive else []
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    optimizer = build_optimizer(model, config, dev)
    sync_every_step = dev.type == "cpu"  # .item() is free on CPU; on GPU sync only when reporting
    loss_limit = DIVERGENCE_FACTOR * math.log(max(2, data.num_classes))

    def bad(loss: float) -> bool:
        return not loss <= loss_limit  # also true for NaN

    curve: list[dict] = []
    train_seconds = 0.0
    images = 0
    step = 0
    last_loss = float("nan")
    train_tf, mix_weights, stage = transform, None, None
    for epoch in range(1, config.epochs + 1):
        previous, stage = stage, next((st for st in schedule if st.first_epoch <= epoch <= st.last_epoch), None)
        if stage is not None and stage is not previous:
            aug = config.augment.model_copy(update={"magnitude": config.augment.magnitude * stage.augment})
            train_tf = BatchTransform(data.mean, data.std, stage.image_size, aug)
            for m in dropouts:
                m.p = stage.dropout
            mixup = stage.mixup
            mix_weights = torch.distributions.Beta(mixup, mixup) if mixup > 0 else None
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen, device=dev)
        loss_sum = torch.zeros((), device=dev)
        window_sum = torch.zeros((), device=dev)
        window_start, window_t0 = step, t0
        for i in range(steps_per_epoch):
            lr = learning_rate(step, total_steps, base_lr=config.lr, warmup_steps=warmup_steps,
                               schedule=config.schedule)
            for group in optimizer.param_groups:
                group["lr"] = lr
            idx = perm[i * batch_size : (i + 1) * batch_size]
            xb = train_tf.train(x_train.index_select(0, idx), gen)
            yb = y_train.index_select(0, idx)
            if mix_weights is not None:
                lam = float(mix_weights.sample())
                mix = torch.randperm(len(yb), generator=gen, device=dev)
                xb = xb.mul(lam).add_(xb.index_select(0, mix), alpha=1 - lam)
            with _autocast(dev):
                out = model(xb)
                loss = F.cross_entropy(out, yb, label_smoothing=config.label_smoothing)
                if mix_weights is not None:
                    loss = lam * loss + (1 - lam) * F.cross_entropy(out, yb.index_select(0, mix),
                                                                    label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            step += 1
            loss_d = loss.detach().float()
            if sync_every_step and bad(loss_d.item()):
                where = f"epoch {epoch}, step {step}/{total_steps}"
                return _diverged(curve, train_seconds + time.perf_counter() - t0, images,
                                 f"loss became {loss_d.item():.4g} at {where}")
            optimizer.step()
            loss_sum += loss_d
            window_sum += loss_d
            if on_step is not None and (step % LOG_EVERY == 0 or i == steps_per_epoch - 1):
                window_loss = (window_sum / (step - window_start)).item()  # one sync per report
                if bad(window_loss):
                    where = f"epoch {epoch}, steps {window_start + 1}-{step}"
                    return _diverged(curve, train_seconds + time.perf_counter() - t0, images,
                                     f"loss became {window_loss:.4g} at {where}")
                now = time.perf_counter()
                ips = (step - window_start) * batch_size / max(now - window_t0, 1e-9)
                on_step({"epoch": epoch, "step": step, "steps": total_steps, "loss": window_loss,
                         "images_per_second": ips})
                window_sum.zero_()
                window_start, window_t0 = step, now
        epoch_loss = (loss_sum / max(1, steps_per_epoch)).item()  # also synchronizes the device
        epoch_seconds = time.perf_counter() - t0
        train_seconds += epoch_seconds
        images += steps_per_epoch * batch_size
        if bad(epoch_loss):
            return _diverged(curve, train_seconds, images,
                             f"loss became {epoch_loss:.4g} during epoch {epoch}")
        last_loss = epoch_loss
        if config.bn_calibration:
            # A random (seeded) slice: datasets may be stored sorted by class.
            calib = x_train.index_select(0, perm[: config.bn_calibration])
            recalibrate_bn(model, calib, transform, batch_size=batch_size, device=dev)
        xe, ye = (x_val, y_val) if epoch == config.epochs else (x_curve, y_curve)
        accuracy = evaluate(model, xe, ye, transform, batch_size=config.eval_batch_size, device=dev)
        row = {"epoch": epoch, "loss": epoch_loss, "accuracy": accuracy, "lr": lr, "seconds": epoch_seconds,
               "val_images": len(ye), "image_size": train_tf.resolution}
        if stage is not None:
            row.update(stage=schedule.index(stage) + 1, dropout=stage.dropout, augment=stage.augment,
                       mixup=stage.mixup)
        curve.append(row)
        if on_epoch is not None:
            on_epoch(dict(row))

    return TrainResult(
        accuracy=curve[-1]["accuracy"],
        loss=last_loss,
        curve=curve,
        train_seconds=train_seconds,
        images_per_second=images / max(train_seconds, 1e-9),
        train_step_ms=1000 * train_seconds / max(1, step),
        status="ok",
    )


@torch.inference_mode()
def measure_latency(model: nn.Module, channels: int, resolution: int, batch_size: int, *,
                    device: torch.device | str = "cpu", min_seconds: float = 0.25, max_runs: int = 50) -> float:
    """Median wall time (ms) of one eval-mode forward pass of ``batch_size`` images, after two warm-up passes;
    repeated until ``min_seconds`` or ``max_runs``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    x = torch.randn(batch_size, channels, resolution, resolution, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times: list[float] = []
    try:
        with _autocast(device):
            for _ in range(2):
                model(x)
            sync()
            start = time.perf_counter()
            while len(times) < max_runs and (len(times) < 3 or time.perf_counter() - start < min_seconds):
                t = time.perf_counter()
                model(x)
                sync()
                times.append(time.perf_counter() - t)
    finally:
        model.train(was_training)
    times.sort()
    return 1000 * times[len(times) // 2]


def _diverged(curve: list[dict], seconds: float, images: int, message: str) -> TrainResult:
    return TrainResult(
        accuracy=0.0,
        loss=float("nan"),
        curve=curve,
        train_seconds=seconds,
        images_per_second=images / max(seconds, 1e-9),
        status="diverged",
        message=message,
    )

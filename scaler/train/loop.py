"""Proxy training: a short, deterministic, allocation-light training loop over an in-memory dataset.

The caller owns the process-wide settings (torch threads, cuDNN flags: :func:`configure_torch`); the loop only
trains the model it is given.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from scaler.config import TrainConfig
from scaler.data.datasets import Dataset
from scaler.data.transforms import BatchTransform
from scaler.train.measure import autocast, evaluate, recalibrate_bn, resolve_device
from scaler.train.schedule import StageSettings, build_optimizer, learning_rate, progressive_schedule

LOG_EVERY = 10  # optimizer steps between on_step calls
DIVERGENCE_FACTOR = 100.0  # a loss this many times a uniform guess's (ln K) counts as diverged

Callback = Callable[[dict], None]


@dataclass
class TrainResult:
    """Outcome of :func:`train`. ``accuracy`` is top-1 on the validation set, in [0, 1]; ``test_accuracy`` the
    same network's top-1 on the test split, scored once after training (NaN when the run diverged)."""

    accuracy: float
    loss: float
    test_accuracy: float = float("nan")
    curve: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    images_per_second: float = 0.0
    train_step_ms: float = float("nan")  # mean wall time of one optimizer step (batch_size images), data included
    micro_batch: int = 0  # images per forward pass: the batch, unless it was split (``train(micro_batch=...)``)
    status: str = "ok"  # "ok" | "diverged" | "failed" (set by callers that catch exceptions)
    message: str = ""
    checkpoint: bytes | None = None  # what a later run needs to continue this one (``train(..., checkpoint=True)``)


def configure_torch(device: str | torch.device, threads: int | None) -> None:
    """Process-wide settings for training: CPU threads, and cuDNN's autotuner on CUDA (fixed shapes)."""
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True


class _Diverged(Exception):
    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


@dataclass
class _Training:
    """What one training run reads and updates, epoch to epoch."""

    model: nn.Module
    config: TrainConfig
    dev: torch.device
    gen: torch.Generator
    data: Dataset
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_curve: torch.Tensor
    y_curve: torch.Tensor
    batch_size: int
    micro_batch: int  # images per forward pass; under batch_size, gradients accumulate over the batch's parts
    steps_per_epoch: int
    transform: BatchTransform
    schedule: list[StageSettings]
    optimizer: torch.optim.Optimizer
    loss_limit: float
    train_tf: BatchTransform
    stage: StageSettings | None = None
    mix_weights: torch.distributions.Beta | None = None
    step: int = 0
    stop: int = 0  # the step this run trains to (a budget under the schedule's full length stops early)
    perm: torch.Tensor | None = None  # the current epoch's order of the training images
    images: int = 0
    train_seconds: float = 0.0
    curve: list[dict] = field(default_factory=list)
    earlier_seconds: float = 0.0  # training time of the runs this one continues (their steps: ``step`` at resume)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs

    @property
    def eval_batch_size(self) -> int:
        """Evaluation's batch, shrunk as much as training's when the batch is split."""
        return max(1, self.config.eval_batch_size * self.micro_batch // self.batch_size)

    @property
    def warmup_steps(self) -> int:
        return round(self.config.warmup_epochs * self.steps_per_epoch)

    def bad(self, loss: float) -> bool:
        return not loss <= self.loss_limit  # also true for NaN


def train(model: nn.Module, data: Dataset, config: TrainConfig, *, resolution: int, seed: int,
          device: str = "cpu", on_step: Callback | None = None, on_epoch: Callback | None = None,
          budget: float | None = None, resume: bytes | None = None, checkpoint: bool = False,
          micro_batch: int | None = None) -> TrainResult:
    """Train ``model`` in place on ``data`` at ``resolution`` px and return its validation accuracy (every epoch)
    and its test accuracy (once, after the schedule's last step; nothing during training reads the test split).

    ``budget`` (epochs, may be fractional) stops early: the learning-rate schedule still spans ``config.epochs``,
    so a short run is the first part of the full one, and a budget under one epoch sees that fraction of the
    training set. ``resume`` continues from the ``checkpoint`` of an earlier, shorter run of the same model,
    data, config and seed: the result equals training straight through; ``train_seconds`` counts this run's own
    steps only.

    ``micro_batch`` splits each batch into parts of at most that many images and accumulates their gradients:
    the same optimizer steps, learning rates and random streams as the whole batch (BatchNorm sees the smaller
    parts). Evaluation batches shrink in proportion. What fits a GPU's memory; see
    :mod:`scaler.train.memory`.

    Bitwise repeatable on CPU for a given ``seed`` and thread count. A non-finite loss, or one above 100x
    that of a uniform guess, stops training with ``status="diverged"`` (accuracy 0, loss NaN). Exceptions
    propagate to the caller.
    """
    run = _start(model, data, config, resolution=resolution, seed=seed, device=device, micro_batch=micro_batch)
    run.stop = run.total_steps
    if budget is not None:
        run.stop = min(run.total_steps, max(1, round(budget * run.steps_per_epoch)))
    if resume is not None:
        _restore(run, resume)
    last_loss, state = float("nan"), None
    last_epoch = math.ceil(run.stop / run.steps_per_epoch)
    first_epoch = run.step // run.steps_per_epoch + 1 if run.step < run.stop else last_epoch + 1  # nothing left
    try:
        for epoch in range(first_epoch, last_epoch + 1):
            _enter_stage(run, epoch)
            result = _train_epoch(run, epoch, on_step)
            last_loss = result.loss
            _score_epoch(run, epoch, result, on_epoch, final=epoch == last_epoch)
        state = _snapshot(run) if checkpoint else None
    except _Diverged as d:
        return TrainResult(accuracy=0.0, loss=float("nan"), curve=run.curve, train_seconds=d.seconds,
                           images_per_second=run.images / max(d.seconds, 1e-9), status="diverged",
                           message=str(d))
    test_accuracy = float("nan")
    if run.stop == run.total_steps:
        test_accuracy = evaluate(model, data.x_test.to(run.dev), data.y_test.to(run.dev), run.transform,
                                 batch_size=run.eval_batch_size, device=run.dev)
    return TrainResult(accuracy=run.curve[-1]["accuracy"], loss=last_loss, test_accuracy=test_accuracy,
                       curve=run.curve,
                       train_seconds=run.train_seconds,
                       images_per_second=run.images / max(run.train_seconds, 1e-9),
                       train_step_ms=1000 * (run.train_seconds + run.earlier_seconds) / max(1, run.step),
                       status="ok", checkpoint=state, micro_batch=run.micro_batch)


def _snapshot(run: _Training) -> bytes:
    """Everything the rest of the schedule depends on: weights, optimizer, the data order and both random
    streams. (BatchNorm's running statistics are re-estimated before every evaluation, so they do not matter.)"""
    state = {"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "step": run.step,
             "perm": run.perm, "generator": run.gen.get_state(), "rng": torch.get_rng_state(), "curve": run.curve,
             "seconds": run.train_seconds + run.earlier_seconds}
    if run.dev.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(run.dev)
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _restore(run: _Training, blob: bytes) -> None:
    state = torch.load(io.BytesIO(blob), map_location=run.dev, weights_only=False)
    if state["step"] > run.stop:
        raise ValueError(f"the checkpoint is at step {state['step']}, past this run's budget ({run.stop} steps)")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.step, run.perm, run.curve = state["step"], state["perm"], list(state["curve"])
    run.earlier_seconds = state.get("seconds", 0.0)
    run.gen.set_state(state["generator"].cpu())
    torch.set_rng_state(state["rng"].cpu())
    if "cuda_rng" in state:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), run.dev)


def _start(model: nn.Module, data: Dataset, config: TrainConfig, *, resolution: int, seed: int,
           device: str, micro_batch: int | None) -> _Training:
    """Seed, move model and data to the device once, and build what every epoch shares."""
    dev = resolve_device(device)
    torch.manual_seed(seed)  # dropout / stochastic depth inside the model
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
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
    batch_size = min(config.batch_size, len(y_train))  # tiny subsets: one full batch per epoch rather than none
    transform = BatchTransform(data.mean, data.std, resolution, config.augment)  # evaluation: always here
    schedule = progressive_schedule(config.progressive, config.epochs, resolution) if config.progressive else []
    return _Training(model=model, config=config, dev=dev, gen=gen, data=data, x_train=x_train, y_train=y_train,
                     x_val=x_val, y_val=y_val, x_curve=x_curve, y_curve=y_curve, batch_size=batch_size,
                     micro_batch=max(1, min(micro_batch or batch_size, batch_size)),
                     steps_per_epoch=len(y_train) // batch_size,  # drop_last
                     transform=transform, schedule=schedule, optimizer=build_optimizer(model, config, dev),
                     loss_limit=DIVERGENCE_FACTOR * math.log(max(2, data.num_classes)), train_tf=transform)


def _enter_stage(run: _Training, epoch: int) -> None:
    """Progressive learning: at a stage's first epoch, its image size, dropout, augmentation and mixup."""
    stage = next((st for st in run.schedule if st.first_epoch <= epoch <= st.last_epoch), None)
    if stage is None or stage is run.stage:
        return
    run.stage = stage
    cfg, data = run.config, run.data
    aug = cfg.augment.model_copy(update={"magnitude": cfg.augment.magnitude * stage.augment})
    run.train_tf = BatchTransform(data.mean, data.std, stage.image_size, aug)
    for m in run.model.modules():
        if isinstance(m, nn.Dropout):
            m.p = stage.dropout
    run.mix_weights = torch.distributions.Beta(stage.mixup, stage.mixup) if stage.mixup > 0 else None


@dataclass(frozen=True)
class _Epoch:
    loss: float  # mean training loss
    perm: torch.Tensor  # the epoch's order of the training images
    seconds: float
    lr: float  # of the epoch's last step


def _train_epoch(run: _Training, epoch: int, on_step: Callback | None) -> _Epoch:
    """One pass over the training set, or the part of it between a resumed run's step and the budget's."""
    cfg, dev = run.config, run.dev
    sync_every_step = dev.type == "cpu"  # .item() is free on CPU; on GPU sync only when reporting
    t0 = time.perf_counter()
    begin = run.step - (epoch - 1) * run.steps_per_epoch
    end = min(run.steps_per_epoch, run.stop - (epoch - 1) * run.steps_per_epoch)
    if begin == 0 or run.perm is None:
        run.perm = torch.randperm(len(run.y_train), generator=run.gen, device=dev)
    perm = run.perm
    loss_sum = torch.zeros((), device=dev)
    window_sum = torch.zeros((), device=dev)
    window_start, window_t0 = run.step, t0
    for i in range(begin, end):
        lr = learning_rate(run.step, run.total_steps, base_lr=cfg.lr, warmup_steps=run.warmup_steps,
                           schedule=cfg.schedule)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        loss = _step(run, perm[i * run.batch_size : (i + 1) * run.batch_size])
        if sync_every_step and run.bad(loss.item()):
            raise _Diverged(f"loss became {loss.item():.4g} at epoch {epoch}, step {run.step}/{run.total_steps}",
                            run.train_seconds + time.perf_counter() - t0)
        run.optimizer.step()
        loss_sum += loss
        window_sum += loss
        if on_step is not None and (run.step % LOG_EVERY == 0 or i == end - 1):
            window_loss = (window_sum / (run.step - window_start)).item()  # one sync per report
            if run.bad(window_loss):
                raise _Diverged(f"loss became {window_loss:.4g} at epoch {epoch}, steps {window_start + 1}-"
                                f"{run.step}", run.train_seconds + time.perf_counter() - t0)
            now = time.perf_counter()
            on_step({"epoch": epoch, "step": run.step, "steps": run.total_steps, "loss": window_loss,
                     "images_per_second": (run.step - window_start) * run.batch_size / max(now - window_t0, 1e-9)})
            window_sum.zero_()
            window_start, window_t0 = run.step, now
    epoch_loss = (loss_sum / max(1, end - begin)).item()  # also synchronizes the device
    seconds = time.perf_counter() - t0
    run.train_seconds += seconds
    run.images += (end - begin) * run.batch_size
    if run.bad(epoch_loss):
        raise _Diverged(f"loss became {epoch_loss:.4g} during epoch {epoch}", run.train_seconds)
    return _Epoch(loss=epoch_loss, perm=perm, seconds=seconds, lr=lr)


def _step(run: _Training, idx: torch.Tensor) -> torch.Tensor:
    """Forward and backward of one batch (mixup when the stage asks for it), part by part when the batch is
    split (``micro_batch``); returns the detached loss of the whole batch."""
    # batch: transformed and mixed whole, so the random streams do not depend on the split
    xb = run.train_tf.train(run.x_train.index_select(0, idx), run.gen)
    yb = run.y_train.index_select(0, idx)
    lam, ym = 1.0, None
    if run.mix_weights is not None:
        lam = float(run.mix_weights.sample())
        mix = torch.randperm(len(yb), generator=run.gen, device=run.dev)
        xb = xb.mul(lam).add_(xb.index_select(0, mix), alpha=1 - lam)
        ym = yb.index_select(0, mix)
    run.optimizer.zero_grad(set_to_none=True)
    if run.micro_batch >= len(yb):
        loss = _forward(run, xb, yb, ym, lam)
        loss.backward()
    else:
        loss = torch.zeros((), device=run.dev)
        for start in range(0, len(yb), run.micro_batch):
            part = slice(start, start + run.micro_batch)
            share = len(yb[part]) / len(yb)  # each part's mean loss, weighted to the batch's mean
            part_loss = _forward(run, xb[part], yb[part], None if ym is None else ym[part], lam) * share
            part_loss.backward()
            loss += part_loss.detach().float()
    run.step += 1
    return loss.detach().float()


def _forward(run: _Training, xb: torch.Tensor, yb: torch.Tensor, ym: torch.Tensor | None, lam: float) -> torch.Tensor:
    """The mean cross-entropy of a batch (or a part of one), mixed with the labels ``ym`` at weight 1 - lam."""
    smoothing = run.config.label_smoothing
    with autocast(run.dev):
        out = run.model(xb)
        loss = F.cross_entropy(out, yb, label_smoothing=smoothing)
        if ym is not None:
            loss = lam * loss + (1 - lam) * F.cross_entropy(out, ym, label_smoothing=smoothing)
    return loss


def _score_epoch(run: _Training, epoch: int, result: _Epoch, on_epoch: Callback | None, *, final: bool) -> None:
    """Precise BN, then validation accuracy (a fixed subset between epochs, everything after the last)."""
    cfg = run.config
    if cfg.bn_calibration:
        # A random (seeded) slice: datasets may be stored sorted by class.
        calib = run.x_train.index_select(0, result.perm[: cfg.bn_calibration])
        recalibrate_bn(run.model, calib, run.transform, batch_size=run.micro_batch, device=run.dev)
    xe, ye = (run.x_val, run.y_val) if final else (run.x_curve, run.y_curve)
    accuracy = evaluate(run.model, xe, ye, run.transform, batch_size=run.eval_batch_size, device=run.dev)
    row = {"epoch": epoch, "budget": round(run.step / run.steps_per_epoch, 6), "loss": result.loss,
           "accuracy": accuracy, "lr": result.lr, "seconds": result.seconds, "val_images": len(ye),
           "image_size": run.train_tf.resolution}
    if run.stage is not None:
        row.update(stage=run.schedule.index(run.stage) + 1, dropout=run.stage.dropout, augment=run.stage.augment,
                   mixup=run.stage.mixup)
    run.curve.append(row)
    if on_epoch is not None:
        on_epoch(dict(row))

"""The proxy training loop on digits: accuracy, determinism, divergence, schedule, callbacks."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
from torch import nn

from scaler.config import AugmentConfig, ProgressiveConfig, TrainConfig
from scaler.data.datasets import load_dataset
from scaler.data.transforms import BatchTransform
from scaler.errors import ScalerError
from scaler.train.loop import train
from scaler.train.measure import evaluate, measure_latency, recalibrate_bn, resolve_device
from scaler.train.schedule import build_optimizer, learning_rate, progressive_schedule

# The loop leaves process-wide settings to its caller: these tests run it on one thread.
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_cnn(seed: int = 0, width: int = 32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.SiLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.SiLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 10),
    )


FAST = TrainConfig(epochs=2, batch_size=32, lr=0.5, warmup_epochs=0.25)


def test_learns_digits() -> None:
    data = load_dataset("digits")
    steps: list[dict] = []
    epochs: list[dict] = []
    result = train(tiny_cnn(), data, FAST, resolution=8, seed=0, on_step=steps.append,
                   on_epoch=epochs.append)
    assert result.status == "ok" and result.message == ""
    assert result.accuracy > 0.85  # chance is 0.1
    assert [row["epoch"] for row in result.curve] == [1, 2]
    assert epochs == result.curve
    assert result.curve[1]["loss"] < result.curve[0]["loss"] < math.log(10)
    assert result.loss == result.curve[-1]["loss"]
    assert result.accuracy == result.curve[-1]["accuracy"]
    assert result.images_per_second > 0 and result.train_seconds > 0
    # 1295 training images (20% held out for test, 10% of the rest for validation) // 32 = 40 steps per epoch:
    # reports every 10 steps and at each epoch end, which here coincide.
    assert [s["step"] for s in steps] == [10, 20, 30, 40, 50, 60, 70, 80]
    assert 0 <= result.test_accuracy <= 1 and result.test_accuracy != result.accuracy
    assert set(steps[0]) == {"epoch", "step", "steps", "loss", "images_per_second"}
    assert steps[0]["steps"] == 80 and steps[-1]["epoch"] == 2
    assert all(0 < s["loss"] < 3 for s in steps) and steps[-1]["loss"] < steps[0]["loss"]
    # Epoch rows carry the LR of their last step: 10 warm-up steps, then the cosine.
    assert result.curve[0]["lr"] == pytest.approx(learning_rate(39, 80, base_lr=0.5, warmup_steps=10))
    assert result.curve[-1]["lr"] == pytest.approx(learning_rate(79, 80, base_lr=0.5, warmup_steps=10))
    assert 0 < result.curve[-1]["lr"] < 0.001


def test_deterministic_for_a_seed() -> None:
    data = load_dataset("digits", subset=512)
    config = TrainConfig(epochs=2, batch_size=64, augment=AugmentConfig(translate=0.2, scale=0.2))
    a = train(tiny_cnn(), data, config, resolution=12, seed=3)
    b = train(tiny_cnn(), data, config, resolution=12, seed=3)
    c = train(tiny_cnn(), data, config, resolution=12, seed=4)
    assert [r["loss"] for r in a.curve] == [r["loss"] for r in b.curve]
    assert a.accuracy == b.accuracy
    assert [r["loss"] for r in a.curve] != [r["loss"] for r in c.curve]


def test_model_weights_repeatable() -> None:
    data = load_dataset("digits", subset=256)
    config = TrainConfig(epochs=1, batch_size=64)
    m1, m2 = tiny_cnn(), tiny_cnn()
    train(m1, data, config, resolution=8, seed=0)
    train(m2, data, config, resolution=8, seed=0)
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p1, p2)


def test_divergence_is_reported() -> None:
    data = load_dataset("digits", subset=512)
    config = TrainConfig(epochs=3, batch_size=64, lr=1e6, warmup_epochs=0, label_smoothing=0.0)
    result = train(tiny_cnn(), data, config, resolution=8, seed=0)
    assert result.status == "diverged"
    assert result.accuracy == 0.0 and math.isnan(result.loss)
    assert "at epoch 1, step" in result.message
    assert result.curve == []


def test_tiny_subset_uses_one_full_batch() -> None:
    data = load_dataset("digits", subset=30)
    steps: list[dict] = []
    result = train(tiny_cnn(), data, TrainConfig(epochs=2, batch_size=128), resolution=8, seed=0,
                   on_step=steps.append)
    assert result.status == "ok"
    assert [s["step"] for s in steps] == [1, 2]
    assert result.images_per_second == pytest.approx(60 / result.train_seconds)


def test_recalibrate_bn_exact_statistics() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Dropout(0.5))
    bn = model[1]
    bn.running_mean.fill_(5.0)
    bn.running_var.fill_(9.0)
    x = torch.randint(0, 256, (64, 1, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    transform = BatchTransform((0.5,), (0.25,), 6)
    with torch.no_grad():
        feats = model[0](transform.eval(x))
    model.train()
    recalibrate_bn(model, x, transform, batch_size=16)  # 4 equal batches: the mean of means is exact
    torch.testing.assert_close(bn.running_mean, feats.mean((0, 2, 3)))
    per_batch_var = torch.stack([f.var((0, 2, 3)) for f in feats.split(16)]).mean(0)  # unbiased, per batch
    torch.testing.assert_close(bn.running_var, per_batch_var)
    assert bn.momentum == 0.1 and model.training and model[2].training


def test_short_run_evaluates_with_calibrated_bn() -> None:
    # After 4 steps BN running averages still lag far behind; calibration makes eval match the trained model.
    data = load_dataset("digits", subset=256)
    config = TrainConfig(epochs=2, batch_size=64, lr=0.5, warmup_epochs=0.5)
    on = train(tiny_cnn(), data, config, resolution=8, seed=0)
    off = train(tiny_cnn(), data, config.model_copy(update={"bn_calibration": 0}), resolution=8, seed=0)
    assert on.curve[0]["accuracy"] > 0.45
    assert off.curve[0]["accuracy"] < on.curve[0]["accuracy"] - 0.2
    assert [r["loss"] for r in on.curve] == [r["loss"] for r in off.curve]  # training itself is unchanged


def test_learning_rate_schedule() -> None:
    kw = {"base_lr": 0.4, "warmup_steps": 4}
    assert [learning_rate(s, 20, **kw) for s in range(4)] == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert learning_rate(4, 20, **kw) == pytest.approx(0.4)  # cosine starts at the peak
    assert learning_rate(12, 20, **kw) == pytest.approx(0.2)  # half-way through the decay
    assert learning_rate(19, 20, **kw) == pytest.approx(0.4 * 0.5 * (1 + math.cos(math.pi * 15 / 16)))
    assert learning_rate(20, 20, **kw) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(15, 20, schedule="constant", **kw) == 0.4
    assert learning_rate(0, 10, base_lr=0.1, warmup_steps=0) == pytest.approx(0.1)


def test_optimizer_groups_skip_decay_on_bn_and_bias() -> None:
    model = tiny_cnn()
    for name, lr in (("sgd", 0.1), ("rmsprop", 0.01), ("adamw", 1e-3)):
        config = TrainConfig(optimizer=name, lr=lr, weight_decay=1e-4)
        opt = build_optimizer(model, config, torch.device("cpu"))
        decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
        assert decayed == {id(m.weight) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)}
        assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    sgd = build_optimizer(model, TrainConfig(optimizer="sgd"), torch.device("cpu"))
    assert sgd.param_groups[0]["nesterov"] is True and sgd.param_groups[0]["momentum"] == 0.9


def test_config_validation() -> None:
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(epoch=3)
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(optimizer="lamb")
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(augment={"magnitude": 2.0})
    assert TrainConfig(augment={"flip": True}).augment.flip is True


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ScalerError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ScalerError, match="no GPU"):
            resolve_device("cuda")


def test_progressive_schedule_is_exactly_as_specified() -> None:

    cfg = ProgressiveConfig(stages=4, start_scale=0.5, dropout=(0.0, 0.2), augment=(0.25, 1.0), mixup=(0.0, 0.2))
    sched = progressive_schedule(cfg, epochs=10, resolution=40)
    # size_i = start + (final - start) * (i + 1) / stages with start = 20; magnitudes on the same ratio
    assert [s.image_size for s in sched] == [25, 30, 35, 40]
    assert [s.dropout for s in sched] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert [s.augment for s in sched] == pytest.approx([0.4375, 0.625, 0.8125, 1.0])
    assert [s.mixup for s in sched] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert [(s.first_epoch, s.last_epoch) for s in sched] == [(1, 2), (3, 5), (6, 7), (8, 10)]
    assert [s.image_size for s in progressive_schedule(cfg, epochs=2, resolution=40)] == [30, 40]  # 2 stages
    with pytest.raises(pydantic.ValidationError):
        ProgressiveConfig(dropout=(0.0, 1.5))


def test_progressive_run_trains_small_first_and_evaluates_at_the_resolution() -> None:

    data = load_dataset("digits")
    config = FAST.model_copy(update={"epochs": 3, "progressive": ProgressiveConfig(stages=3, start_scale=0.5)})
    model = tiny_cnn()
    result = train(model, data, config, resolution=16, seed=0)
    assert result.status == "ok" and result.accuracy > 0.8
    assert [r["image_size"] for r in result.curve] == [11, 13, 16]  # 8 + 8 * (i + 1) / 3, rounded
    assert [r["stage"] for r in result.curve] == [1, 2, 3] and result.curve[-1]["dropout"] == 0.2
    # the reported accuracy is the model's at the trial's resolution, not at the last training size
    again = evaluate(model, data.x_val, data.y_val, BatchTransform(data.mean, data.std, 16))
    assert again == result.accuracy
    plain = train(tiny_cnn(), data, FAST.model_copy(update={"epochs": 3}), resolution=16, seed=0)
    assert [r["image_size"] for r in plain.curve] == [16, 16, 16] and "stage" not in plain.curve[0]


def test_step_time_and_latency_are_measured() -> None:

    data = load_dataset("digits", subset=256)
    result = train(tiny_cnn(), data, FAST, resolution=8, seed=0)
    steps = 2 * (256 // 32)
    assert result.train_step_ms == pytest.approx(1000 * result.train_seconds / steps)
    model = tiny_cnn()
    one, many = measure_latency(model, 1, 16, 1), measure_latency(model, 1, 16, 256)
    assert 0 < one < many and model.training  # eval mode only while measuring


def test_a_budget_stops_early_on_the_full_schedule_and_continuing_equals_training_straight_through() -> None:
    """Successive halving's rungs: a short run is the first part of the full one (same learning-rate schedule),
    a budget under one epoch sees that fraction of the training set, and a run resumed from a shorter run's
    checkpoint ends exactly where training straight through does (weights, data order, dropout draws)."""
    data = load_dataset("digits", subset=512)
    config = TrainConfig(epochs=3, batch_size=64, augment=AugmentConfig(translate=0.2, scale=0.2))

    def net() -> nn.Module:
        return nn.Sequential(*tiny_cnn(width=16)[:-1], nn.Dropout(0.3), nn.Linear(32, 10))

    straight = train(net(), data, config, resolution=10, seed=5)
    steps: list[dict] = []
    short = train(net(), data, config, resolution=10, seed=5, budget=0.5, checkpoint=True, on_step=steps.append)
    # 512 training images // 64 = 8 steps per epoch: half an epoch is 4 steps, on the 3-epoch schedule's 24
    assert steps[-1]["step"] == 4 and steps[-1]["steps"] == 24
    assert short.curve[-1]["budget"] == 0.5 and short.curve[-1]["val_images"] == len(data.y_val)
    assert math.isnan(short.test_accuracy) and short.checkpoint is not None  # test only after the last step
    middle = train(net(), data, config, resolution=10, seed=5, budget=5 / 3, resume=short.checkpoint,
                   checkpoint=True)
    assert middle.accuracy == train(net(), data, config, resolution=10, seed=5, budget=5 / 3).accuracy
    assert middle.train_seconds < straight.train_seconds  # only its own steps
    done = train(net(), data, config, resolution=10, seed=5, resume=middle.checkpoint)
    assert (done.accuracy, done.test_accuracy, done.loss) == (straight.accuracy, straight.test_accuracy,
                                                              straight.loss)
    assert [r["budget"] for r in done.curve] == [0.5, 1, 13 / 8, 2, 3]  # 5/3 epochs: 13 steps
    # a rung whose budget rounds to the step it resumes at has nothing left to train: it reports where it is
    again = train(net(), data, config, resolution=10, seed=5, budget=0.5, resume=short.checkpoint)
    assert again.accuracy == short.accuracy and again.curve == short.curve
    with pytest.raises(ValueError, match="past this run's budget"):
        train(net(), data, config, resolution=10, seed=5, budget=0.25, resume=middle.checkpoint)


def test_micro_batches_accumulate_to_the_whole_batch_s_step() -> None:
    """Issue #28 item 4: a batch split into micro-batches takes the same optimizer steps on the same images and
    random streams (mixup included); without BatchNorm the weights agree to float rounding."""
    def no_bn() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(16, 10))

    data = load_dataset("digits", subset=256)
    config = TrainConfig(epochs=1, batch_size=64, augment=AugmentConfig(translate=0.2),
                         progressive=ProgressiveConfig(stages=1, start_scale=1.0, mixup=(0.2, 0.2)))
    whole, split = no_bn(), no_bn()
    a = train(whole, data, config, resolution=8, seed=0)
    b = train(split, data, config, resolution=8, seed=0, micro_batch=24)  # parts of 24, 24 and 16
    assert (a.micro_batch, b.micro_batch) == (64, 24)
    for p, q in zip(whole.parameters(), split.parameters(), strict=True):  # summed in another order
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    assert a.curve[0]["loss"] == pytest.approx(b.curve[0]["loss"], rel=1e-5)
    changed = no_bn()
    train(changed, data, config, resolution=8, seed=1, micro_batch=24)
    assert not torch.allclose(next(changed.parameters()), next(split.parameters()))  # the test can tell runs apart

"""Run settings as torch-free pydantic models: what a grid searches (:class:`SearchConfig`), how one proxy trains
(:class:`TrainConfig`, with :class:`AugmentConfig` and :class:`ProgressiveConfig`), and how the proxy is derived
from the base and fed (:class:`ProxyConfig`). Planning code reads them without loading torch."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from scaler.spec.limits import MAX_GRID_POINTS, MAX_GROWTH

MAX_SEEDS = 100  # seeds of one network: the seed noise is measured well with 3-5
MAX_RUNG_RATIO = 1000  # halving: the first rung trains at least 1/1000 of the full budget
MAX_TRIAL_SECONDS = 30 * 24 * 3600  # a trial time limit beyond 30 days is a typo (and overflows no clock)

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Range(BaseModel):
    """A closed interval of a coefficient, written ``[lo, hi]`` or ``{min: lo, max: hi}``."""

    model_config = _STRICT

    min: float
    max: float

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            if len(data) != 2:
                raise ValueError("a range is [min, max]")
            return {"min": data[0], "max": data[1]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not 0 < self.min <= self.max:
            raise ValueError("needs 0 < min <= max")
        return self

    def values(self, step: float) -> list[float]:
        """Grid points min, min + step, ... <= max, rounded so that 1.0 + 4 * 0.05 is exactly 1.2."""
        return [round(self.min + i * step, 10) for i in range(self.count(step))]

    def count(self, step: float) -> int:
        """How many grid points :meth:`values` gives, without making them."""
        return math.floor((self.max - self.min) / step + 1e-9) + 1

    def __contains__(self, x: float) -> bool:
        return self.min - 1e-9 <= x <= self.max + 1e-9


class SearchConfig(BaseModel):
    """Which (alpha, beta, gamma) to try. Under ``solve`` alpha is solved from the constraint (every candidate is
    exactly on it); under ``filter`` the full grid is kept where the product is within ``tolerance``."""

    model_config = _STRICT

    phi: float = Field(1.0, description="compound coefficient of the candidates: above 0 grows the base, below 0 "
                       "shrinks it (every candidate at flops_factor ** phi times the base's FLOPs)")
    flops_factor: float = Field(2.0, gt=1, description="target FLOPs growth per unit of phi")
    mode: Literal["solve", "filter"] = "solve"
    alpha: Range = Range(min=1.0, max=2.0)
    beta: Range = Range(min=1.0, max=1.4)
    gamma: Range = Range(min=1.0, max=1.4)
    step: float = Field(0.05, gt=0, description="grid step of beta and gamma (and alpha under filter)")
    tolerance: float = Field(0.05, ge=0, description="filter mode: relative distance to the constraint")
    baselines: bool = Field(True, description="also train the base and depth-, width-, resolution-only")
    confirm: int = Field(3, ge=0, description="after the grid, retrain the base and the top `confirm` candidates "
                         "(by validation accuracy) with `confirm_seeds` more seeds, so the seed noise is measured "
                         "and ties can be named (0: off)")
    confirm_seeds: int = Field(2, ge=1, le=MAX_SEEDS, description="extra seeds of each confirmed candidate")
    strategy: str = Field("halving", pattern=r"^[a-z][a-z0-9_]*$", description="halving: synchronous successive "
                          "halving over rungs of growing budget, then seeds for the tie set (the default: "
                          "benchmarks/halving.py); grid: every candidate at the full budget, then the confirmation "
                          "round; or a strategy registered in scaler.search.strategies")
    eta: int = Field(3, ge=2, description="halving: each cut keeps 1/eta of the compound candidates, and each rung "
                     "trains eta times longer than the one before")
    rungs: int = Field(2, ge=1, description="halving: the number of cuts; budgets are full/eta^rungs, ..., "
                       "full/eta, full")
    max_seeds: int = Field(3, ge=1, le=MAX_SEEDS, description="halving and optuna: seeds of every tie-set member "
                           "(and the base) in the racing round")
    trials: int = Field(20, ge=1, le=MAX_GRID_POINTS, description="optuna: compound candidates the sampler "
                        "proposes (each on the constraint, alpha solved from beta and gamma) before the race")
    sampler: Literal["tpe", "gp"] = Field("tpe", description="optuna: its sampler (tree-structured Parzen "
                                          "estimator, or a Gaussian process)")
    sampler_seed: int = Field(0, ge=0, description="optuna: the sampler's random seed")
    use: Literal["best", "fit"] = Field("best", description="which coefficients emit uses: the candidate chosen "
                                        "inside the tie set, or the smooth fit's optimum where the fit earns its use")
    match_flops: bool = Field(False, description="give every candidate the input size (on the resolution divisor) "
                              "that brings its real FLOPs closest to the target; the gamma used is recorded")

    @field_validator("phi")
    @classmethod
    def _not_zero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("phi 0 is the base itself: search at phi 1 to grow it, or at phi -1 to shrink it")
        return v

    @model_validator(mode="after")
    def _bounded(self) -> SearchConfig:
        """Refuse, before any point is made, a grid too large to train or candidates too large to build."""
        if not (math.isfinite(self.flops_factor) and math.isfinite(self.phi) and math.isfinite(self.step)):
            raise ValueError("flops_factor, phi and step must be finite numbers")
        growth = abs(self.phi) * math.log2(self.flops_factor)
        if growth > math.log2(MAX_GROWTH) + 1e-9:
            raise ValueError(f"phi {self.phi:g} at flops_factor {self.flops_factor:g} asks for candidates at "
                             f"{self.flops_factor:g}^{abs(self.phi):g} = 2^{growth:.3g} times the proxy's FLOPs (or "
                             f"1/that); a search's candidates are proxies: at most {MAX_GROWTH}x")
        if self.rungs * math.log(self.eta) > math.log(MAX_RUNG_RATIO) + 1e-9:
            raise ValueError(f"eta {self.eta} and rungs {self.rungs} would train the first rung 1/{self.eta}^"
                             f"{self.rungs} of the full budget; at most 1/{MAX_RUNG_RATIO} (eta^rungs <= "
                             f"{MAX_RUNG_RATIO})")
        axes = ("beta", "gamma") if self.mode == "solve" else ("alpha", "beta", "gamma")
        points = math.prod(getattr(self, a).count(self.step) for a in axes)
        if points > MAX_GRID_POINTS:
            raise ValueError(f"step {self.step:g} makes a grid of {points:,} points ({' x '.join(axes)}), more "
                             f"than {MAX_GRID_POINTS:,}: every kept point trains a proxy; use a larger step or "
                             "narrower ranges")
        return self

    @property
    def target(self) -> float:
        """Target real FLOPs ratio of the candidates: flops_factor ** phi."""
        return self.flops_factor**self.phi


class AugmentConfig(BaseModel):
    """Training augmentation: a random affine per image, applied to whole batches on device.

    The defaults are mild on purpose: in 5-10 epoch proxy runs, stronger augmentation (±10% shift and zoom)
    cost 1-2 points on Fashion-MNIST and did not help on digits/mnist5k.
    """

    model_config = ConfigDict(extra="forbid")

    translate: float = Field(0.05, ge=0.0, le=0.5, description="max shift, fraction of the side")
    scale: float = Field(0.05, ge=0.0, lt=1.0, description="zoom factor in [1-scale, 1+scale]")
    flip: bool = Field(False, description="random horizontal flip (digits are not flip-invariant)")
    magnitude: float = Field(1.0, ge=0.0, le=1.0, description="multiplies translate and scale")


class ProgressiveConfig(BaseModel):
    """EfficientNetV2 progressive learning: training split into ``stages``; the image size grows from
    ``start_scale`` x the trial's resolution to the resolution, and regularization grows with it. Evaluation is
    always at the trial's resolution."""

    model_config = ConfigDict(extra="forbid")

    stages: int = Field(4, ge=1, description="training stages (epochs are split evenly; at most one per epoch)")
    start_scale: float = Field(0.5, gt=0, le=1, description="first image size / the trial's resolution "
                               "(V2-S: 128/300)")
    dropout: tuple[float, float] = Field((0.0, 0.2), description="classifier dropout, first to last")
    augment: tuple[float, float] = Field((0.25, 1.0), description="augmentation magnitude (multiplies "
                                         "augment.translate and augment.scale), first to last")
    mixup: tuple[float, float] = Field((0.0, 0.2), description="mixup alpha, first to last (0: off)")

    @field_validator("dropout", "augment", "mixup")
    @classmethod
    def _ranges(cls, v: tuple[float, float], info: ValidationInfo) -> tuple[float, float]:
        hi = {"dropout": 0.99, "augment": 1.0, "mixup": 10.0}[info.field_name]
        if not all(0 <= x <= hi for x in v):
            raise ValueError(f"both ends must lie in [0, {hi:g}]")
        return v


class TrainConfig(BaseModel):
    """Hyper-parameters of one proxy training run.

    The defaults were first chosen on the old 28 px quickstart scored on the Fashion-MNIST test split; rechecked
    on validation data only (``benchmarks/training_defaults.py specs/quickstart.yaml``, 14 px proxy, 2 seeds):
    peak lr 0.1, 0.2 and 0.4 give 0.8700, 0.8697 and 0.8710, a tie within the seed noise (0.37 points), so the
    default stays 0.2.
    """

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(128, ge=1)
    optimizer: Literal["sgd", "rmsprop", "adamw"] = "sgd"
    lr: float = Field(0.2, gt=0, description="peak learning rate, reached after warm-up")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD (Nesterov) and RMSprop momentum")
    weight_decay: float = Field(5e-5, ge=0, description="L2 for sgd/rmsprop, decoupled for adamw; never on BN or "
                                "bias parameters")
    warmup_epochs: float = Field(1.0, ge=0, description="linear warm-up, may be fractional")
    schedule: Literal["cosine", "constant"] = "cosine"
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    augment: AugmentConfig = AugmentConfig()
    eval_batch_size: int = Field(512, ge=1)
    curve_val_images: int = Field(2000, ge=0, description="validation images scored after each intermediate epoch "
                                  "(a fixed random subset; 0: all); the final accuracy always uses the whole "
                                  "validation set")
    bn_calibration: int = Field(1024, ge=0, description="training images that re-estimate BatchNorm statistics "
                                "before each evaluation (0: off); short runs otherwise evaluate with running "
                                "averages that have not caught up")
    progressive: ProgressiveConfig | None = Field(None, description="EfficientNetV2 progressive learning (image "
                                                  "size and regularization grow by stage)")


class ProxyConfig(TrainConfig):
    """How the small proxy network is derived from the base, what it trains on, and how (the training settings
    are :class:`TrainConfig`'s)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field("digits", description="digits | mnist5k | fashion | idx:DIR | npz:FILE | imagefolder:DIR")
    width: float = Field(1.0, gt=0, description="width multiplier from the base spec to the proxy")
    depth: float = Field(1.0, gt=0, description="depth multiplier from the base spec to the proxy")
    resolution: int | None = Field(None, ge=1, description="proxy input size (default: the base's)")
    dropout: float | None = Field(None, ge=0, lt=1, description="override the spec's dropout")
    drop_path: float | None = Field(None, ge=0, lt=1, description="override the spec's drop_path")
    subset: int | None = Field(None, ge=1, description="use at most this many training images")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="validation share, carved (stratified) from the "
                                "training images before subset applies; every decision reads it")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="test share held out when the data has no test "
                                 "split of its own; scored once per trial, decides nothing")
    seeds: int = Field(1, ge=1, le=MAX_SEEDS, description="train every candidate with seeds seed_offset .. "
                       "seed_offset+seeds-1")
    seed_offset: int = Field(0, ge=0, lt=2**31 - MAX_SEEDS, description="first seed: rerun a grid on new seeds "
                             "(e.g. 100) to check that its conclusions are not one draw's")
    tensorboard: bool = Field(False, description="write one TensorBoard run per trial under DIR/tensorboard/ "
                              "(pip install 'scaler[tensorboard]')")
    trial_timeout: float | None = Field(None, gt=0, le=MAX_TRIAL_SECONDS, description="seconds a trial may take "
                                        "in its worker (data, build, training, latency); one over it is stopped "
                                        "and recorded as failed, and the grid goes on (default: no limit)")

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a dataset")
        return v

    def training(self) -> TrainConfig:
        """The training settings alone."""
        return TrainConfig.model_validate({k: getattr(self, k) for k in TrainConfig.model_fields})

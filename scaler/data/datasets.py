"""Datasets by name, held in memory as uint8 tensors and cached per process.

Every dataset is loaded once per process into ``N×C×H×W`` uint8 tensors; augmentation and resizing happen later,
per batch, on the training device (:mod:`scaler.data.transforms`), so the training loop never touches individual
samples from Python.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scaler.data.readers import (
    FASHION_CLASSES,
    FASHION_DIR,
    read_digits,
    read_idx_dir,
    read_image_folder,
    read_mnist5k,
    read_npz,
)
from scaler.data.splits import stratified_split, stratified_subset
from scaler.errors import ScalerError

DATASET_FORMS = "digits, mnist5k, fashion, imagefolder:PATH, idx:PATH, npz:PATH"


@dataclass(eq=False)
class Dataset:
    """An image classification dataset in memory. Tensors are shared by the cache: do not modify them."""

    name: str
    x_train: torch.Tensor  # uint8, N×C×H×W, contiguous
    y_train: torch.Tensor  # int64, N
    x_val: torch.Tensor  # carved from the training images: what every decision reads
    y_val: torch.Tensor
    x_test: torch.Tensor  # the dataset's own test split, or a held-out part: scored once per trial, decides nothing
    y_test: torch.Tensor
    classes: list[str]
    split: str
    mean: tuple[float, ...]  # per channel, of x_train scaled to [0, 1]
    std: tuple[float, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[2])

    def __repr__(self) -> str:
        shape = "×".join(str(s) for s in self.x_train.shape[1:])
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, test={len(self.y_test)}, "
            f"classes={self.num_classes}, image={shape}, split={self.split!r})"
        )


def load_dataset(
    spec: str,
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    subset: int | None = None,
    image_size: int | None = None,
) -> Dataset:
    """Load a dataset by spec (``digits``, ``mnist5k``, ``fashion``, ``imagefolder:PATH``, ``idx:PATH``,
    ``npz:PATH``), cached per process.

    Three disjoint splits. The test split is the dataset's own (IDX ``t10k-*`` files, npz ``x_val``) or, for
    data without one, a stratified ``test_fraction`` held out. Validation is a stratified ``val_fraction`` of
    the remaining training images, carved before ``subset`` applies, so a small training subset still gets a
    validation set large enough to rank candidates. ``subset`` then keeps at most that many of the remaining
    training images, balanced across classes. All splits are deterministic in ``split_seed``. ``image_size``
    resizes the stored images to a square of that side (for ``imagefolder`` the default is the median side).
    """
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < fraction < 1.0:
            raise ScalerError(f"{name} must be in (0, 1), got {fraction}", where=spec)
    if subset is not None and subset < 1:
        raise ScalerError(f"subset must be a positive number of images, got {subset}", where=spec)
    if image_size is not None and image_size < 1:
        raise ScalerError(f"image_size must be positive, got {image_size}", where=spec)

    if kind in ("digits", "mnist5k", "fashion"):
        if arg:
            raise ScalerError(f"dataset {kind!r} takes no path; valid forms: {DATASET_FORMS}", where=spec)
        key = kind
        if kind == "fashion":
            if not FASHION_DIR.is_dir():
                raise ScalerError("Fashion-MNIST is not installed; run `apt-get install "
                                  "dataset-fashion-mnist` or point to its IDX files with idx:PATH",
                                  where=FASHION_DIR)
            key = f"idx:{FASHION_DIR}"
    elif kind in ("imagefolder", "idx", "npz"):
        if not arg:
            raise ScalerError(f"dataset {kind!r} needs a path: {kind}:PATH", where=spec)
        path = Path(arg).expanduser()
        if not path.exists():
            raise ScalerError(f"{kind} dataset path does not exist", where=path)
        key = f"{kind}:{path.absolute()}"
    else:
        raise ScalerError(f"unknown dataset {spec!r}; valid forms: {DATASET_FORMS}", where=spec)
    return _load_cached(key, float(val_fraction), float(test_fraction), int(split_seed), subset, image_size)


_Arrays = tuple[np.ndarray, np.ndarray]


def _read(kind: str, arg: str, image_size: int | None) -> tuple[np.ndarray, np.ndarray, _Arrays | None,
                                                                   list[str] | None, str | Path]:
    """(images, labels, the dataset's own test split or None, class names or None, where) of one format."""
    if kind == "digits":
        return (*read_digits(), None, None, kind)
    if kind == "mnist5k":
        return (*read_mnist5k(), None, None, kind)
    where = Path(arg)
    if kind == "idx":
        x, y, val = read_idx_dir(where)
        return x, y, val, list(FASHION_CLASSES) if where == FASHION_DIR else None, where
    if kind == "npz":
        return (*read_npz(where), where)
    if kind == "imagefolder":
        x, y, classes = read_image_folder(where, image_size)
        return x, y, None, classes, where
    raise AssertionError(kind)  # pragma: no cover - load_dataset validates kinds


def _encode_labels(y: np.ndarray, val: _Arrays | None, classes: list[str] | None,
                   where: str | Path) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Labels may be arbitrary integers: map them to 0..K-1 (train and test alike), keeping the originals as
    class names."""
    if len(y) == 0:
        raise ScalerError("the dataset has no training images", where=where)
    y_all = y if val is None else np.concatenate([y, val[1]])
    values, codes = np.unique(y_all, return_inverse=True)
    if classes is None or len(classes) < int(values.max()) + 1 or values.min() < 0:
        classes = [str(v) for v in values.tolist()]
    else:
        classes = [classes[v] for v in values.tolist()]
    if len(values) < 2:
        raise ScalerError(f"need at least two classes, found only {classes}", where=where)
    test = codes[len(y) :].astype(np.int64) if val is not None else None
    return codes[: len(y)].astype(np.int64), test, classes


@functools.lru_cache(maxsize=8)
def _load_cached(key: str, val_fraction: float, test_fraction: float, split_seed: int, subset: int | None,
                 image_size: int | None) -> Dataset:
    kind, _, arg = key.partition(":")
    x, y, test, classes, where = _read(kind, arg, image_size)
    y, y_test, classes = _encode_labels(y, test, classes, where)
    if test is not None:
        x_test, split = test[0], "the dataset's test split"
    else:
        keep, held = _carve(y, test_fraction, split_seed, "test", where)
        x, x_test, y, y_test = x[keep], x[held], y[keep], y[held]
        split = f"a stratified {test_fraction:.0%} held out"
    keep, val = _carve(y, val_fraction, split_seed + 2, "validation", where)  # seed + 1 is the subset's
    x, x_val, y, y_val = x[keep], x[val], y[keep], y[val]
    split = f"validation: a stratified {val_fraction:.0%} of the training images; test: {split} (seed {split_seed})"
    if subset is not None and subset < len(y):
        keep = stratified_subset(y, subset, split_seed)
        x, y = x[keep], y[keep]
    tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in (x, x_val, x_test)]
    if image_size is not None and kind != "imagefolder":  # imagefolder resizes with Pillow while decoding
        tensors = [_resize_uint8(t, image_size) for t in tensors]
    x_train, x_val_t, x_test_t = tensors
    mean, std = _channel_stats(x_train)
    return Dataset(name=key, x_train=x_train, y_train=torch.from_numpy(y), x_val=x_val_t,
                   y_val=torch.from_numpy(y_val), x_test=x_test_t, y_test=torch.from_numpy(y_test),
                   classes=classes, split=split, mean=mean, std=std)


def _carve(y: np.ndarray, fraction: float, seed: int, name: str, where: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(kept, carved) indices of a stratified split, refusing one that leaves either side empty."""
    keep, carved = stratified_split(y, fraction, seed)
    if len(keep) == 0 or len(carved) == 0:
        raise ScalerError(f"too few images ({len(y)}) for a {fraction:.0%} {name} split", where=where)
    return keep, carved


def _resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] == (size, size):
        return x
    out = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False,
                        antialias=size < max(x.shape[-2:]))
    return out.round_().clamp_(0, 255).to(torch.uint8).contiguous()


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    c = x.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for chunk in x.split(8192):  # bounded memory for large datasets
        f = chunk.to(torch.float64)
        total += f.sum(dim=(0, 2, 3))
        total_sq += f.square().sum(dim=(0, 2, 3))
    count = x.numel() // c
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
    std = torch.where(std > 1e-6, std, torch.ones_like(std) * 255.0)  # a constant channel: leave unscaled
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())

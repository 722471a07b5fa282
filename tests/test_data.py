"""Dataset loaders, splits and batched transforms (offline, small data written by the tests)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import scaler.data.datasets
import scaler.data.readers
from scaler.config import AugmentConfig
from scaler.data.datasets import Dataset, load_dataset
from scaler.data.readers import read_idx
from scaler.data.splits import stratified_split, stratified_subset
from scaler.data.transforms import BatchTransform
from scaler.errors import ScalerError

# ----------------------------------------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, magic: bytes | None = None) -> Path:
    header = magic if magic is not None else bytes([0, 0, 0x08, array.ndim])
    raw = header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def idx_dir(tmp_path: Path, *, n_train: int = 30, n_test: int = 10, gz: bool = False, side: int = 6) -> Path:
    rng = np.random.default_rng(0)
    d = tmp_path / "idx"
    d.mkdir()
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        if n:
            write_idx(d / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, side, side)), gz=gz)
            write_idx(d / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 3, gz=gz)
    return d


def image_tree(root: Path, spec: dict[str, list[tuple[str, tuple[int, int]]]]) -> Path:
    """``{class: [(mode, (w, h)), ...]}`` -> PNG files with a distinct flat value per image."""
    value = 10
    for cls, images in spec.items():
        (root / cls).mkdir(parents=True)
        for i, (mode, size) in enumerate(images):
            color = value if mode == "L" else (value, 255 - value, 7)
            Image.new(mode, size, color).save(root / cls / f"{i}.png")
            value += 20
    return root


# ----------------------------------------------------------------------------------------------- built-ins


def test_digits() -> None:
    d = load_dataset("digits")
    assert isinstance(d, Dataset)
    assert d.name == "digits"
    assert d.x_train.dtype == torch.uint8 and d.y_train.dtype == torch.int64
    assert d.x_train.shape[1:] == (1, 8, 8) and d.x_train.is_contiguous()
    assert (d.channels, d.image_size, d.num_classes) == (1, 8, 10)
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 1797
    assert len(d.y_test) == 359  # round(0.2 * class size), per class, held out first
    assert len(d.y_val) == 143  # then round(0.1 * what remains of each class), halves to even
    assert int(d.x_train.max()) == 255 and int(d.x_train.min()) == 0  # 0..16 scaled to 0..255
    # Stratified: every class holds ~20% of its samples in test and ~10% of the rest in validation.
    tr, va, te = (torch.bincount(t, minlength=10).double() for t in (d.y_train, d.y_val, d.y_test))
    assert (te / (tr + va + te)).min() > 0.18 and (te / (tr + va + te)).max() < 0.22
    assert (va / (tr + va)).min() > 0.08 and (va / (tr + va)).max() < 0.12
    assert d.split == ("validation: a stratified 10% of the training images; test: a stratified 20% held out "
                       "(seed 0)")
    assert 0.25 < d.mean[0] < 0.35 and 0.3 < d.std[0] < 0.45
    assert d.mean[0] == pytest.approx(d.x_train.double().mean().item() / 255, rel=1e-9)


def test_digits_cached_and_subset() -> None:
    assert load_dataset("digits") is load_dataset("digits")
    d = load_dataset("digits", subset=100)
    assert len(d.y_train) == 100
    assert torch.bincount(d.y_train).tolist() == [10] * 10
    full = load_dataset("digits")
    # subset touches only the training split: validation is carved before it
    assert torch.equal(d.y_val, full.y_val) and torch.equal(d.x_val, full.x_val)
    assert torch.equal(d.x_test, full.x_test)
    assert torch.equal(load_dataset("digits", subset=100).x_train, d.x_train)
    other = load_dataset("digits", split_seed=1)
    assert not torch.equal(other.y_val, full.y_val) or not torch.equal(other.x_val, full.x_val)


def test_digits_image_size() -> None:
    d = load_dataset("digits", image_size=16)
    assert d.x_train.shape[1:] == (1, 16, 16) and d.x_train.dtype == torch.uint8


def test_mnist5k() -> None:
    d = load_dataset("mnist5k")
    assert d.x_train.shape == (3600, 1, 28, 28) and d.x_val.shape == (400, 1, 28, 28)
    assert d.x_test.shape == (1000, 1, 28, 28)
    assert torch.bincount(d.y_val).tolist() == [40] * 10 and torch.bincount(d.y_test).tolist() == [100] * 10
    assert d.classes == [str(i) for i in range(10)]
    assert int(d.x_train.max()) == 255
    # A real digit: mostly black background, ink in the middle.
    assert 0.1 < d.mean[0] < 0.16
    centre = d.x_train[:, :, 8:20, 8:20].float().mean()
    border = d.x_train[:, :, :2, :].float().mean()
    assert centre > 10 * max(border.item(), 1.0)


def test_fashion_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scaler.data.datasets, "FASHION_DIR", tmp_path / "fashion-mnist")
    with pytest.raises(ScalerError, match="apt-get install dataset-fashion-mnist") as err:
        load_dataset("fashion")
    assert str(err.value).startswith(str(tmp_path / "fashion-mnist"))


@pytest.mark.skipif(not scaler.data.readers.FASHION_DIR.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_alias() -> None:
    d = load_dataset("fashion", subset=1000)
    assert d is load_dataset(f"idx:{scaler.data.readers.FASHION_DIR}", subset=1000)
    assert d.name == "idx:/usr/share/datasets/fashion-mnist"
    assert d.split.endswith("test: the dataset's test split (seed 0)") and d.x_test.shape == (10000, 1, 28, 28)
    # validation is 10% of all 60,000 training images, carved before the 1,000-image subset
    assert d.x_val.shape == (6000, 1, 28, 28) and torch.bincount(d.y_val).tolist() == [600] * 10
    assert d.classes[0] == "T-shirt/top" and d.num_classes == 10
    assert torch.bincount(d.y_train).tolist() == [100] * 10


# ----------------------------------------------------------------------------------------------- splits


def test_stratified_split_properties() -> None:
    y = np.repeat(np.arange(4), [50, 10, 3, 1])
    train, val = stratified_split(y, 0.2, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(y)
    assert np.bincount(y[val], minlength=4).tolist() == [10, 2, 1, 0]  # singleton class stays in train
    again = stratified_split(y, 0.2, seed=3)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(stratified_split(y, 0.2, seed=4)[1], val)


def test_stratified_subset_balances_small_classes() -> None:
    y = np.repeat(np.arange(3), [100, 5, 100])
    keep = stratified_subset(y, 45, seed=0)
    assert len(keep) == 45 and len(np.unique(keep)) == 45
    assert np.bincount(y[keep]).tolist() == [20, 5, 20]


# ----------------------------------------------------------------------------------------------- idx


@pytest.mark.parametrize("gz", [False, True])
def test_idx_with_test_split(tmp_path: Path, gz: bool) -> None:
    d = idx_dir(tmp_path, gz=gz)
    ds = load_dataset(f"idx:{d}", val_fraction=0.2)
    assert ds.x_train.shape == (24, 1, 6, 6) and ds.x_val.shape == (6, 1, 6, 6)
    assert ds.x_test.shape == (10, 1, 6, 6) and ds.split.endswith("the dataset's test split (seed 0)")
    assert ds.y_test.tolist() == [i % 3 for i in range(10)]
    raw = read_idx(d / ("train-images-idx3-ubyte" + (".gz" if gz else "")))
    rows = {bytes(r) for r in raw.reshape(len(raw), -1)}
    carved = torch.cat([ds.x_train, ds.x_val])[:, 0].reshape(30, -1).numpy()
    assert {bytes(r) for r in carved} == rows  # train and validation are the training images, split


def test_idx_without_test_split(tmp_path: Path) -> None:
    d = idx_dir(tmp_path, n_train=50, n_test=0)
    ds = load_dataset(f"idx:{d}", val_fraction=0.2, test_fraction=0.2)
    # Classes of 17, 17 and 16 images: round(20%) = 3 of each in test; of the 14, 14, 13 left, 3 in validation.
    assert torch.bincount(ds.y_test).tolist() == [3, 3, 3] and torch.bincount(ds.y_val).tolist() == [3, 3, 3]
    assert len(ds.y_train) == 32
    assert ds.split.endswith("test: a stratified 20% held out (seed 0)")


def test_idx_bad_magic(tmp_path: Path) -> None:
    d = idx_dir(tmp_path)
    bad = write_idx(d / "train-images-idx3-ubyte", np.zeros((30, 6, 6)), magic=b"\x12\x34\x08\x03")
    with pytest.raises(ScalerError, match="bad IDX magic") as err:
        load_dataset(f"idx:{d}")
    assert str(bad) in str(err.value)


def test_idx_truncated(tmp_path: Path) -> None:
    d = idx_dir(tmp_path)
    path = d / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ScalerError, match="size mismatch") as err:
        load_dataset(f"idx:{d}")
    assert str(path) in str(err.value)


def test_idx_count_mismatch(tmp_path: Path) -> None:
    d = idx_dir(tmp_path)
    write_idx(d / "train-labels-idx1-ubyte", np.arange(29) % 3)
    with pytest.raises(ScalerError, match="30 images but 29 labels") as err:
        load_dataset(f"idx:{d}")
    assert str(d / "train-images-idx3-ubyte") in str(err.value)


def test_idx_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScalerError, match="train-images-idx3-ubyte") as err:
        load_dataset(f"idx:{tmp_path / 'empty'}")
    assert str(tmp_path / "empty") in str(err.value)


# ----------------------------------------------------------------------------------------------- npz


def test_npz_layouts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    hw = rng.integers(0, 256, (20, 5, 5), dtype=np.uint8)
    cases = {
        "nhw": hw,
        "nhwc": np.repeat(hw[..., None], 3, axis=3),
        "nchw": np.repeat(hw[:, None], 3, axis=1),
        "float": hw.astype(np.float32) / 255.0,
    }
    for name, x in cases.items():
        np.savez(tmp_path / f"{name}.npz", x=x, y=y)
        ds = load_dataset(f"npz:{tmp_path / name}.npz")
        assert ds.x_train.dtype == torch.uint8
        assert ds.channels == (3 if name in ("nhwc", "nchw") else 1), name
        # Whichever layout went in, channel 0 holds the original pixels.
        all_x = torch.cat([ds.x_train, ds.x_val, ds.x_test])
        assert sorted(all_x[:, 0].flatten().tolist()) == sorted(hw.flatten().tolist()), name
        assert "held out" in ds.split


@pytest.mark.parametrize("names", [("x_test", "y_test"), ("x_val", "y_val")])
def test_npz_test_split_and_label_remap(tmp_path: Path, names: tuple[str, str]) -> None:
    x = np.zeros((20, 4, 4), np.uint8)
    y = np.array([3, 7] * 10)
    np.savez(tmp_path / "d.npz", x=x, y=y, **{names[0]: x[:2], names[1]: np.array([7, 3])})
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert ds.classes == ["3", "7"]
    assert ds.y_test.tolist() == [1, 0]  # the file's held-out split is the test split, never validation
    assert torch.bincount(ds.y_train).tolist() == [9, 9] and torch.bincount(ds.y_val).tolist() == [1, 1]
    assert ds.split.endswith("the dataset's test split (seed 0)")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((4, 3, 3), np.uint8)}, r"lacks array\(s\) \['y'\]"),
        ({"y": np.zeros(4, int)}, r"lacks array\(s\) \['x'\]"),
        ({"x": np.zeros((4, 3, 3), np.uint8), "y": np.zeros(5, int)}, "4 images but 5 labels"),
        ({"x": np.full((4, 3, 3), 2.0), "y": np.arange(4) % 2}, r"values in \[0, 1\]"),
        ({"x": np.zeros((4, 3, 3), np.uint8), "y": np.zeros(4, int)}, "at least two classes"),
        ({"x": np.zeros((4, 3), np.uint8), "y": np.arange(4) % 2}, "must be N×H×W"),
        ({"x": np.zeros((0, 3, 3), np.uint8), "y": np.zeros(0, int)}, "no training images"),
        ({"x": np.zeros((4, 3, 3), np.uint8), "y": np.arange(4) % 2, "x_val": np.zeros((2, 3, 3))},
         "both x_val and y_val"),
    ],
)
def test_npz_errors(tmp_path: Path, arrays: dict, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ScalerError, match=message) as err:
        load_dataset(f"npz:{path}")
    assert str(path) in str(err.value)


def test_npz_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(ScalerError, match="cannot read npz") as err:
        load_dataset(f"npz:{path}")
    assert str(path) in str(err.value)


# ----------------------------------------------------------------------------------------------- imagefolder


def test_imagefolder_grey(tmp_path: Path) -> None:
    root = image_tree(tmp_path / "grey", {
        "a": [("L", (10, 10)), ("L", (12, 8)), ("L", (10, 10))],
        "b": [("L", (10, 10)), ("L", (20, 20))],
    })
    ds = load_dataset(f"imagefolder:{root}", val_fraction=0.4)
    assert ds.classes == ["a", "b"]
    assert ds.channels == 1 and ds.image_size == 10  # median of all sides
    # one image of each class held out for test; of a's two left, one for validation; b's last one trains
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (2, 1, 2)
    values = sorted(torch.cat([ds.x_train, ds.x_val, ds.x_test])[:, 0, 5, 5].tolist())
    assert values == [10, 30, 50, 70, 90]  # flat images survive the resize unchanged


def test_imagefolder_mixed_rgb_and_size(tmp_path: Path) -> None:
    root = image_tree(tmp_path / "mixed", {
        "cat": [("L", (9, 9)), ("RGB", (16, 12)), ("L", (6, 6))],
        "dog": [("RGB", (5, 7)), ("L", (30, 30)), ("RGB", (6, 6))],
    })
    ds = load_dataset(f"imagefolder:{root}", image_size=6, val_fraction=0.5)
    assert ds.channels == 3 and ds.image_size == 6
    x = torch.cat([ds.x_train, ds.x_val, ds.x_test])
    assert x.shape == (6, 3, 6, 6) and len(ds.y_train) == len(ds.y_val) == len(ds.y_test) == 2
    pixels = sorted(tuple(x[i, :, 3, 3].tolist()) for i in range(6))
    # Grey images become R=G=B; RGB keep their colour.
    assert pixels == [(10, 10, 10), (30, 225, 7), (50, 50, 50), (70, 185, 7), (90, 90, 90), (110, 145, 7)]


def test_too_few_images_for_the_three_splits(tmp_path: Path) -> None:
    root = image_tree(tmp_path / "two", {"a": [("L", (4, 4))] * 2, "b": [("L", (4, 4))] * 2})
    # one of each class held out for test leaves one of each: nothing to validate on
    with pytest.raises(ScalerError, match=r"too few images \(2\) for a 50% validation split") as err:
        load_dataset(f"imagefolder:{root}", val_fraction=0.5)
    assert str(root) in str(err.value)


def test_imagefolder_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ScalerError, match="does not exist") as err:
        load_dataset(f"imagefolder:{missing}")
    assert str(missing) in str(err.value)

    root = image_tree(tmp_path / "one", {"only": [("L", (4, 4)), ("L", (4, 4))]})
    with pytest.raises(ScalerError, match="at least two classes") as err:
        load_dataset(f"imagefolder:{root}")
    assert str(root) in str(err.value)

    root = image_tree(tmp_path / "empty", {"a": [("L", (4, 4))], "b": []})
    with pytest.raises(ScalerError, match="no images") as err:
        load_dataset(f"imagefolder:{root}")
    assert str(root / "b") in str(err.value)

    root = image_tree(tmp_path / "corrupt", {"a": [("L", (4, 4))], "b": [("L", (4, 4))]})
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ScalerError, match="cannot read image") as err:
        load_dataset(f"imagefolder:{root}")
    assert str(root / "b" / "broken.png") in str(err.value)

    root = image_tree(tmp_path / "trunc", {"a": [("L", (40, 40))], "b": [("L", (40, 40))]})
    noise = np.random.default_rng(0).integers(0, 255, (40, 40), dtype=np.uint8)
    Image.fromarray(noise).save(root / "b" / "t.png")
    data = (root / "b" / "t.png").read_bytes()
    (root / "b" / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ScalerError, match="cannot decode image") as err:
        load_dataset(f"imagefolder:{root}")
    assert str(root / "b" / "t.png") in str(err.value)


def test_unknown_dataset_lists_forms() -> None:
    forms = "valid forms: digits, mnist5k, fashion, imagefolder:PATH, idx:PATH, npz:PATH"
    with pytest.raises(ScalerError, match=f"unknown dataset 'cifar'; {forms}") as err:
        load_dataset("cifar")
    assert str(err.value).startswith("cifar: ")


def test_missing_idx_and_npz_paths(tmp_path: Path) -> None:
    for kind in ("idx", "npz"):
        path = tmp_path / f"missing-{kind}"
        with pytest.raises(ScalerError, match="does not exist") as err:
            load_dataset(f"{kind}:{path}")
        assert str(err.value).startswith(str(path))


# ----------------------------------------------------------------------------------------------- transforms


def _batch(n: int = 8, c: int = 1, side: int = 8) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, c, side, side), generator=gen, dtype=torch.uint8)


@pytest.mark.parametrize(("side", "resolution", "channels"), [(8, 16, 1), (28, 20, 1), (12, 12, 3)])
def test_transform_shapes(side: int, resolution: int, channels: int) -> None:
    t = BatchTransform((0.5,) * channels, (0.25,) * channels, resolution)
    x = _batch(8, channels, side)
    for out in (t.train(x, torch.Generator().manual_seed(0)), t.eval(x)):
        assert out.shape == (8, channels, resolution, resolution)
        assert out.dtype == torch.float32
        assert out.is_contiguous(memory_format=torch.channels_last)


def test_transform_eval_is_plain_normalized_resize() -> None:
    x = _batch(4, 3, 8)
    t = BatchTransform((0.1, 0.2, 0.3), (0.5, 0.25, 1.0), 8)
    expected = (x.float() / 255 - torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)) / torch.tensor(
        [0.5, 0.25, 1.0]
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(t.eval(x), expected, rtol=1e-5, atol=1e-5)
    # Upsampling a flat image keeps it flat; eval is deterministic.
    flat = torch.full((2, 1, 8, 8), 200, dtype=torch.uint8)
    out = BatchTransform((0.0,), (1.0,), 24).eval(flat)
    torch.testing.assert_close(out, torch.full_like(out, 200 / 255))
    assert torch.equal(t.eval(x), t.eval(x))


def test_transform_train_determinism_and_randomness() -> None:
    x = _batch(16, 1, 8)
    t = BatchTransform((0.5,), (0.5,), 16, AugmentConfig(translate=0.2, scale=0.2))
    a = t.train(x, torch.Generator().manual_seed(1))
    b = t.train(x, torch.Generator().manual_seed(1))
    c = t.train(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, t.eval(x))


def test_transform_magnitude_zero_equals_eval() -> None:
    x = _batch(4, 1, 8)
    off = BatchTransform((0.5,), (0.5,), 16, AugmentConfig(magnitude=0.0))
    assert torch.equal(off.train(x, torch.Generator().manual_seed(0)), off.eval(x))
    # Identity affine through grid_sample matches the eval resize when the size is unchanged.
    same = BatchTransform((0.5,), (0.5,), 8, AugmentConfig(translate=0.0, scale=0.0, flip=False))
    torch.testing.assert_close(same.train(x, torch.Generator().manual_seed(0)), same.eval(x))


def test_transform_affine_params_bounds_and_flip() -> None:
    t = BatchTransform((0.0,), (1.0,), 8, AugmentConfig(translate=0.1, scale=0.2, magnitude=0.5))
    theta = t.affine_params(4096, torch.Generator().manual_seed(0))
    zoom = 1 / theta[:, 1, 1]
    assert zoom.min() >= 0.9 - 1e-6 and zoom.max() <= 1.1 + 1e-6 and zoom.min() < 0.91 and zoom.max() > 1.09
    assert theta[:, :, 2].abs().max() <= 0.1 + 1e-6  # 2 * translate * magnitude in normalized coordinates
    assert (theta[:, 0, 0] > 0).all()  # flip is off by default
    flips = BatchTransform((0.0,), (1.0,), 8, AugmentConfig(flip=True)).affine_params(4096, torch.Generator())
    share = (flips[:, 0, 0] < 0).float().mean().item()
    assert 0.45 < share < 0.55


def test_transform_flip_mirrors_image() -> None:
    x = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
    x[..., :, :2] = 255  # bright left edge
    t = BatchTransform((0.0,), (1.0,), 8, AugmentConfig(translate=0.0, scale=0.0, flip=True))
    outs = [t.train(x, torch.Generator().manual_seed(s)) for s in range(8)]
    lefts = {round(o[0, 0, :, :2].mean().item(), 3) for o in outs}
    rights = {round(o[0, 0, :, -2:].mean().item(), 3) for o in outs}
    assert lefts == {0.0, 1.0} and rights == {0.0, 1.0}

"""A spec's network as a deployable file -- ONNX (the dynamo exporter, opset 18) or a ``torch.export`` program
(.pt2) -- with a dynamic batch dimension, checked against PyTorch eager on random images.

The network is built with seed 0 and its BatchNorm statistics are calibrated on random images first: with the
initial statistics (mean 0, variance 1) a fresh EfficientNet's logits are ~1e-14, and comparing those would check
nothing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from scaler.arch.torch_model import build_model
from scaler.data.transforms import BatchTransform
from scaler.errors import ScalerError
from scaler.spec import NetSpec
from scaler.train.measure import recalibrate_bn

OPSET = 18  # the dynamo exporter's own default; onnxruntime >= 1.14 runs it
INPUT, OUTPUT = "images", "logits"
RTOL = 1e-3  # max |exported - eager| / max |eager| on the logits
SEED = 0
EXAMPLE_BATCH = 2  # traced with 2 images: a batch of 1 would let torch.export specialize the batch dimension
CALIBRATION_IMAGES = 8


@dataclass(frozen=True)
class Exported:
    """What was written, and how far the written program is from PyTorch eager."""

    path: str
    format: str
    opset: int | None  # ONNX only
    bytes: int
    input_shape: tuple[int, ...]  # of the check; the batch dimension is dynamic
    num_classes: int
    max_abs_diff: float | None  # None: not checked (onnxruntime is not installed)
    rel_diff: float | None
    top1_differs: int  # images whose top-1 class differs (beyond a tie within the tolerance)
    checked_with: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rel_diff is None or (self.rel_diff <= RTOL and self.top1_differs == 0)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "input_shape": list(self.input_shape), "input": INPUT, "output": OUTPUT,
                "rtol": RTOL, "ok": self.ok}


def export(spec: NetSpec, fmt: str, path: Path, resolution: int, batch: int) -> Exported:
    """Build ``spec`` (seed 0, BN calibrated), write it to ``path`` as ``fmt`` (onnx | pt2), then check the file
    against eager on ``batch`` random images. The file is written whole or not at all; a failed check keeps it."""
    start = time.perf_counter()
    model, images = calibrated(spec, resolution, max(batch, EXAMPLE_BATCH))
    example, images = images[:EXAMPLE_BATCH], images[:batch]
    with _written(path) as tmp:
        (_onnx if fmt == "onnx" else _pt2)(model, example, tmp)
    with torch.no_grad():
        expected = model(images)
    got, checker = (_run_onnx if fmt == "onnx" else _run_pt2)(path, images)
    abs_diff, rel_diff, differs = _compare(got, expected)
    return Exported(str(path), fmt, OPSET if fmt == "onnx" else None, path.stat().st_size, tuple(images.shape),
                    expected.shape[1], abs_diff, rel_diff, differs, checker, time.perf_counter() - start)


def calibrated(spec: NetSpec, resolution: int, batch: int) -> tuple[nn.Module, torch.Tensor]:
    """The network in eval mode, its BN statistics averaged over random images, and ``batch`` more such images."""
    channels = spec.in_channels
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = build_model(spec).eval()
    generator = torch.Generator().manual_seed(SEED)
    pixels = torch.randint(0, 256, (CALIBRATION_IMAGES + batch, channels, resolution, resolution),
                           dtype=torch.uint8, generator=generator)
    transform = BatchTransform((0.5,) * channels, (0.25,) * channels, resolution)
    try:
        recalibrate_bn(model, pixels[:CALIBRATION_IMAGES], transform, batch_size=CALIBRATION_IMAGES)
    except ScalerError:
        raise
    except Exception as e:
        raise ScalerError(f"{spec.name}: the forward pass at {resolution} px raised {type(e).__name__}: "
                          f"{_first_line(e)}") from None
    return model, transform.eval(pixels[CALIBRATION_IMAGES:]).contiguous()


@contextlib.contextmanager
def _written(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` (so an unwritable place fails before the slow export), renamed to
    ``path`` once written; removed if writing fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ScalerError(f"cannot create the output directory: {e.strerror}", where=path.parent) from None
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-", suffix=path.suffix)
    except OSError as e:
        raise ScalerError(f"cannot write in {path.parent}: {e.strerror}", where=path) from None
    os.close(fd)
    tmp = Path(name)
    mask = os.umask(0)
    os.umask(mask)
    tmp.chmod(0o666 & ~mask)  # mkstemp's file is private; the export is an ordinary file
    try:
        yield tmp
        tmp.replace(path)
    except OSError as e:
        raise ScalerError(f"cannot write the export: {e.strerror}", where=path) from None
    finally:
        tmp.unlink(missing_ok=True)


def _batch_dim() -> dict[int, torch.export.Dim]:
    return {0: torch.export.Dim("batch", min=1)}


def _onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    with _quiet(), _exporter_errors("onnx"):
        program = torch.onnx.export(model, (example,), input_names=[INPUT], output_names=[OUTPUT],
                                    opset_version=OPSET, dynamic_shapes=(_batch_dim(),), dynamo=True,
                                    external_data=False, verbose=False)
        program.save(str(path), external_data=False)


def _pt2(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    with _quiet(), _exporter_errors("pt2"):
        program = torch.export.export(model, (example,), dynamic_shapes=(_batch_dim(),))
        torch.export.save(program, str(path))


def _run_onnx(path: Path, images: torch.Tensor) -> tuple[torch.Tensor | None, str | None]:
    try:
        import onnxruntime
    except ImportError:
        return None, None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not the user's
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        (logits,) = session.run([OUTPUT], {INPUT: images.numpy()})
    except Exception as e:
        raise ScalerError(f"onnxruntime cannot run the export: {_first_line(e)}", where=path) from None
    return torch.from_numpy(logits), f"onnxruntime {onnxruntime.__version__}"


def _run_pt2(path: Path, images: torch.Tensor) -> tuple[torch.Tensor | None, str | None]:
    with _quiet(), _exporter_errors("pt2"), torch.no_grad():
        return torch.export.load(str(path)).module()(images), "torch.export.load"


def _compare(got: torch.Tensor | None, expected: torch.Tensor) -> tuple[float | None, float | None, int]:
    """max |got - expected|, that over max |expected|, and how many images' top-1 class differs where eager's
    top two logits are further apart than the tolerance (a closer pair is a tie either may break)."""
    if got is None:
        return None, None, 0
    if got.shape != expected.shape:
        raise ScalerError(f"the export returns {tuple(got.shape)}, PyTorch {tuple(expected.shape)}")
    got, expected = got.double(), expected.double()
    abs_diff = (got - expected).abs().max().item()
    scale = expected.abs().max().item()
    rel_diff = abs_diff / scale if scale > 0 else abs_diff
    top = expected.argmax(1)
    picked = got.argmax(1)
    gap = expected.gather(1, top[:, None])[:, 0] - expected.gather(1, picked[:, None])[:, 0]
    return abs_diff, rel_diff, int(((top != picked) & (gap > RTOL * scale)).sum())


@contextlib.contextmanager
def _exporter_errors(fmt: str) -> Iterator[None]:
    """An exporter's failure as one line: its first."""
    try:
        yield
    except ScalerError:
        raise
    except Exception as e:
        while e.__cause__ is not None:  # the ONNX exporter wraps torch.export's error: that one says what failed
            e = e.__cause__
        raise ScalerError(f"--format {fmt}: the exporter failed: {type(e).__name__}: {_first_line(e)}") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' warnings, log lines and printed graphs (of code they cannot trace, before their error) are
    not the user's: the error is one line."""
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)


def _first_line(e: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # the exporters colour their messages
    return next((line.strip() for line in text.splitlines() if line.strip()), "")

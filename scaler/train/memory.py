"""Out of memory on an accelerator: how to recognise it, free what the failed try held, and the smaller
micro-batches a trial tries next (gradient accumulation to the same batch: :func:`scaler.train.loop.train`)."""

from __future__ import annotations

import gc

import torch

OOM_MARKERS = ("out of memory", "can't allocate memory")  # CUDA, MPS and ROCm; the CPU allocator
SPLIT_FACTOR = 2  # each retry halves the images per forward pass


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocator running out of memory (CUDA's ``OutOfMemoryError``, or a
    ``RuntimeError`` saying so on other backends), not a bug that happens to allocate."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(m in str(error).lower() for m in OOM_MARKERS)


def free_memory(device: str | torch.device) -> None:
    """Release what a failed try left allocated, so the next one starts from an empty cache."""
    gc.collect()
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def smaller_micro_batch(micro_batch: int) -> int | None:
    """The next micro-batch to try after ``micro_batch`` images ran out of memory; None below one image."""
    return micro_batch // SPLIT_FACTOR or None

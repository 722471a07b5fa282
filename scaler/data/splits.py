"""Deterministic stratified splits and subsets (numpy only)."""

from __future__ import annotations

import numpy as np


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

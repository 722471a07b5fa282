"""Batched, on-device transforms: uint8 batches in, normalized float batches at the trial's resolution out."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scaler.config import AugmentConfig


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

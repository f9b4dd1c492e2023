"""Batch-wise preprocessing and augmentation on whatever device holds the images: no per-image Python, no
DataLoader, so a GPU never waits for a CPU."""

from __future__ import annotations

import torch
from torch.nn import functional


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of uint8 images, on the 0-1 scale, summed in chunks so a
    whole dataset never needs a float copy."""
    total = torch.zeros(images.shape[1], dtype=torch.float64, device=images.device)
    squares = torch.zeros_like(total)
    for chunk in images.split(4096):
        values = chunk.transpose(0, 1).reshape(images.shape[1], -1).double() / 255
        total += values.sum(1)
        squares += values.square().sum(1)
    count = images.numel() // images.shape[1]
    mean = total / count
    return mean.float(), (squares / count - mean.square()).clamp_min(0).sqrt().float()


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 N x C x H x W to float32 with zero mean and unit variance per channel."""
    return (images.float() / 255 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def random_translate(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift each image by its own random offset of up to `pad` pixels each way, filling by reflection:
    the random crop of a padded image, done with two gathers instead of a loop over images."""
    if pad <= 0:
        return images
    count, channels, height, width = images.shape
    padded = functional.pad(images, (pad, pad, pad, pad), mode="reflect")
    offsets = torch.randint(0, 2 * pad + 1, (count, 2), device=images.device)
    rows = offsets[:, :1] + torch.arange(height, device=images.device)
    cols = offsets[:, 1:] + torch.arange(width, device=images.device)
    padded = padded.gather(2, rows.view(count, 1, height, 1).expand(count, channels, height, width + 2 * pad))
    return padded.gather(3, cols.view(count, 1, 1, width).expand(count, channels, height, width))


def flip_where(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images whose `mask` entry is true."""
    return torch.where(mask.view(-1, 1, 1, 1), images.flip(-1), images)


def alternating_flips(base: torch.Tensor, epoch: int) -> torch.Tensor:
    """Which training images to mirror this epoch: a fixed random half on even epochs, the other half on odd
    ones, so each image is seen both ways every two epochs (less redundant than a fresh coin per epoch)."""
    return base if epoch % 2 == 0 else ~base


def shifted(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The images moved by a fixed (dy, dx), filled by reflection: test-time translation views."""
    pad = max(abs(dy), abs(dx))
    height, width = images.shape[-2:]
    padded = functional.pad(images, (pad, pad, pad, pad), mode="reflect")
    return padded[..., pad - dy:pad - dy + height, pad - dx:pad - dx + width]

"""The tutorials' MLPs and CNNs, and `fast`: a small speed-run network.

Every builder takes the input shape, so each model runs on MNIST-sized, CIFAR-sized or folder images alike;
at the tutorials' sizes the layer widths are exactly the tutorials' (784-312-256-10, 1568-49-10, ...).
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from ..errors import ClassifyError

MODELS = ("mlp", "cnn", "cnn-small", "fast")


def build(name: str, shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """The model `name` for images of `shape` (channels, height, width); `mlp` and `cnn` follow the dataset:
    grayscale sets get the MNIST tutorials' models, colour sets the CIFAR-10 ones."""
    channels, height, width = shape
    if name == "mlp":
        return (mnist_mlp if channels == 1 else cifar_mlp)(channels * height * width, num_classes)
    if name == "cnn":
        return (MnistCnn if channels == 1 else CifarCnn)(shape, num_classes)
    if name == "cnn-small":
        return SmallCnn(shape, num_classes)
    if name == "fast":
        return FastNet(channels, num_classes)
    raise ClassifyError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def mnist_mlp(inputs: int, num_classes: int) -> nn.Sequential:
    """The MNIST tutorial MLP: 784-312-256-10 with ReLU."""
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, 312), nn.ReLU(), nn.Linear(312, 256), nn.ReLU(),
                         nn.Linear(256, num_classes))


def cifar_mlp(inputs: int, num_classes: int) -> nn.Sequential:
    """The CIFAR-10 tutorial MLP: 3072-1024-512-256-64-10, each hidden layer batch-normed."""
    layers: list[nn.Module] = [nn.Flatten()]
    widths = (inputs, 1024, 512, 256, 64)
    for width_in, width_out in pairwise(widths):
        layers += [nn.Linear(width_in, width_out, bias=False), nn.BatchNorm1d(width_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], num_classes))


def _conv_pool(channels_in: int, channels_out: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(channels_in, channels_out, kernel, padding=kernel // 2), nn.ReLU(), nn.MaxPool2d(2)]


class SmallCnn(nn.Sequential):
    """The small MNIST tutorial CNN: conv 1->8->32, each pooled, then 1568-49-10 with dropout."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int) -> None:
        channels, height, width = shape
        flat = 32 * (height // 4) * (width // 4)
        super().__init__(*_conv_pool(channels, 8, 3), *_conv_pool(8, 32, 3), nn.Flatten(), nn.Dropout(0.25),
                         nn.Linear(flat, 49), nn.ReLU(), nn.Dropout(0.25), nn.Linear(49, num_classes))


class MnistCnn(nn.Sequential):
    """The classic "deep MNIST" CNN: 5x5 conv 32 and 64, each pooled, a 1024-unit layer with dropout."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int) -> None:
        channels, height, width = shape
        flat = 64 * (height // 4) * (width // 4)
        super().__init__(*_conv_pool(channels, 32, 5), *_conv_pool(32, 64, 5), nn.Flatten(),
                         nn.Linear(flat, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, num_classes))


def _vgg_block(channels_in: int, channels_out: int) -> list[nn.Module]:
    return [nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.2)]


class CifarCnn(nn.Sequential):
    """The CIFAR-10 tutorial CNN: three conv blocks of 32, 64 and 128 channels, then a 768-unit layer."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int) -> None:
        channels, height, width = shape
        flat = 128 * (height // 8) * (width // 8)
        super().__init__(*_vgg_block(channels, 32), *_vgg_block(32, 64), *_vgg_block(64, 128), nn.Flatten(),
                         nn.Linear(flat, 768), nn.ReLU(), nn.Dropout(0.5), nn.Linear(768, num_classes))


class FastBatchNorm(nn.BatchNorm2d):
    """Batch norm with a fixed scale (only the shift learns) and fast-moving running statistics, as in the
    speed runs: the running averages must keep up with weights that move a lot in few epochs."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=1e-12, momentum=0.4)
        self.weight.requires_grad_(False)


class IdentityConv(nn.Conv2d):
    """A 3x3 convolution starting as (part) identity, so a fresh deep stack passes its input through: the
    blocks then act as residual branches from step one without explicit skip connections."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__(channels_in, channels_out, 3, padding=1, bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        overlap = min(self.in_channels, self.out_channels)
        with torch.no_grad():
            nn.init.dirac_(self.weight[:overlap, :overlap])


class FastBlock(nn.Sequential):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__(IdentityConv(channels_in, channels_out), nn.MaxPool2d(2), FastBatchNorm(channels_out),
                         nn.GELU(), IdentityConv(channels_out, channels_out), FastBatchNorm(channels_out), nn.GELU())


class FastNet(nn.Module):
    """A speed-run network (after Page's "How to train your ResNet" and Jordan's airbench): a frozen 2x2
    whitening convolution fitted to the training patches, three identity-initialised conv blocks of 64, 256
    and 256 channels, global max pooling and a scaled linear head."""

    whiten_kernel = 2
    widths = (64, 256, 256)
    logit_scale = 1 / 9

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        whiten_width = 2 * channels * self.whiten_kernel**2
        self.whiten = nn.Conv2d(channels, whiten_width, self.whiten_kernel, bias=True)
        self.whiten.weight.requires_grad_(False)
        widths = (whiten_width, *self.widths)
        self.blocks = nn.Sequential(*(FastBlock(a, b) for a, b in pairwise(widths)))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[-1], num_classes, bias=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.blocks(nn.functional.gelu(self.whiten(images)))
        return self.head(self.pool(features).flatten(1)) * self.logit_scale

    @torch.no_grad()
    def fit_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer to the eigenvectors of the patch covariance (each sign once), scaled to unit
        variance: the network starts on decorrelated inputs (normalised float images, N x C x H x W)."""
        k = self.whiten_kernel
        channels = images.shape[1]
        patches = images.float().unfold(2, k, 1).unfold(3, k, 1)  # N, C, H', W', k, k
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels * k * k)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        filters = (eigenvectors.T / torch.sqrt(eigenvalues.clamp_min(0) + eps)[:, None]).flip(0)
        filters = filters.reshape(-1, channels, k, k)
        self.whiten.weight.copy_(torch.cat((filters, -filters)).to(self.whiten.weight))
        self.whiten.bias.zero_()

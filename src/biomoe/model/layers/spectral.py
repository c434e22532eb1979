"""Global token mixing in the frequency domain (GFNet / SpectFormer spectral gating)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SpectralGatingFilter(nn.Module):
    """Multiply the 2-D real FFT of a token grid by a learned complex filter, then invert.

    The filter is defined on a fixed ``height x width`` grid (stored as
    ``complex_weight[height, width // 2 + 1, dim, 2]``, real and imaginary parts), so the
    token grid passed to ``forward`` must have exactly that size. The transform uses
    ``norm="ortho"``: a filter of all ones is the identity.
    """

    def __init__(self, dim: int, height: int, width: int) -> None:
        super().__init__()
        self.dim = dim
        self.height = height
        self.width = width
        self.complex_weight = nn.Parameter(torch.randn(height, width // 2 + 1, dim, 2) * 0.02)

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        """``x``: tokens ``[B, height * width, dim]`` in row-major grid order."""
        if (height, width) != (self.height, self.width):
            raise ValueError(
                f"spectral filter is built for a {self.height}x{self.width} token grid, "
                f"got {height}x{width}"
            )
        b, n, c = x.shape
        grid = x.view(b, height, width, c).to(torch.float32)
        spectrum = torch.fft.rfft2(grid, dim=(1, 2), norm="ortho")
        spectrum = spectrum * torch.view_as_complex(self.complex_weight)
        grid = torch.fft.irfft2(spectrum, s=(height, width), dim=(1, 2), norm="ortho")
        return grid.reshape(b, n, c)

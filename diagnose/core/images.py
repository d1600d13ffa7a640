"""The one image-grid writer: sample grids for run directories, checks and the dashboard.

Written in tensor ops rather than with torchvision's ``make_grid`` (same layout: images left to
right in rows of ``nrow``, ``padding`` pixels between and around them, gray made RGB) because
importing torchvision costs a check seconds.
"""
from __future__ import annotations

import io


def to_unit_range(x, value_range: tuple[float, float] | None):
    """Map images from ``value_range`` (default [-1, 1]) to [0, 1] and clamp."""
    lo, hi = value_range or (-1.0, 1.0)
    return ((x.float() - lo) / (hi - lo)).clamp_(0, 1)


def image_grid(x, nrow: int = 8, padding: int = 2, pad_value: float = 0.0):
    """(C, H', W') grid of (N, C, H, W) images in [0, 1]; one image is returned as it is."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if len(x) == 1:
        return x[0]
    b, c, h, w = x.shape
    cols = min(nrow, b)
    rows = -(-b // cols)
    grid = x.new_full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                      float(pad_value))
    for k in range(b):
        y0, x0 = (k // cols) * (h + padding) + padding, (k % cols) * (w + padding) + padding
        grid[:, y0:y0 + h, x0:x0 + w] = x[k]
    return grid


def grid_array(x, nrow: int = 8, padding: int = 2, pad_value: float = 0.0):
    """The grid of images in [0, 1] as an (H, W, 3) or (H, W) uint8 array (NaN drawn black)."""
    import torch

    grid = image_grid(x.detach().cpu().float().nan_to_num(0).clamp(0, 1), nrow, padding, pad_value)
    arr = grid.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return arr[:, :, 0] if arr.shape[2] == 1 else arr


def image_grid_png(x, value_range=(-1.0, 1.0), nrow: int | None = None) -> bytes:
    """PNG bytes of a square-ish grid of (N, C, H, W) images in ``value_range`` (gray padding)."""
    from PIL import Image

    x = to_unit_range(x.detach().cpu(), value_range)
    nrow = nrow or max(1, int(round(x.shape[0] ** 0.5)))
    buf = io.BytesIO()
    Image.fromarray(grid_array(x, nrow=nrow, padding=2, pad_value=0.5)).save(buf, format="PNG")
    return buf.getvalue()

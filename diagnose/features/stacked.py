"""``stacked-mnist``: mnist-lenet on each of the three channels, giving one of 1000 modes.

Mode label = 100 * R + 10 * G + B (the digits read in the red, green and blue channels), the
labelling of Metz et al. (unrolled GAN) and VEEGAN/PacGAN. Features are the three 128-d LeNet
features concatenated (384-d). The 1000-way log-probabilities, used for the Inception Score, are
the sum of the per-channel log-softmaxes over their outer product (channels read independently).
"""
from __future__ import annotations

import torch

from diagnose.core.errors import UserError
from diagnose.features.base import Extractor, to_unit_images
from diagnose.features.mnist_lenet import FEATURE_DIM, fast_embed, inference_copy, load_lenet


class StackedMnistExtractor(Extractor):
    """(B, 3, H, W) in [0, 1] -> 384-d features, 1000 log-probabilities, labels 100R+10G+B."""

    name = "stacked-mnist"
    dim = 3 * FEATURE_DIM
    num_classes = 1000
    kind = "image"
    infer_batch = 96   # x 3 channels: the same rows per LeNet call as mnist-lenet's 256

    def __init__(self, device="cpu", weights=None, **_):
        super().__init__(device)
        self.net = load_lenet(weights, self.device)
        self._fast = (inference_copy(self.net),)   # outside vars' modules: see LeNetExtractor

    def _heads(self, f: torch.Tensor, b: int):
        lp = torch.log_softmax(self._fast[0].head(f), 1).reshape(b, 3, 10)
        joint = lp[:, 0, :, None, None] + lp[:, 1, None, :, None] + lp[:, 2, None, None, :]
        digits = lp.argmax(2)                                       # (B, 3)
        labels = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
        return f.reshape(b, self.dim), joint.reshape(b, 1000), labels

    @torch.inference_mode()
    def extract_composed(self, ds, idx: torch.Tensor, batch_size: int = 2000) -> dict:
        """Features of stacked samples ``ds.get(idx)`` computed from their digits, each digit once.

        A stacked-mnist Dataset is an index table over one tensor of digits, and these features
        read each channel independently, so LeNet runs on the (few thousand) distinct digits and
        the stacked features are gathered: the same numbers as ``extract`` on ``ds.get(idx)`` at a
        fraction of the cost (20,000 stacked samples = 60,000 channel passes otherwise).
        """
        used, inverse = torch.unique(ds.index[idx].flatten(), return_inverse=True)
        parts = []
        for i in range(0, len(used), batch_size):
            digits = ds.base[used[i:i + batch_size]].to(self.device).float().div_(255.0)
            parts.append(fast_embed(self._fast[0], to_unit_images(digits, 1, 28)))
        f = torch.cat(parts)[inverse]                                # (3B, 128)
        feats, logits, labels = self._heads(f, len(idx))
        # Clones leave inference mode: callers may modify what they get in place.
        return {"features": feats.float().cpu().clone(), "logits": logits.float().cpu().clone(),
                "labels": labels.cpu().clone()}

    def forward(self, x: torch.Tensor):
        """Per-channel LeNet in one batched call (the three channels become 3B gray images)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise UserError(f"stacked-mnist features need 3-channel images, got shape {tuple(x.shape)}")
        b = x.shape[0]
        gray = to_unit_images(x.reshape(b * 3, 1, *x.shape[-2:]), 1, 28)
        f = fast_embed(self._fast[0], gray)                        # (3B, 128)
        return self._heads(f, b)

"""One streamed pass over the generated features for every k-NN statistic a check reports.

A check needs, for its n generated samples: precision/recall/density/coverage against the
training features (which need each sample's k-th neighbour radius among the generated ones),
the near-duplicate counts (which need the generated-vs-generated distances again), and both once
more per judged block (analysis.blocks: disjoint blocks of the reference panel's size, each
against the first rows of the training features). Every one of those distance blocks is a part
of two matrices: generated x generated and generated x training. This pass computes each row
chunk of the two once and feeds every statistic from it, so no distance is computed twice and
memory stays one chunk (``knn.BLOCK_ELEMENTS``), never n x n.

The statistics are the same functions of the same distances as :func:`knn.prdc` and
:func:`duplicates.duplicates` (tests/test_neighbours.py compares them).
"""
from __future__ import annotations

import torch

from diagnose.metrics.duplicates import CloseCounter
from diagnose.metrics.knn import (PRDCCounter, as_tensor, kth_sq, rows_per_chunk,
                                  nearest_of_rows, right_operand, squared_distances)


def _segments(n: int, block: int, n_blocks: int, step: int):
    """(lo, hi, block index or None) row chunks that never straddle a block boundary."""
    edges = [b * block for b in range(n_blocks + 1)] if n_blocks else [0]
    if edges[-1] < n:
        edges.append(n)
    for j in range(len(edges) - 1):
        b = j if j < n_blocks else None
        for lo in range(edges[j], edges[j + 1], step):
            yield lo, min(lo + step, edges[j + 1]), b


def neighbour_statistics(real, fake, *, k: int, dup_threshold: float,
                         real_radii: torch.Tensor | None = None, block: int = 0,
                         n_blocks: int = 0, chunk: int | None = None) -> dict:
    """precision/recall/density/coverage of ``fake`` against ``real`` and its near-duplicates,
    for the whole set and for each of ``n_blocks`` disjoint blocks of ``block`` rows.

    real_radii: precomputed k-th neighbour radii of ``real`` (the cached reference's)
    block:      rows per judged block; block b is fake rows [b*block, (b+1)*block), measured
                against ``real[:block]`` (the first training rows, as the panel was)
    Returns {"prdc": knn.prdc's dict, "duplicates": duplicates.duplicates' dict,
             "blocks": [{"prdc": ..., "duplicates": ...} per block]}.
    """
    real = as_tensor(real)
    fake = as_tensor(fake).to(real.device, real.dtype)
    n = len(fake)
    if n_blocks and (block < 1 or n_blocks * block > n):
        raise ValueError(f"{n_blocks} blocks of {block} rows do not fit {n} rows")
    step = rows_per_chunk(max(n, len(real)), chunk)
    r_real = kth_sq(real, k, chunk) if real_radii is None else real_radii.to(real).square()
    r_fake = torch.empty(n, dtype=real.dtype, device=real.device)
    full = PRDCCounter(n, r_real, k)
    dups = CloseCounter(n, dup_threshold, device=real.device)
    real_b = real[:block] if n_blocks else None
    r_real_b = kth_sq(real_b, k, chunk) if n_blocks else None
    per_block = [(PRDCCounter(block, r_real_b, k), CloseCounter(block, dup_threshold, real.device))
                 for _ in range(n_blocks)]
    low_dim = real.shape[1] <= 8      # squared_distances then takes exact differences
    fake_aug = None if low_dim else right_operand(fake)
    real_aug = None if low_dim else right_operand(real)
    for lo, hi, b in _segments(n, block, n_blocks, step):
        ff = squared_distances(fake[lo:hi], fake, b_aug=fake_aug)          # (c, n)
        near = nearest_of_rows(ff, k)
        r_fake[lo:hi] = near.values[:, -1]
        fr = squared_distances(fake[lo:hi], real, b_aug=real_aug)          # (c, n_real)
        full.add(fr, r_fake[lo:hi], lo)
        if b is not None:
            b0 = b * block
            own = ff[:, b0:b0 + block]           # the block's rows against the block itself
            counter, close = per_block[b]
            near_b = nearest_of_rows(own, k)
            counter.add(fr[:, :len(real_b)], near_b.values[:, -1], lo - b0)
            close.add(own, lo - b0, near_b)
        dups.add(ff, lo, near)
    return {"prdc": full.result(), "duplicates": dups.result(),
            "blocks": [{"prdc": c.result(), "duplicates": d.result()} for c, d in per_block]}

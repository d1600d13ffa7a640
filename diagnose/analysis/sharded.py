"""``diagnose check`` on several ranks: sampling and feature extraction sharded, features gathered.

The expensive part of a check is generating n samples and one feature pass over them (an
Inception pass over 50,000 images). :func:`sharded_features` splits exactly that across the
ranks of a torchrun job: the n latents are drawn from the seed as one process draws them, cut into
the same batches, and rank r generates and extracts batches r, r + N, r + 2N, ...; rank 0 gathers
the features and puts them back in batch order. The batches are the one process's batches, so
the features, and every number computed from them, are the one process's.

The rest of the check (reference, metrics, verdict) runs on rank 0, through the same library
function as one process: :func:`prepare` hands it a generator and an extractor that replay the
gathered result, so the check itself does not know it ran sharded.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from diagnose.core.errors import UserError

if TYPE_CHECKING:
    import torch


def prepare(args, loaded, dataset: str, device: str, extractor_kwargs: dict | None):
    """(generator, extractor, this rank prints the result) for the check library function.

    One process: ``(loaded, None, True)``, nothing changes. A rank of a job: the sharded
    samples and features are computed here, collectively; rank 0 gets stand-ins that replay them
    into the check; the other ranks are done (``False``).
    """
    from diagnose.core import dist as dd

    if not dd.active():
        return loaded, None, True
    if not dd.is_main():
        args.json = False
    from diagnose.analysis.protocols import CheckConfig
    from diagnose.features import default_extractor_for, get_extractor

    extractor = get_extractor(getattr(args, "features", None) or default_extractor_for(dataset), device,
                              **(extractor_kwargs or {}))
    shard = sharded_features(loaded, extractor, int(args.n_samples), batch_size=CheckConfig().batch_size,
                             seed=int(args.seed), keep_points=loaded.output.kind == "points",
                             progress=dd.is_main())
    if shard is None:
        return loaded, None, False
    replay = ReplayedGenerator(loaded, shard)
    return replay, ReplayedExtractor(extractor, replay), True


@dataclass
class Shard:
    """The gathered result of a sharded sampling + feature pass, in the one process's batch order."""

    n: int
    batch_size: int
    seed: int
    finite: list[torch.Tensor]                  # per batch: which samples were finite (bool)
    first: torch.Tensor | None                   # batch 0 as generated (the sample grid)
    points: list[torch.Tensor]                   # per batch: its finite 2D points (points kind only)
    out: dict | None                             # features/logits/labels of the finite samples
    seconds: float = 0.0
    per_rank: list[int] = field(default_factory=list)   # samples each rank generated


def sharded_features(loaded, extractor, n: int, *, batch_size: int = 500, seed: int = 0,
                     keep_points: bool = False, progress: bool = False) -> Shard | None:
    """Generate ``n`` samples of ``loaded`` and extract ``extractor`` features, sharded by batch.

    Collective over the job's ranks (a single process does it all). Rank r takes batches
    r, r + N, ... of the one process's batches; rank 0 returns the gathered :class:`Shard`,
    the other ranks None.
    """
    import time

    import torch
    from tqdm import tqdm

    from diagnose.core import dist as dd

    t0 = time.time()
    r, w = dd.rank(), dd.world_size()
    z = loaded.latents(n, seed)                  # every rank draws all n: the same latents as one process
    starts = list(range(0, int(n), int(batch_size)))
    mine = []
    bar = tqdm(total=len(starts[r::w]), desc=f"samples+features x{w}", unit="batch", file=sys.stderr,
               disable=not progress, leave=False)
    for b in range(r, len(starts), w):
        x = loaded.generate(z[starts[b]:starts[b] + batch_size])
        finite = torch.isfinite(x.flatten(1)).all(1).cpu()
        ok = x[finite.to(x.device)] if not bool(finite.all()) else x
        out = extractor.extract([ok], progress=False) if len(ok) else None
        mine.append({"b": b, "finite": finite, "first": x.cpu() if b == 0 else None,
                     "points": ok.cpu() if keep_points else None, "out": out})
        bar.update(1)
    bar.close()
    parts = dd.gather_to_main({"rank": r, "batches": mine, "n": sum(len(m["finite"]) for m in mine)})
    if parts is None:
        return None
    batches = sorted((m for p in parts for m in p["batches"]), key=lambda m: m["b"])
    outs = [m["out"] for m in batches if m["out"] is not None]
    out = None
    if outs:
        cat = lambda key: torch.cat([o[key] for o in outs]) if outs[0][key] is not None else None  # noqa: E731
        out = {k: cat(k) for k in ("features", "logits", "labels")}
    return Shard(n=int(n), batch_size=int(batch_size), seed=int(seed),
                 finite=[m["finite"] for m in batches], first=batches[0]["first"] if batches else None,
                 points=[m["points"] for m in batches] if keep_points else [], out=out,
                 seconds=time.time() - t0, per_rank=[p["n"] for p in sorted(parts, key=lambda p: p["rank"])])


class ReplayedGenerator:
    """The loaded generator, except that ``sample`` replays a :class:`Shard`'s batches.

    The check streams ``sample`` into the feature pass, dropping non-finite rows and counting
    them. Each replayed batch says exactly that much: batch 0 as generated (the sample grid), 2D
    points as generated, and otherwise one value per sample, NaN where the sample was not finite.
    Everything else (latents, generate, output facts) is the real generator's.
    """

    def __init__(self, loaded, shard: Shard):
        self._loaded, self.shard, self.armed = loaded, shard, False

    def __getattr__(self, name):
        return getattr(self._loaded, name)

    def sample(self, n: int, batch_size: int = 500, seed: int = 0):
        """The shard's batches (only for the n, batch size and seed it was computed with)."""
        import torch

        s = self.shard
        if (int(n), int(batch_size), int(seed)) != (s.n, s.batch_size, s.seed):
            raise RuntimeError(f"sharded samples were drawn for n={s.n}, batch {s.batch_size}, "
                               f"seed {s.seed}, not n={n}, batch {batch_size}, seed {seed}")
        self.armed = True
        for b, finite in enumerate(s.finite):
            if b == 0 and s.first is not None:
                yield s.first
            elif s.points:
                p = s.points[b]
                full = torch.full((len(finite), p.shape[1]), float("nan"))
                full[finite] = p
                yield full
            else:
                yield torch.where(finite, 0.0, float("nan")).unsqueeze(1)


class ReplayedExtractor:
    """The extractor, except that the feature pass over a replayed stream returns the gathered
    features (the reference pass over real data, and every other call, are the real extractor's)."""

    def __init__(self, extractor, replay: ReplayedGenerator):
        self._extractor, self._replay = extractor, replay

    def __getattr__(self, name):
        return getattr(self._extractor, name)

    def extract(self, batches, progress: bool = True, total: int | None = None) -> dict:
        """Consume ``batches``; if they are the replayed stream, return the gathered features."""
        it = iter(batches)
        head = list(itertools.islice(it, 1))       # starting the stream arms a replay
        if not self._replay.armed:
            return self._extractor.extract(itertools.chain(head, it), progress=progress, total=total)
        for _ in it:                               # let the stream count what it drops
            pass
        self._replay.armed = False
        out = self._replay.shard.out
        if out is None:
            raise UserError(f"{self._extractor.name}: no samples to extract features from")
        return out

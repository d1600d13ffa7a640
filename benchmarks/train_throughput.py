"""Images/s of the trainers' loop against a seed-style loop, same model, batch and device.

    python benchmarks/train_throughput.py [--steps 30] [--rounds 3] [--batch 128] [--device auto] [--bf16]

Model: dcgan28_hparams/c1 (report 003: DCGAN 28x28, batch 128, RandomRotation(20) on [0, 1] data).
- ours: data as one uint8 tensor on the device, ``Dataset.get(idx)`` + rotation on the whole batch,
  metrics handed to ``diagnose.Monitor`` as 0-d tensors (one conversion per flush), the loop's
  default options (on CPU: channels-last weights). ``--bf16`` adds a row with bf16 autocast.
- seed-style: a torch ``Dataset`` of PIL digits, torchvision ``RandomRotation(20)`` + ``ToTensor``
  per sample in a ``DataLoader``, D(real) and D(fake) as separate calls, ``.item()`` per step.
- floor: the seed-style step on one pre-made batch, with no loader and no ``.item()``: its compute
  alone. seed-style / floor is the most that any data or logging change could gain; beyond it,
  only faster maths (layout, precision) helps.
All run in this one process, alternating in rounds, so a shared CPU slows them alike.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch
import torch.nn.functional as F


def seed_style(cfg, config, ds_uint8, device, batch, workers, floor=False):
    """A generator of timed steps in the style of the report's notebook (``floor``: the same
    step on one pre-made batch, without the loader and the ``.item()`` calls)."""
    from PIL import Image
    from torch.utils.data import DataLoader
    from torchvision import transforms

    from trainers.build import build_discriminator, build_generator
    from trainers.models import init_weights

    class Digits(torch.utils.data.Dataset):
        def __init__(self, x):
            self.imgs = [Image.fromarray(a[0].numpy()) for a in x]
            self.tf = transforms.Compose([transforms.RandomRotation(20), transforms.ToTensor()])

        def __len__(self):
            return len(self.imgs)

        def __getitem__(self, i):
            return self.tf(self.imgs[i]), 0

    G, D = build_generator(config).to(device), build_discriminator(config).to(device)
    init_weights(G, "dcgan"), init_weights(D, "dcgan")
    og = torch.optim.Adam(G.parameters(), cfg.lr_g, betas=cfg.betas)
    od = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=cfg.betas)
    loader = DataLoader(Digits(ds_uint8), batch_size=batch, shuffle=True, drop_last=True, num_workers=workers)
    nz = G.latent_shape
    history = []
    fixed = next(iter(loader))[0].to(device) if floor else None
    while True:
        for real, _ in ([(fixed, None)] * len(loader) if floor else loader):
            real = real.to(device)
            z = torch.randn(batch, *nz, device=device)
            fake = G(z)
            lr_, lf_ = D(real), D(fake.detach())
            d_loss = (F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_)) +
                      F.binary_cross_entropy_with_logits(lf_, torch.zeros_like(lf_))) / 2
            od.zero_grad(), d_loss.backward(), od.step()
            out = D(fake)
            g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            og.zero_grad(), g_loss.backward(), og.step()
            if not floor:
                history.append((d_loss.item(), g_loss.item(), torch.sigmoid(lr_).mean().item(),
                                torch.sigmoid(lf_).mean().item()))
            yield


def ours(cfg, config, ds, device, run_dir, bf16=False):
    """A generator of timed steps of trainers.loop.Trainer, logging through Monitor."""
    from diagnose.monitor import Monitor
    from trainers.loop import Trainer
    from trainers.options import LoopOptions

    tr = Trainer(cfg, config, ds, device, LoopOptions(progress=False, bf16=bf16), seed=0)
    mon = Monitor(run_dir, config, latent_shape=tr.latent_shape, quiet=True)
    step = 0
    while True:
        step += 1
        mon.log(step, **tr.step(step))
        yield


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30, help="steps per loop per round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers of the seed-style loop")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--bf16", action="store_true", help="also time ours with bf16 autocast (changes numerics)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    from diagnose.data import load_dataset
    from trainers.experiments import get_experiment
    from diagnose.core.device import resolve_device
    from trainers.options import LoopOptions
    from trainers.setup import resolve_config

    dev = resolve_device(a.device)
    cfg = get_experiment("dcgan28_hparams").variants["c1"].config.replace(batch_size=a.batch)
    ds = load_dataset("mnist", value_range=(0.0, 1.0))
    config = resolve_config(cfg, ds, dev, experiment="bench", variant="c1", seed=0, steps=None,
                            epochs=None, options=LoopOptions())
    config["latent_shape"] = [64, 1, 1]
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"seed-style": seed_style(cfg, config, ds.base, dev, a.batch, a.workers),
                 "floor": seed_style(cfg, config, ds.base, dev, a.batch, a.workers, floor=True),
                 "ours": ours(cfg, config, ds.to(dev), dev, tmp + "/fp32")}
        if a.bf16:
            loops["ours bf16"] = ours(cfg, config, ds.to(dev), dev, tmp + "/bf16", bf16=True)
        for it in loops.values():      # warm-up step each (allocations, first-call costs)
            next(it)
        secs = {k: 0.0 for k in loops}
        for r in range(a.rounds):
            for name, it in loops.items():
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                for _ in range(a.steps):
                    next(it)
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                secs[name] += time.perf_counter() - t
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    n = a.steps * a.rounds * a.batch
    ips = {k: n / v for k, v in secs.items()}
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; model dcgan28 c1, batch {a.batch}, {a.steps * a.rounds} steps per loop")
    for k in loops:
        print(f"{k:>10}: {ips[k]:9.1f} images/s")
    print(f"     ratio: {ips['ours'] / ips['seed-style']:.2f}x (ours / seed-style)")
    if "ours bf16" in ips:
        print(f"     ratio: {ips['ours bf16'] / ips['seed-style']:.2f}x (ours bf16 / seed-style)")
    print(f"   ceiling: {ips['floor'] / ips['seed-style']:.2f}x (floor / seed-style: the most a data or "
          "logging change can gain)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

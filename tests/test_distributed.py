"""Scale out: data-parallel training, rank-aware monitoring, exact resume and sharded checks on
2 gloo ranks (CPU; no GPU needed).

- A DDP run gives the one-process metrics.jsonl (float tolerance) for models without BatchNorm,
  with the adversarial and the feature-matching G loss (whose batch means must be global) and
  with minibatch discrimination (which must compare with the global batch).
- BatchNorm: ``sync`` reproduces one process's statistics; ``local`` (each rank's shard) does not,
  which is why it is a recorded option and not the default.
- A 2-rank run cut off and resumed equals the uninterrupted 2-rank run bit for bit (dropout masks
  from each rank's RNG state, augmentation from the shared noise stream).
- A check sharded over 2 ranks gives the numbers of one process, NaN samples included.
- ``local_batchnorm`` lets one rank run a synced model alone, and restores it after.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from diagnose.runs import read_run
from distributed_helpers import check_target, run_ranks, train_target

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NO_DROPOUT = {"d_kwargs": {"dropout": 0.0}}
SMALL = {"batch_size": 16, "steps": 8, "epochs": None, "snapshot_every": 4}


def _metrics(path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in read_run(path).metrics]


def _max_diff(a: list[dict], b: list[dict], keys=("d_loss", "g_loss", "d_real", "d_fake")) -> float:
    """Largest difference (relative above 1) of ``keys``; every other field must agree to 5 %
    (gradient norms: G's is tiny and sensitive; minibatch discrimination computes sum(exp) - 1
    over near-zero terms, where a different summation order alone changes its output by ~1e-7
    absolute, and Adam carries that into G's gradient: 2 % after 8 steps, measured)."""
    assert [r["step"] for r in a] == [r["step"] for r in b]
    worst = 0.0
    for x, y in zip(a, b):
        assert set(x) == set(y)
        for k, v in x.items():
            if isinstance(v, float):
                d = abs(v - y[k]) / max(1.0, abs(v))
                if k in keys:
                    worst = max(worst, d)
                else:
                    assert abs(v - y[k]) <= 5e-2 * max(abs(v), 1e-3), (k, v, y[k])
            else:
                assert v == y[k], (k, v, y[k])
    return worst


@pytest.mark.parametrize("variant", ["baseline", pytest.param("feature_matching", marks=pytest.mark.slow),
                                     pytest.param("minibatch_disc", marks=pytest.mark.slow)])
def test_ddp_run_logs_the_one_process_metrics(tmp_path, variant):
    changes = {**SMALL, **NO_DROPOUT}
    train_target(str(tmp_path / "one"), "mlp_lr_imbalance", variant, changes)
    steps = run_ranks(train_target, (str(tmp_path / "two"), "mlp_lr_imbalance", variant, changes), tmp_path)
    assert steps == [8, 8]
    one, two = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert len(one) == 8 and _max_diff(one, two) < 1e-4
    cfg = json.loads((tmp_path / "two" / "config.json").read_text())
    assert cfg["distributed"]["world_size"] == 2 and cfg["distributed"]["per_rank_batch"] == 8
    assert cfg["distributed"]["global_batch"] == cfg["batch"] == 16
    # rank 0 alone wrote: the snapshots of one process, nothing else
    assert [s for s, _ in read_run(tmp_path / "two").checkpoints] == [4, 8]
    ck = torch.load(read_run(tmp_path / "two").checkpoints[-1][1], weights_only=True)
    assert ck["world_size"] == 2 and len(ck["ranks"]) == 2
    # different dropout streams per rank (rank 0 keeps the one-process stream)
    assert not torch.equal(ck["ranks"][0]["torch_rng"], ck["ranks"][1]["torch_rng"])


@pytest.mark.slow
def test_sync_batchnorm_keeps_one_process_statistics_and_local_does_not(tmp_path):
    # report 003's c1: BatchNorm in G and D, D sees a real batch and a fake batch separately
    changes = {"batch_size": 16, "steps": 4, "epochs": None, "snapshot_every": 4}
    train_target(str(tmp_path / "one"), "dcgan28_hparams", "c1", changes)
    run_ranks(train_target, (str(tmp_path / "sync"), "dcgan28_hparams", "c1", changes), tmp_path)
    run_ranks(train_target, (str(tmp_path / "local"), "dcgan28_hparams", "c1", changes, {"batchnorm": "local"}),
              tmp_path)
    one, sync, local = (_metrics(tmp_path / d) for d in ("one", "sync", "local"))
    assert _max_diff(one, sync) < 1e-3
    gap = lambda other: max(abs(a[k] - b[k]) for a, b in zip(one, other) for k in ("d_loss", "g_loss"))  # noqa: E731
    assert gap(local) > max(1e-4, 20 * gap(sync)), (gap(local), gap(sync))   # 8-sample statistics
    assert json.loads((tmp_path / "sync" / "config.json").read_text())["distributed"]["batchnorm"] == "sync"
    assert json.loads((tmp_path / "local" / "config.json").read_text())["distributed"]["batchnorm"] == "local"


def test_cut_off_ddp_run_resumes_every_rank_exactly(tmp_path):
    # dropout (each rank's RNG), augmentation (the shared noise stream), D every 2nd step, epochs
    # crossed (40 images, batch 16): all must continue exactly from the checkpoint of step 4.
    changes = {"batch_size": 16, "steps": 10, "epochs": None, "snapshot_every": 4, "d_every": 2}
    args = ("mlp_lr_imbalance", "augment", changes)
    run_ranks(train_target, (str(tmp_path / "full"), *args), tmp_path)
    assert run_ranks(train_target, (str(tmp_path / "cut"), *args, {"stop_after": 7}), tmp_path) == [7, 7]
    assert len(read_run(tmp_path / "cut").metrics) == 7          # steps 5-7 logged, not checkpointed
    assert run_ranks(train_target, (str(tmp_path / "cut"), *args, {"resume": True}), tmp_path) == [10, 10]
    full, cut = _metrics(tmp_path / "full"), _metrics(tmp_path / "cut")
    assert [r["step"] for r in cut] == list(range(1, 11)) and full == cut
    a = torch.load(read_run(tmp_path / "full").checkpoints[-1][1], weights_only=True)
    b = torch.load(read_run(tmp_path / "cut").checkpoints[-1][1], weights_only=True)
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])


def test_sharded_check_gives_the_one_process_numbers(tmp_path):
    n = 1500                          # 3 batches of 500: rank 0 takes two, rank 1 one
    one = check_target(n, str(tmp_path / "cache1"))
    two = run_ranks(check_target, (n, str(tmp_path / "cache2")), tmp_path)
    assert two[1] is None             # rank 1 sent its share; rank 0 alone judges
    assert one["metrics"]["fid"]["n"] < n                      # NaN samples dropped...
    assert json.dumps(one, sort_keys=True, default=str) == json.dumps(two[0], sort_keys=True, default=str)


def test_replayed_check_equals_direct_check_in_one_process(tmp_path):
    # the stand-ins alone (no ranks): a replay of every batch must give the direct check's verdict,
    # NaN samples counted and dropped the same way
    from diagnose.analysis.cache import StageCache
    from diagnose.analysis.judge import check_generator
    from diagnose.analysis.sharded import ReplayedExtractor, ReplayedGenerator, sharded_features
    from diagnose.features import get_extractor
    from diagnose.generators.load import wrap_generator
    from distributed_helpers import NaNSometimes

    loaded = wrap_generator(NaNSometimes())
    ext = get_extractor("identity", "cpu")
    cache = StageCache(tmp_path / "c")
    direct = check_generator(loaded, "ring8", n_samples=1200, progress=False, cache=cache, kid_subsets=5)
    shard = sharded_features(loaded, ext, 1200, batch_size=500, seed=0, keep_points=True)
    assert sum(int((~f).sum()) for f in shard.finite) > 0          # the case has NaN samples
    replay = ReplayedGenerator(loaded, shard)
    replayed = check_generator(replay, "ring8", n_samples=1200, progress=False, cache=cache, kid_subsets=5,
                               extractor=ReplayedExtractor(ext, replay))
    assert json.dumps(direct, sort_keys=True, default=str) == json.dumps(replayed, sort_keys=True, default=str)


def test_local_batchnorm_runs_a_synced_model_alone_and_restores_it():
    from diagnose.core.dist import local_batchnorm
    from trainers.distributed import GlooSyncBatchNorm, sync_batchnorm

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    ref.load_state_dict(net.state_dict())
    params = [id(p) for p in net.parameters()]
    sync_batchnorm(net, torch.device("cpu"))
    assert isinstance(net[1], GlooSyncBatchNorm) and [id(p) for p in net.parameters()] == params
    x = torch.randn(6, 1, 8, 8)
    with local_batchnorm(net):
        assert not isinstance(net[1], GlooSyncBatchNorm)
        assert torch.allclose(net(x), ref(x), atol=1e-6)
    assert isinstance(net[1], GlooSyncBatchNorm)
    assert torch.allclose(net[1].running_mean, ref[1].running_mean)
    assert math.isclose(float(net[1].running_var.sum()), float(ref[1].running_var.sum()), rel_tol=1e-6)


@pytest.mark.parametrize("argv,says", [
    (["--nproc", "3"], "does not split into 3 equal shards"),       # mixtures' batch is 512
    (["--nproc", "0"], "at least 1"),
    (["--nproc", "2", "--parallel", "2"], "do not combine"),
])
def test_scale_flags_refuse_bad_values_in_one_line_before_starting_anything(tmp_path, capsys, argv, says):
    from diagnose.cli import main

    assert main(["run", "--exp", "mixtures", "--variants", "ring8", "--steps", "2", "--device", "cpu",
                 "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert not any(tmp_path.iterdir())                               # no process started, nothing written

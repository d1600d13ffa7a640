"""``diagnose features list|train``: the feature extractors, and retraining the mnist-lenet weights."""
from __future__ import annotations

ORDER = 60
HELP = "list feature extractors, or retrain the mnist-lenet weights"


def add_parser(sub) -> None:
    from diagnose.commands import add_json_flag

    p = sub.add_parser("features", help=HELP, description=HELP)
    fsub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    ls = fsub.add_parser("list", help="extractors with feature size, classes and availability")
    ls.add_argument("--inception-weights", default=None, metavar="PATH",
                    help="InceptionV3 weights file to check (default: torch-fidelity's cache)")
    add_json_flag(ls)
    ls.set_defaults(func=run_list)
    tr = fsub.add_parser("train", help="retrain an extractor (mnist-lenet) and report held-out accuracy")
    tr.add_argument("name", choices=("mnist-lenet",), help="extractor to train")
    tr.add_argument("--epochs", type=int, default=20, help="passes over the 4,000 training digits")
    tr.add_argument("--seed", type=int, default=0, help="seed of init, data order and augmentation")
    tr.add_argument("--out", default=None, metavar="PATH",
                    help="where to write the weights (default: the packaged weights file)")
    add_json_flag(tr)
    tr.set_defaults(func=run_train)
    add_json_flag(p)
    p.set_defaults(func=run_list, inception_weights=None)


def run_list(args):
    """One row per registered extractor."""
    from diagnose.commands import Result
    from diagnose.features import DEFAULT_FOR_DATASET, EXTRACTORS

    rows, lines = [], []
    for name, spec in EXTRACTORS.items():
        ok, where = spec.available(inception_weights=getattr(args, "inception_weights", None))
        defaults = sorted(d for d, e in DEFAULT_FOR_DATASET.items() if e == name and "_" not in d)
        rows.append({"name": name, "dim": spec.dim, "num_classes": spec.num_classes,
                     "kind": spec.kind, "available": ok, "where": where,
                     "default_for": defaults, "description": spec.description})
        classes = str(spec.num_classes) if spec.num_classes else "-"
        lines.append(f"{name:<14} dim {spec.dim:<5} classes {classes:<5} "
                     f"{'available' if ok else 'UNAVAILABLE':<11} {spec.description}")
        if not ok:
            lines.append(f"{'':<14} {where}")
    return Result(data=rows, text="\n".join(lines))


def run_train(args):
    """Train mnist-lenet, evaluate on the held-out digits, write the weights."""
    from diagnose.commands import Result
    from diagnose.core.errors import UserError
    from diagnose.features.lenet_training import LeNetTrainConfig, save_weights, train_lenet
    from diagnose.features.mnist_lenet import WEIGHTS

    if args.epochs <= 0:
        raise UserError(f"--epochs must be positive, got {args.epochs}")
    cfg = LeNetTrainConfig(epochs=args.epochs, seed=args.seed)
    net, acc, seconds = train_lenet(cfg)
    out = args.out or WEIGHTS
    size = save_weights(net, out)
    data = {"name": args.name, "held_out_accuracy": acc, "held_out_n": 1000, "train_n": 4000,
            "epochs": cfg.epochs, "seed": cfg.seed, "seconds": round(seconds, 1),
            "weights": str(out), "bytes": size}
    text = (f"mnist-lenet: held-out accuracy {acc:.2%} on 1,000 test digits after {cfg.epochs} "
            f"epochs ({seconds:.0f} s); weights {out} ({size / 1024:.0f} KiB)")
    if acc < 0.97:
        text += "\nwarning: below the 97 % the packaged weights must reach"
    return Result(data=data, text=text)

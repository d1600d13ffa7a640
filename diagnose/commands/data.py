"""``diagnose data [NAME ...]``: what a dataset is, where it came from, its shape and range."""
from __future__ import annotations

ORDER = 90
HELP = "describe datasets (size, shape, range, modes, and where they came from)"


def add_parser(sub) -> None:
    from diagnose.commands import add_json_flag

    p = sub.add_parser("data", help=HELP, description=HELP)
    p.add_argument("names", nargs="*", default=["mnist", "stacked-mnist", "ring8", "grid25"],
                   metavar="NAME", help="dataset names or folder:PATH (default: the built-in ones)")
    p.add_argument("--data-root", default=None, help="where full datasets live (torchvision layout)")
    p.add_argument("--resolution", type=int, default=None, help="resize images to this square size")
    p.add_argument("--split", default="train", choices=("train", "test", "all"))
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args):
    """Describe each dataset: built-in ones from their construction (no loading, no torch),
    anything else by loading it."""
    from diagnose.commands import Result
    from diagnose.data.catalog import describe_builtin, summary

    rows, lines = [], []
    for name in args.names:
        if args.resolution is None or 4 <= int(args.resolution) <= 4096:
            d = describe_builtin(name, args.split, args.resolution, args.data_root)
            if d is not None:
                rows.append(d)
                lines.append(summary(d))
                continue
        from diagnose.data import load_dataset

        ds = load_dataset(name, data_root=args.data_root, split=args.split,
                          resolution=args.resolution)
        d = ds.describe()
        if ds.labels is not None:
            import torch

            counts = torch.bincount(ds.labels, minlength=ds.n_modes or 0)
            d["modes_present"] = int((counts > 0).sum())
        rows.append(d)
        lines.append(ds.summary())
    return Result(data=rows, text="\n".join(lines))

"""``diagnose experiments``: the documented experiments, their variants, source and data."""
from __future__ import annotations

ORDER = 10
HELP = "list the documented experiments and their variants"


def add_parser(sub) -> None:
    from diagnose.commands import add_json_flag

    p = sub.add_parser("experiments", help=HELP, description=HELP)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args):
    """One block per experiment: name, source report, description, dataset, variants."""
    from diagnose.commands import Result
    from trainers.experiments import EXPERIMENTS

    data, lines = [], []
    for entry in EXPERIMENTS.entries():
        e = entry.obj
        src = f"report {e.source}" if e.source != "benchmark" else "benchmark"
        data.append({"name": e.name, "source": e.source, "description": e.description,
                     "dataset": e.dataset_note,
                     "variants": [{"name": v.name, "description": v.description,
                                   "dataset": v.config.dataset, "choices": list(v.choices)}
                                  for v in e.variants.values()]})
        lines.append(f"{e.name}  [{src}]  {e.description}")
        lines.append(f"    data: {e.dataset_note}")
        for v in e.variants.values():
            lines.append(f"    - {v.name}: {v.description}")
    return Result(data=data, text="\n".join(lines))

"""The bottom layer: what every other part of diagnose may import and that imports nothing of it.

    errors     UserError and its kinds (one line for the user, exit code 2)
    atomic     files written to a temporary name and renamed; JSON sanitizing
    lazy       package attributes imported on first use
    registry   the one registry class (extractors, detectors, datasets, models, experiments)
    device     the one device resolver ("auto", "cpu", "cuda:1" -> torch.device)
    images     the one PNG grid writer
    guard      wall-clock limits around user code
    memory     the memory plan (RSS, available memory, batch sizes)
    verdict    the Verdict object every verdict path returns
"""

"""Loading what a user brings: a generator in any supported form, or a set of samples.

    load       load_generator(path, ...) -> LoadedGenerator (checkpoint, TorchScript, .pt2, pickle)
    loaded     LoadedGenerator: sampling in batches under the memory plan and the time limit
    arch       --arch FILE:CLASS / module:Class, imported without running a script's main code
    safety     the op allow-list for TorchScript and exported programs (nothing writes files)
    sample_sets  folders of images and .npz/.npy arrays of samples, scored like a generator
"""

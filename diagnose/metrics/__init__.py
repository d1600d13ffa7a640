"""Metrics on features, one module per family; every function takes plain tensors.

fidelity      FID, IS, KID (torch-fidelity's own functions on our precomputed features)
knn           precision, recall, density, coverage with a chunked k-NN (k=5)
memorization  generated-to-train vs held-out-to-train nearest-neighbour distances
duplicates    near-duplicate rate and birthday-paradox support estimate
modes         modes hit, KL to the reference histogram, NDB/K, effective modes; k-means bins; mode labels
neighbours    one streamed k-NN pass shared by precision/recall, duplicates and the judged blocks
latent        output distance against latent distance (latent coverage)
mixtures      VEEGAN/PacGAN modes captured and % high-quality samples for 2D mixtures
ranges        raw output range against the data's value range
"""

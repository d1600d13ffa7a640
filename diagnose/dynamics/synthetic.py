"""Synthetic GAN training curves, one per failure mode (seeded, noisy): the detectors are tuned and
tested on them. Each function returns rows {step, d_loss, g_loss, ...} as Monitor writes them.
"""
from __future__ import annotations

import math

import numpy as np

LN2 = math.log(2)


def rows(n=400, seed=0, **series):
    """Rows {step, name: value} from arrays of length n."""
    out = []
    for i in range(n):
        r = {"step": i * 10}
        for k, v in series.items():
            r[k] = float(v[i])
        out.append(r)
    return out


def healthy(n=400, seed=0):
    """Noisy healthy GAN: D loss ~1.2, G ~1-2, D(x) ~0.6-0.7, D(G(z)) ~0.3-0.4."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    d_real = np.clip(0.65 + 0.05 * rng.standard_normal(n), 0.01, 0.99)
    d_fake = np.clip(0.35 + 0.05 * rng.standard_normal(n), 0.01, 0.99)
    d_loss = -np.log(d_real) - np.log(1 - d_fake) + 0.15 * rng.standard_normal(n)
    g_loss = 1.0 + 0.6 * t + 0.25 * rng.standard_normal(n)
    g_loss = np.maximum(g_loss, 0.05) + 0.0 * d_fake
    return rows(n, d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake)


def not_learning(n=300, seed=0, d_mult=4, g_fac=1, with_scores=False):
    """Report 000: D loss pinned at d_mult ln 2, G loss at g_fac ln 2 (tiny noise)."""
    rng = np.random.default_rng(seed)
    d = d_mult * LN2 * (1 + 0.004 * rng.standard_normal(n))
    g = g_fac * LN2 * (1 + 0.006 * rng.standard_normal(n))
    extra = {}
    if with_scores:
        extra = {"d_real": 0.5 + 0.003 * rng.standard_normal(n),
                 "d_fake": 0.5 + 0.003 * rng.standard_normal(n)}
    return rows(n, d_loss=d, g_loss=g, **extra)


def fooled(n=300, seed=0):
    """Report 002: D loss ~1.58, G loss ~0.48, D(x) ~0.53; D(G(z)) not logged."""
    rng = np.random.default_rng(seed)
    return rows(n, d_loss=1.58 + 0.03 * rng.standard_normal(n),
                g_loss=0.48 + 0.02 * rng.standard_normal(n),
                d_real=0.53 + 0.02 * rng.standard_normal(n))


def inconsistent(n=250, seed=0):
    """Report 003: both losses decay to ~1e-3 together."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    d = 0.7 * np.exp(-t / 20) + 0.001 * (1 + 0.3 * rng.random(n))
    g = 0.8 * np.exp(-t / 18) + 0.0007 * (1 + 0.3 * rng.random(n))
    return rows(n, d_loss=d, g_loss=g)


def overpowering(n=300, seed=0):
    """Report 004 trial 1: D loss falls to near zero, G loss climbs; D(x)->1, D(G(z))->0."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    d = 1.3 * np.exp(-6 * t) + 0.01 + 0.005 * rng.random(n)
    g = 0.8 + 6 * t + 0.2 * rng.standard_normal(n)
    return rows(n, d_loss=d, g_loss=g, d_real=np.clip(0.6 + 0.39 * t, 0, 0.999),
                d_fake=np.clip(0.4 - 0.39 * t, 0.001, 1))


def oscillating(n=400, seed=0, period=40):
    """Large periodic swings of both losses around a fixed level."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    d = 1.2 + 0.6 * np.sin(2 * np.pi * t / period) + 0.08 * rng.standard_normal(n)
    g = 1.5 - 0.9 * np.sin(2 * np.pi * t / period) + 0.1 * rng.standard_normal(n)
    return rows(n, d_loss=d, g_loss=g)


def diverging(n=200, seed=0, nan_from=150):
    """Healthy until nan_from, then NaN losses."""
    r = healthy(n, seed)
    for row in r[nan_from:]:
        row["d_loss"] = float("nan")
        row["g_loss"] = float("nan")
    return r


def frozen_d(n=200, seed=0):
    """Report 000 as our trainer reproduces it (lr_d = lr_g / 200): D(x) frozen near 0.52 with
    almost no batch noise while G pushes D(G(z)) up to ~0.68; D loss = sum of the BCE terms."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    d_real = 0.51 + 0.02 * t + 0.0015 * rng.standard_normal(n)
    d_fake = 0.68 - 0.16 * np.exp(-8 * t) + 0.004 * rng.standard_normal(n)
    d_loss = -np.log(d_real) - np.log(1 - d_fake)
    g_loss = -np.log(d_fake)
    return rows(n, d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=d_fake,
                lr_d=np.full(n, 1e-6), lr_g=np.full(n, 2e-4))
